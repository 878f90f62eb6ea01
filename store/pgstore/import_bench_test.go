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
	"github.com/crmkit/crmkit/store/pgstore"
	"github.com/jackc/pgx/v5"
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

// importAgainstStoredSchema keeps the customers BenchmarkImportAgainstStored
// stores first, so later runs skip that part.
const importAgainstStoredSchema = "crmkit_bench_import"

// benchEnvInt reads a positive count from the environment.
func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// importAgainstLines yields n rows numbered from first, as importBenchLines
// does, under run's external IDs, with duplicates: every 20th row is a
// stored customer again (its strong key, written otherwise: blocked) and
// every 50th repeats an earlier row of the file under another ID (blocked).
func importAgainstLines(run string, first, n, stored int) iter.Seq2[crmkit.ImportRow, error] {
	return func(yield func(crmkit.ImportRow, error) bool) {
		for k := range n {
			i := first + k
			switch {
			case k%20 == 19:
				i = (k * 7919) % stored // a stored customer
			case k%50 == 49:
				i = first + k/2 // an earlier row of this file
			}
			v := map[string]string{
				"name":     benchExistingCompany(i),
				"phone":    fmt.Sprintf("138 %04d %04d", (i/10000)%10000, i%10000),
				"email":    fmt.Sprintf("Sales%07d@Example.CN", i),
				"region":   "华东",
				"industry": "制造",
			}
			if i%10 == 0 {
				// A person: names repeat (three characters), phones are
				// scattered so that two namesakes' phones are not close.
				v["kind"], v["name"], v["phone"] = "person", benchLeadCompany(i)[:9], benchLeadPhone(i)
			}
			if !yield(crmkit.ImportRow{Line: k + 2, ExternalID: fmt.Sprintf("%s-%08d", run, k), Values: v}, nil) {
				return
			}
		}
	}
}

// BenchmarkImportAgainstStored imports CRMKIT_BENCH_IMPORT_ROWS rows
// (1,000,000 by default) with --on-duplicate block into a tenant that
// already holds CRMKIT_BENCH_IMPORT_STORED customers (1,000,000 by
// default): each row is checked against the stored match keys and the
// rows before it; one row in 20 duplicates a stored customer and one in
// 50 an earlier row. The stored customers are imported once into the
// schema crmkit_bench_import, which is kept for later runs (drop it to
// start again); each run imports new rows under its own external IDs, so
// later runs import against more customers. It reports rows/s and the
// peak heap.
func BenchmarkImportAgainstStored(b *testing.B) {
	stored := benchEnvInt("CRMKIT_BENCH_IMPORT_STORED", 1000000)
	n := benchEnvInt("CRMKIT_BENCH_IMPORT_ROWS", 1000000)
	pool := testPool(b)
	ctx := crm.WithTenant(context.Background(), "bench")
	s, err := pgstore.New(pool, &pgstore.Config{Schema: importAgainstStoredSchema})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	c, err := crmkit.New(s, nil)
	if err != nil {
		b.Fatal(err)
	}
	var have int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{importAgainstStoredSchema, "crm_external_ids"}.Sanitize()+
		" WHERE tenant_id = 'bench' AND source = 'stored'").Scan(&have); err != nil {
		b.Fatal(err)
	}
	// The generated rows include some the entry policy blocks, so fewer
	// than stored are kept: most of them stored means done.
	if have < stored*9/10 {
		b.Logf("storing %d customers first (kept in schema %s)", stored-have, importAgainstStoredSchema)
		// importBenchLines numbers its rows from 0 with IDs E0000000...:
		// the rows already stored are unchanged.
		if _, err := c.ImportCustomers(ctx, crmkit.ImportRequest{Source: "stored", Rows: importBenchLines(stored), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 1000}); err != nil {
			b.Fatal(err)
		}
	}
	// Each run's rows are numbered from its own ten millions, past the
	// stored ones and those of earlier runs (one run is one prefix of
	// the external IDs of source erp).
	var total, runs int
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+pgx.Identifier{importAgainstStoredSchema, "crm_customers"}.Sanitize()+" WHERE tenant_id = 'bench'),"+
		" (SELECT count(DISTINCT split_part(external_id, '-', 1)) FROM "+pgx.Identifier{importAgainstStoredSchema, "crm_external_ids"}.Sanitize()+
		" WHERE tenant_id = 'bench' AND source = 'erp')").Scan(&total, &runs); err != nil {
		b.Fatal(err)
	}
	first := 10000000 * (runs + 1)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		run := fmt.Sprintf("R%d", time.Now().UnixNano())
		var peak uint64
		req := crmkit.ImportRequest{Source: "erp", Rows: importAgainstLines(run, first, n, stored), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 1000,
			Report: func(r crmkit.ImportResult) error {
				if r.Line%10000 == 0 {
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				return nil
			}}
		b.StartTimer()
		start := time.Now()
		sum, err := c.ImportCustomers(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if sum.Counts[crmkit.ImportBlocked] < n/20 {
			b.Fatalf("blocked %v", sum.Counts)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "rows/s")
		b.ReportMetric(float64(total), "stored_before")
		b.ReportMetric(float64(sum.Counts[crmkit.ImportBlocked]), "blocked")
		b.ReportMetric(float64(sum.Counts[crmkit.ImportCreated]), "created")
		b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
		total += sum.Counts[crmkit.ImportCreated]
		first += 10000000
	}
}
