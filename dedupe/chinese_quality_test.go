package dedupe

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chineseRecords returns n generated records (the duplicates of the last
// customers may be cut) and their true customers, from seed.
func chineseRecords(seed uint64, n int) ([]Record, []string) {
	for customers := n * 56 / 100; ; customers += n / 20 {
		recs, truth := newChineseGenerator(seed).dataset(customers)
		if len(recs) >= n {
			return recs[:n], truth[:n]
		}
	}
}

// TestClusterQualityOnManyChineseRecords clusters tens of thousands of
// generated customers, enough for chance collisions of common names,
// shared office towers and look-alike 字号 to appear, and asserts that
// both precision and recall stay at 0.95 or above.
func TestClusterQualityOnManyChineseRecords(t *testing.T) {
	t.Parallel()
	n := 25_000
	if testing.Short() {
		n = 10_000
	}
	recs, truth := chineseRecords(3, n)
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	start := time.Now()
	res, err := m.Cluster(Records(recs), nil)
	require.NoError(t, err)
	p, r, f1 := pairF1(res, truth)
	t.Logf("%d generated Chinese customer records: precision %.4f recall %.4f F1 %.4f (%d candidate pairs, %d clusters, %s)",
		len(recs), p, r, f1, res.Stats.CandidatePairs, res.Stats.Clusters, time.Since(start).Round(time.Millisecond))
	if p < 0.95 || r < 0.95 {
		logQualityErrors(t, res, recs, truth, 5)
	}
	require.GreaterOrEqual(t, p, 0.95, "precision")
	require.GreaterOrEqual(t, r, 0.95, "recall")
}

// BenchmarkClusterQualityChinese100k clusters 100,000 generated customer
// records and reports precision, recall and pair F1 against the known
// answers, the seconds taken and the peak heap. With -v it also logs the
// kinds of errors with examples.
func BenchmarkClusterQualityChinese100k(b *testing.B) { benchmarkClusterQuality(b, 100_000) }

// BenchmarkClusterQualityChinese1M is BenchmarkClusterQualityChinese100k
// at 1,000,000 records.
func BenchmarkClusterQualityChinese1M(b *testing.B) { benchmarkClusterQuality(b, 1_000_000) }

func benchmarkClusterQuality(b *testing.B, n int) {
	recs, truth := chineseRecords(1, n)
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(b, err)
	runtime.GC()
	var res *Clustering
	for b.Loop() {
		var peak uint64
		start := time.Now()
		res, err = m.Cluster(Records(recs), &ClusterOptions{Progress: func(Progress) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}})
		require.NoError(b, err)
		b.ReportMetric(time.Since(start).Seconds(), "s")
		b.ReportMetric(float64(peak)/(1<<30), "peak-heap-GiB")
	}
	p, r, f1 := pairF1(res, truth)
	b.ReportMetric(p, "precision")
	b.ReportMetric(r, "recall")
	b.ReportMetric(f1, "F1")
	b.ReportMetric(float64(len(recs)), "records")
	b.ReportMetric(float64(res.Stats.CandidatePairs), "pairs")
	if testing.Verbose() {
		logQualityErrors(b, res, recs, truth, 8)
	}
}

// logQualityErrors logs the false and the missed pairs of a clustering,
// grouped by how each field agreed (as [Matcher.Compare] with the learnt
// parameters sees them), with up to k examples of the commonest kinds.
func logQualityErrors(tb testing.TB, res *Clustering, recs []Record, truth []string, k int) {
	tb.Helper()
	for i, f := range res.Matcher.Fields() {
		w := res.Matcher.weight[i]
		tb.Logf("learnt weights of %s: different %+.1f partial %+.1f close %+.1f exact %+.1f",
			f.Name, w[LevelDifferent], w[LevelPartial], w[LevelClose], w[LevelExact])
	}
	type kind struct {
		pattern  string
		count    int
		examples [][2]int
	}
	collect := func(label string, pairs func(yield func(i, j int))) {
		kinds := map[string]*kind{}
		total := 0
		pairs(func(i, j int) {
			total++
			d, err := res.Matcher.Compare(recs[i], recs[j])
			if err != nil {
				return
			}
			pat := []string{"scored " + d.Class.String() + ":"}
			for _, r := range d.Reasons {
				pat = append(pat, r.Field+"="+r.Level.String())
			}
			key := strings.Join(pat, " ")
			kd := kinds[key]
			if kd == nil {
				kd = &kind{pattern: key}
				kinds[key] = kd
			}
			kd.count++
			if len(kd.examples) < k {
				kd.examples = append(kd.examples, [2]int{i, j})
			}
		})
		list := make([]*kind, 0, len(kinds))
		for _, kd := range kinds {
			list = append(list, kd)
		}
		// Pairs that score a match on their own first: they are the links
		// clustering followed; the others were joined through them.
		direct := func(kd *kind) bool { return strings.HasPrefix(kd.pattern, "scored match:") }
		slices.SortFunc(list, func(a, b *kind) int {
			if direct(a) != direct(b) {
				if direct(a) {
					return -1
				}
				return 1
			}
			return b.count - a.count
		})
		tb.Logf("%s: %d pairs in %d kinds", label, total, len(list))
		shownDirect, shownOther := 0, 0
		for _, kd := range list {
			if direct(kd) {
				if shownDirect == 6 {
					continue
				}
				shownDirect++
			} else {
				if shownOther == 3 {
					break
				}
				shownOther++
			}
			tb.Logf("  %d× %s", kd.count, kd.pattern)
			for _, ex := range kd.examples[:min(len(kd.examples), 3)] {
				i, j := ex[0], ex[1]
				d, _ := res.Matcher.Compare(recs[i], recs[j])
				tb.Logf("    %s %q\n    %s %q\n      score %.1f: %v", truth[i], recs[i].Values, truth[j], recs[j].Values, d.Score, d.Reasons)
			}
		}
	}
	collect("false pairs (one cluster, different customers)", func(yield func(i, j int)) {
		res.Pairs(func(i, j int) {
			if truth[i] != truth[j] {
				yield(i, j)
			}
		})
	})
	collect("missed pairs (one customer, different clusters)", func(yield func(i, j int)) {
		byEntity := map[string][]int{}
		for i, e := range truth {
			byEntity[e] = append(byEntity[e], i)
		}
		keys := make([]string, 0, len(byEntity))
		for e := range byEntity {
			keys = append(keys, e)
		}
		slices.Sort(keys)
		for _, e := range keys {
			ms := byEntity[e]
			for x := range ms {
				for y := x + 1; y < len(ms); y++ {
					if res.Rep[ms[x]] != res.Rep[ms[y]] {
						yield(ms[x], ms[y])
					}
				}
			}
		}
	})
}
