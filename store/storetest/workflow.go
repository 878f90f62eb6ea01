package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// RunWorkflow checks an adapter's implementation of the workflow package's
// storage ports ([workflow.Tx]): routing state ("Routing"), SLA timers
// ("Timers"), approval definitions and instances ("Approvals"), approval
// step deadlines ([workflow.ApprovalDeadlines], "ApprovalDeadlines", when
// [Features] declares them),
// hand-off states ([workflow.HandoffStore], "Handoffs"), the
// [workflow.ApprovalService] running on them ("ApprovalService": a
// decision stores the request and its events together, a refusal or a
// failed unit of work keeps nothing, of 8 concurrent approvals of one task
// exactly one wins), and the invariants that must hold under concurrency
// ("Concurrency"):
// goroutines routing through one [workflow.Router] stay fair and never
// exceed a member's capacity or daily quota, Tick and
// [workflow.Approvals.TickDue] from 4 goroutines fire each due timer and
// step timeout exactly once, and of many compare-and-swap updates of one
// approval request exactly one wins. An adapter without workflow ports
// fails it.
func RunWorkflow(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	t.Run("Routing", func(t *testing.T) { runWorkflowRouting(t, h) })
	t.Run("Timers", func(t *testing.T) { runWorkflowTimers(t, h) })
	t.Run("Approvals", func(t *testing.T) { runWorkflowApprovals(t, h) })
	// An optional port: checked when the adapter has it or declares it
	// (declared and missing fails in the group).
	if h.Features.ApprovalDeadlines || hasApprovalDeadlines(t, h) {
		t.Run("ApprovalDeadlines", func(t *testing.T) { runWorkflowDeadlines(t, h) })
	}
	t.Run("Handoffs", func(t *testing.T) { runWorkflowHandoffs(t, h) })
	t.Run("Concurrency", func(t *testing.T) { runWorkflowConcurrency(t, h) })
	t.Run("ApprovalService", func(t *testing.T) { runWorkflowApprovalService(t, h) })
}

// inWorkflow runs fn in a unit of work with the adapter's workflow ports.
func inWorkflow(ctx context.Context, s crm.Store, fn func(ctx context.Context, w workflow.Tx) error) error {
	return s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return fn(ctx, w)
	})
}

// mustWorkflow is inWorkflow that fails the test on error.
func mustWorkflow(t *testing.T, ctx context.Context, s crm.Store, fn func(ctx context.Context, w workflow.Tx) error) {
	t.Helper()
	require.NoError(t, inWorkflow(ctx, s, fn))
}

// routingFixture is a router over one team of four, in ID order a, b, c,
// d, where b holds at most 3 open items and c gets at most 5 a day.
type routingFixture struct {
	router     *workflow.Router
	a, b, c, d crm.ID
	schema     *cond.Schema
}

func newRoutingFixture(t *testing.T, e *env) *routingFixture {
	t.Helper()
	f := &routingFixture{a: e.ids.NewID(), b: e.ids.NewID(), c: e.ids.NewID(), d: e.ids.NewID()}
	team := e.ids.NewID()
	schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)
	f.schema = schema
	members := []workflow.Member{
		{UserID: f.a, Name: "a", Active: true},
		{UserID: f.b, Name: "b", Active: true, Capacity: 3},
		{UserID: f.c, Name: "c", Active: true, DailyQuota: 5},
		{UserID: f.d, Name: "d", Active: true},
	}
	set := &workflow.RuleSet{Name: "leads", RecordType: crm.TypeLead, Version: 1, FallbackQueue: "unassigned",
		Rules: []workflow.Rule{{Name: "everyone", Target: workflow.Target{Team: team}}}}
	f.router, err = workflow.NewRouter(schema, set, members, []workflow.Team{{ID: team, Members: []crm.ID{f.d, f.c, f.b, f.a}}})
	require.NoError(t, err)
	return f
}

func (f *routingFixture) request(now time.Time) *workflow.Request {
	r := f.schema.NewRecord()
	_ = r.SetString("region", "east")
	return &workflow.Request{Record: r, Now: now}
}

func (f *routingFixture) commit(prev int64, user crm.ID, capacity, quota int) workflow.RoutingCommit {
	return workflow.RoutingCommit{RuleSet: "leads", Day: "2026-01-05", Capacity: capacity, DailyQuota: quota,
		Decision: workflow.Decision{Rule: "everyone", UserID: user, CursorMoved: true,
			PrevCursor: workflow.Cursor{Version: prev}, Cursor: workflow.Cursor{Last: user, Version: prev + 1}}}
}

// load reads the stored state of the fixture's rule set.
func (f *routingFixture) load(t *testing.T, ctx context.Context, s crm.Store) *workflow.State {
	t.Helper()
	st := f.router.NewState()
	mustWorkflow(t, ctx, s, func(ctx context.Context, w workflow.Tx) error {
		return w.Routing().LoadRouting(ctx, "leads", "2026-01-05", st)
	})
	return st
}

func runWorkflowRouting(t *testing.T, h Harness) {
	test(t, h, "UnknownStateLoadsAsZero", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		st := f.load(t, e.ctx, e.store)
		require.Equal(t, workflow.Cursor{}, st.Cursor("everyone"))
		open, today := st.Load(f.a)
		require.Zero(t, open)
		require.Zero(t, today)
	})
	test(t, h, "CommitMovesTheCursorAndCountsLoadPerDayAndTenant", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Routing().CommitRouting(ctx, f.commit(0, f.a, 0, 0))
		})
		st := f.load(t, e.ctx, e.store)
		require.Equal(t, workflow.Cursor{Last: f.a, Version: 1}, st.Cursor("everyone"))
		open, today := st.Load(f.a)
		require.Equal(t, 1, open)
		require.Equal(t, 1, today)

		other := f.router.NewState()
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Routing().LoadRouting(ctx, "leads", "2026-01-06", other)
		})
		open, today = other.Load(f.a)
		require.Equal(t, 1, open, "open load does not reset with the day")
		require.Zero(t, today, "daily counts are per day")

		foreign := f.load(t, e.ctxA, e.store)
		require.Equal(t, workflow.Cursor{}, foreign.Cursor("everyone"), "another tenant sees none of it")
		open, _ = foreign.Load(f.a)
		require.Zero(t, open)
	})
	test(t, h, "AStaleCursorIsErrConflictAndWritesNothing", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Routing().CommitRouting(ctx, f.commit(0, f.a, 0, 0))
		})
		for _, prev := range []int64{0, 2} {
			err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				return w.Routing().CommitRouting(ctx, f.commit(prev, f.b, 0, 0))
			})
			require.ErrorIs(t, err, crm.ErrConflict, "from version %d", prev)
		}
		st := f.load(t, e.ctx, e.store)
		require.Equal(t, workflow.Cursor{Last: f.a, Version: 1}, st.Cursor("everyone"))
		open, _ := st.Load(f.b)
		require.Zero(t, open)
	})
	test(t, h, "CapacityAndDailyQuotaAreEnforcedByTheCommit", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		for v := int64(0); v < 2; v++ {
			mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				return w.Routing().CommitRouting(ctx, f.commit(v, f.b, 2, 0))
			})
		}
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Routing().CommitRouting(ctx, f.commit(2, f.b, 2, 0))
		})
		require.ErrorIs(t, err, crm.ErrConflict, "capacity 2 is full")
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Routing().CommitRouting(ctx, f.commit(2, f.b, 0, 2))
		})
		require.ErrorIs(t, err, crm.ErrConflict, "daily quota 2 is used up")
		st := f.load(t, e.ctx, e.store)
		require.Equal(t, int64(2), st.Cursor("everyone").Version, "a refused commit moves no cursor")
		open, today := st.Load(f.b)
		require.Equal(t, 2, open)
		require.Equal(t, 2, today)
	})
	test(t, h, "ReleaseLoadLowersTheLoadButNeverBelowZero", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			if err := w.Routing().CommitRouting(ctx, f.commit(0, f.c, 0, 0)); err != nil {
				return err
			}
			for range 3 {
				if err := w.Routing().ReleaseLoad(ctx, "leads", f.c); err != nil {
					return err
				}
			}
			return w.Routing().ReleaseLoad(ctx, "leads", f.d)
		})
		st := f.load(t, e.ctx, e.store)
		open, today := st.Load(f.c)
		require.Zero(t, open)
		require.Equal(t, 1, today, "releasing does not undo today's count")
	})
	test(t, h, "ARolledBackUnitOfWorkLeavesNoRoutingState", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			if _, err := f.router.Route(ctx, w.Routing(), f.request(e.clock.Now())); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		st := f.load(t, e.ctx, e.store)
		require.Equal(t, workflow.Cursor{}, st.Cursor("everyone"))
		for _, u := range []crm.ID{f.a, f.b, f.c, f.d} {
			open, today := st.Load(u)
			require.Zero(t, open+today)
		}
	})
	test(t, h, "RouteRotatesThroughTheTeam", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		var got []crm.ID
		for range 5 {
			mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				d, err := f.router.Route(ctx, w.Routing(), f.request(e.clock.Now()))
				got = append(got, d.UserID)
				return err
			})
		}
		require.Equal(t, []crm.ID{f.a, f.b, f.c, f.d, f.a}, got)
	})
	test(t, h, "RouteTxCommitsStateAndEventTogether", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		lead := e.ids.NewID()
		var d workflow.Decision
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			d, err = f.router.RouteTx(ctx, w, e.ids, lead, f.request(e.clock.Now()))
			return err
		})
		require.Equal(t, f.a, d.UserID)
		events, err := e.store.Outbox().Pending(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, events, 1)
		require.Equal(t, workflow.EventLeadRouted, events[0].Type)
		require.Equal(t, crm.Ref{Type: crm.TypeLead, ID: lead}, events[0].Subject)

		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			if _, err := f.router.RouteTx(ctx, w, e.ids, e.ids.NewID(), f.request(e.clock.Now())); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		events, err = e.store.Outbox().Pending(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, events, 1, "a rolled-back routing leaves no event")
		require.Equal(t, int64(1), f.load(t, e.ctx, e.store).Cursor("everyone").Version, "nor a cursor move")
	})
	test(t, h, "CallsOnADoneContextFail", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		var loadErr, commitErr error
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			dead := cancelled(ctx)
			loadErr = w.Routing().LoadRouting(dead, "leads", "2026-01-05", f.router.NewState())
			commitErr = w.Routing().CommitRouting(dead, f.commit(0, f.a, 0, 0))
			return nil
		})
		require.NoError(t, err)
		require.ErrorIs(t, loadErr, context.Canceled)
		require.ErrorIs(t, commitErr, context.Canceled)
	})
}

// slaPolicy is a 2-hour target with a warning after 1 hour, in elapsed time.
func slaPolicy() *workflow.SLAPolicy {
	return &workflow.SLAPolicy{Name: "first_response", Target: 2 * time.Hour, Warn: time.Hour}
}

func (e *env) timer(t *testing.T, ctx context.Context, start time.Time) *workflow.Timer {
	t.Helper()
	tm, err := slaPolicy().Start(e.ids.NewID(), crm.Ref{Type: crm.TypeTicket, ID: e.ids.NewID()}, start, start)
	require.NoError(t, err)
	mustWorkflow(t, ctx, e.store, func(ctx context.Context, w workflow.Tx) error { return w.Timers().CreateTimer(ctx, &tm) })
	return &tm
}

func (e *env) getTimer(t *testing.T, ctx context.Context, id crm.ID) (*workflow.Timer, error) {
	var out *workflow.Timer
	err := inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		var err error
		out, err = w.Timers().GetTimer(ctx, id)
		return err
	})
	return out, err
}

func runWorkflowTimers(t *testing.T, h Harness) {
	test(t, h, "CreateStoresACopyInStorageTime", func(t *testing.T, e *env) {
		start := e.clock.Now() // nanoseconds in a non-UTC zone
		tm := e.timer(t, e.ctxA, start)
		require.Equal(t, int64(1), tm.Version)
		require.Equal(t, "a", tm.TenantID)
		require.Equal(t, crm.StorageTime(start.Add(2*time.Hour)), tm.DueAt, "written back in storage time")
		got, err := e.getTimer(t, e.ctxA, tm.ID)
		require.NoError(t, err)
		requireSame(t, tm, got)
		got.Policy = "changed"
		again, err := e.getTimer(t, e.ctxA, tm.ID)
		require.NoError(t, err)
		require.Equal(t, "first_response", again.Policy, "results do not alias stored data")
		_, err = e.getTimer(t, e.ctxB, tm.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "another tenant does not see it")
	})
	test(t, h, "CreateRefusesRepeatsAndBadTimers", func(t *testing.T, e *env) {
		tm := e.timer(t, e.ctx, e.clock.Now())
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			c := *tm
			return w.Timers().CreateTimer(ctx, &c)
		})
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Timers().CreateTimer(ctx, &workflow.Timer{ID: e.ids.NewID(), Record: tm.Record})
		})
		requireInvalid(t, err, "policy")
	})
	test(t, h, "UpdateIsACompareAndSwapOnVersion", func(t *testing.T, e *env) {
		tm := e.timer(t, e.ctx, e.now())
		stale := *tm
		require.NoError(t, slaPolicy().Pause(tm, e.now().Add(30*time.Minute)))
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error { return w.Timers().UpdateTimer(ctx, tm) })
		require.Equal(t, int64(2), tm.Version)
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error { return w.Timers().UpdateTimer(ctx, &stale) })
		require.ErrorIs(t, err, crm.ErrConflict)
		got, err := e.getTimer(t, e.ctx, tm.ID)
		require.NoError(t, err)
		require.Equal(t, 30*time.Minute, got.Consumed)
		require.True(t, got.DueAt.IsZero(), "paused")
		missing := *tm
		missing.ID = e.ids.NewID()
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error { return w.Timers().UpdateTimer(ctx, &missing) })
		require.ErrorIs(t, err, crm.ErrNotFound)
	})
	test(t, h, "UpdateTimersIsAllOrNothing", func(t *testing.T, e *env) {
		a, b := e.timer(t, e.ctx, e.clock.Now()), e.timer(t, e.ctx, e.clock.Now())
		staleB := *b
		staleB.Version = 7
		a2 := *a
		a2.Consumed = time.Minute
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Timers().UpdateTimers(ctx, []*workflow.Timer{&a2, &staleB})
		})
		require.ErrorIs(t, err, crm.ErrConflict)
		got, err := e.getTimer(t, e.ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version, "the valid timer of a refused batch is not written")
		a2 = *a
		b2 := *b
		a2.Consumed, b2.Consumed = time.Minute, 2*time.Minute
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Timers().UpdateTimers(ctx, []*workflow.Timer{&a2, &b2})
		})
		require.Equal(t, int64(2), a2.Version)
		require.Equal(t, int64(2), b2.Version)
		got, err = e.getTimer(t, e.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, 2*time.Minute, got.Consumed)
	})
	test(t, h, "ClaimDueReturnsDueTimersOfTheTenantEarliestFirst", func(t *testing.T, e *env) {
		base := e.now()
		late := e.timer(t, e.ctx, base.Add(time.Hour))    // warns at base+2h
		early := e.timer(t, e.ctx, base)                  // warns at base+1h
		later := e.timer(t, e.ctx, base.Add(5*time.Hour)) // not due
		e.timer(t, e.ctxA, base)                          // another tenant's
		paused := e.timer(t, e.ctx, base)
		require.NoError(t, slaPolicy().Pause(paused, base.Add(time.Minute)))
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error { return w.Timers().UpdateTimer(ctx, paused) })
		var got []*workflow.Timer
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			got, err = w.Timers().ClaimDue(ctx, base.Add(3*time.Hour), 10)
			return err
		})
		require.Len(t, got, 2)
		require.Equal(t, early.ID, got[0].ID)
		require.Equal(t, late.ID, got[1].ID)
		_ = later
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			got, err = w.Timers().ClaimDue(ctx, base.Add(3*time.Hour), 1)
			return err
		})
		require.Len(t, got, 1, "limit is kept")
	})
	test(t, h, "TickStoresTimersAndEventsTogether", func(t *testing.T, e *env) {
		base := e.now()
		tm := e.timer(t, e.ctx, base)
		var fs []workflow.Firing
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			fs, err = workflow.Tick(ctx, w, e.ids, base.Add(3*time.Hour), 100)
			return err
		})
		require.Len(t, fs, 2, "warning and breach")
		got, err := e.getTimer(t, e.ctx, tm.ID)
		require.NoError(t, err)
		require.True(t, got.Warned && got.Breached)
		events, err := e.store.Outbox().Pending(e.ctx, 100)
		require.NoError(t, err)
		require.Len(t, events, 2)
		require.Equal(t, workflow.EventSLAWarned, events[0].Type)
		require.Equal(t, workflow.EventSLABreached, events[1].Type)
		require.Equal(t, tm.ID, events[1].Subject.ID)

		// A failing unit of work keeps neither the timer change nor events.
		other := e.timer(t, e.ctx, base)
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			if _, err := workflow.Tick(ctx, w, e.ids, base.Add(3*time.Hour), 100); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		got, err = e.getTimer(t, e.ctx, other.ID)
		require.NoError(t, err)
		require.False(t, got.Warned)
		events, err = e.store.Outbox().Pending(e.ctx, 100)
		require.NoError(t, err)
		require.Len(t, events, 2)
	})
	test(t, h, "StopTxRecordsALateAnswerAsABreachOnce", func(t *testing.T, e *env) {
		base := e.now()
		late, onTime := e.timer(t, e.ctx, base), e.timer(t, e.ctx, base)
		stop := func(id crm.ID, at time.Time) []workflow.Firing {
			var fs []workflow.Firing
			mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				var err error
				fs, err = workflow.StopTx(ctx, w, e.ids, slaPolicy(), id, at)
				return err
			})
			return fs
		}
		require.Empty(t, stop(onTime.ID, base.Add(30*time.Minute)), "an answer in time fires nothing")
		fs := stop(late.ID, base.Add(150*time.Minute))
		require.Len(t, fs, 2, "the warning and the breach no Tick had fired")
		require.Empty(t, stop(late.ID, base.Add(3*time.Hour)), "stopping twice fires nothing again")
		got, err := e.getTimer(t, e.ctx, late.ID)
		require.NoError(t, err)
		require.True(t, got.Stopped && got.Warned && got.Breached)
		require.Equal(t, 150*time.Minute, got.Consumed)
		events, err := e.store.Outbox().Pending(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, events, 2)
		require.Equal(t, workflow.EventSLABreached, events[1].Type)
		require.Equal(t, late.ID, events[1].Subject.ID)
		var none []workflow.Firing
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			none, err = workflow.Tick(ctx, w, e.ids, base.Add(4*time.Hour), 100)
			return err
		})
		require.Empty(t, none, "a stopped timer never fires on Tick")

		other := &workflow.SLAPolicy{Name: "resolution", Target: time.Hour}
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			_, err := workflow.StopTx(ctx, w, e.ids, other, onTime.ID, base.Add(time.Hour))
			return err
		})
		require.ErrorIs(t, err, crm.ErrInvalidArgument, "the timer runs under another policy")
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			_, err := workflow.StopTx(ctx, w, e.ids, slaPolicy(), e.ids.NewID(), base.Add(time.Hour))
			return err
		})
		require.ErrorIs(t, err, crm.ErrNotFound)
	})
	test(t, h, "ATimerPausedPastItsBreachStillFiresOnTheNextTick", func(t *testing.T, e *env) {
		base := e.now()
		tm := e.timer(t, e.ctx, base)
		// Waiting on the customer starts after the breach instant, before
		// any Tick ran: the pause must not swallow the breach.
		require.NoError(t, slaPolicy().Pause(tm, base.Add(150*time.Minute)))
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error { return w.Timers().UpdateTimer(ctx, tm) })
		var fs []workflow.Firing
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			fs, err = workflow.Tick(ctx, w, e.ids, base.Add(151*time.Minute), 100)
			return err
		})
		require.Len(t, fs, 2, "the warning and the breach were both due before the pause")
		got, err := e.getTimer(t, e.ctx, tm.ID)
		require.NoError(t, err)
		require.True(t, got.Warned && got.Breached)
		require.True(t, got.RunningSince.IsZero(), "the timer stays paused")
		require.NoError(t, slaPolicy().Resume(got, base.Add(4*time.Hour)))
		require.True(t, got.NextAt().IsZero(), "nothing is left to fire")
	})
}

// approvalInstance returns a pending request of record by submitter.
func (e *env) approvalInstance(record crm.Ref, submitter crm.ID) *workflow.Instance {
	now := crm.StorageTime(e.clock.Now()).UTC()
	return &workflow.Instance{
		ID: e.ids.NewID(), Definition: "quote_discount", DefinitionVersion: 1, Record: record, Submitter: submitter,
		Status: workflow.ApprovalPending, SubmittedAt: now,
		Steps: []workflow.StepState{{Name: "sales_manager", Rule: workflow.RuleAny, OnReject: workflow.RejectToSubmitter,
			Approvers: []crm.ID{e.ids.NewID()}, Status: workflow.StepActive, StartedAt: now}},
	}
}

func (e *env) opportunityRef() crm.Ref { return crm.Ref{Type: crm.TypeOpportunity, ID: e.ids.NewID()} }

func (e *env) createInstance(ctx context.Context, in *workflow.Instance) error {
	return inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		return w.ApprovalInstances().CreateInstance(ctx, in)
	})
}

func (e *env) getInstance(ctx context.Context, id crm.ID) (*workflow.Instance, error) {
	var out *workflow.Instance
	err := inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		var err error
		out, err = w.ApprovalInstances().GetInstance(ctx, id)
		return err
	})
	return out, err
}

func (e *env) updateInstance(ctx context.Context, in *workflow.Instance) error {
	return inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		return w.ApprovalInstances().UpdateInstance(ctx, in)
	})
}

func runWorkflowApprovals(t *testing.T, h Harness) {
	spec := func(version int) *workflow.DefinitionSpec {
		return &workflow.DefinitionSpec{Key: "quote_discount", Version: version, RecordType: crm.TypeOpportunity,
			Steps: []workflow.StepSpec{{Name: "sales_manager", Approvers: []workflow.ApproverSpec{{Role: "manager"}},
				Timeout: workflow.Duration(8 * time.Hour), OnTimeout: &workflow.TimeoutSpec{Action: workflow.TimeoutRemind}}}}
	}
	getDef := func(ctx context.Context, e *env, key string, version int) (*workflow.DefinitionSpec, error) {
		var out *workflow.DefinitionSpec
		err := inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			out, err = w.ApprovalDefinitions().GetDefinition(ctx, key, version)
			return err
		})
		return out, err
	}
	test(t, h, "DefinitionsKeepEveryVersion", func(t *testing.T, e *env) {
		for _, v := range []int{1, 3, 2} {
			s := spec(v)
			mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				return w.ApprovalDefinitions().CreateDefinition(ctx, s)
			})
			s.Steps[0].Name = "changed_after_create"
		}
		got, err := getDef(e.ctx, e, "quote_discount", 0)
		require.NoError(t, err)
		require.Equal(t, 3, got.Version, "version 0 is the latest")
		got, err = getDef(e.ctx, e, "quote_discount", 1)
		require.NoError(t, err)
		require.Equal(t, spec(1), got, "the stored spec is a copy")
		_, err = getDef(e.ctx, e, "quote_discount", 4)
		require.ErrorIs(t, err, crm.ErrNotFound)
		_, err = getDef(e.ctxA, e, "quote_discount", 0)
		require.ErrorIs(t, err, crm.ErrNotFound, "another tenant has none")
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.ApprovalDefinitions().CreateDefinition(ctx, spec(2))
		})
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.ApprovalDefinitions().CreateDefinition(ctx, spec(0))
		})
		requireInvalid(t, err, "version")
	})
	test(t, h, "InstancesRoundTripAndUpdateByVersion", func(t *testing.T, e *env) {
		in := e.approvalInstance(e.opportunityRef(), e.ids.NewID())
		require.NoError(t, e.createInstance(e.ctxA, in))
		require.Equal(t, int64(1), in.Version)
		require.Equal(t, "a", in.TenantID)
		got, err := e.getInstance(e.ctxA, in.ID)
		require.NoError(t, err)
		require.Equal(t, in, got)
		_, err = e.getInstance(e.ctxB, in.ID)
		require.ErrorIs(t, err, crm.ErrNotFound)

		stale := got.Clone()
		got.Comments = append(got.Comments, workflow.Comment{Author: in.Submitter, At: in.SubmittedAt, Text: "please hurry"})
		require.NoError(t, e.updateInstance(e.ctxA, got))
		require.Equal(t, int64(2), got.Version)
		stale.Status = workflow.ApprovalRecalled
		require.ErrorIs(t, e.updateInstance(e.ctxA, stale), crm.ErrConflict)
		again, err := e.getInstance(e.ctxA, in.ID)
		require.NoError(t, err)
		require.Equal(t, got, again)

		moved := again.Clone()
		moved.Record.ID = e.ids.NewID()
		require.ErrorIs(t, e.updateInstance(e.ctxA, moved), crm.ErrInvalidArgument, "a request's record never changes")
		require.ErrorIs(t, e.createInstance(e.ctxA, in.Clone()), crm.ErrAlreadyExists)
		missing := in.Clone()
		missing.ID = e.ids.NewID()
		require.ErrorIs(t, e.updateInstance(e.ctxA, missing), crm.ErrNotFound)
		bad := e.approvalInstance(crm.Ref{}, crm.NilID)
		requireInvalid(t, e.createInstance(e.ctx, bad), "record")
	})
	test(t, h, "ARecordHasAtMostOnePendingRequest", func(t *testing.T, e *env) {
		ref, submitter := e.opportunityRef(), e.ids.NewID()
		pending := func(ctx context.Context) (*workflow.Instance, error) {
			var out *workflow.Instance
			err := inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				var err error
				out, err = w.ApprovalInstances().PendingInstance(ctx, ref)
				return err
			})
			return out, err
		}
		_, err := pending(e.ctx)
		require.ErrorIs(t, err, crm.ErrNotFound)
		first := e.approvalInstance(ref, submitter)
		require.NoError(t, e.createInstance(e.ctx, first))
		got, err := pending(e.ctx)
		require.NoError(t, err)
		require.Equal(t, first.ID, got.ID)
		_, err = pending(e.ctxA)
		require.ErrorIs(t, err, crm.ErrNotFound, "pending requests are per tenant")
		require.ErrorIs(t, e.createInstance(e.ctx, e.approvalInstance(ref, submitter)), crm.ErrAlreadyExists)
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			return workflow.CheckUnlocked(ctx, w.ApprovalInstances(), ref)
		})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition, "the record is locked")

		got.Status, got.FinishedAt = workflow.ApprovalRecalled, got.SubmittedAt.Add(time.Hour)
		require.NoError(t, e.updateInstance(e.ctx, got))
		_, err = pending(e.ctx)
		require.ErrorIs(t, err, crm.ErrNotFound, "a finished request unlocks the record")
		second := e.approvalInstance(ref, submitter)
		require.NoError(t, e.createInstance(e.ctx, second))
		got, err = pending(e.ctx)
		require.NoError(t, err)
		require.Equal(t, second.ID, got.ID)
	})
	test(t, h, "ARolledBackCreateLeavesTheRecordUnlocked", func(t *testing.T, e *env) {
		ref := e.opportunityRef()
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			if err := w.ApprovalInstances().CreateInstance(ctx, e.approvalInstance(ref, e.ids.NewID())); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.NoError(t, e.createInstance(e.ctx, e.approvalInstance(ref, e.ids.NewID())))
	})
}

func runWorkflowConcurrency(t *testing.T, h Harness) {
	test(t, h, "ConcurrentRoutingStaysFairAndWithinLimits", func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		const workers, each = 8, 5
		var mu sync.Mutex
		counts := map[crm.ID]int{}
		now := e.clock.Now()
		errs := race(workers, func(int) error {
			for range each {
				// Hosts retry a unit of work that lost every race.
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					var d workflow.Decision
					err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
						d, err = f.router.Route(ctx, w.Routing(), f.request(now))
						return err
					})
					if errors.Is(err, crm.ErrConflict) {
						continue
					}
					if err != nil {
						return err
					}
					mu.Lock()
					counts[d.UserID]++
					mu.Unlock()
					break
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		// Rotation a, b, c, d until b holds 3 and c has had 5 today; the rest
		// alternate between a and d.
		require.Equal(t, map[crm.ID]int{f.a: 16, f.b: 3, f.c: 5, f.d: 16}, counts)
		st := f.load(t, e.ctx, e.store)
		require.Equal(t, int64(workers*each), st.Cursor("everyone").Version)
		for u, n := range counts {
			open, today := st.Load(u)
			require.Equal(t, n, open)
			require.Equal(t, n, today)
		}
	})
	test(t, h, "TickFromFourGoroutinesFiresEachDueTimerExactlyOnce", func(t *testing.T, e *env) {
		const timers = 120
		base := e.now()
		for range timers {
			e.timer(t, e.ctx, base)
		}
		now := base.Add(90 * time.Minute) // every warning is due, no breach
		var fired atomic.Int64
		errs := race(4, func(int) error {
			for {
				var n int
				err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
					fs, err := workflow.Tick(ctx, w, e.ids, now, 7)
					n = len(fs)
					return err
				})
				if err != nil {
					return err
				}
				if n == 0 {
					return nil
				}
				fired.Add(int64(n))
			}
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, int64(timers), fired.Load())
		events, err := e.store.Outbox().Pending(e.ctx, 1000)
		require.NoError(t, err)
		require.Len(t, events, timers)
		seen := map[crm.ID]bool{}
		for _, ev := range events {
			require.Equal(t, workflow.EventSLAWarned, ev.Type)
			require.False(t, seen[ev.Subject.ID], "timer %s fired twice", ev.Subject.ID)
			seen[ev.Subject.ID] = true
		}
		var left []*workflow.Timer
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			var err error
			left, err = w.Timers().ClaimDue(ctx, now, 100)
			return err
		})
		require.Empty(t, left)
	})
	test(t, h, "TickDueFromFourGoroutinesFiresEachStepTimeoutExactlyOnce", func(t *testing.T, e *env) {
		const requests = 200
		now := e.now().Add(time.Hour)
		approvals := e.approvals(t)
		if e.tickDueUnsupported(t, h, func() error {
			return inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				_, err := approvals.TickDue(ctx, w, now, 7)
				return err
			})
		}) {
			return
		}
		ids := e.dueInstances(t, e.ctx, requests, now)
		var fired, saved atomic.Int64
		errs := race(4, func(int) error {
			for {
				var res workflow.ApprovalTickResult
				err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
					var err error
					res, err = approvals.TickDue(ctx, w, now, 7)
					return err
				})
				if err != nil {
					return err
				}
				if res.Claimed == 0 {
					return nil
				}
				if len(res.Failed) > 0 {
					return res.Failed[0].Err
				}
				fired.Add(int64(len(res.Events)))
				saved.Add(int64(len(res.Saved)))
			}
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, int64(requests), fired.Load())
		require.Equal(t, int64(requests), saved.Load())
		events, err := e.store.Outbox().Pending(e.ctx, 1000)
		require.NoError(t, err)
		require.Len(t, events, requests)
		seen := map[crm.ID]bool{}
		for _, ev := range events {
			require.Equal(t, workflow.EventApprovalReminded, ev.Type)
			require.False(t, seen[ev.Subject.ID], "approval %s reminded twice", ev.Subject.ID)
			seen[ev.Subject.ID] = true
		}
		for _, id := range ids {
			require.True(t, seen[id], "approval %s was never reminded", id)
			got, err := e.getInstance(e.ctx, id)
			require.NoError(t, err)
			require.Equal(t, int64(2), got.Version, "approval %s stored once", id)
			require.True(t, got.Steps[0].TimedOut)
		}
		require.Empty(t, e.due(t, e.ctx, now, 100))
	})
	test(t, h, "OnlyOneOfManyUpdatesOfAnApprovalWins", func(t *testing.T, e *env) {
		in := e.approvalInstance(e.opportunityRef(), e.ids.NewID())
		require.NoError(t, e.createInstance(e.ctx, in))
		errs := race(goroutines, func(i int) error {
			c := in.Clone()
			c.Comments = append(c.Comments, workflow.Comment{Author: in.Submitter, At: in.SubmittedAt, Text: fmt.Sprintf("comment %d", i)})
			return e.updateInstance(e.ctx, c)
		})
		ok, conflicts := countOutcomes(t, errs, crm.ErrConflict)
		require.Equal(t, 1, ok)
		require.Equal(t, goroutines-1, conflicts)
		got, err := e.getInstance(e.ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Len(t, got.Comments, 1)
	})
	test(t, h, "OnlyOneOfManySubmissionsForARecordWins", func(t *testing.T, e *env) {
		ref, submitter := e.opportunityRef(), e.ids.NewID()
		errs := race(goroutines, func(int) error { return e.createInstance(e.ctx, e.approvalInstance(ref, submitter)) })
		ok, clashes := countOutcomes(t, errs, crm.ErrAlreadyExists)
		require.Equal(t, 1, ok)
		require.Equal(t, goroutines-1, clashes)
	})
}

// approvals returns an approval engine over an empty organisation: the
// requests of these tests are built by hand and only remind on timeout.
func (e *env) approvals(t *testing.T) *workflow.Approvals {
	t.Helper()
	org, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(t, err)
	a, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: e.ids, Clock: e.clock})
	require.NoError(t, err)
	return a
}

// dueInstance returns a pending request whose one step reminds its
// approver at due.
func (e *env) dueInstance(due time.Time) *workflow.Instance {
	in := e.approvalInstance(e.opportunityRef(), e.ids.NewID())
	s := &in.Steps[0]
	s.Timeout, s.OnTimeout, s.DueAt = workflow.Duration(time.Hour), workflow.TimeoutRemind, due
	return in
}

// dueInstances stores n requests due at due in one unit of work and
// returns their IDs.
func (e *env) dueInstances(t *testing.T, ctx context.Context, n int, due time.Time) []crm.ID {
	t.Helper()
	ids := make([]crm.ID, n)
	mustWorkflow(t, ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		for i := range ids {
			in := e.dueInstance(due)
			if err := w.ApprovalInstances().CreateInstance(ctx, in); err != nil {
				return err
			}
			ids[i] = in.ID
		}
		return nil
	})
	return ids
}

// deadlines returns the approval-deadline port of w, failing the test when
// the adapter lacks it.
// tickDueUnsupported reports whether the adapter's approval instance store
// lacks the optional workflow.ApprovalDeadlines, and then checks the
// documented fallback: tick (a TickDue call) fails with crm.ErrUnsupported.
// Declaring Features.ApprovalDeadlines without the port fails the test.
func (e *env) tickDueUnsupported(t *testing.T, h Harness, tick func() error) bool {
	t.Helper()
	has := false
	mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		_, has = w.ApprovalInstances().(workflow.ApprovalDeadlines)
		return nil
	})
	if has {
		return false
	}
	require.False(t, h.Features.ApprovalDeadlines, "Features.ApprovalDeadlines is declared, but the approval instance store does not implement workflow.ApprovalDeadlines")
	require.ErrorIs(t, tick(), crm.ErrUnsupported, "TickDue without workflow.ApprovalDeadlines")
	return true
}

// hasApprovalDeadlines reports whether the adapter's approval instance store
// implements workflow.ApprovalDeadlines.
func hasApprovalDeadlines(t *testing.T, h Harness) bool {
	t.Helper()
	e := newEnv(t, h)
	has := false
	err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
		if w, ok := tx.(workflow.Tx); ok {
			_, has = w.ApprovalInstances().(workflow.ApprovalDeadlines)
		}
		return nil
	})
	require.NoError(t, err)
	return has
}

func deadlines(t *testing.T, w workflow.Tx) workflow.ApprovalDeadlines {
	t.Helper()
	d, ok := w.ApprovalInstances().(workflow.ApprovalDeadlines)
	require.True(t, ok, "%T does not implement workflow.ApprovalDeadlines", w.ApprovalInstances())
	return d
}

// due lists the IDs of the requests due at now, in the order listed.
func (e *env) due(t *testing.T, ctx context.Context, now time.Time, limit int) []crm.ID {
	t.Helper()
	var out []crm.ID
	mustWorkflow(t, ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		got, err := deadlines(t, w).DueInstances(ctx, now, limit)
		for _, in := range got {
			out = append(out, in.ID)
		}
		return err
	})
	return out
}

func runWorkflowDeadlines(t *testing.T, h Harness) {
	test(t, h, "DueInstancesListsDueRequestsOfTheTenantEarliestThenByID", func(t *testing.T, e *env) {
		base := e.now()
		create := func(ctx context.Context, in *workflow.Instance) crm.ID {
			require.NoError(t, e.createInstance(ctx, in))
			return in.ID
		}
		late := create(e.ctx, e.dueInstance(base.Add(2*time.Hour)))
		early := create(e.ctx, e.dueInstance(base.Add(time.Hour)))
		tie1 := create(e.ctx, e.dueInstance(base.Add(3*time.Hour)))
		tie2 := create(e.ctx, e.dueInstance(base.Add(3*time.Hour)))
		if bytes.Compare(tie1[:], tie2[:]) > 0 {
			tie1, tie2 = tie2, tie1
		}
		create(e.ctx, e.dueInstance(base.Add(5*time.Hour)))                 // not due yet
		create(e.ctx, e.dueInstance(base.Add(4*time.Hour+time.Nanosecond))) // due a nanosecond after now
		other := create(e.ctxA, e.dueInstance(base.Add(time.Hour)))         // another tenant's
		finished := e.dueInstance(base.Add(time.Hour))                      // no longer pending
		finished.Status, finished.FinishedAt = workflow.ApprovalApproved, base
		create(e.ctx, finished)
		fired := e.dueInstance(base.Add(time.Hour)) // its timeout already fired
		fired.Steps[0].TimedOut = true
		create(e.ctx, fired)
		waiting := e.dueInstance(base.Add(time.Hour)) // a step not running
		waiting.Steps[0].Status = workflow.StepWaiting
		create(e.ctx, waiting)
		// A nanosecond clock time and zone: adapters compare instants.
		now := base.Add(4 * time.Hour).In(time.FixedZone("PST", -8*3600))

		require.Equal(t, []crm.ID{early, late, tie1, tie2}, e.due(t, e.ctx, now, 10))
		require.Equal(t, []crm.ID{early, late, tie1}, e.due(t, e.ctx, now, 3), "limit is kept")
		require.Equal(t, []crm.ID{other}, e.due(t, e.ctxA, now, 10), "tenants see only their own")
		require.Empty(t, e.due(t, e.ctxB, now, 10))
		require.Empty(t, e.due(t, e.ctx, base, 10), "nothing is due before its time")
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			_, err := deadlines(t, w).DueInstances(ctx, now, 0)
			return err
		})
		requireInvalid(t, err, "limit")
	})
	test(t, h, "ARepeatingReminderReturnsToTheDueListForItsNextTurn", func(t *testing.T, e *env) {
		base := e.now()
		approvals := e.approvals(t)
		in := e.dueInstance(base.Add(time.Hour))
		in.Steps[0].RemindEvery = workflow.Duration(2 * time.Hour)
		require.NoError(t, e.createInstance(e.ctx, in))
		tick := func(now time.Time) int {
			var res workflow.ApprovalTickResult
			mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				var err error
				res, err = approvals.TickDue(ctx, w, now, 10)
				return err
			})
			require.Empty(t, res.Failed)
			return len(res.Events)
		}
		require.Equal(t, 1, tick(base.Add(time.Hour)))
		require.Equal(t, 0, tick(base.Add(time.Hour)), "a second tick at the same instant fires nothing")
		require.Empty(t, e.due(t, e.ctx, base.Add(2*time.Hour), 10))
		require.Equal(t, []crm.ID{in.ID}, e.due(t, e.ctx, base.Add(3*time.Hour), 10), "due again two hours later")
		require.Equal(t, 1, tick(base.Add(3*time.Hour)))
		got, err := e.getInstance(e.ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, workflow.Duration(2*time.Hour), got.Steps[0].RemindEvery, "the period is stored with the request")
		require.True(t, base.Add(5*time.Hour).Equal(got.NextDueAt()))
		events, err := e.store.Outbox().Pending(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, events, 2)
	})
	test(t, h, "RequestsLeaveTheDueListWhenTickedOrFinished", func(t *testing.T, e *env) {
		base := e.now()
		approvals := e.approvals(t)
		ids := e.dueInstances(t, e.ctx, 3, base.Add(time.Hour))
		now := base.Add(2 * time.Hour)

		// Finish one by hand: an update with no running step unlists it.
		got, err := e.getInstance(e.ctx, ids[2])
		require.NoError(t, err)
		got.Status, got.FinishedAt = workflow.ApprovalRecalled, base
		require.NoError(t, e.updateInstance(e.ctx, got))
		require.Equal(t, ids[:2], e.due(t, e.ctx, now, 10))

		tick := func() workflow.ApprovalTickResult {
			var res workflow.ApprovalTickResult
			mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				var err error
				res, err = approvals.TickDue(ctx, w, now, 10)
				return err
			})
			return res
		}
		res := tick()
		require.Equal(t, 2, res.Claimed)
		require.Len(t, res.Saved, 2)
		require.Empty(t, res.Failed)
		require.Len(t, res.Events, 2)
		for i, ev := range res.Events {
			require.Equal(t, workflow.EventApprovalReminded, ev.Type)
			require.Equal(t, ids[i], ev.Subject.ID)
			require.NotZero(t, ev.Seq, "events are appended")
		}
		require.False(t, res.More(10))
		require.Empty(t, e.due(t, e.ctx, now, 10), "ticked requests leave the due list")
		for _, id := range ids[:2] {
			got, err := e.getInstance(e.ctx, id)
			require.NoError(t, err)
			require.Equal(t, int64(2), got.Version)
			require.True(t, got.Steps[0].TimedOut)
			require.Equal(t, workflow.ApprovalPending, got.Status, "a reminder leaves the request pending")
		}
		again := tick()
		require.Zero(t, again.Claimed, "a second tick at the same instant fires nothing")
		require.Empty(t, again.Events)
		events, err := e.store.Outbox().Pending(e.ctx, 100)
		require.NoError(t, err)
		require.Len(t, events, 2)
	})
	test(t, h, "UpdateInstancesIsAllOrNothing", func(t *testing.T, e *env) {
		ids := e.dueInstances(t, e.ctx, 2, e.now())
		update := func(ins ...*workflow.Instance) error {
			return inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				return deadlines(t, w).UpdateInstances(ctx, ins)
			})
		}
		a, err := e.getInstance(e.ctx, ids[0])
		require.NoError(t, err)
		b, err := e.getInstance(e.ctx, ids[1])
		require.NoError(t, err)
		a.Steps[0].TimedOut = true
		staleB := b.Clone()
		staleB.Version = 7
		require.ErrorIs(t, update(a, staleB), crm.ErrConflict)
		require.Equal(t, int64(1), a.Version, "no version is written back on failure")
		require.ErrorIs(t, update(a, a.Clone()), crm.ErrConflict, "a request listed twice")
		missing := b.Clone()
		missing.ID = e.ids.NewID()
		require.ErrorIs(t, update(a, missing), crm.ErrNotFound)
		moved := b.Clone()
		moved.Submitter = e.ids.NewID()
		requireInvalid(t, update(a, moved), "record")
		require.Equal(t, ids, e.due(t, e.ctx, e.now(), 10), "the valid request of a refused batch is not written")
		_, err = e.getInstance(e.ctxA, ids[0])
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.ErrorIs(t, inWorkflow(e.ctxA, e.store, func(ctx context.Context, w workflow.Tx) error {
			return deadlines(t, w).UpdateInstances(ctx, []*workflow.Instance{a.Clone()})
		}), crm.ErrNotFound, "another tenant cannot update it")

		b.Steps[0].TimedOut = true
		require.NoError(t, update(a, b))
		require.Equal(t, int64(2), a.Version)
		require.Equal(t, int64(2), b.Version)
		require.Empty(t, e.due(t, e.ctx, e.now(), 10))
		got, err := e.getInstance(e.ctx, ids[1])
		require.NoError(t, err)
		require.Equal(t, b, got)
	})
	test(t, h, "ARolledBackTickDueKeepsNeitherChangesNorEvents", func(t *testing.T, e *env) {
		base := e.now()
		approvals := e.approvals(t)
		ids := e.dueInstances(t, e.ctx, 2, base)
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			res, err := approvals.TickDue(ctx, w, base, 10)
			if err != nil {
				return err
			}
			if len(res.Events) != 2 {
				return fmt.Errorf("fired %d timeouts, want 2", len(res.Events))
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Equal(t, ids, e.due(t, e.ctx, base, 10), "still due")
		events, err := e.store.Outbox().Pending(e.ctx, 100)
		require.NoError(t, err)
		require.Empty(t, events)
	})
}
