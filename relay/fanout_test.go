package relay_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
)

// fakeSink answers every batch with answer(events) and records what it
// was given and whether it has returned.
type fakeSink struct {
	answer   func(ctx context.Context, events []crm.Event) error
	mu       sync.Mutex
	batches  [][]crm.Event
	returned atomic.Bool
}

func (s *fakeSink) Deliver(ctx context.Context, events []crm.Event) error {
	defer s.returned.Store(true)
	s.mu.Lock()
	s.batches = append(s.batches, slices.Clone(events))
	s.mu.Unlock()
	if s.answer == nil {
		return nil
	}
	return s.answer(ctx, events)
}

func answer(err error) func(context.Context, []crm.Event) error {
	return func(context.Context, []crm.Event) error { return err }
}

func failing(errs map[int]error) func(context.Context, []crm.Event) error {
	return func(context.Context, []crm.Event) error { return &relay.Failed{Errs: errs} }
}

func batchOf(n int) []crm.Event {
	ids := crmtest.NewIDs()
	out := make([]crm.Event, n)
	for i := range out {
		out[i] = crm.Event{ID: ids.NewID(), Seq: int64(i + 1), Type: crm.EventCustomerUpdated, Subject: subject(i), OccurredAt: t0}
	}
	return out
}

func TestNewFanoutRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sinks  []relay.Sink
		fields []string
	}{
		{"NoSinks", nil, []string{"sinks"}},
		{"ANilSink", []relay.Sink{&fakeSink{}, nil}, []string{"sinks[1]"}},
		{"TwoNilSinks", []relay.Sink{nil, &fakeSink{}, nil}, []string{"sinks[0]", "sinks[2]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := relay.NewFanout(tc.sinks...)
			require.Nil(t, f)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.ErrorAs(t, err, &es)
			require.Equal(t, tc.fields, es.Fields())
		})
	}
}

// Each case gives the sinks' answers to a batch of three events and says
// which events the fanout reports failed, and which of those permanently.
func TestFanoutFailsAnEventWhenAnySinkFailsIt(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	bad := relay.Permanent(errors.New("400 Bad Request"))
	for _, tc := range []struct {
		name      string
		answers   []func(context.Context, []crm.Event) error
		failed    []int
		permanent []int
		contains  map[int][]string
	}{
		{name: "EverySinkConfirmsEveryEvent", answers: []func(context.Context, []crm.Event) error{nil, nil, nil}},
		{name: "AnEmptyFailedIsAConfirmation", answers: []func(context.Context, []crm.Event) error{failing(nil), nil}},
		{
			name:     "OneSinkFailsOneEvent",
			answers:  []func(context.Context, []crm.Event) error{nil, failing(map[int]error{1: down})},
			failed:   []int{1},
			contains: map[int][]string{1: {"sink 1: connection refused"}},
		},
		{
			name:     "OneSinkFailsTheWholeBatch",
			answers:  []func(context.Context, []crm.Event) error{answer(down), nil},
			failed:   []int{0, 1, 2},
			contains: map[int][]string{0: {"sink 0: connection refused"}},
		},
		{
			name:     "TwoSinksFailDifferentEvents",
			answers:  []func(context.Context, []crm.Event) error{failing(map[int]error{0: down}), failing(map[int]error{2: down})},
			failed:   []int{0, 2},
			contains: map[int][]string{0: {"sink 0"}, 2: {"sink 1"}},
		},
		{
			name:      "APermanentFailureAtOneSinkIsPermanent",
			answers:   []func(context.Context, []crm.Event) error{failing(map[int]error{0: down}), failing(map[int]error{0: bad})},
			failed:    []int{0},
			permanent: []int{0},
			contains:  map[int][]string{0: {"sink 0: connection refused", "sink 1: 400 Bad Request"}},
		},
		{
			name:      "APermanentWholeBatchFailureIsPermanentForEveryEvent",
			answers:   []func(context.Context, []crm.Event) error{answer(bad), failing(map[int]error{1: down})},
			failed:    []int{0, 1, 2},
			permanent: []int{0, 1, 2},
		},
		{
			name:    "IndexesOutsideTheBatchAreIgnored",
			answers: []func(context.Context, []crm.Event) error{failing(map[int]error{-1: down, 3: down}), nil},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sinks := make([]relay.Sink, len(tc.answers))
			fakes := make([]*fakeSink, len(tc.answers))
			for i, a := range tc.answers {
				fakes[i] = &fakeSink{answer: a}
				sinks[i] = fakes[i]
			}
			f, err := relay.NewFanout(sinks...)
			require.NoError(t, err)
			events := batchOf(3)
			err = f.Deliver(context.Background(), events)
			for i, s := range fakes {
				require.Equal(t, [][]crm.Event{events}, s.batches, "sink %d gets the whole batch once", i)
			}
			if len(tc.failed) == 0 {
				require.NoError(t, err)
				return
			}
			var failed *relay.Failed
			require.ErrorAs(t, err, &failed)
			var got, permanent []int
			for i, e := range failed.Errs {
				got = append(got, i)
				if errors.Is(e, relay.ErrPermanent) {
					permanent = append(permanent, i)
				}
			}
			slices.Sort(got)
			slices.Sort(permanent)
			require.Equal(t, tc.failed, got)
			require.Equal(t, tc.permanent, permanent)
			for i, parts := range tc.contains {
				for _, p := range parts {
					require.ErrorContains(t, failed.Errs[i], p)
				}
			}
		})
	}
}

func TestFanoutGivesEachSinkItsOwnCopyOfTheBatch(t *testing.T) {
	t.Parallel()
	reorder := func(_ context.Context, events []crm.Event) error {
		slices.Reverse(events)
		events[0] = crm.Event{}
		return nil
	}
	a, b := &fakeSink{answer: reorder}, &fakeSink{answer: reorder}
	f, err := relay.NewFanout(a, b)
	require.NoError(t, err)
	events := batchOf(3)
	want := slices.Clone(events)
	require.NoError(t, f.Deliver(context.Background(), events))
	require.Equal(t, want, events, "the caller's batch is untouched")
	require.Equal(t, [][]crm.Event{want}, a.batches)
	require.Equal(t, [][]crm.Event{want}, b.batches)
}

// Each sink waits until the other has started: run one after the other,
// the first would wait until its context ended and fail the batch.
func TestFanoutRunsTheSinksConcurrently(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		started := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
		waitFor := func(me, other int) func(context.Context, []crm.Event) error {
			return func(ctx context.Context, _ []crm.Event) error {
				close(started[me])
				select {
				case <-started[other]:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		f, err := relay.NewFanout(&fakeSink{answer: waitFor(0, 1)}, &fakeSink{answer: waitFor(1, 0)})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		require.NoError(t, f.Deliver(ctx, batchOf(2)))
	})
}

// A sink that hangs until its context ends holds Deliver until then, and
// no longer; when Deliver returns every sink has returned, so no goroutine
// of the fanout is left (synctest.Test also fails on one left blocked).
func TestFanoutReturnsWhenItsContextEndsAndLeavesNoGoroutine(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		hang := &fakeSink{answer: func(ctx context.Context, _ []crm.Event) error {
			<-ctx.Done()
			return ctx.Err()
		}}
		quick := &fakeSink{}
		f, err := relay.NewFanout(quick, hang)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		err = f.Deliver(ctx, batchOf(2))
		require.Equal(t, 10*time.Second, time.Since(start), "Deliver returns when its context ends")
		require.True(t, quick.returned.Load())
		require.True(t, hang.returned.Load())
		var failed *relay.Failed
		require.ErrorAs(t, err, &failed)
		require.Len(t, failed.Errs, 2)
		for _, e := range failed.Errs {
			require.ErrorIs(t, e, context.DeadlineExceeded)
			require.ErrorContains(t, e, "sink 1:")
		}
	})
}

// Through a relay: an event one sink refuses permanently is parked,
// though the other sink has it; replayed, it goes to both sinks again.
func TestRelayOverAFanoutParksWhatOneSinkRefusesAndReplaysItToBoth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	evs := f.appendEvents(t, subject(1), subject(2))
	broker := newSink()
	hook := newSink()
	var refuse atomic.Bool
	refuse.Store(true)
	hook.fail = func(e crm.Event, _ int) error {
		if e.ID == evs[1].ID && refuse.Load() {
			return relay.Permanent(errors.New("400 Bad Request"))
		}
		return nil
	}
	fan, err := relay.NewFanout(broker, hook)
	require.NoError(t, err)
	r, err := relay.New(f.store, fan, &relay.Config{Clock: f.clock})
	require.NoError(t, err)
	drain(t, r)
	parked, err := r.Parked(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	require.Equal(t, evs[1].ID, parked[0].ID)
	require.Equal(t, "sink 1: 400 Bad Request", parked[0].LastError)
	require.Len(t, distinct(broker.delivered()), 2, "the broker has both events")
	require.Len(t, distinct(hook.delivered()), 1)

	refuse.Store(false)
	n, err := r.Replay(context.Background(), evs[1].ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	drain(t, r)
	require.Len(t, broker.delivered(), 3, "the broker gets the replayed event again (at least once)")
	require.Len(t, distinct(hook.delivered()), 2)
	st, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Pending+st.Parked)
	require.Equal(t, int64(2), st.Delivered)
}
