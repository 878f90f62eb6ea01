package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/pgstore"
)

// appendOutboxEvents appends n events through the store's event writer, in
// units of work of 500, spread at random over the given number of
// customers of two tenants.
func appendOutboxEvents(tb testing.TB, s *pgstore.Store, ids *crmtest.IDs, n, customers int) {
	tb.Helper()
	subjects := make([]crm.Ref, max(customers, 1))
	for i := range subjects {
		subjects[i] = crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	payload := json.RawMessage(`{"name":"ACME","level":"A","fields":{"vip":true}}`)
	occurred := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for done := 0; done < n; {
		batch := min(500, n-done)
		tenant := strconv.Itoa(done / 500 % 2)
		evs := make([]*crm.Event, batch)
		for i := range evs {
			evs[i] = &crm.Event{ID: ids.NewID(), Type: "customer.updated", Subject: subjects[rng.IntN(len(subjects))],
				OccurredAt: occurred, Payload: payload}
		}
		err := s.InTx(crm.WithTenant(context.Background(), tenant), func(ctx context.Context, tx crm.Tx) error {
			return tx.Events().Append(ctx, evs...)
		})
		require.NoError(tb, err)
		done += batch
	}
}

// BenchmarkOutboxLeaseSettle1000 appends N events (100,000) about N/10
// customers outside the timed part, then times relays draining the outbox:
// each leases batches of 1000 and settles every batch as delivered, with
// one relay and with four at once. It reports events/s, leases and
// settlements included. Run it with -benchtime=1x: one operation is the
// whole backlog. CRMKIT_OUTBOX_BENCH_N and CRMKIT_OUTBOX_BENCH_CUSTOMERS
// set other counts. The test pool commits without waiting for the WAL
// flush (synchronous_commit off).
func BenchmarkOutboxLeaseSettle1000(b *testing.B) {
	n := envInt(b, "CRMKIT_OUTBOX_BENCH_N", 100_000)
	customers := envInt(b, "CRMKIT_OUTBOX_BENCH_CUSTOMERS", n/10)
	for _, relays := range []int{1, 4} {
		b.Run(fmt.Sprintf("relays=%d", relays), func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b, nil)
			d := s.Outbox().(crm.Deliveries)
			ids := crmtest.NewIDs()
			pool := testPool(b)
			events := pgx.Identifier{s.Schema(), "crm_events"}.Sanitize()
			for range b.N {
				b.StopTimer()
				_, err := pool.Exec(ctx, "TRUNCATE "+events)
				require.NoError(b, err)
				appendOutboxEvents(b, s, ids, n, customers)
				_, err = pool.Exec(ctx, "VACUUM ANALYZE "+events)
				require.NoError(b, err)
				b.StartTimer()

				now := time.Now()
				var wg sync.WaitGroup
				var mu sync.Mutex
				var delivered int
				var firstErr error
				for r := range relays {
					owner := "relay-" + strconv.Itoa(r)
					wg.Go(func() {
						for {
							got, err := d.Lease(ctx, owner, 1000, now, now.Add(time.Minute))
							if err == nil && len(got) > 0 {
								outcomes := make([]crm.Outcome, len(got))
								for i, dl := range got {
									outcomes[i] = crm.Outcome{ID: dl.ID, Delivered: true}
								}
								err = d.Settle(ctx, owner, outcomes...)
							}
							mu.Lock()
							if err != nil && firstErr == nil {
								firstErr = err
							}
							delivered += len(got)
							stop := err != nil || delivered >= n
							mu.Unlock()
							if stop {
								return
							}
							if len(got) == 0 {
								// The rest is leased by the other relays: poll
								// again shortly, as an idle relay does.
								time.Sleep(10 * time.Millisecond)
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				require.NoError(b, firstErr)
				require.Equal(b, n, delivered)
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	require.NoError(tb, err, name)
	return v
}
