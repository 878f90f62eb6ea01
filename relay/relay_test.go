package relay_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/store/memstore"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	store *memstore.Store
	clock *crmtest.Clock
	ids   *crmtest.IDs
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clock := crmtest.NewClock(t0)
	return &fixture{store: memstore.New(&memstore.Config{Clock: clock}), clock: clock, ids: crmtest.NewIDs()}
}

// subject returns the ref of record n.
func subject(n int) crm.Ref {
	return crm.Ref{Type: crm.TypeCustomer, ID: crmtest.SequentialID(uint64(1_000_000 + n))}
}

// appendEvents stores one customer.updated event per subject given, in
// one unit of work, and returns them.
func (f *fixture) appendEvents(t testing.TB, subjects ...crm.Ref) []crm.Event {
	t.Helper()
	out := make([]crm.Event, len(subjects))
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		es := make([]*crm.Event, len(subjects))
		for i, s := range subjects {
			es[i] = &crm.Event{ID: f.ids.NewID(), Type: crm.EventCustomerUpdated, Subject: s, OccurredAt: f.clock.Now()}
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

// sink records deliveries; fail decides, per event and attempt, what the
// sink answers.
type sink struct {
	mu        sync.Mutex
	got       []crm.Event
	attempts  map[crm.ID]int
	inFlight  map[crm.ID]bool
	twice     []crm.ID // delivered while already in flight
	fail      func(e crm.Event, attempt int) error
	hang      bool
	batchSize []int
}

func newSink() *sink { return &sink{attempts: map[crm.ID]int{}, inFlight: map[crm.ID]bool{}} }

func (s *sink) Deliver(ctx context.Context, events []crm.Event) error {
	if s.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.batchSize = append(s.batchSize, len(events))
	for _, e := range events {
		if s.inFlight[e.ID] {
			s.twice = append(s.twice, e.ID)
		}
		s.inFlight[e.ID] = true
	}
	s.mu.Unlock()
	runtime.Gosched()
	var failed relay.Failed
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range events {
		delete(s.inFlight, e.ID)
		s.attempts[e.ID]++
		if s.fail != nil {
			if err := s.fail(e, s.attempts[e.ID]); err != nil {
				failed.Fail(i, err)
				continue
			}
		}
		s.got = append(s.got, e)
	}
	return failed.Err()
}

func (s *sink) delivered() []crm.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// drain steps r until a step finds nothing due.
func drain(t testing.TB, r *relay.Relay) {
	t.Helper()
	for range 1000 {
		n, err := r.Step(context.Background())
		require.NoError(t, err)
		if n == 0 {
			return
		}
	}
	t.Fatal("the relay never ran dry")
}

func distinct(es []crm.Event) map[crm.ID]bool {
	out := map[crm.ID]bool{}
	for _, e := range es {
		out[e.ID] = true
	}
	return out
}

// requireOrdered checks that each subject's events were delivered in Seq
// order, counting only their last delivery.
func requireOrdered(t testing.TB, got []crm.Event) {
	t.Helper()
	last := map[crm.Ref]int64{}
	seen := map[crm.ID]bool{}
	for i := len(got) - 1; i >= 0; i-- { // last deliveries, walking back
		e := got[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		if prev, ok := last[e.Subject]; ok {
			require.Less(t, e.Seq, prev, "events of %v out of order", e.Subject)
		}
		last[e.Subject] = e.Seq
	}
}

func TestRelayDeliversEveryEventInOrderAndAcknowledgesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var subjects []crm.Ref
	for i := range 30 {
		subjects = append(subjects, subject(i%4))
	}
	want := f.appendEvents(t, subjects...)
	s := newSink()
	r, err := relay.New(f.store, s, &relay.Config{Batch: 7, Clock: f.clock})
	require.NoError(t, err)
	drain(t, r)
	got := s.delivered()
	require.Len(t, got, len(want))
	requireOrdered(t, got)
	require.Equal(t, []int{7, 7, 7, 7, 2}, s.batchSize)
	st, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(0), st.Pending)
	require.Equal(t, int64(30), st.Delivered)
}

func TestRelayRetriesWithBackoffAndKeepsARecordsOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	evs := f.appendEvents(t, subject(1), subject(1), subject(2))
	s := newSink()
	s.fail = func(e crm.Event, attempt int) error {
		if e.ID == evs[0].ID && attempt <= 2 {
			return errors.New("broker busy")
		}
		return nil
	}
	r, err := relay.New(f.store, s, &relay.Config{Clock: f.clock, MinBackoff: time.Minute, MaxBackoff: time.Hour})
	require.NoError(t, err)
	drain(t, r)
	// The first event failed; the second, of the same record, is sent
	// again after it; the other record's event went through.
	st, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Pending)
	require.Equal(t, int64(1), st.Delivered)

	f.clock.Advance(30 * time.Second) // under half the first backoff: nothing due
	n, err := r.Step(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	f.clock.Advance(31 * time.Second)
	drain(t, r) // second attempt fails: the backoff doubles
	f.clock.Advance(time.Minute)
	n, err = r.Step(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "the second backoff is at least a minute")
	f.clock.Advance(time.Minute + time.Second)
	drain(t, r)
	got := s.delivered()
	requireOrdered(t, got)
	require.Equal(t, evs[0].ID, got[len(got)-2].ID)
	require.Equal(t, evs[1].ID, got[len(got)-1].ID)
	st, err = r.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(0), st.Pending)
}

func TestRelayParksAndReplays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	evs := f.appendEvents(t, subject(1), subject(1), subject(2), subject(3))
	s := newSink()
	broken := true
	s.fail = func(e crm.Event, attempt int) error {
		switch {
		case e.ID == evs[0].ID && broken:
			return errors.New("still down")
		case e.ID == evs[2].ID && broken:
			return relay.Permanent(errors.New("400 Bad Request"))
		}
		return nil
	}
	r, err := relay.New(f.store, s, &relay.Config{Clock: f.clock, MaxAttempts: 3, MinBackoff: time.Second, MaxBackoff: time.Second})
	require.NoError(t, err)
	for range 3 {
		drain(t, r)
		f.clock.Advance(2 * time.Second)
	}
	parked, err := r.Parked(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, parked, 2)
	require.Equal(t, evs[0].ID, parked[0].ID)
	require.Equal(t, 3, parked[0].Attempts)
	require.Equal(t, "still down", parked[0].LastError)
	require.Equal(t, evs[2].ID, parked[1].ID)
	require.Equal(t, 1, parked[1].Attempts, "a permanent failure parks at once")
	st, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Parked)
	require.Equal(t, int64(1), st.Pending, "the record's second event waits behind the parked one")

	broken = false
	n, err := r.Replay(context.Background(), parked[0].ID, parked[1].ID, evs[3].ID)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	drain(t, r)
	got := s.delivered()
	requireOrdered(t, got)
	require.Len(t, distinct(got), 4, "every event at least once")
	st, err = r.Stats(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Pending+st.Parked)
}

func TestRelayParksOversizedPayloadsUnsent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		return tx.Events().Append(ctx, &crm.Event{ID: f.ids.NewID(), Type: crm.EventCustomerUpdated, Subject: subject(1), OccurredAt: t0,
			Payload: []byte(`{"note":"` + strings.Repeat("x", 2000) + `"}`)})
	}))
	s := newSink()
	r, err := relay.New(f.store, s, &relay.Config{Clock: f.clock, MaxPayloadBytes: 1000})
	require.NoError(t, err)
	drain(t, r)
	require.Empty(t, s.delivered())
	parked, err := r.Parked(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	require.Contains(t, parked[0].LastError, "more than the 1000 the relay sends")
}

func TestRelayTimesOutAHangingSink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.appendEvents(t, subject(1))
	s := newSink()
	s.hang = true
	r, err := relay.New(f.store, s, &relay.Config{Clock: f.clock, Timeout: 50 * time.Millisecond, Lease: time.Second})
	require.NoError(t, err)
	start := time.Now()
	n, err := r.Step(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Less(t, time.Since(start), 5*time.Second)
	st, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Failed)
	require.Equal(t, int64(1), st.Pending)
}

func TestRunStopsWhenItsContextEndsAndLeavesNoGoroutine(t *testing.T) {
	f := newFixture(t)
	f.appendEvents(t, subject(1), subject(2))
	s := newSink()
	r, err := relay.New(f.store, s, &relay.Config{Idle: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return len(s.delivered()) == 2 }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "relay.(*Relay)")
	}, 5*time.Second, 10*time.Millisecond, "a goroutine of the relay outlived Run")
}

// Several relays share one store while writers keep appending: every event
// is delivered, none by two relays at once, and each record's events in
// order.
func TestRelaysShareAStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		relays, workers int
	}{{"FourRelays", 4, 1}, {"OneRelayWithFourWorkers", 1, 4}, {"TwoRelaysWithThreeWorkers", 2, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			shareAStore(t, tc.relays, tc.workers)
		})
	}
}

func shareAStore(t *testing.T, relays, workers int) {
	f := newFixture(t)
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running sync.WaitGroup
	for i := range relays {
		r, err := relay.New(f.store, s, &relay.Config{Owner: fmt.Sprintf("relay-%d", i), Batch: 16, Idle: time.Millisecond, Workers: workers})
		require.NoError(t, err)
		running.Go(func() { _ = r.Run(ctx) })
	}
	var writers sync.WaitGroup
	const perWriter = 200
	for w := range 4 {
		writers.Go(func() {
			for i := range perWriter {
				f.appendEvents(t, subject((w*perWriter+i)%13))
			}
		})
	}
	writers.Wait()
	require.Eventually(t, func() bool { return len(s.delivered()) >= 4*perWriter }, 20*time.Second, 5*time.Millisecond)
	cancel()
	running.Wait()
	got := s.delivered()
	require.Len(t, got, 4*perWriter, "each event once")
	require.Empty(t, s.twice, "no event in flight twice")
	requireOrdered(t, got)
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := relay.New(f.store, newSink(), &relay.Config{Batch: -1, Timeout: time.Minute, Lease: time.Second, MinBackoff: time.Hour, MaxBackoff: time.Second, Workers: 100})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var es crm.ValidationErrors
	require.ErrorAs(t, err, &es)
	require.Equal(t, []string{"batch", "lease", "max_backoff", "workers"}, es.Fields())
	_, err = relay.New(nil, nil, nil)
	require.ErrorContains(t, err, "store")
}
