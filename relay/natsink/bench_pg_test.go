package natsink_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/relay/natsink"
	"github.com/crmkit/crmkit/store/pgstore"
)

// pgStore returns a pgstore in a fresh schema, dropped at the end, or
// skips without CRMKIT_TEST_DATABASE_URL.
func pgStore(b *testing.B) *pgstore.Store {
	b.Helper()
	url := os.Getenv("CRMKIT_TEST_DATABASE_URL")
	if url == "" {
		b.Skip("CRMKIT_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(b, err)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	schema := "crmkit_bench_" + hex.EncodeToString(suffix[:])
	b.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		pool.Close()
	})
	require.NoError(b, pgstore.Migrate(ctx, pool, schema))
	s, err := pgstore.New(pool, &pgstore.Config{Schema: schema})
	require.NoError(b, err)
	return s
}

func appendBatch(b *testing.B, s crm.Store, ids crm.IDGenerator, n, first, records int) {
	b.Helper()
	require.NoError(b, s.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		es := make([]*crm.Event, n)
		for i := range es {
			es[i] = &crm.Event{ID: ids.NewID(), Type: crm.EventCustomerUpdated, OccurredAt: time.Now(),
				Subject: record((first + i) * 7919 % records), Payload: []byte(`{"changed":["name","phone"]}`)}
		}
		return tx.Events().Append(ctx, es...)
	}))
}

// BenchmarkPostgresToJetStream relays a backlog of 50,000 events of 10,000
// records from PostgreSQL to a file-backed stream on a local nats-server,
// with one relay leasing 1,000 events at a time with one and with two
// workers (batches in flight), and with two relays, and reports events/s
// end to end.
func BenchmarkPostgresToJetStream(b *testing.B) {
	const events, records = 50_000, 10_000
	srv := startServer(b)
	_, js := srv.connect(b)
	ctx := context.Background()
	st, err := natsink.EnsureStream(ctx, js, "CRM", "crm", 0)
	require.NoError(b, err)
	sink, err := natsink.New(js, natsink.Config{})
	require.NoError(b, err)
	ids := crmtest.NewIDs()
	for _, shape := range []struct{ relays, workers int }{{1, 1}, {1, 2}, {2, 1}} {
		relays := shape.relays
		b.Run(fmt.Sprintf("relays=%d/workers=%d", shape.relays, shape.workers), func(b *testing.B) {
			var relayed time.Duration
			for range b.N {
				b.StopTimer()
				require.NoError(b, st.Purge(ctx))
				store := pgStore(b)
				for start := 0; start < events; start += 1000 {
					appendBatch(b, store, ids, 1000, start, records)
				}
				rs := make([]*relay.Relay, relays)
				for i := range rs {
					rs[i], err = relay.New(store, sink, &relay.Config{Owner: fmt.Sprintf("relay-%d", i), Batch: 1000, Logger: quiet, Workers: shape.workers})
					require.NoError(b, err)
				}
				b.StartTimer()
				began := time.Now()
				var wg sync.WaitGroup
				for _, r := range rs {
					wg.Go(func() { runUntilDrained(b, r, st, events) })
				}
				wg.Wait()
				relayed += time.Since(began)
				b.StopTimer()
				info, err := st.Info(ctx)
				require.NoError(b, err)
				require.Equal(b, uint64(events), info.State.Msgs)
				b.StartTimer()
			}
			b.ReportMetric(float64(events*b.N)/relayed.Seconds(), "events/s")
		})
	}
}

// BenchmarkPostgresToJetStreamLag writes 5,000 events/s into PostgreSQL
// for ten seconds (every 10 ms, as many as are due by then, in one unit of
// work) while one relay forwards them to JetStream, samples the relay's
// lag every 50 ms, and reports the largest backlog and the largest age of
// the oldest pending event.
func BenchmarkPostgresToJetStreamLag(b *testing.B) {
	const rate, tick, duration, records = 5000, 10 * time.Millisecond, 10 * time.Second, 10_000
	srv := startServer(b)
	_, js := srv.connect(b)
	ctx := context.Background()
	_, err := natsink.EnsureStream(ctx, js, "CRM", "crm", 0)
	require.NoError(b, err)
	sink, err := natsink.New(js, natsink.Config{})
	require.NoError(b, err)
	ids := crmtest.NewIDs()
	for range b.N {
		store := pgStore(b)
		r, err := relay.New(store, sink, &relay.Config{Batch: 1000, Idle: 5 * time.Millisecond, Logger: quiet})
		require.NoError(b, err)
		rctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = r.Run(rctx) })
		var maxPending int64
		var maxAge time.Duration
		sampler := time.NewTicker(50 * time.Millisecond)
		writer := time.NewTicker(tick)
		end := time.After(duration)
		began := time.Now()
		written := 0
	loop:
		for {
			select {
			case <-writer.C:
				// As many events as the rate has made due since the start,
				// in one unit of work: a late tick catches up, so the
				// writers keep the rate on average.
				due := int(time.Since(began).Seconds()*rate) - written
				if due > 0 {
					appendBatch(b, store, ids, due, written, records)
					written += due
				}
			case <-sampler.C:
				st, err := r.Stats(ctx)
				require.NoError(b, err)
				maxPending = max(maxPending, st.Pending)
				if !st.Oldest.IsZero() {
					maxAge = max(maxAge, time.Since(st.Oldest))
				}
			case <-end:
				break loop
			}
		}
		writer.Stop()
		sampler.Stop()
		require.Eventually(b, func() bool {
			st, err := r.Stats(ctx)
			return err == nil && st.Pending == 0
		}, 30*time.Second, 10*time.Millisecond)
		stop()
		wg.Wait()
		b.ReportMetric(float64(written)/duration.Seconds(), "written-events/s")
		b.ReportMetric(float64(maxPending), "max-pending-events")
		b.ReportMetric(float64(maxAge.Milliseconds()), "max-lag-ms")
	}
}

// runUntilDrained runs r until the stream holds want messages.
func runUntilDrained(b *testing.B, r *relay.Relay, st jetstream.Stream, want uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	for {
		info, err := st.Info(context.Background())
		require.NoError(b, err)
		if info.State.Msgs >= want {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}
