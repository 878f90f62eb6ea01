package pgstore_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
)

// importBenchRows is how many rows BenchmarkImportCustomers imports per
// run; CRMKIT_BENCH_IMPORT_ROWS overrides it.
func importBenchRows() int {
	if n, err := strconv.Atoi(os.Getenv("CRMKIT_BENCH_IMPORT_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// importBenchLines yields n rows of distinct companies with phones and
// e-mails written as people type them (full-width digits, spaces, upper
// case), every tenth row a person.
func importBenchLines(n int) iter.Seq2[crmkit.ImportRow, error] {
	return func(yield func(crmkit.ImportRow, error) bool) {
		for i := range n {
			v := map[string]string{
				"name":     benchExistingCompany(i),
				"phone":    fmt.Sprintf("138 %04d %04d", (i/10000)%10000, i%10000),
				"email":    fmt.Sprintf("Sales%06d@Example.CN", i),
				"region":   "华东",
				"industry": "制造",
			}
			if i%10 == 0 {
				v["kind"], v["name"] = "person", benchLeadCompany(i)[:9]
			}
			if !yield(crmkit.ImportRow{Line: i + 2, ExternalID: fmt.Sprintf("E%07d", i), Values: v}, nil) {
				return
			}
		}
	}
}

// BenchmarkImportCustomers imports importBenchRows customers through
// CRM.ImportCustomers on PostgreSQL (batches of 1000, block on
// duplicates: each row is checked against the stored match keys, which
// hold every row before it), then imports the same rows again (every row
// unchanged). It reports rows/s of both runs and the peak heap.
func BenchmarkImportCustomers(b *testing.B) {
	n := importBenchRows()
	for b.Loop() {
		b.StopTimer()
		s := newStore(b, crm.SystemClock{})
		c, err := crmkit.New(s, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx := crm.WithTenant(context.Background(), "bench")
		var peak uint64
		req := func() crmkit.ImportRequest {
			return crmkit.ImportRequest{Source: "erp", Rows: importBenchLines(n), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 1000,
				Report: func(r crmkit.ImportResult) error {
					if r.Line%10000 == 0 {
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						peak = max(peak, ms.HeapInuse)
					}
					return nil
				}}
		}
		b.StartTimer()
		start := time.Now()
		sum, err := c.ImportCustomers(ctx, req())
		if err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		if sum.Counts[crmkit.ImportCreated] < n*9/10 {
			b.Fatalf("created %v", sum.Counts)
		}
		start = time.Now()
		sum, err = c.ImportCustomers(ctx, req())
		if err != nil {
			b.Fatal(err)
		}
		again := time.Since(start)
		if sum.Counts[crmkit.ImportUnchanged] != sum.Counts[crmkit.ImportCreated]+sum.Counts[crmkit.ImportUnchanged] || sum.Counts[crmkit.ImportCreated] != 0 {
			b.Fatalf("re-import %v", sum.Counts)
		}
		b.ReportMetric(float64(n)/first.Seconds(), "import_rows/s")
		b.ReportMetric(float64(n)/again.Seconds(), "reimport_rows/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	}
}
