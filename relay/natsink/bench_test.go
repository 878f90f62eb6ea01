package natsink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/relay/natsink"
	"github.com/crmkit/crmkit/store/memstore"
)

// BenchmarkRelayToJetStream relays a backlog of 50,000 events of 10,000
// records (in a scattered order, so a batch holds several events of some
// records) from memstore to a file-backed stream on a local nats-server,
// and reports events/s. The backlog is appended with the timer stopped.
func BenchmarkRelayToJetStream(b *testing.B) {
	const events, records = 50_000, 10_000
	srv := startServer(b)
	_, js := srv.connect(b)
	ctx := context.Background()
	st, err := natsink.EnsureStream(ctx, js, "CRM", "crm", 0)
	require.NoError(b, err)
	sink, err := natsink.New(js, natsink.Config{})
	require.NoError(b, err)
	ids := crmtest.NewIDs() // shared: every iteration's events are new to the stream
	for _, batch := range []int{500, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var relayed time.Duration
			for range b.N {
				b.StopTimer()
				require.NoError(b, st.Purge(ctx))
				store := memstore.New(nil)
				for start := 0; start < events; start += 1000 {
					require.NoError(b, store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
						es := make([]*crm.Event, 1000)
						for i := range es {
							n := start + i
							es[i] = &crm.Event{ID: ids.NewID(), Type: crm.EventCustomerUpdated, OccurredAt: t0,
								Subject: record(n * 7919 % records), Payload: []byte(`{"changed":["name","phone"]}`)}
						}
						return tx.Events().Append(ctx, es...)
					}))
				}
				r, err := relay.New(store, sink, &relay.Config{Batch: batch, Logger: quiet})
				require.NoError(b, err)
				b.StartTimer()
				began := time.Now()
				drain(b, r)
				relayed += time.Since(began)
				b.StopTimer()
				stats, err := r.Stats(ctx)
				require.NoError(b, err)
				require.Equal(b, int64(events), stats.Delivered)
				require.Zero(b, stats.Pending+stats.Parked)
				info, err := st.Info(ctx)
				require.NoError(b, err)
				require.Equal(b, uint64(events), info.State.Msgs)
				b.StartTimer()
			}
			b.ReportMetric(float64(events*b.N)/relayed.Seconds(), "events/s")
		})
	}
}
