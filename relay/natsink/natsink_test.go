package natsink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/relay/natsink"
	"github.com/crmkit/crmkit/store/memstore"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.DiscardHandler)

type fixture struct {
	store *memstore.Store
	clock *crmtest.Clock
	ids   *crmtest.IDs
}

func newFixture() *fixture {
	clock := crmtest.NewClock(t0)
	return &fixture{store: memstore.New(&memstore.Config{Clock: clock}), clock: clock, ids: crmtest.NewIDs()}
}

// record returns the ref of record n.
func record(n int) crm.Ref {
	return crm.Ref{Type: crm.TypeCustomer, ID: crmtest.SequentialID(uint64(1_000_000 + n))}
}

// appendEvents stores, in one unit of work of tenant, one event of type
// typ per record given, and returns them as stored.
func (f *fixture) appendEvents(t testing.TB, tenant string, typ crm.EventType, records ...crm.Ref) []crm.Event {
	t.Helper()
	ctx := context.Background()
	if tenant != "" {
		ctx = crm.WithTenant(ctx, tenant)
	}
	out := make([]crm.Event, len(records))
	require.NoError(t, f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		es := make([]*crm.Event, len(records))
		for i, r := range records {
			es[i] = &crm.Event{ID: f.ids.NewID(), Type: typ, Subject: r, OccurredAt: f.clock.Now(),
				Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		}
		if err := tx.Events().Append(ctx, es...); err != nil {
			return err
		}
		for i, e := range es {
			out[i] = *e
		}
		return nil
	}))
	return out
}

// drain steps r until a step finds nothing due.
func drain(t testing.TB, r *relay.Relay) {
	t.Helper()
	for range 10_000 {
		n, err := r.Step(context.Background())
		require.NoError(t, err)
		if n == 0 {
			return
		}
	}
	t.Fatal("the relay never ran dry")
}

func lag(t testing.TB, f *fixture) crm.Lag {
	t.Helper()
	l, err := f.store.Lag(context.Background(), f.clock.Now().Add(time.Hour))
	require.NoError(t, err)
	return l
}

// setup starts a server and returns a stream "CRM" over "crm.>" and a sink.
func setup(t *testing.T, opts ...jetstream.JetStreamOpt) (*server, jetstream.JetStream, jetstream.Stream, *natsink.Sink) {
	t.Helper()
	srv := startServer(t)
	_, js := srv.connect(t, opts...)
	st, err := natsink.EnsureStream(context.Background(), js, "CRM", "crm", time.Hour)
	require.NoError(t, err)
	sink, err := natsink.New(js, natsink.Config{})
	require.NoError(t, err)
	return srv, js, st, sink
}

// requireStreamHoldsOnce checks that the stream holds each of want
// exactly once, nothing else, on the sink's subject and with its headers,
// and each record's events in Seq order.
func requireStreamHoldsOnce(t testing.TB, st jetstream.Stream, sink *natsink.Sink, want []crm.Event) {
	t.Helper()
	byID := make(map[string]crm.Event, len(want))
	for _, e := range want {
		byID[e.ID.String()] = e
	}
	msgs := streamMsgs(t, st)
	seen := make(map[string]bool, len(msgs))
	lastSeq := map[crm.Ref]int64{}
	for _, m := range msgs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		e, ok := byID[id]
		require.True(t, ok, "message %d has the unknown ID %q", m.Sequence, id)
		require.False(t, seen[id], "event %s stored twice", id)
		seen[id] = true
		var got crm.Event
		require.NoError(t, json.Unmarshal(m.Data, &got))
		require.Equal(t, e.ID, got.ID)
		require.Equal(t, e.Seq, got.Seq)
		require.Equal(t, e.TenantID, got.TenantID)
		require.Equal(t, e.Type, got.Type)
		require.Equal(t, e.Subject, got.Subject)
		if len(e.Payload) == 0 {
			require.Empty(t, got.Payload)
		} else {
			require.JSONEq(t, string(e.Payload), string(got.Payload))
		}
		subj, err := sink.Subject(&e)
		require.NoError(t, err)
		require.Equal(t, subj, m.Subject)
		require.Equal(t, string(e.Type), m.Header.Get(natsink.HeaderType))
		require.Equal(t, natsink.SubjectToken(e.TenantID), m.Header.Get(natsink.HeaderTenant))
		if prev, ok := lastSeq[e.Subject]; ok {
			require.Greater(t, e.Seq, prev, "events of %v out of order in the stream", e.Subject)
		}
		lastSeq[e.Subject] = e.Seq
	}
	require.Len(t, seen, len(want), "every event in the stream")
	require.Len(t, msgs, len(want))
}

var tenants = []string{"", "acme", "a.b", "münchen", "_", "x > y"}

func TestRelayPublishesEveryEventOnceInOrder(t *testing.T) {
	t.Parallel()
	_, _, st, sink := setup(t, jetstream.WithPublishAsyncMaxPending(16))
	f := newFixture()
	var want []crm.Event
	for k, tenant := range tenants {
		var recs []crm.Ref
		for i := range 120 {
			recs = append(recs, record(k*10+i%7))
		}
		want = append(want, f.appendEvents(t, tenant, crm.EventCustomerUpdated, recs...)...)
		want = append(want, f.appendEvents(t, tenant, crm.EventLeadCreated, record(k*10+9))...)
	}
	r, err := relay.New(f.store, sink, &relay.Config{Batch: 100, Clock: f.clock, Logger: quiet})
	require.NoError(t, err)
	drain(t, r)
	require.Equal(t, crm.Lag{}, lag(t, f))
	requireStreamHoldsOnce(t, st, sink, want)

	// The subjects, spelled out.
	subjects := map[string]bool{}
	for _, m := range streamMsgs(t, st) {
		subjects[m.Subject] = true
	}
	for _, s := range []string{
		"crm._.customer.updated", "crm.acme.customer.updated", "crm.~mexge.customer.updated",
		"crm.~nxb3y3tdnbsw4.lead.created", "crm.~l4.lead.created", "crm.~paqd4idz.lead.created",
	} {
		require.True(t, subjects[s], "no message on %s", s)
	}
	require.Len(t, subjects, 2*len(tenants))
}

// crashing publishes a batch and then stops the relay before it
// acknowledges anything, as a process killed at that moment would.
type crashing struct{ sink relay.Sink }

type crash struct{}

func (c crashing) Deliver(ctx context.Context, events []crm.Event) error {
	if err := c.sink.Deliver(ctx, events); err != nil {
		return err
	}
	panic(crash{})
}

// ackLost publishes a batch and reports it failed, as when the stream's
// acknowledgements do not reach the relay.
type ackLost struct{ sink relay.Sink }

func (a ackLost) Deliver(ctx context.Context, events []crm.Event) error {
	if err := a.sink.Deliver(ctx, events); err != nil {
		return err
	}
	return errors.New("acknowledgements lost")
}

// stepCrashing runs one step of a relay whose sink crashes.
func stepCrashing(t *testing.T, r *relay.Relay) {
	t.Helper()
	defer func() {
		if v := recover(); v != (crash{}) {
			panic(v)
		}
	}()
	_, _ = r.Step(context.Background())
	t.Fatal("the relay did not crash")
}

func TestARelayStoppedBeforeAcknowledgingPublishesNothingTwice(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"killed", "acks lost"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			_, _, st, sink := setup(t)
			f := newFixture()
			var recs []crm.Ref
			for i := range 300 {
				recs = append(recs, record(i%10))
			}
			want := f.appendEvents(t, "acme", crm.EventCustomerUpdated, recs...)
			cfg := relay.Config{Batch: 120, Clock: f.clock, Logger: quiet, MinBackoff: time.Second, MaxBackoff: time.Second}

			// The first relay publishes one batch, and stops or fails
			// before acknowledging it.
			cfg.Owner = "first"
			if mode == "killed" {
				first, err := relay.New(f.store, crashing{sink}, &cfg)
				require.NoError(t, err)
				stepCrashing(t, first)
			} else {
				first, err := relay.New(f.store, ackLost{sink}, &cfg)
				require.NoError(t, err)
				n, err := first.Step(context.Background())
				require.NoError(t, err)
				require.Equal(t, 120, n)
			}
			info, err := st.Info(context.Background())
			require.NoError(t, err)
			require.Equal(t, uint64(120), info.State.Msgs, "the batch was published")
			require.Equal(t, int64(300), lag(t, f).Pending, "and nothing acknowledged")

			// Another relay takes over once the lease or the backoff ran
			// out, and publishes the batch again.
			cfg.Owner = "second"
			second, err := relay.New(f.store, sink, &cfg)
			require.NoError(t, err)
			f.clock.Advance(time.Minute)
			drain(t, second)
			st2, err := second.Stats(context.Background())
			require.NoError(t, err)
			require.Equal(t, int64(300), st2.Delivered, "the second relay delivered every event, the first batch again")
			require.Equal(t, crm.Lag{}, lag(t, f), "the outbox is empty")
			requireStreamHoldsOnce(t, st, sink, want)
			info, err = st.Info(context.Background())
			require.NoError(t, err)
			require.Equal(t, uint64(300), info.State.LastSeq, "the duplicates were dropped, not stored and removed")
		})
	}
}

func TestNothingIsLostWhenTheServerRestartsDuringDelivery(t *testing.T) {
	t.Parallel()
	srv, _, st, sink := setup(t)
	f := newFixture()
	r, err := relay.New(f.store, sink, &relay.Config{
		Batch: 50, Timeout: 300 * time.Millisecond, Lease: 2 * time.Second,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxAttempts: 1_000_000,
		Idle: 2 * time.Millisecond, Logger: quiet,
		// Leases and backoffs run on real time here.
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running sync.WaitGroup
	running.Go(func() { _ = r.Run(ctx) })

	// Writers append while the relay relays and the server goes away.
	var (
		mu       sync.Mutex
		want     []crm.Event
		appended sync.WaitGroup
		halfway  = make(chan struct{})
	)
	for w := range 2 {
		appended.Go(func() {
			for i := range 60 {
				// Record IDs are unique across tenants, as they are in crmkit.
				tn := (w + i) % len(tenants)
				var recs []crm.Ref
				for k := range 20 {
					recs = append(recs, record(w*1000+tn*100+(i+k)%13))
				}
				evs := f.appendEvents(t, tenants[tn], crm.EventCustomerUpdated, recs...)
				mu.Lock()
				want = append(want, evs...)
				mu.Unlock()
				if w == 0 && i == 20 {
					close(halfway)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	<-halfway
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	require.Positive(t, info.State.Msgs, "the relay is delivering")
	srv.stop()
	// Down for longer than the relay's timeout, while the writers go on:
	// deliveries fail, some with events published and not acknowledged.
	time.Sleep(800 * time.Millisecond)
	srv.start()
	appended.Wait()
	require.Eventually(t, func() bool { return lag(t, f) == crm.Lag{} }, 30*time.Second, 10*time.Millisecond, "the outbox drains")
	cancel()
	running.Wait()
	stats, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Positive(t, stats.Failed, "some deliveries failed while the server was down, and were retried")
	requireStreamHoldsOnce(t, st, sink, want)
	info, err = st.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(len(want)), info.State.LastSeq, "no event stored twice")
}

func TestEventsTooLargeAreParked(t *testing.T) {
	t.Parallel()
	_, js, st, sink := setup(t)
	f := newFixture()
	// The largest payload crmkit stores: the event's JSON is over the
	// server's max_payload of 1 MiB.
	huge := json.RawMessage(`"` + strings.Repeat("x", 1<<20-2) + `"`)
	// Over the stream's MaxMsgSize, set below.
	big := json.RawMessage(`"` + strings.Repeat("y", 4000) + `"`)
	var want []crm.Event
	var tooLarge []crm.ID
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		for i, p := range []json.RawMessage{huge, nil, big, nil, nil} {
			rec := record(i / 2) // 0: huge and a small one, 1: big and a small one, 2: a small one
			e := &crm.Event{ID: f.ids.NewID(), Type: crm.EventCustomerUpdated, Subject: rec, OccurredAt: t0, Payload: p}
			if err := tx.Events().Append(ctx, e); err != nil {
				return err
			}
			if p != nil {
				tooLarge = append(tooLarge, e.ID)
			} else {
				want = append(want, *e)
			}
		}
		return nil
	}))
	info := st.CachedInfo()
	cfg := info.Config
	cfg.MaxMsgSize = 2048
	_, err := js.UpdateStream(context.Background(), cfg)
	require.NoError(t, err)

	r, err := relay.New(f.store, sink, &relay.Config{Clock: f.clock, Logger: quiet})
	require.NoError(t, err)
	drain(t, r)
	parked, err := r.Parked(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, parked, 2)
	require.Equal(t, tooLarge[0], parked[0].ID)
	require.Contains(t, parked[0].LastError, "maximum payload exceeded")
	require.Equal(t, tooLarge[1], parked[1].ID)
	require.Contains(t, parked[1].LastError, "message size exceeds maximum")
	require.Equal(t, int64(2), lag(t, f).Pending, "the small events behind them wait")
	requireStreamHoldsOnce(t, st, sink, want[2:])

	// Events behind a failed one are not published, even in the batch
	// that failed it.
	err = sink.Deliver(context.Background(), []crm.Event{parked[0].Event, want[0], want[2]})
	var failed *relay.Failed
	require.ErrorAs(t, err, &failed)
	require.Len(t, failed.Errs, 2)
	require.ErrorIs(t, failed.Errs[0], relay.ErrPermanent)
	require.NotErrorIs(t, failed.Errs[1], relay.ErrPermanent)
	require.Contains(t, failed.Errs[1].Error(), "an earlier event of the same record failed")
	requireStreamHoldsOnce(t, st, sink, want[2:])
}

func TestAPublishNoStreamStoresIsRetried(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, js := srv.connect(t)
	sink, err := natsink.New(js, natsink.Config{Prefix: "acme.crm"})
	require.NoError(t, err)
	f := newFixture()
	want := f.appendEvents(t, "", crm.EventCustomerCreated, record(1), record(1), record(2))
	r, err := relay.New(f.store, sink, &relay.Config{Clock: f.clock, Logger: quiet, MinBackoff: time.Second, MaxBackoff: time.Second})
	require.NoError(t, err)
	drain(t, r)
	stats, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(3), stats.Pending)
	require.Equal(t, int64(0), stats.Parked)
	require.Equal(t, int64(2), stats.Failed, "the first event of each record")

	err = sink.Deliver(context.Background(), want)
	var failed *relay.Failed
	require.ErrorAs(t, err, &failed)
	require.ErrorContains(t, failed.Errs[0], "no stream answered")
	require.NotErrorIs(t, failed.Errs[0], relay.ErrPermanent)

	st, err := natsink.EnsureStream(context.Background(), js, "ACME", "acme.crm", 0)
	require.NoError(t, err)
	f.clock.Advance(2 * time.Second)
	drain(t, r)
	require.Equal(t, crm.Lag{}, lag(t, f))
	requireStreamHoldsOnce(t, st, sink, want)
	require.Equal(t, "acme.crm._.customer.created", streamMsgs(t, st)[0].Subject)
}

func TestEnsureStreamKeepsAnExistingStreamsSettings(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, js := srv.connect(t)
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"other.>"}, Duplicates: time.Minute, MaxMsgs: 1000, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	st, err := natsink.EnsureStream(ctx, js, "EVENTS", "", 0)
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	require.Equal(t, []string{"other.>", "crm.>"}, cfg.Subjects)
	require.Equal(t, natsink.DefaultDuplicates, cfg.Duplicates)
	require.Equal(t, int64(1000), cfg.MaxMsgs)
	require.Equal(t, jetstream.MemoryStorage, cfg.Storage)

	// Nothing to change: a shorter window is not imposed.
	st, err = natsink.EnsureStream(ctx, js, "EVENTS", "crm", time.Second)
	require.NoError(t, err)
	require.Equal(t, cfg.Subjects, st.CachedInfo().Config.Subjects)
	require.Equal(t, natsink.DefaultDuplicates, st.CachedInfo().Config.Duplicates)

	st, err = natsink.EnsureStream(ctx, js, "NEW", "a-b.c_d", 3*time.Minute)
	require.NoError(t, err)
	cfg = st.CachedInfo().Config
	require.Equal(t, []string{"a-b.c_d.>"}, cfg.Subjects)
	require.Equal(t, 3*time.Minute, cfg.Duplicates)
	require.Equal(t, jetstream.FileStorage, cfg.Storage)
}

func TestNewAndEnsureStreamRefuseBadArguments(t *testing.T) {
	t.Parallel()
	_, err := natsink.New(nil, natsink.Config{Prefix: "crm..x"})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var es crm.ValidationErrors
	require.ErrorAs(t, err, &es)
	require.Equal(t, []string{"js", "prefix"}, es.Fields())
	for _, p := range []string{"crm.*", "crm.>", "a b", ".crm", "crm.", "münchen"} {
		_, err := natsink.New(nil, natsink.Config{Prefix: p})
		require.ErrorContains(t, err, "prefix", "prefix %q", p)
	}
	_, err = natsink.EnsureStream(context.Background(), nil, "", "x y", -time.Second)
	require.ErrorAs(t, err, &es)
	require.Equal(t, []string{"js", "name", "prefix", "duplicates"}, es.Fields())
}
