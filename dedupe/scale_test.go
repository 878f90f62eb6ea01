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
	m, err := New(&Config{Fields: CustomerFields()})
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
// reports the peak heap.
func BenchmarkCluster1M(b *testing.B) {
	recs, _ := newChineseGenerator(1).dataset(620_000)
	recs = recs[:min(len(recs), 1_000_000)]
	m, err := New(&Config{Fields: CustomerFields()})
	require.NoError(b, err)
	for b.Loop() {
		var peak uint64
		res, err := m.Cluster(Records(recs), &ClusterOptions{Progress: func(Progress) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}})
		require.NoError(b, err)
		b.ReportMetric(float64(peak)/(1<<30), "peak-heap-GiB")
		b.ReportMetric(float64(res.Stats.Records), "records")
	}
}
