package dedupe

import (
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkIndexCheck1M measures Check against an index of 1,000,000
// generated customers and reports the p50 and p99 latencies.
func BenchmarkIndexCheck1M(b *testing.B) {
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(b, err)
	ix, err := NewIndex(m, nil)
	require.NoError(b, err)
	recs, _ := newChineseGenerator(1).dataset(620_000)
	recs = recs[:min(len(recs), 1_000_000)]
	for _, r := range recs {
		require.NoError(b, ix.Add(Entry{Record: r}))
	}
	queries, _ := newChineseGenerator(2).dataset(2000)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		q.ID = ""
		start := time.Now()
		_, err := ix.Check(q)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(ix.Len()), "records")
}

// BenchmarkCluster1M clusters 1,000,000 generated customers end to end and
// reports the peak heap, the candidate pairs scored and the seconds spent
// in each stage.
func BenchmarkCluster1M(b *testing.B) { benchmarkCluster(b, 1_000_000) }

// BenchmarkCluster100k is BenchmarkCluster1M at a tenth of the size, for
// quick comparisons while working on the clustering.
func BenchmarkCluster100k(b *testing.B) { benchmarkCluster(b, 100_000) }

func benchmarkCluster(b *testing.B, n int) {
	recs, _ := newChineseGenerator(1).dataset(n * 62 / 100)
	recs = recs[:min(len(recs), n)]
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		var peak uint64
		stages := map[string]time.Duration{}
		since := time.Now()
		res, err := m.Cluster(Records(recs), &ClusterOptions{Progress: func(p Progress) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			// The work before a report belongs to the reported stage.
			now := time.Now()
			stages[p.Stage] += now.Sub(since)
			since = now
		}})
		require.NoError(b, err)
		b.ReportMetric(float64(peak)/(1<<30), "peak-heap-GiB")
		b.ReportMetric(float64(res.Stats.Records), "records")
		b.ReportMetric(float64(res.Stats.CandidatePairs), "pairs")
		b.ReportMetric(float64(res.Stats.Clusters), "clusters")
		for _, st := range []string{"prepare", "block", "learn", "score", "cluster"} {
			b.ReportMetric(stages[st].Seconds(), st+"-s")
		}
	}
}
