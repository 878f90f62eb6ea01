package pgstore_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/store/pgstore"
)

// BenchmarkReminderSweep100k fires 100,000 due task reminders with two
// sweepers, each over a store on a pool of its own as two application
// instances would be, and checks each reminder fired exactly once. The
// tasks are loaded with one INSERT ... SELECT before the timer starts.
// Run with -benchtime=1x: one iteration is one whole sweep.
func BenchmarkReminderSweep100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	first := newStore(b, clock)
	other, err := pgxpool.New(ctx, os.Getenv(urlEnv))
	require.NoError(b, err)
	b.Cleanup(other.Close)
	second, err := pgstore.New(other, &pgstore.Config{Schema: first.Schema(), Clock: clock})
	require.NoError(b, err)
	stores := []*pgstore.Store{first, second}
	tasks := pgx.Identifier{first.Schema(), "crm_tasks"}.Sanitize()
	now := clock.Now()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		_, err := testPool(b).Exec(ctx, "TRUNCATE "+tasks+", "+pgx.Identifier{first.Schema(), "crm_reminder_firings"}.Sanitize()+
			", "+pgx.Identifier{first.Schema(), "crm_events"}.Sanitize())
		require.NoError(b, err)
		// Reminders spread over the last hour, many sharing a second;
		// due tomorrow, so only reminders fire.
		_, err = testPool(b).Exec(ctx, "INSERT INTO "+tasks+` (id, tenant_id, version, created_at, updated_at, kind, title,
			subject_type, subject_id, assignee_id, status, due_at, remind_at)
			SELECT gen_random_uuid(), '', 1, $1, $1, 'task', 'Call back ' || i, 'customer', gen_random_uuid(), gen_random_uuid(),
			       'open', $1::timestamptz + interval '1 day', $1::timestamptz - (i % 3600) * interval '1 second'
			FROM generate_series(1, $2) AS i`, now, n)
		require.NoError(b, err)
		_, err = testPool(b).Exec(ctx, "ANALYZE "+tasks)
		require.NoError(b, err)
		b.StartTimer()
		results := make([]remind.Result, len(stores))
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			sw, err := remind.New(s, &remind.Config{Clock: clock, IDs: ids, Batch: 1000})
			require.NoError(b, err)
			wg.Go(func() { results[i], errs[i] = sw.Sweep(ctx, now, 2*n) })
		}
		wg.Wait()
		b.StopTimer()
		total := 0
		for i := range stores {
			require.NoError(b, errs[i])
			total += results[i].Fired[remind.KindTaskReminder]
		}
		require.Equal(b, n, total, "every reminder fired once")
		var firings int
		require.NoError(b, testPool(b).QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{first.Schema(), "crm_reminder_firings"}.Sanitize()).Scan(&firings))
		require.Equal(b, n, firings)
		b.StartTimer()
	}
}
