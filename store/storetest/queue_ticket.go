package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// slaTarget is the SLA target of the tickets-by-SLA group's normal
// tickets; low tickets run no timer.
const slaTarget = 4 * time.Hour

// ticketQueueEnv is a queueEnv's organisation with a ticket service whose
// normal tickets run a 4-hour timer that, on breach, routes them to
// inChild (rule set "tier2").
type ticketQueueEnv struct {
	*queueEnv
	tickets *ticket.Service
}

func newTicketQueueEnv(t *testing.T, h Harness) *ticketQueueEnv {
	t.Helper()
	e := &ticketQueueEnv{queueEnv: newQueueEnv(t, h)}
	ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "resolution", "target": "4h",
		"on_breach": [{"kind": "route", "rule_set": "tier2"}]}]}`), nil)
	require.NoError(t, err)
	team := workflow.Team{ID: e.ids.NewID(), Members: []crm.ID{e.inChild.ID}}
	router, err := workflow.NewRouter(ticket.Schema(), &workflow.RuleSet{Name: "tier2", RecordType: crm.TypeTicket, FallbackQueue: "triage",
		Rules: []workflow.Rule{{Name: "tier2", Target: workflow.Target{Team: team.ID}}}},
		[]workflow.Member{{UserID: e.inChild.ID, Active: true}}, []workflow.Team{team})
	require.NoError(t, err)
	e.tickets, err = ticket.New(e.store, &ticket.Config{Clock: e.clock, IDs: e.ids,
		SLA:     map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: ps[0]},
		Routers: map[string]*workflow.Router{"tier2": router}})
	require.NoError(t, err)
	return e
}

// raise creates a ticket assigned to u (nil: unassigned) in dept through
// the service, and checks that its SLA due time is the timer's.
func (e *ticketQueueEnv) raise(ctx context.Context, u *crm.User, dept *crm.Department, edit func(*crm.Ticket)) *crm.Ticket {
	e.t.Helper()
	tk := crmtest.Ticket(e.ids, func(t *crm.Ticket) {
		if u != nil {
			t.AssigneeID = u.ID
		}
		if dept != nil {
			t.DepartmentID = dept.ID
		}
	})
	if edit != nil {
		edit(tk)
	}
	out, err := e.tickets.Create(ctx, ticket.CreateRequest{Ticket: tk})
	require.NoError(e.t, err)
	if out.Priority == crm.PriorityNormal {
		require.NotNil(e.t, out.SLADueAt)
		require.Equal(e.t, crm.StorageTime(e.clock.Now().Add(slaTarget)), *out.SLADueAt)
	} else {
		require.Nil(e.t, out.SLADueAt, "a ticket without a policy has no SLA due time")
	}
	return out
}

// move moves a ticket and returns it as stored.
func (e *ticketQueueEnv) move(id crm.ID, to crm.TicketStatus) *crm.Ticket {
	e.t.Helper()
	m, err := e.tickets.Transition(e.ctx, ticket.TransitionRequest{TicketID: id, To: to, Actor: e.inRoot.ID})
	require.NoError(e.t, err, "move to %s", to)
	got, err := e.store.Tickets().Get(e.ctx, id)
	require.NoError(e.t, err)
	require.Equal(e.t, m.Ticket, got, "the move is stored as returned")
	return got
}

// timer reads a stored SLA timer.
func (e *ticketQueueEnv) timer(id crm.ID) *workflow.Timer {
	e.t.Helper()
	var out *workflow.Timer
	require.NoError(e.t, inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) (err error) {
		out, err = w.Timers().GetTimer(ctx, id)
		return err
	}))
	return out
}

// bySLA reads every page of a request, limit at a time, checking that
// every ticket listed has an SLA due time.
func (e *ticketQueueEnv) bySLA(ctx context.Context, req ticket.SLARequest, limit int) []crm.ID {
	e.t.Helper()
	return readQueue(e.t, limit, func(page crm.PageRequest) (crm.Page[crm.Ticket], error) {
		req.Page = page
		return e.tickets.BySLA(ctx, req)
	}, func(t *crm.Ticket) crm.ID {
		require.NotNil(e.t, t.SLADueAt)
		return t.ID
	})
}

// slaOrder returns the IDs of ts in queue order, as stored now.
func (e *ticketQueueEnv) slaOrder(ts ...*crm.Ticket) []crm.ID {
	e.t.Helper()
	stored := make([]*crm.Ticket, len(ts))
	for i, t := range ts {
		got, err := e.store.Tickets().Get(crm.WithTenant(e.ctx, t.TenantID), t.ID)
		require.NoError(e.t, err)
		require.NotNil(e.t, got.SLADueAt, "ticket %s has no SLA due time", t.ID)
		stored[i] = got
	}
	return queueOrder(stored, func(t *crm.Ticket) (time.Time, crm.ID) { return *t.SLADueAt, t.ID })
}

// RunTicketsBySLA checks the tickets-by-SLA work queue ([ticket.SLAQueue])
// through [ticket.Service.BySLA]: the SLA due time the service keeps on
// tickets as their timers start, pause, resume and stop, and the queue
// read from it. Its organisation is built on the pool group's
// environment and its timers are workflow's, so [Run] runs it with
// Features.Pools and Features.Workflow.
func RunTicketsBySLA(t *testing.T, h Harness) {
	probe := newPoolEnv(t, h, nil)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[ticket.SLAQueue](tx)
		return nil
	}))
	if !has {
		require.False(t, h.Features.TicketQueue, "Features.TicketQueue is declared, but the adapter's Tx does not implement ticket.SLAQueue")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			svc, err := ticket.New(probe.store, nil)
			require.NoError(t, err)
			_, err = svc.BySLA(probe.ctx, ticket.SLARequest{Actor: probe.ids.NewID()})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}

	t.Run("ListsTheAssigneesTicketsEarliestDueFirstWithTiesByIDAcrossPages", func(t *testing.T) {
		t.Parallel()
		e := newTicketQueueEnv(t, h)
		a := e.inRoot
		first := e.raise(e.ctx, a, e.root, nil)
		e.clock.Advance(time.Hour)
		tie1 := e.raise(e.ctx, a, e.root, nil)
		tie2 := e.raise(e.ctx, a, nil, nil)
		tie3 := e.raise(e.ctx, a, e.root, func(t *crm.Ticket) { t.ID = crmtest.NewIDs().NewID() })
		e.clock.Advance(90 * time.Minute)
		edge := e.raise(e.ctx, a, e.root, nil)
		edgeDue := *edge.SLADueAt
		e.clock.Advance(time.Microsecond)
		late := e.raise(e.ctx, a, e.root, nil)                                          // after the bound
		e.raise(e.ctx, a, e.root, func(t *crm.Ticket) { t.Priority = crm.PriorityLow }) // no policy: no timer
		e.raise(e.ctx, e.inChild, e.child, nil)                                         // someone else's
		e.raise(e.ctx, nil, e.root, nil)                                                // nobody's
		opened := e.raise(e.ctx, a, e.root, nil)                                        // opened: its timer still runs
		e.move(opened.ID, crm.TicketOpen)
		resolved := e.raise(e.ctx, a, e.root, nil) // resolved: its timer stopped
		e.move(resolved.ID, crm.TicketOpen)
		e.move(resolved.ID, crm.TicketResolved)
		bounded := e.slaOrder(first, tie1, tie2, tie3, edge)
		all := e.slaOrder(first, tie1, tie2, tie3, edge, late, opened)
		require.Equal(t, first.ID, all[0])
		require.Equal(t, edge.ID, all[4])
		for _, limit := range []int{1, 2, 3, 50} {
			require.Equal(t, bounded, e.bySLA(e.ctx, ticket.SLARequest{Actor: a.ID, Before: edgeDue}, limit), "limit %d", limit)
			require.Equal(t, all, e.bySLA(e.ctx, ticket.SLARequest{Actor: a.ID}, limit), "limit %d", limit)
		}
		p, err := e.tickets.BySLA(e.ctx, ticket.SLARequest{Actor: a.ID, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.Equal(t, first, p.Items[0], "the queue lists the ticket as stored")
	})

	t.Run("FollowsTheTimerThroughPendingResumeResolveReopenAndClose", func(t *testing.T) {
		t.Parallel()
		e := newTicketQueueEnv(t, h)
		a := e.inRoot
		tk := e.raise(e.ctx, a, e.root, nil)
		created := *tk.SLADueAt
		e.clock.Advance(time.Hour)
		other := e.raise(e.ctx, a, e.root, nil) // due an hour after tk
		mine := func() []crm.ID { return e.bySLA(e.ctx, ticket.SLARequest{Actor: a.ID}, 1) }
		require.Equal(t, []crm.ID{tk.ID, other.ID}, mine())

		e.move(tk.ID, crm.TicketOpen)
		got := e.move(tk.ID, crm.TicketPending)
		require.Nil(t, got.SLADueAt, "a paused timer has no due time")
		require.Equal(t, []crm.ID{other.ID}, mine(), "a pending ticket leaves the queue")

		// Paused an hour into its 4 hours, resumed two hours later: due
		// three hours after the resumption, after other.
		resumed := e.clock.Advance(2 * time.Hour)
		got = e.move(tk.ID, crm.TicketOpen)
		require.Equal(t, crm.StorageTime(resumed.Add(3*time.Hour)), *got.SLADueAt)
		require.Equal(t, e.timer(got.SLATimerID).DueAt, *got.SLADueAt)
		require.True(t, got.SLADueAt.After(created))
		require.Equal(t, []crm.ID{other.ID, tk.ID}, mine(), "it returns with its new due time")

		got = e.move(tk.ID, crm.TicketResolved)
		require.Nil(t, got.SLADueAt)
		require.Equal(t, []crm.ID{other.ID}, mine(), "a resolved ticket leaves the queue")

		reopened := e.clock.Advance(time.Hour)
		got = e.move(tk.ID, crm.TicketOpen)
		require.Equal(t, crm.StorageTime(reopened.Add(slaTarget)), *got.SLADueAt, "a reopening starts a new timer")
		require.Equal(t, []crm.ID{other.ID, tk.ID}, mine())

		e.move(tk.ID, crm.TicketResolved)
		c, err := e.tickets.Close(e.ctx, ticket.CloseRequest{TicketID: tk.ID, Actor: a.ID})
		require.NoError(t, err)
		require.Nil(t, c.Ticket.SLADueAt)
		require.Equal(t, []crm.ID{other.ID}, mine(), "a closed ticket stays out")
	})

	t.Run("ABreachedTicketKeepsItsMissedDeadlineAndMovesWithItsAssignee", func(t *testing.T) {
		t.Parallel()
		e := newTicketQueueEnv(t, h)
		theirs := e.raise(e.ctx, e.inChild, e.child, nil)
		e.clock.Advance(time.Hour)
		breached := e.raise(e.ctx, e.inRoot, e.root, nil)
		missed := *breached.SLADueAt
		e.clock.Advance(2 * time.Hour)
		later := e.raise(e.ctx, e.inChild, e.child, nil)
		// theirs breaches too and stays with inChild (the router's only
		// agent); breached is routed from inRoot to inChild.
		e.clock.Set(missed)
		hs, err := e.tickets.Tick(e.ctx, missed, 100)
		require.NoError(t, err)
		require.Len(t, hs, 2)
		got, err := e.store.Tickets().Get(e.ctx, breached.ID)
		require.NoError(t, err)
		require.Equal(t, e.inChild.ID, got.AssigneeID)
		require.Equal(t, missed, *got.SLADueAt, "a breach keeps the deadline missed")
		require.True(t, e.timer(got.SLATimerID).Breached)
		require.Empty(t, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inRoot.ID}, 10), "reassignment takes it off the old assignee's queue")
		require.Equal(t, []crm.ID{theirs.ID, breached.ID, later.ID}, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inChild.ID}, 2))

		// Paused and resumed, a breached timer has no deadline left: the
		// ticket is overdue from its resumption.
		e.move(breached.ID, crm.TicketOpen)
		e.move(breached.ID, crm.TicketPending)
		resumed := e.clock.Advance(time.Minute)
		got = e.move(breached.ID, crm.TicketOpen)
		require.Equal(t, crm.StorageTime(resumed), *got.SLADueAt)
		require.Equal(t, []crm.ID{theirs.ID, breached.ID, later.ID}, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inChild.ID}, 2))

		// A host's reassignment moves the ticket between queues too.
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			t, err := tx.Tickets().Get(ctx, later.ID)
			if err != nil {
				return err
			}
			t.AssigneeID, t.DepartmentID = e.inOther.ID, e.other.ID
			return tx.Tickets().Update(ctx, t)
		}))
		require.Equal(t, []crm.ID{theirs.ID, breached.ID}, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inChild.ID}, 1))
		require.Equal(t, []crm.ID{later.ID}, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inOther.ID}, 1))
		require.Equal(t, []crm.ID{later.ID}, e.bySLA(e.ctx, ticket.SLARequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{e.other.ID}}}, 1))
	})

	t.Run("ListsATeamByScopeDepartmentTreesAndManagedDepartments", func(t *testing.T) {
		t.Parallel()
		e := newTicketQueueEnv(t, h)
		r1 := e.raise(e.ctx, e.inRoot, e.root, nil)
		m1 := e.raise(e.ctx, e.manager, e.root, nil)
		e.clock.Advance(time.Hour)
		c1 := e.raise(e.ctx, e.inChild, e.child, nil)
		nobody := e.raise(e.ctx, nil, e.child, nil) // unassigned, in the child department
		o1 := e.raise(e.ctx, e.inOther, e.other, nil)
		e.clock.Advance(time.Hour)
		moved := e.raise(e.ctx, e.inOther, e.child, nil) // the ticket's department decides
		nowhere := e.raise(e.ctx, nil, nil, nil)         // nobody's, in no department
		pending := e.raise(e.ctx, e.inChild, e.child, nil)
		e.move(pending.ID, crm.TicketOpen)
		e.move(pending.ID, crm.TicketPending)
		tree := e.slaOrder(r1, m1, c1, nobody, moved)
		require.Equal(t, tree, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.manager.ID, Team: true}, 2))
		require.Equal(t, tree, e.bySLA(e.ctx, ticket.SLARequest{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{e.root.ID}}}, 3))
		require.Equal(t, e.slaOrder(c1, nobody, moved), e.bySLA(e.ctx, ticket.SLARequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{e.child.ID}}}, 50))
		both := &crm.DataScope{OwnerIDs: []crm.ID{e.inOther.ID}, DepartmentIDs: []crm.ID{e.other.ID, e.child.ID}}
		require.Equal(t, e.slaOrder(c1, nobody, o1, moved), e.bySLA(e.ctx, ticket.SLARequest{Scope: both}, 2))
		require.Equal(t, e.slaOrder(r1, m1, c1, nobody, o1, moved, nowhere), e.bySLA(e.ctx, ticket.SLARequest{Scope: &crm.DataScope{All: true}}, 4),
			"every running ticket, unassigned ones too")
		require.Empty(t, e.bySLA(e.ctx, ticket.SLARequest{Scope: &crm.DataScope{}}, 4), "an empty scope matches nothing")
		require.Empty(t, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inRoot.ID, Team: true}, 4), "a manager of nothing has an empty team")
		require.Equal(t, e.slaOrder(r1, m1), e.bySLA(e.ctx, ticket.SLARequest{Actor: e.manager.ID, Team: true, Before: e.clock.Now().Add(2 * time.Hour)}, 1))
	})

	t.Run("KeepsTenantsApart", func(t *testing.T) {
		t.Parallel()
		e := newTicketQueueEnv(t, h)
		mine := e.raise(e.ctx, e.inRoot, e.root, nil)
		ctxB := crm.WithTenant(e.ctx, "b")
		other := crmtest.User(e.ids)
		require.NoError(t, e.store.Users().Create(ctxB, other))
		theirs := e.raise(ctxB, other, nil, nil)
		require.Equal(t, []crm.ID{mine.ID}, e.bySLA(e.ctx, ticket.SLARequest{Scope: &crm.DataScope{All: true}}, 1))
		require.Equal(t, []crm.ID{mine.ID}, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.inRoot.ID}, 1))
		require.Equal(t, []crm.ID{mine.ID}, e.bySLA(e.ctx, ticket.SLARequest{Actor: e.manager.ID, Team: true}, 1))
		require.Equal(t, []crm.ID{theirs.ID}, e.bySLA(ctxB, ticket.SLARequest{Actor: other.ID}, 1))
		p, err := e.tickets.BySLA(crm.WithTenant(e.ctx, "c"), ticket.SLARequest{Scope: &crm.DataScope{All: true}})
		require.NoError(t, err)
		require.Empty(t, p.Items)
	})

	t.Run("RefusesBadInputNamingTheField", func(t *testing.T) {
		t.Parallel()
		e := newTicketQueueEnv(t, h)
		e.raise(e.ctx, e.inRoot, e.root, nil)
		e.raise(e.ctx, e.inRoot, e.root, nil)
		ok := ticket.SLARequest{Actor: e.inRoot.ID}
		first, err := e.tickets.BySLA(e.ctx, ticket.SLARequest{Actor: ok.Actor, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.NotEmpty(t, first.NextCursor)
		key := first.NextCursor[len("tsla"):]
		for name, tc := range map[string]struct {
			edit  func(*ticket.SLARequest)
			field string
		}{
			"no actor":                 {func(r *ticket.SLARequest) { r.Actor = crm.NilID }, "actor"},
			"limit too big":            {func(r *ticket.SLARequest) { r.Page.Limit = crm.MaxPageLimit + 1 }, "page.limit"},
			"negative limit":           {func(r *ticket.SLARequest) { r.Page.Limit = -1 }, "page.limit"},
			"a list's cursor":          {func(r *ticket.SLARequest) { r.Page.Cursor = crm.CursorAfter(e.inRoot.ID) }, "page.cursor"},
			"the due-tasks cursor":     {func(r *ticket.SLARequest) { r.Page.Cursor = "tdu" + key }, "page.cursor"},
			"the falling-back cursor":  {func(r *ticket.SLARequest) { r.Page.Cursor = "pfb" + key }, "page.cursor"},
			"a truncated cursor":       {func(r *ticket.SLARequest) { r.Page.Cursor = first.NextCursor[:10] }, "page.cursor"},
			"too many scope owner IDs": {func(r *ticket.SLARequest) { r.Scope = &crm.DataScope{OwnerIDs: make([]crm.ID, 1001)} }, "scope.owner_ids"},
		} {
			req := ok
			tc.edit(&req)
			_, err := e.tickets.BySLA(e.ctx, req)
			requireInvalid(t, err, tc.field)
			require.ErrorContains(t, err, tc.field, name)
		}
		// The port refuses a foreign cursor too, whoever calls it.
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			q, _ := crm.As[ticket.SLAQueue](tx)
			_, err := q.TicketsBySLA(ctx, ticket.SLAQuery{Page: crm.PageRequest{Cursor: "tdu" + key}})
			requireInvalid(t, err, "page.cursor")
			return nil
		}))
		// A ticket raised with an SLA due time of its own is refused: the
		// service owns it.
		at := e.clock.Now()
		_, err = e.tickets.Create(e.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(e.ids, func(t *crm.Ticket) { t.SLADueAt = &at })})
		requireInvalid(t, err, "sla_due_at")
	})
}
