package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

// runDeliveries checks the optional crm.Deliveries port of the outbox
// whenever the adapter has it (relays find it by type assertion on
// Store.Outbox): leases one relay at a time in Seq order, the events of a
// subject (tenant, subject type and ID) in order, settlement by the lease's
// owner only, parking and replay, the lag, and many relays at once.
func runDeliveries(t *testing.T, h Harness) {
	// deliveries returns the port, or nil (and checks that it was not
	// declared) when the adapter has none.
	deliveries := func(t *testing.T, e *env) crm.Deliveries {
		t.Helper()
		d, ok := e.store.Outbox().(crm.Deliveries)
		if !ok {
			require.False(t, h.Features.Deliveries, "Features.Deliveries is declared, but the outbox %T does not implement crm.Deliveries", e.store.Outbox())
			return nil
		}
		return d
	}
	dtest := func(name string, fn func(t *testing.T, e *env, d crm.Deliveries)) {
		test(t, h, name, func(t *testing.T, e *env) {
			if d := deliveries(t, e); d != nil {
				fn(t, e, d)
			}
		})
	}

	dtest("LeaseTakesDeliverableEventsInSeqOrderForOneLiveLease", func(t *testing.T, e *env, d crm.Deliveries) {
		var all []*crm.Event
		for i := range 5 {
			ctx := e.ctxA
			if i%2 == 1 {
				ctx = e.ctxB
			}
			ev := subjectEvent(e, customerRef(e))
			appendInTx(t, e, ctx, ev)
			all = append(all, ev)
		}
		now := e.now()
		first := lease(t, d, e.ctxB, "relay-1", 3, now, now.Add(time.Minute))
		require.Equal(t, idsOf(all[:3]...), deliveryIDs(first), "lowest Seq first, up to the limit, across tenants")
		for i, dl := range first {
			requireSame(t, storedEvent(all[i]), dl.Event, "leased event %d", i)
			require.Zero(t, dl.Attempts)
			require.Empty(t, dl.LastError)
			require.True(t, dl.ParkedAt.IsZero())
		}
		second := lease(t, d, e.ctx, "relay-2", 10, now, now.Add(2*time.Minute))
		require.Equal(t, idsOf(all[3:]...), deliveryIDs(second), "another relay gets only what is not leased")
		require.Empty(t, lease(t, d, e.ctx, "relay-3", 10, now.Add(59*time.Second), now.Add(time.Hour)), "every lease still runs")
		require.Empty(t, lease(t, d, e.ctx, "relay-1", 10, now.Add(59*time.Second), now.Add(time.Hour)), "not even the owner leases its events twice")

		// relay-1's lease ends at now+1m (a lease runs while its end is
		// after now); relay-2's runs on.
		third := lease(t, d, e.ctx, "relay-3", 10, now.Add(time.Minute), now.Add(time.Hour))
		require.Equal(t, idsOf(all[:3]...), deliveryIDs(third), "expired leases are leased again")
		for i, dl := range third {
			requireSame(t, storedEvent(all[i]), dl.Event, "re-leased event %d", i)
		}
		settle(t, d, "relay-3", delivered(deliveryIDs(third)...)...)
		requireLag(t, e, d, crm.Lag{Pending: 2, Oldest: crm.StorageTime(all[3].OccurredAt)})

		later := now.Add(3 * time.Minute)
		for _, c := range []struct {
			field string
			owner string
			limit int
			until time.Time
		}{
			{"owner", "", 10, later.Add(time.Minute)},
			{"owner", strings.Repeat("r", 201), 10, later.Add(time.Minute)},
			{"limit", "relay", 0, later.Add(time.Minute)},
			{"limit", "relay", crm.MaxPageLimit + 1, later.Add(time.Minute)},
			{"until", "relay", 10, later},
			{"until", "relay", 10, later.Add(-time.Second)},
		} {
			_, err := d.Lease(e.ctx, c.owner, c.limit, later, c.until)
			requireInvalid(t, err, c.field)
		}
		require.Equal(t, idsOf(all[3:]...), deliveryIDs(lease(t, d, e.ctx, "relay-4", 10, now.Add(2*time.Minute), now.Add(time.Hour))),
			"refused leases leased nothing")
	})

	dtest("ReleaseGivesALeaseUpWithoutAnAttempt", func(t *testing.T, e *env, d crm.Deliveries) {
		a := customerRef(e)
		a1, a2 := subjectEvent(e, a), subjectEvent(e, a)
		appendInTx(t, e, e.ctxA, a1, a2)
		now := e.now()
		got := lease(t, d, e.ctx, "relay-1", 10, now, now.Add(time.Hour))
		require.Equal(t, idsOf(a1, a2), deliveryIDs(got))
		// a1 failed; a2, held back behind it, is released.
		settle(t, d, "relay-1", crm.Outcome{ID: a1.ID, Error: "timeout", RetryAt: now.Add(time.Minute)},
			crm.Outcome{ID: a2.ID, Release: true})
		require.Empty(t, lease(t, d, e.ctx, "relay-2", 10, now.Add(time.Second), now.Add(time.Hour)), "a2 waits behind a1")
		got = lease(t, d, e.ctx, "relay-2", 10, now.Add(time.Minute), now.Add(time.Hour))
		require.Equal(t, idsOf(a1, a2), deliveryIDs(got))
		require.Equal(t, 1, got[0].Attempts)
		require.Zero(t, got[1].Attempts, "a release counts no attempt")
		require.Empty(t, got[1].LastError)
		// A release by a relay that no longer holds the lease is ignored.
		settle(t, d, "relay-1", crm.Outcome{ID: a2.ID, Release: true})
		require.Empty(t, lease(t, d, e.ctx, "relay-3", 10, now.Add(2*time.Minute), now.Add(time.Hour)), "relay-2 still holds both")
		for _, bad := range []struct {
			o     crm.Outcome
			field string
		}{
			{crm.Outcome{ID: a2.ID, Release: true, Park: true}, "release"},
			{crm.Outcome{ID: a2.ID, Release: true, Error: "x"}, "release"},
			{crm.Outcome{ID: a2.ID, Release: true, Delivered: true}, "delivered"},
		} {
			requireInvalid(t, d.Settle(e.ctx, "relay-2", bad.o), bad.field)
		}
	})

	dtest("EarlierEventsOfASubjectHoldBackLaterOnes", func(t *testing.T, e *env, d crm.Deliveries) {
		a, b := customerRef(e), customerRef(e)
		a1, a2, b1 := subjectEvent(e, a), subjectEvent(e, a), subjectEvent(e, b)
		appendInTx(t, e, e.ctxA, a1, a2, b1)
		now := e.now()
		at := func(d time.Duration) time.Time { return now.Add(d) }

		got := lease(t, d, e.ctx, "relay-1", 1, now, at(time.Minute))
		require.Equal(t, idsOf(a1), deliveryIDs(got))
		got = lease(t, d, e.ctx, "relay-2", 10, now, at(time.Minute))
		require.Equal(t, idsOf(b1), deliveryIDs(got), "a1's lease holds a2 back; b1 is another subject")
		settle(t, d, "relay-1", crm.Outcome{ID: a1.ID, Error: "broker unavailable", RetryAt: at(time.Hour)})
		require.Empty(t, lease(t, d, e.ctx, "relay-3", 10, at(time.Second), at(time.Minute)), "a1 waits for its retry and holds a2 back")
		settle(t, d, "relay-2", delivered(b1.ID)...)
		require.Empty(t, lease(t, d, e.ctx, "relay-2", 10, at(59*time.Minute), at(time.Hour)), "a1 is not due yet")

		// Due again: a1 is leased with its failure counted; while its lease
		// runs, a2 waits.
		got = lease(t, d, e.ctx, "relay-1", 1, at(time.Hour), at(2*time.Hour))
		require.Equal(t, idsOf(a1), deliveryIDs(got))
		require.Equal(t, 1, got[0].Attempts)
		require.Equal(t, "broker unavailable", got[0].LastError)
		require.Empty(t, lease(t, d, e.ctx, "relay-2", 10, at(time.Hour), at(2*time.Hour)), "a1's lease holds a2 back")

		// Parked: a2 waits until a1 is replayed. The same subject ID in
		// another tenant, or of another type, is another subject.
		otherTenant, otherType := subjectEvent(e, a), subjectEvent(e, crm.Ref{Type: crm.TypeLead, ID: a.ID})
		appendInTx(t, e, e.ctxB, otherTenant)
		appendInTx(t, e, e.ctxA, otherType)
		settle(t, d, "relay-1", crm.Outcome{ID: a1.ID, Error: "rejected", Park: true})
		got = lease(t, d, e.ctx, "relay-2", 10, at(3*time.Hour), at(4*time.Hour))
		require.Equal(t, idsOf(otherTenant, otherType), deliveryIDs(got), "parked a1 holds back a2 only")
		settle(t, d, "relay-2", delivered(otherTenant.ID, otherType.ID)...)
		require.Empty(t, lease(t, d, e.ctx, "relay-2", 10, at(30*24*time.Hour), at(31*24*time.Hour)), "a parked event waits for a replay however late")

		n, err := d.Replay(e.ctx, a1.ID)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		// a1's last retry time was at(1h): a replayed event has none.
		got = lease(t, d, e.ctx, "relay-3", 1, at(30*time.Minute), at(4*time.Hour))
		require.Equal(t, idsOf(a1), deliveryIDs(got), "replayed a1 is due at once")
		require.Zero(t, got[0].Attempts, "replay resets the attempts")
		require.True(t, got[0].ParkedAt.IsZero())
		require.Empty(t, lease(t, d, e.ctx, "relay-2", 10, at(3*time.Hour), at(4*time.Hour)), "a2 waits for a1's delivery")

		settle(t, d, "relay-3", delivered(a1.ID)...)
		got = lease(t, d, e.ctx, "relay-2", 10, at(3*time.Hour), at(4*time.Hour))
		require.Equal(t, idsOf(a2), deliveryIDs(got), "acknowledging a1 releases a2")
		requireSame(t, storedEvent(a2), got[0].Event)
		settle(t, d, "relay-2", delivered(a2.ID)...)
		requireLag(t, e, d, crm.Lag{})
	})

	dtest("LeaseTakesLaterEventsOfASubjectWithDeliverableEarlierOnes", func(t *testing.T, e *env, d crm.Deliveries) {
		a := customerRef(e)
		a1, a2, a3 := subjectEvent(e, a), subjectEvent(e, a), subjectEvent(e, a)
		appendInTx(t, e, e.ctxA, a1, a2, a3)
		now := e.now()
		got := lease(t, d, e.ctx, "relay-1", 2, now, now.Add(time.Minute))
		require.Equal(t, idsOf(a1, a2), deliveryIDs(got), "one relay leases a subject's events together, in order")
		require.Empty(t, lease(t, d, e.ctx, "relay-2", 10, now, now.Add(time.Minute)), "a3 waits for a1 and a2")
		// a1 fails but is due again at once: deliverable, so it holds
		// nothing back; a2's lease still does.
		settle(t, d, "relay-1", crm.Outcome{ID: a1.ID, Error: "flaky", RetryAt: now}, crm.Outcome{ID: a2.ID, Delivered: true})
		got = lease(t, d, e.ctx, "relay-2", 10, now, now.Add(time.Minute))
		require.Equal(t, idsOf(a1, a3), deliveryIDs(got))
		require.Equal(t, 1, got[0].Attempts)
	})

	dtest("SettleByOthersOrForUnknownEventsIsIgnored", func(t *testing.T, e *env, d crm.Deliveries) {
		e1, e2, e3 := subjectEvent(e, customerRef(e)), subjectEvent(e, customerRef(e)), subjectEvent(e, customerRef(e))
		appendInTx(t, e, e.ctxA, e1, e2, e3)
		now := e.now()
		require.Len(t, lease(t, d, e.ctx, "relay-1", 2, now, now.Add(time.Minute)), 2)

		settle(t, d, "relay-2", crm.Outcome{ID: e1.ID, Delivered: true}, crm.Outcome{ID: e2.ID, Error: "x", Park: true})
		settle(t, d, "relay-1", crm.Outcome{ID: e3.ID, Delivered: true}, crm.Outcome{ID: e.ids.NewID(), Delivered: true},
			crm.Outcome{ID: e.ids.NewID(), Error: "x", Park: true})
		settle(t, d, "relay-1")
		requireLag(t, e, d, crm.Lag{Pending: 3, Oldest: crm.StorageTime(e1.OccurredAt)})
		require.Empty(t, parked(t, d, 0, 10))
		got := lease(t, d, e.ctx, "relay-3", 10, now, now.Add(time.Hour))
		require.Equal(t, idsOf(e3), deliveryIDs(got), "e1 and e2 are still leased to relay-1; e3 was never leased to it")

		// Invalid outcomes are refused, valid ones beside them with them.
		for _, c := range []struct {
			field string
			bad   crm.Outcome
		}{
			{"id", crm.Outcome{Delivered: true}},
			{"delivered", crm.Outcome{ID: e2.ID, Delivered: true, Error: "but failed"}},
			{"delivered", crm.Outcome{ID: e2.ID, Delivered: true, Park: true}},
			{"retry_at", crm.Outcome{ID: e2.ID, Error: "failed"}},
		} {
			err := d.Settle(e.ctx, "relay-1", crm.Outcome{ID: e1.ID, Delivered: true}, c.bad)
			requireInvalid(t, err, c.field)
		}
		requireLag(t, e, d, crm.Lag{Pending: 3, Oldest: crm.StorageTime(e1.OccurredAt)})

		// relay-1's lease ran out and relay-4 holds e1 and e2 now: relay-1's
		// late outcomes are ignored.
		later := now.Add(time.Minute)
		got = lease(t, d, e.ctx, "relay-4", 10, later, later.Add(time.Minute))
		require.Equal(t, idsOf(e1, e2), deliveryIDs(got))
		settle(t, d, "relay-1", crm.Outcome{ID: e1.ID, Delivered: true}, crm.Outcome{ID: e2.ID, Error: "late", Park: true})
		requireLag(t, e, d, crm.Lag{Pending: 3, Oldest: crm.StorageTime(e1.OccurredAt)})
		settle(t, d, "relay-4", delivered(e1.ID, e2.ID)...)
		settle(t, d, "relay-3", delivered(e3.ID)...)
		requireLag(t, e, d, crm.Lag{})
		settle(t, d, "relay-4", crm.Outcome{ID: e1.ID, Error: "again", Park: true})
		requireLag(t, e, d, crm.Lag{}, "an acknowledged event stays so")
		require.Empty(t, lease(t, d, e.ctx, "relay-4", 10, later.Add(time.Hour), later.Add(2*time.Hour)))
	})

	dtest("ParkedListsParkedEventsAndReplayReturnsThem", func(t *testing.T, e *env, d crm.Deliveries) {
		var evs []*crm.Event
		for range 5 {
			ev := subjectEvent(e, customerRef(e))
			appendInTx(t, e, e.ctxA, ev)
			evs = append(evs, ev)
		}
		now := e.now()
		require.Len(t, lease(t, d, e.ctx, "relay-1", 10, now, now.Add(time.Minute)), 5)
		long := strings.Repeat("é", crm.MaxErrorLen) // 2 bytes each
		settle(t, d, "relay-1",
			crm.Outcome{ID: evs[0].ID, Error: long, Park: true},
			crm.Outcome{ID: evs[1].ID, Error: "410 Gone", Park: true},
			crm.Outcome{ID: evs[2].ID, Error: "503", RetryAt: now.Add(time.Hour)},
			crm.Outcome{ID: evs[3].ID, Delivered: true},
			crm.Outcome{ID: evs[4].ID, Park: true}) // no error given
		parkedAt := e.now()

		got := parked(t, d, 0, 10)
		require.Equal(t, idsOf(evs[0], evs[1], evs[4]), deliveryIDs(got))
		for i, dl := range got {
			requireSame(t, storedEvent([]*crm.Event{evs[0], evs[1], evs[4]}[i]), dl.Event, "parked event %d", i)
			require.Equal(t, 1, dl.Attempts)
			requireTime(t, parkedAt, dl.ParkedAt, "parked at the store's clock")
		}
		require.Equal(t, crm.TrimError(long), got[0].LastError)
		require.LessOrEqual(t, len(got[0].LastError), crm.MaxErrorLen)
		require.True(t, utf8.ValidString(got[0].LastError), "cut on a rune boundary")
		require.Greater(t, len(got[0].LastError), crm.MaxErrorLen-utf8.UTFMax)
		require.Equal(t, "410 Gone", got[1].LastError)
		require.Empty(t, got[2].LastError)
		require.Equal(t, idsOf(evs[1], evs[4]), deliveryIDs(parked(t, d, evs[0].Seq, 10)), "after a Seq")
		require.Equal(t, idsOf(evs[0]), deliveryIDs(parked(t, d, 0, 1)), "up to the limit")
		require.Empty(t, parked(t, d, evs[4].Seq, 10))
		for _, limit := range []int{0, crm.MaxPageLimit + 1} {
			_, err := d.Parked(e.ctx, 0, limit)
			requireInvalid(t, err, "limit")
		}
		requireLag(t, e, d, crm.Lag{Pending: 1, Oldest: crm.StorageTime(evs[2].OccurredAt), Parked: 3})

		e.tick()
		n, err := d.Replay(e.ctxB, evs[0].ID, evs[2].ID, evs[3].ID, e.ids.NewID(), evs[0].ID)
		require.NoError(t, err)
		require.Equal(t, 1, n, "only parked events are replayed, each once, in any tenant's context")
		n, err = d.Replay(e.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, idsOf(evs[1], evs[4]), deliveryIDs(parked(t, d, 0, 10)))
		requireLag(t, e, d, crm.Lag{Pending: 2, Oldest: crm.StorageTime(evs[0].OccurredAt), Parked: 2})

		got = lease(t, d, e.ctx, "relay-2", 10, now, now.Add(time.Minute))
		require.Equal(t, idsOf(evs[0]), deliveryIDs(got), "replayed and due at once; evs[2] still waits for its retry")
		require.Zero(t, got[0].Attempts)
		require.True(t, got[0].ParkedAt.IsZero())
		settle(t, d, "relay-2", crm.Outcome{ID: evs[0].ID, Error: "still failing", Park: true})
		got = parked(t, d, 0, 10)
		require.Equal(t, idsOf(evs[0], evs[1], evs[4]), deliveryIDs(got))
		require.Equal(t, 1, got[0].Attempts, "counted from the replay")
		require.Equal(t, "still failing", got[0].LastError)
		requireTime(t, e.now(), got[0].ParkedAt)

		n, err = d.Replay(e.ctx, evs[0].ID, evs[1].ID, evs[4].ID)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Empty(t, parked(t, d, 0, 10))
		n, err = d.Replay(e.ctx, evs[0].ID)
		require.NoError(t, err)
		require.Zero(t, n, "replayed already")
	})

	dtest("LagCountsPendingAndParked", func(t *testing.T, e *env, d crm.Deliveries) {
		requireLag(t, e, d, crm.Lag{})
		days := []int{12, 10, 11, 9}
		var evs []*crm.Event
		for _, day := range days {
			ev := subjectEvent(e, customerRef(e))
			ev.OccurredAt = nanoTime(day, 987654321)
			evs = append(evs, ev)
		}
		appendInTx(t, e, e.ctxA, evs[:3]...)
		requireLag(t, e, d, crm.Lag{Pending: 3, Oldest: crm.StorageTime(nanoTime(10, 987654321))}, "the oldest by occurrence, not by Seq")
		now := e.now()
		require.Len(t, lease(t, d, e.ctx, "relay-1", 10, now, now.Add(time.Minute)), 3)
		requireLag(t, e, d, crm.Lag{Pending: 3, Oldest: crm.StorageTime(nanoTime(10, 987654321))}, "leased events are pending")
		settle(t, d, "relay-1", crm.Outcome{ID: evs[1].ID, Error: "x", Park: true}, crm.Outcome{ID: evs[0].ID, Delivered: true},
			crm.Outcome{ID: evs[2].ID, Error: "y", RetryAt: now.Add(time.Hour)})
		requireLag(t, e, d, crm.Lag{Pending: 1, Oldest: crm.StorageTime(nanoTime(11, 987654321)), Parked: 1}, "waiting for a retry is pending")
		appendInTx(t, e, e.ctxB, evs[3])
		requireLag(t, e, d, crm.Lag{Pending: 2, Oldest: crm.StorageTime(nanoTime(9, 987654321)), Parked: 1}, "across tenants")
		require.NoError(t, e.store.Outbox().Ack(e.ctx, evs[1].ID, evs[2].ID, evs[3].ID))
		requireLag(t, e, d, crm.Lag{}, "Ack acknowledges parked events too")
	})

	dtest("EventsOfFailedUnitsOfWorkAreNeverLeased", func(t *testing.T, e *env, d crm.Deliveries) {
		a := customerRef(e)
		kept := subjectEvent(e, a)
		appendInTx(t, e, e.ctxA, kept)
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Events().Append(ctx, subjectEvent(e, a), subjectEvent(e, customerRef(e))); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Panics(t, func() {
			_ = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
				if err := tx.Events().Append(ctx, subjectEvent(e, a)); err != nil {
					return err
				}
				panic("storetest: panic in a unit of work")
			})
		})
		later := subjectEvent(e, a)
		appendInTx(t, e, e.ctxA, later)
		now := e.now()
		got := lease(t, d, e.ctx, "relay-1", 10, now, now.Add(time.Minute))
		require.Equal(t, idsOf(kept, later), deliveryIDs(got))
		requireLag(t, e, d, crm.Lag{Pending: 2, Oldest: crm.StorageTime(kept.OccurredAt)})
	})

	dtest("MethodsReturnContextCanceledAndWriteNothing", func(t *testing.T, e *env, d crm.Deliveries) {
		ev := subjectEvent(e, customerRef(e))
		appendInTx(t, e, e.ctxA, ev)
		now := e.now()
		done := cancelled(e.ctx)
		_, err := d.Lease(done, "relay-1", 10, now, now.Add(time.Minute))
		require.ErrorIs(t, err, context.Canceled)
		got := lease(t, d, e.ctx, "relay-1", 10, now, now.Add(time.Minute))
		require.Equal(t, idsOf(ev), deliveryIDs(got), "the cancelled lease leased nothing")
		require.ErrorIs(t, d.Settle(done, "relay-1", crm.Outcome{ID: ev.ID, Error: "x", Park: true}), context.Canceled)
		require.Empty(t, parked(t, d, 0, 10))
		settle(t, d, "relay-1", crm.Outcome{ID: ev.ID, Error: "x", Park: true})
		n, err := d.Replay(done, ev.ID)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, n)
		_, err = d.Parked(done, 0, 10)
		require.ErrorIs(t, err, context.Canceled)
		_, err = d.Lag(done, now)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, idsOf(ev), deliveryIDs(parked(t, d, 0, 10)), "nothing replayed")
	})

	dtest("ConcurrentRelaysDeliverEveryEventOnceInSubjectOrder", func(t *testing.T, e *env, d crm.Deliveries) {
		const (
			relays   = 8
			events   = 3000
			subjects = 60 // half in tenant "a", half in "b"
			batch    = 100
		)
		refs := make([]crm.Ref, subjects)
		for i := range refs {
			refs[i] = customerRef(e)
		}
		type subject struct {
			tenant string
			ref    crm.Ref
		}
		subjectOf := map[crm.ID]subject{}
		seqOf := map[crm.ID]int64{}
		rng := rand.New(rand.NewPCG(7, 11))
		for n := 0; n < events; n += batch {
			ctx, tenant, base := e.ctxA, "a", 0
			if n/batch%2 == 1 {
				ctx, tenant, base = e.ctxB, "b", subjects/2
			}
			evs := make([]*crm.Event, batch)
			for i := range evs {
				ref := refs[base+rng.IntN(subjects/2)]
				evs[i] = subjectEvent(e, ref)
				subjectOf[evs[i].ID] = subject{tenant, ref}
			}
			appendInTx(t, e, ctx, evs...)
			for _, ev := range evs {
				seqOf[ev.ID] = ev.Seq
			}
		}

		now := e.now()
		var (
			mu        sync.Mutex
			deliverer = map[crm.ID]string{}   // who delivered each event
			order     = map[subject][]int64{} // Seqs in the order settled
			problems  []string
		)
		problem := func(format string, args ...any) { // with mu held
			if len(problems) < 10 {
				problems = append(problems, fmt.Sprintf(format, args...))
			}
		}
		ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for r := range relays {
			owner := fmt.Sprintf("relay-%d", r)
			wg.Go(func() {
				for ctx.Err() == nil {
					got, err := d.Lease(ctx, owner, 1+r*7, now, now.Add(time.Hour))
					if err != nil {
						mu.Lock()
						problem("%s: lease: %v", owner, err)
						mu.Unlock()
						return
					}
					if len(got) == 0 {
						mu.Lock()
						finished := len(deliverer) >= events
						mu.Unlock()
						if finished {
							return
						}
						time.Sleep(time.Millisecond)
						continue
					}
					// Record before settling: a later event of a subject
					// can only be leased once this settlement is done.
					outcomes := make([]crm.Outcome, len(got))
					mu.Lock()
					for i, dl := range got {
						if prev, dup := deliverer[dl.ID]; dup {
							problem("event %s (seq %d) leased to %s after %s delivered it", dl.ID, dl.Seq, owner, prev)
						}
						deliverer[dl.ID] = owner
						s := subjectOf[dl.ID]
						order[s] = append(order[s], dl.Seq)
						outcomes[i] = crm.Outcome{ID: dl.ID, Delivered: true}
					}
					mu.Unlock()
					if err := d.Settle(ctx, owner, outcomes...); err != nil {
						mu.Lock()
						problem("%s: settle: %v", owner, err)
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		require.Empty(t, problems)
		require.NoError(t, ctx.Err(), "the relays did not finish in time")
		require.Len(t, deliverer, events, "every event delivered exactly once")
		for id := range seqOf {
			if _, ok := deliverer[id]; !ok {
				require.Fail(t, "an event was not delivered", "event %s (seq %d)", id, seqOf[id])
			}
		}
		total := 0
		for s, seqs := range order {
			total += len(seqs)
			require.True(t, slices.IsSorted(seqs), "subject %s/%v delivered out of Seq order: %v", s.tenant, s.ref, seqs)
		}
		require.Equal(t, events, total)
		requireLag(t, e, d, crm.Lag{})
		require.Empty(t, lease(t, d, e.ctx, "relay-x", 10, now.Add(2*time.Hour), now.Add(3*time.Hour)))
	})
}

// subjectEvent returns a valid event about subject.
func subjectEvent(e *env, subject crm.Ref) *crm.Event {
	ev := newEvent(e, "customer.updated")
	ev.Subject = subject
	return ev
}

func customerRef(e *env) crm.Ref { return crm.Ref{Type: crm.TypeCustomer, ID: e.ids.NewID()} }

func lease(t *testing.T, d crm.Deliveries, ctx context.Context, owner string, limit int, now, until time.Time) []crm.Delivery {
	t.Helper()
	got, err := d.Lease(ctx, owner, limit, now, until)
	require.NoError(t, err)
	require.True(t, slices.IsSortedFunc(got, func(a, b crm.Delivery) int { return int(a.Seq - b.Seq) }), "leased events in Seq order")
	return got
}

func settle(t *testing.T, d crm.Deliveries, owner string, outcomes ...crm.Outcome) {
	t.Helper()
	require.NoError(t, d.Settle(context.Background(), owner, outcomes...))
}

func parked(t *testing.T, d crm.Deliveries, afterSeq int64, limit int) []crm.Delivery {
	t.Helper()
	got, err := d.Parked(context.Background(), afterSeq, limit)
	require.NoError(t, err)
	return got
}

func requireLag(t *testing.T, e *env, d crm.Deliveries, want crm.Lag, msgAndArgs ...any) {
	t.Helper()
	got, err := d.Lag(e.ctxA, e.now())
	require.NoError(t, err)
	require.Equal(t, want.Pending, got.Pending, msgAndArgs...)
	require.Equal(t, want.Parked, got.Parked, msgAndArgs...)
	requireTime(t, want.Oldest, got.Oldest, msgAndArgs...)
}

// requireTime compares instants, whatever their zone.
func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	if !want.Equal(got) {
		require.Fail(t, fmt.Sprintf("time: want %v, got %v", want, got), msgAndArgs...)
	}
}

// idsOf returns the IDs of events.
func idsOf(events ...*crm.Event) []crm.ID {
	out := make([]crm.ID, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

func delivered(ids ...crm.ID) []crm.Outcome {
	out := make([]crm.Outcome, len(ids))
	for i, id := range ids {
		out[i] = crm.Outcome{ID: id, Delivered: true}
	}
	return out
}

func deliveryIDs(ds []crm.Delivery) []crm.ID {
	out := make([]crm.ID, len(ds))
	for i, dl := range ds {
		out[i] = dl.ID
	}
	return out
}
