package ticket_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// requireFollowsTimer checks that a stored ticket's SLA due time is what
// its timer says: the timer's DueAt while it runs with one, none while it
// is paused or stopped or the ticket runs no timer.
func (f *fixture) requireFollowsTimer(tk *crm.Ticket, msg string) {
	f.t.Helper()
	require.Equal(f.t, tk, f.get(tk.ID), "%s: stored as returned", msg)
	if tk.SLATimerID == crm.NilID {
		require.Nil(f.t, tk.SLADueAt, msg)
		return
	}
	tm := f.timer(tk.SLATimerID)
	switch {
	case tm.Stopped || tm.RunningSince.IsZero():
		require.Nil(f.t, tk.SLADueAt, "%s: no timer runs", msg)
	case !tm.DueAt.IsZero():
		require.NotNil(f.t, tk.SLADueAt, msg)
		require.Equal(f.t, tm.DueAt, *tk.SLADueAt, msg)
	default:
		require.True(f.t, tm.Breached, msg)
		require.NotNil(f.t, tk.SLADueAt, "%s: a breached ticket stays in the queue", msg)
	}
}

func TestSLADueAtFollowsTheTimerThroughEveryMove(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create(func(tk *crm.Ticket) { tk.AssigneeID = f.agents[0].ID })
	require.Equal(t, t0.Add(4*time.Hour), *tk.SLADueAt, "create starts the timer")
	f.requireFollowsTimer(tk, "created")

	f.clock.Advance(time.Hour)
	m, err := f.svc.Respond(f.ctx, ticket.RespondRequest{TicketID: tk.ID, Actor: f.agents[0].ID})
	require.NoError(t, err)
	require.Equal(t, t0.Add(4*time.Hour), *m.Ticket.SLADueAt, "an answer leaves the timer running")
	f.requireFollowsTimer(m.Ticket, "responded")

	m = f.move(tk.ID, crm.TicketPending)
	require.Nil(t, m.Ticket.SLADueAt, "pending pauses the timer")
	f.requireFollowsTimer(m.Ticket, "pending")

	resumed := f.clock.Advance(2 * time.Hour)
	m = f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, resumed.Add(3*time.Hour), *m.Ticket.SLADueAt, "resumed with the three hours left")
	f.requireFollowsTimer(m.Ticket, "resumed")

	// The warning changes nothing; the breach reassigns and escalates the
	// ticket, which keeps the deadline it missed.
	missed := *m.Ticket.SLADueAt
	hs, err := f.svc.Tick(f.ctx, missed.Add(-time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, missed, *f.get(tk.ID).SLADueAt)
	hs, err = f.svc.Tick(f.ctx, missed.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.NotNil(t, hs[0].Escalated)
	got := f.get(tk.ID)
	require.Equal(t, hs[0].Ticket, got)
	require.Equal(t, crm.PriorityHigh, got.Priority)
	require.Equal(t, missed, *got.SLADueAt, "a breach keeps the missed deadline")
	f.requireFollowsTimer(got, "breached")

	f.clock.Set(missed.Add(time.Hour))
	m = f.move(tk.ID, crm.TicketPending)
	require.Nil(t, m.Ticket.SLADueAt)
	back := f.clock.Advance(time.Hour)
	m = f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, back, *m.Ticket.SLADueAt, "a breached timer resumed is overdue from its resumption")
	f.requireFollowsTimer(m.Ticket, "breached and resumed")

	f.clock.Advance(time.Hour)
	m = f.move(tk.ID, crm.TicketResolved)
	require.Nil(t, m.Ticket.SLADueAt, "resolution stops the timer")
	f.requireFollowsTimer(m.Ticket, "resolved")

	reopened := f.clock.Advance(time.Hour)
	m = f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, reopened.Add(4*time.Hour), *m.Ticket.SLADueAt, "a reopening starts a new timer")
	f.requireFollowsTimer(m.Ticket, "reopened")

	f.move(tk.ID, crm.TicketResolved)
	c, err := f.svc.Close(f.ctx, ticket.CloseRequest{TicketID: tk.ID, Actor: f.agents[0].ID})
	require.NoError(t, err)
	require.Nil(t, c.Ticket.SLADueAt)
	f.requireFollowsTimer(c.Ticket, "closed")
}

func TestSLADueAtStaysNilWithoutARunningTimer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	low := f.create(func(tk *crm.Ticket) { tk.Priority = crm.PriorityLow })
	require.Nil(t, low.SLADueAt)
	for _, to := range []crm.TicketStatus{crm.TicketOpen, crm.TicketPending, crm.TicketOpen, crm.TicketResolved, crm.TicketOpen} {
		m := f.move(low.ID, to)
		require.Nil(t, m.Ticket.SLADueAt, "to %s", to)
	}

	// A timer a host stopped itself: the moves leave it alone, and the
	// ticket is in no queue.
	tk := f.create()
	require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		wt, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		_, err = workflow.StopTx(ctx, wt, f.ids, f.policy, tk.SLATimerID, f.clock.Now())
		return err
	}))
	m := f.move(tk.ID, crm.TicketOpen)
	require.NotNil(t, m.Ticket.SLADueAt, "a move that does not touch the timer leaves the due time")
	m = f.move(tk.ID, crm.TicketPending)
	require.Nil(t, m.Ticket.SLADueAt)
	m = f.move(tk.ID, crm.TicketOpen)
	require.Nil(t, m.Ticket.SLADueAt, "a stopped timer does not resume")
	f.requireFollowsTimer(m.Ticket, "stopped by the host")
}

func TestBySLAListsTheAssigneesRunningTicketsEarliestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	mine := func(tk *crm.Ticket) { tk.AssigneeID = f.agents[0].ID }
	a := f.create(mine)
	f.clock.Advance(time.Minute)
	b := f.create(mine)
	f.create(func(tk *crm.Ticket) { tk.AssigneeID = f.agents[1].ID })
	f.create(mine, func(tk *crm.Ticket) { tk.Priority = crm.PriorityLow })
	list := func(req ticket.SLARequest) []crm.ID {
		t.Helper()
		p, err := f.svc.BySLA(f.ctx, req)
		require.NoError(t, err)
		out := []crm.ID{}
		for _, tk := range p.Items {
			out = append(out, tk.ID)
		}
		return out
	}
	req := ticket.SLARequest{Actor: f.agents[0].ID}
	require.Equal(t, []crm.ID{a.ID, b.ID}, list(req))
	f.move(a.ID, crm.TicketOpen)
	f.move(a.ID, crm.TicketPending)
	require.Equal(t, []crm.ID{b.ID}, list(req))
	f.clock.Advance(10 * time.Minute)
	f.move(a.ID, crm.TicketOpen)
	require.Equal(t, []crm.ID{b.ID, a.ID}, list(req), "resumed later, due later")
	req.Before = *b.SLADueAt
	require.Equal(t, []crm.ID{b.ID}, list(req), "Before bounds the due times, inclusive")

	_, err := f.svc.BySLA(f.ctx, ticket.SLARequest{})
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "actor", ve.Field)
}

// noQueue is a store whose units of work hide every optional port.
type noQueue struct{ crm.Store }

func (s noQueue) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(ctx, struct{ crm.Tx }{tx}) })
}

func TestBySLAIsUnsupportedWithoutTheQueuePort(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	svc, err := ticket.New(noQueue{f.store}, nil)
	require.NoError(t, err)
	_, err = svc.BySLA(f.ctx, ticket.SLARequest{Actor: f.agents[0].ID})
	require.ErrorIs(t, err, crm.ErrUnsupported)
}
