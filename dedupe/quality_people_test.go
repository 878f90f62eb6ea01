package dedupe

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// peopleFields are the FEBRL columns and their kinds.
func peopleFields() []Field {
	return []Field{
		{Name: "given_name", Kind: KindGivenName},
		{Name: "surname", Kind: KindFamilyName},
		{Name: "street_number", Kind: KindText},
		{Name: "address_1", Kind: KindStreet},
		{Name: "address_2", Kind: KindText},
		{Name: "suburb", Kind: KindCity},
		{Name: "postcode", Kind: KindPostcode},
		{Name: "state", Kind: KindState},
		{Name: "date_of_birth", Kind: KindDate},
		{Name: "soc_sec_id", Kind: KindNationalID},
	}
}

// clusterQuality clusters recs with default settings and returns the pair
// precision, recall and F1 against truth.
func clusterQuality(t testing.TB, fields []Field, region string, recs []Record, truth []string) (*Clustering, [3]float64) {
	t.Helper()
	m, err := NewMatcher(&Config{Fields: fields, Region: region})
	require.NoError(t, err)
	res, err := m.Cluster(Records(recs), nil)
	require.NoError(t, err)
	p, r, f1 := pairF1(res, truth)
	if os.Getenv("CRMKIT_DEDUPE_ERRORS") != "" {
		logErrors(t, res, recs, truth, 15)
	}
	return res, [3]float64{p, r, f1}
}

// logErrors logs examples of false and missed pairs with their scores,
// for studying what the model gets wrong.
func logErrors(t testing.TB, res *Clustering, recs []Record, truth []string, limit int) {
	shown := 0
	res.Pairs(func(i, j int) {
		if truth[i] != truth[j] && shown < limit {
			shown++
			d, _ := res.Explain(recs[i], recs[j])
			t.Logf("FALSE %v | %v\n  %s", recs[i].Values, recs[j].Values, explain(d))
		}
	})
	byTruth := map[string][]int{}
	for i, e := range truth {
		byTruth[e] = append(byTruth[e], i)
	}
	shown = 0
	for _, ms := range byTruth {
		for x := range ms {
			for y := x + 1; y < len(ms) && shown < limit; y++ {
				i, j := ms[x], ms[y]
				if res.Rep[i] != res.Rep[j] {
					shown++
					d, _ := res.Explain(recs[i], recs[j])
					t.Logf("MISSED %v | %v\n  %s", recs[i].Values, recs[j].Values, explain(d))
				}
			}
		}
	}
}

func explain(d Decision) string {
	parts := make([]string, 0, len(d.Reasons)+1)
	parts = append(parts, fmt.Sprintf("score %.1f", d.Score))
	for _, r := range d.Reasons {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, "; ")
}

func TestClusterQualityOnGeneratedPeople(t *testing.T) {
	t.Parallel()
	recs, truth := newPeopleGenerator(7).dataset(20_000)
	res, q := clusterQuality(t, peopleFields(), "AU", recs, truth)
	t.Logf("generated people (%d records): precision %.4f recall %.4f F1 %.4f (%d candidate pairs)", len(recs), q[0], q[1], q[2], res.Stats.CandidatePairs)
	require.GreaterOrEqual(t, q[0], 0.999, "precision")
	require.GreaterOrEqual(t, q[1], 0.999, "recall")
}

func historicalRecords(t testing.TB) ([]Field, []Record, []string) {
	header, rows := readTable(t, sharedData(t, "historical50k/historical_figures_50k.csv"))
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	fields := []Field{
		{Name: "first_name", Kind: KindGivenName},
		{Name: "surname", Kind: KindFamilyName},
		{Name: "dob", Kind: KindDate},
		{Name: "birth_place", Kind: KindCity},
		{Name: "postcode_fake", Kind: KindPostcode},
		{Name: "occupation", Kind: KindText},
	}
	recs := make([]Record, len(rows))
	truth := make([]string, len(rows))
	for i, row := range rows {
		vals := make([]string, len(fields))
		for f, fd := range fields {
			vals[f] = row[col[fd.Name]]
		}
		recs[i] = Record{ID: row[col["unique_id"]], Values: vals}
		truth[i] = row[col["cluster"]]
	}
	return fields, recs, truth
}

func TestClusterQualityOnHistoricalPeople(t *testing.T) {
	t.Parallel()
	fields, recs, truth := historicalRecords(t)
	res, q := clusterQuality(t, fields, "GB", recs, truth)
	t.Logf("historical50k: precision %.4f recall %.4f F1 %.4f (%d candidate pairs, %d clusters, link at %.1f bits)", q[0], q[1], q[2], res.Stats.CandidatePairs, res.Stats.Clusters, res.Stats.LinkWeight)
	require.GreaterOrEqual(t, q[2], 0.94)
}

// BenchmarkClusterQualityPeople1M clusters 1,000,000 generated people and
// reports precision, recall and F1 with the time and peak heap.
func BenchmarkClusterQualityPeople1M(b *testing.B) { benchmarkPeople(b, 1_000_000) }

// BenchmarkClusterQualityPeople100k is the same at 100,000 records.
func BenchmarkClusterQualityPeople100k(b *testing.B) { benchmarkPeople(b, 100_000) }

func benchmarkPeople(b *testing.B, n int) {
	recs, truth := newPeopleGenerator(11).dataset(n)
	m, err := NewMatcher(&Config{Fields: peopleFields(), Region: "AU"})
	require.NoError(b, err)
	for b.Loop() {
		var peak uint64
		start := time.Now()
		stages := map[string]time.Duration{}
		since := start
		res, err := m.Cluster(Records(recs), &ClusterOptions{Progress: func(p Progress) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			now := time.Now()
			stages[p.Stage] += now.Sub(since)
			since = now
		}})
		require.NoError(b, err)
		secs := time.Since(start).Seconds()
		p, r, f1 := pairF1(res, truth)
		if os.Getenv("CRMKIT_DEDUPE_ERRORS") != "" {
			logErrors(b, res, recs, truth, 15)
		}
		b.ReportMetric(p, "precision")
		b.ReportMetric(r, "recall")
		b.ReportMetric(f1, "F1")
		b.ReportMetric(secs, "total-s")
		b.ReportMetric(float64(res.Stats.CandidatePairs), "pairs")
		b.ReportMetric(res.Stats.LinkWeight, "link-bits")
		for _, st := range []string{"prepare", "block", "learn", "score", "cluster"} {
			b.ReportMetric(stages[st].Seconds(), st+"-s")
		}
		b.ReportMetric(float64(peak)/(1<<30), "peak-heap-GiB")
	}
}
