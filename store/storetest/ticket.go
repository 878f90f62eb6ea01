package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// RunTicketLifecycle checks the ticket package's [ticket.Service] on an
// adapter's shared ticket repository and workflow ports ([workflow.Tx]):
// a ticket moves through its lifecycle with its times, its SLA timer
// (started, paused, resumed, stopped, restarted on reopening) and its
// events stored in the unit of work of each move ("Lifecycle"); a refused
// move keeps the ticket, the timer and the outbox as they were
// ("RefusedMoveChangesNothing"); Tick carries out a breach's route and
// escalate actions with the ticket ("BreachActions"); and of 8 concurrent
// moves made on one version exactly one wins ("ConcurrentMoves"). Run
// runs it when [Features] declares Workflow.
func RunTicketLifecycle(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	test(t, h, "Lifecycle", testTicketLifecycle)
	test(t, h, "RefusedMoveChangesNothing", testTicketRefusedMove)
	test(t, h, "BreachActions", testTicketBreach)
	test(t, h, "ConcurrentMoves", testTicketConcurrentMoves)
}

// ticketService returns a service whose normal tickets run a 4-hour
// target that, on breach, routes them round robin to agents and
// escalates them.
func ticketService(t *testing.T, e *env, agents ...crm.ID) (*ticket.Service, *workflow.SLAPolicy) {
	t.Helper()
	ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "resolution", "target": "4h",
		"on_breach": [{"kind": "route", "rule_set": "tier2"}, {"kind": "escalate"}]}]}`), nil)
	require.NoError(t, err)
	team := workflow.Team{ID: e.ids.NewID(), Members: agents}
	members := make([]workflow.Member, len(agents))
	for i, a := range agents {
		members[i] = workflow.Member{UserID: a, Active: true}
	}
	router, err := workflow.NewRouter(ticket.Schema(), &workflow.RuleSet{Name: "tier2", RecordType: crm.TypeTicket, FallbackQueue: "triage",
		Rules: []workflow.Rule{{Name: "tier2", Target: workflow.Target{Team: team.ID}}}}, members, []workflow.Team{team})
	require.NoError(t, err)
	svc, err := ticket.New(e.store, &ticket.Config{Clock: e.clock, IDs: e.ids,
		SLA:     map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: ps[0]},
		Routers: map[string]*workflow.Router{"tier2": router}})
	require.NoError(t, err)
	return svc, ps[0]
}

func getTimer(t *testing.T, e *env, id crm.ID) *workflow.Timer {
	t.Helper()
	var out *workflow.Timer
	require.NoError(t, inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) (err error) {
		out, err = w.Timers().GetTimer(ctx, id)
		return err
	}))
	return out
}

func pendingEvents(t *testing.T, e *env) []crm.Event {
	t.Helper()
	evs, err := e.store.Outbox().Pending(e.ctx, 1000)
	require.NoError(t, err)
	return evs
}

func testTicketLifecycle(t *testing.T, e *env) {
	agent := e.ids.NewID()
	svc, _ := ticketService(t, e, agent)
	created := e.now()
	tk, err := svc.Create(e.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(e.ids)})
	require.NoError(t, err)
	require.Equal(t, crm.TicketNew, tk.Status)
	got, err := e.store.Tickets().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk, got)
	require.Equal(t, created.Add(4*time.Hour), getTimer(t, e, tk.SLATimerID).DueAt)

	answered := e.tick()
	m, err := svc.Respond(e.ctx, ticket.RespondRequest{TicketID: tk.ID, Actor: agent})
	require.NoError(t, err)
	require.Equal(t, crm.TicketOpen, m.Ticket.Status)
	require.Equal(t, answered, *m.Ticket.FirstResponseAt)

	move := func(to crm.TicketStatus) *ticket.Moved {
		t.Helper()
		m, err := svc.Transition(e.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: to, Actor: agent})
		require.NoError(t, err, "to %s", to)
		got, err := e.store.Tickets().Get(e.ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, m.Ticket, got, "the move is stored as returned")
		return m
	}
	paused := e.now()
	move(crm.TicketPending)
	tm := getTimer(t, e, tk.SLATimerID)
	require.True(t, tm.RunningSince.IsZero())
	require.Equal(t, paused.Sub(created), tm.Consumed)
	resumed := e.tick()
	move(crm.TicketOpen)
	require.Equal(t, resumed.Add(4*time.Hour-paused.Sub(created)), getTimer(t, e, tk.SLATimerID).DueAt)
	resolved := e.tick()
	m = move(crm.TicketResolved)
	require.Equal(t, resolved, *m.Ticket.ResolvedAt)
	require.True(t, getTimer(t, e, tk.SLATimerID).Stopped)

	e.tick()
	m = move(crm.TicketOpen)
	require.Nil(t, m.Ticket.ResolvedAt)
	require.NotEqual(t, tk.SLATimerID, m.Ticket.SLATimerID)
	require.False(t, getTimer(t, e, m.Ticket.SLATimerID).Stopped)
	move(crm.TicketResolved)
	closed := e.tick()
	c, err := svc.Close(e.ctx, ticket.CloseRequest{TicketID: tk.ID, Actor: agent, Satisfaction: 5})
	require.NoError(t, err)
	got, err = e.store.Tickets().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, c.Ticket, got)
	require.Equal(t, closed, *got.ClosedAt)
	require.Equal(t, 5, got.Satisfaction)

	var types []crm.EventType
	for _, ev := range pendingEvents(t, e) {
		if ev.Subject.ID == tk.ID {
			types = append(types, ev.Type)
		}
	}
	require.Equal(t, []crm.EventType{ticket.EventTicketRaised, ticket.EventTicketResponded, ticket.EventTicketSuspended,
		ticket.EventTicketOpened, ticket.EventTicketResolved, ticket.EventTicketReopened, ticket.EventTicketResolved,
		ticket.EventTicketClosed}, types)
}

func testTicketRefusedMove(t *testing.T, e *env) {
	svc, _ := ticketService(t, e, e.ids.NewID())
	tk, err := svc.Create(e.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(e.ids)})
	require.NoError(t, err)
	timer, events := getTimer(t, e, tk.SLATimerID), pendingEvents(t, e)
	e.tick()
	for _, to := range []crm.TicketStatus{crm.TicketNew, crm.TicketPending, crm.TicketResolved, crm.TicketClosed} {
		_, err := svc.Transition(e.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: to})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition, "new to %s", to)
	}
	_, err = svc.Close(e.ctx, ticket.CloseRequest{TicketID: tk.ID, Satisfaction: 9})
	requireInvalid(t, err, "satisfaction")
	got, err := e.store.Tickets().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk, got)
	require.Equal(t, timer, getTimer(t, e, tk.SLATimerID))
	require.Equal(t, events, pendingEvents(t, e))
}

func testTicketBreach(t *testing.T, e *env) {
	agents := []crm.ID{e.ids.NewID(), e.ids.NewID()}
	svc, _ := ticketService(t, e, agents...)
	tk, err := svc.Create(e.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(e.ids, func(tk *crm.Ticket) { tk.AssigneeID = agents[1] })})
	require.NoError(t, err)
	hs, err := svc.Tick(e.ctx, e.clock.Advance(4*time.Hour), 100)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.NotNil(t, hs[0].Reassigned)
	require.NotNil(t, hs[0].Escalated)
	got, err := e.store.Tickets().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, hs[0].Ticket, got)
	require.Equal(t, agents[0], got.AssigneeID)
	require.Equal(t, crm.PriorityHigh, got.Priority)
	hs, err = svc.Tick(e.ctx, e.clock.Advance(time.Hour), 100)
	require.NoError(t, err)
	require.Empty(t, hs, "each firing is carried out once")
}

func testTicketConcurrentMoves(t *testing.T, e *env) {
	svc, _ := ticketService(t, e, e.ids.NewID())
	tk, err := svc.Create(e.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(e.ids)})
	require.NoError(t, err)
	next := map[crm.TicketStatus]crm.TicketStatus{crm.TicketNew: crm.TicketOpen, crm.TicketOpen: crm.TicketPending, crm.TicketPending: crm.TicketOpen}
	const workers, rounds = 8, 4
	for range rounds {
		cur, err := e.store.Tickets().Get(e.ctx, tk.ID)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var won atomic.Int64
		for range workers {
			wg.Go(func() {
				_, err := svc.Transition(e.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: next[cur.Status], Version: cur.Version})
				switch {
				case err == nil:
					won.Add(1)
				case !errors.Is(err, crm.ErrConflict):
					t.Errorf("a losing move: %v; want crm.ErrConflict", err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, won.Load(), "exactly one move wins each version")
	}
	got, err := e.store.Tickets().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk.Version+rounds, got.Version)
	require.Equal(t, got.Status == crm.TicketPending, getTimer(t, e, got.SLATimerID).RunningSince.IsZero())
}
