package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

// BenchmarkTick100000DueTimers fires 100,000 due SLA timers with Tick in
// units of work of workflow.MaxTickLimit timers each, events included. The
// timers are inserted with one set-based statement outside the timed part.
// Run it with -benchtime=1x: one operation is the whole 100,000.
func BenchmarkTick100000DueTimers(b *testing.B) {
	const timers = 100_000
	ctx := context.Background()
	s := newStore(b, nil)
	pool := testPool(b)
	table := pgx.Identifier{s.Schema(), "crm_sla_timers"}.Sanitize()
	ids := crmtest.NewIDs()
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	now := start.Add(48 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if _, err := pool.Exec(ctx, "TRUNCATE "+table); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+table+" (id, version, record_type, record_id, policy, running_since, due_at)"+
			" SELECT gen_random_uuid(), 1, 'ticket', gen_random_uuid(), 'first_response', $1, $1::timestamptz + (i || ' seconds')::interval"+
			" FROM generate_series(1, $2) AS i", start, timers); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		fired := 0
		for {
			var n int
			err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				w, err := workflow.TxOf(tx)
				if err != nil {
					return err
				}
				fs, err := workflow.Tick(ctx, w, ids, now, workflow.MaxTickLimit)
				n = len(fs)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
			fired += n
		}
		if fired != timers {
			b.Fatalf("fired %d of %d timers", fired, timers)
		}
	}
}
