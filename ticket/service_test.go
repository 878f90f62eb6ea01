package ticket_test

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
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t      *testing.T
	ctx    context.Context
	clock  *crmtest.Clock
	ids    *crmtest.IDs
	store  crm.Store
	svc    *ticket.Service
	agents [2]*crm.User
	policy *workflow.SLAPolicy
}

// newFixture returns a service whose normal tickets run a 4-hour target
// (warning at 3) that routes to the tier2 team of two agents and
// escalates on breach.
func newFixture(t *testing.T, edit func(*ticket.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), clock: crmtest.NewClock(t0), ids: crmtest.NewIDs()}
	f.store = memstore.New(&memstore.Config{Clock: f.clock})
	for i := range f.agents {
		f.agents[i] = crmtest.User(f.ids)
		require.NoError(t, f.store.Users().Create(f.ctx, f.agents[i]))
	}
	ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "resolution", "target": "4h", "warn": "3h",
		"on_warn": [{"kind": "notify", "department": "0190a5a0-0000-7000-8000-0000000000e1", "title": "1 hour left"}],
		"on_breach": [{"kind": "route", "rule_set": "tier2"}, {"kind": "escalate"}]}]}`), nil)
	require.NoError(t, err)
	f.policy = ps[0]
	team := f.ids.NewID()
	set, err := workflow.ParseRuleSet([]byte(`{"name": "tier2", "record_type": "ticket", "fallback_queue": "triage",
		"rules": [{"name": "tier2", "target": {"team": "` + team.String() + `"}, "strategy": "round_robin"}]}`))
	require.NoError(t, err)
	router, err := workflow.NewRouter(ticket.Schema(), set,
		[]workflow.Member{workflow.MemberFromUser(f.agents[0]), workflow.MemberFromUser(f.agents[1])},
		[]workflow.Team{{ID: team, Members: []crm.ID{f.agents[0].ID, f.agents[1].ID}}})
	require.NoError(t, err)
	cfg := &ticket.Config{Clock: f.clock, IDs: f.ids,
		SLA:     map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: f.policy, crm.PriorityHigh: f.policy},
		Routers: map[string]*workflow.Router{"tier2": router}}
	if edit != nil {
		edit(cfg)
	}
	f.svc, err = ticket.New(f.store, cfg)
	require.NoError(t, err)
	return f
}

func (f *fixture) create(edits ...func(*crm.Ticket)) *crm.Ticket {
	f.t.Helper()
	tk, err := f.svc.Create(f.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(f.ids, edits...)})
	require.NoError(f.t, err)
	return tk
}

func (f *fixture) move(id crm.ID, to crm.TicketStatus) *ticket.Moved {
	f.t.Helper()
	m, err := f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: id, To: to, Actor: f.agents[0].ID})
	require.NoError(f.t, err, "move to %s", to)
	return m
}

func (f *fixture) get(id crm.ID) *crm.Ticket {
	f.t.Helper()
	tk, err := f.store.Tickets().Get(f.ctx, id)
	require.NoError(f.t, err)
	return tk
}

func (f *fixture) timer(id crm.ID) *workflow.Timer {
	f.t.Helper()
	var out *workflow.Timer
	require.NoError(f.t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		wt, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		out, err = wt.Timers().GetTimer(ctx, id)
		return err
	}))
	return out
}

func (f *fixture) events() []crm.Event {
	f.t.Helper()
	evs, err := f.store.Outbox().Pending(f.ctx, 1000)
	require.NoError(f.t, err)
	return evs
}

func (f *fixture) eventTypes() []crm.EventType {
	var out []crm.EventType
	for _, e := range f.events() {
		out = append(out, e.Type)
	}
	return out
}

// pathTo lists the moves that bring a new ticket to status s.
var pathTo = map[crm.TicketStatus][]crm.TicketStatus{
	crm.TicketNew:      nil,
	crm.TicketOpen:     {crm.TicketOpen},
	crm.TicketPending:  {crm.TicketOpen, crm.TicketPending},
	crm.TicketResolved: {crm.TicketOpen, crm.TicketResolved},
	crm.TicketClosed:   {crm.TicketOpen, crm.TicketResolved, crm.TicketClosed},
}

func TestTransitionAllowsExactlyTheLifecycleMoves(t *testing.T) {
	t.Parallel()
	statuses := []crm.TicketStatus{crm.TicketNew, crm.TicketOpen, crm.TicketPending, crm.TicketResolved, crm.TicketClosed}
	allowed := map[[2]crm.TicketStatus]bool{
		{crm.TicketNew, crm.TicketOpen}:         true,
		{crm.TicketOpen, crm.TicketPending}:     true,
		{crm.TicketOpen, crm.TicketResolved}:    true,
		{crm.TicketPending, crm.TicketOpen}:     true,
		{crm.TicketPending, crm.TicketResolved}: true,
		{crm.TicketResolved, crm.TicketOpen}:    true,
		{crm.TicketResolved, crm.TicketClosed}:  true,
	}
	for _, from := range statuses {
		for _, to := range statuses {
			t.Run(string(from)+"To"+string(to), func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, nil)
				tk := f.create()
				for _, s := range pathTo[from] {
					f.move(tk.ID, s)
				}
				before, timerBefore, eventsBefore := f.get(tk.ID), f.timer(f.get(tk.ID).SLATimerID), f.events()
				f.clock.Advance(time.Minute)
				m, err := f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: to, Actor: f.agents[1].ID, Version: before.Version})
				require.Equal(t, allowed[[2]crm.TicketStatus{from, to}], ticket.DefaultLifecycle().Allows(from, to))
				if allowed[[2]crm.TicketStatus{from, to}] {
					require.NoError(t, err)
					require.Equal(t, to, m.Ticket.Status)
					require.Equal(t, m.Ticket, f.get(tk.ID))
					require.Equal(t, ticket.EventType(from, to), f.events()[len(f.events())-1].Type)
					return
				}
				require.ErrorIs(t, err, crm.ErrFailedPrecondition)
				var te *ticket.TransitionError
				require.ErrorAs(t, err, &te)
				require.Equal(t, from, te.From)
				require.ErrorContains(t, err, "status")
				require.Equal(t, before, f.get(tk.ID), "a refused move changes no ticket")
				require.Equal(t, timerBefore, f.timer(before.SLATimerID), "nor its timer")
				require.Equal(t, eventsBefore, f.events(), "nor writes an event")
			})
		}
	}
}

func TestTransitionRefusesAnUnknownStatusNamingStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	_, err := f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: "waiting"})
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "status", ve.Field)
	require.Equal(t, tk, f.get(tk.ID))
	_, err = f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen, Reason: "a\x00b"})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "reason", ve.Field)
	_, err = f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: f.ids.NewID(), To: crm.TicketOpen})
	require.ErrorIs(t, err, crm.ErrNotFound)
	_, err = f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen, Version: tk.Version + 1})
	require.ErrorIs(t, err, crm.ErrConflict)
	require.Equal(t, tk, f.get(tk.ID))
}

func TestTransitionSetsTheTimesAsTheTicketMoves(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	require.Equal(t, crm.TicketNew, tk.Status)
	require.Nil(t, tk.FirstResponseAt)

	t.Run("TheSystemOpeningATicketIsNoResponse", func(t *testing.T) {
		other := f.create()
		m, err := f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: other.ID, To: crm.TicketOpen})
		require.NoError(t, err)
		require.Nil(t, m.Ticket.FirstResponseAt)
		require.False(t, m.Event.FirstResponse)
	})

	open := f.clock.Advance(time.Hour)
	m := f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, open, *m.Ticket.FirstResponseAt)
	require.True(t, m.Event.FirstResponse)
	f.clock.Advance(time.Hour)
	f.move(tk.ID, crm.TicketPending)
	f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, open, *f.get(tk.ID).FirstResponseAt, "the first response is set once")

	resolved := f.clock.Advance(time.Hour)
	m = f.move(tk.ID, crm.TicketResolved)
	require.Equal(t, resolved, *m.Ticket.ResolvedAt)
	require.Nil(t, m.Ticket.ClosedAt)

	t.Run("CloseRefusesABadScoreNamingSatisfaction", func(t *testing.T) {
		before, evs := f.get(tk.ID), f.events()
		for _, bad := range []int{-1, 6, 100} {
			_, err := f.svc.Close(f.ctx, ticket.CloseRequest{TicketID: tk.ID, Satisfaction: bad})
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "satisfaction", ve.Field)
		}
		require.Equal(t, before, f.get(tk.ID))
		require.Equal(t, evs, f.events())
	})

	closed := f.clock.Advance(time.Hour)
	c, err := f.svc.Close(f.ctx, ticket.CloseRequest{TicketID: tk.ID, Actor: f.agents[0].ID, Satisfaction: 4})
	require.NoError(t, err)
	require.Equal(t, crm.TicketClosed, c.Ticket.Status)
	require.Equal(t, closed, *c.Ticket.ClosedAt)
	require.Equal(t, 4, c.Ticket.Satisfaction)
	require.Equal(t, c.Ticket, f.get(tk.ID))
	ev := f.events()[len(f.events())-1]
	require.Equal(t, ticket.EventTicketClosed, ev.Type)
	p, err := crm.DecodePayload[ticket.ClosedPayload](ev)
	require.NoError(t, err)
	require.Equal(t, 4, p.Satisfaction)
	require.Equal(t, f.agents[0].ID, ev.ActorID)

	_, err = f.svc.Close(f.ctx, ticket.CloseRequest{TicketID: tk.ID, Satisfaction: 5})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition, "closed is final")
}

func TestRespondRecordsTheFirstAnswerOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	_, err := f.svc.Respond(f.ctx, ticket.RespondRequest{TicketID: tk.ID})
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "actor", ve.Field)

	at := f.clock.Advance(time.Minute)
	m, err := f.svc.Respond(f.ctx, ticket.RespondRequest{TicketID: tk.ID, Actor: f.agents[0].ID})
	require.NoError(t, err)
	require.Equal(t, crm.TicketOpen, m.Ticket.Status, "an answer opens a new ticket")
	require.Equal(t, at, *m.Ticket.FirstResponseAt)
	require.Equal(t, ticket.EventTicketResponded, f.events()[len(f.events())-1].Type)

	n := len(f.events())
	f.clock.Advance(time.Minute)
	m, err = f.svc.Respond(f.ctx, ticket.RespondRequest{TicketID: tk.ID, Actor: f.agents[1].ID})
	require.NoError(t, err)
	require.Equal(t, at, *m.Ticket.FirstResponseAt)
	require.Len(t, f.events(), n, "a later answer writes nothing")
	require.Equal(t, m.Ticket, f.get(tk.ID))

	t.Run("ToAnOpenTicketNobodyAnswered", func(t *testing.T) {
		other := f.create()
		_, err := f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: other.ID, To: crm.TicketOpen})
		require.NoError(t, err)
		m, err := f.svc.Respond(f.ctx, ticket.RespondRequest{TicketID: other.ID, Actor: f.agents[1].ID})
		require.NoError(t, err)
		require.Equal(t, crm.TicketOpen, m.Ticket.Status)
		require.NotNil(t, m.Ticket.FirstResponseAt)
		require.True(t, m.Event.FirstResponse)
	})
}

func TestCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	t.Run("StartsTheTimerOfThePriority", func(t *testing.T) {
		tk := f.create()
		require.Equal(t, crm.TicketNew, tk.Status)
		require.NotEqual(t, crm.NilID, tk.SLATimerID)
		tm := f.timer(tk.SLATimerID)
		require.Equal(t, "resolution", tm.Policy)
		require.Equal(t, crm.Ref{Type: crm.TypeTicket, ID: tk.ID}, tm.Record)
		require.Equal(t, t0.Add(4*time.Hour), tm.DueAt)
		ev := f.events()[len(f.events())-1]
		require.Equal(t, ticket.EventTicketRaised, ev.Type)
		p, err := crm.DecodePayload[ticket.RaisedPayload](ev)
		require.NoError(t, err)
		require.Equal(t, tk.SLATimerID, p.TimerID)
		require.Equal(t, t0.Add(4*time.Hour), *p.DueAt)
	})
	t.Run("StartsNoTimerForAPriorityWithoutPolicy", func(t *testing.T) {
		tk := f.create(func(tk *crm.Ticket) { tk.Priority = crm.PriorityLow })
		require.Equal(t, crm.NilID, tk.SLATimerID)
	})
	t.Run("RefusesBadInputNamingTheFieldAndStoresNothing", func(t *testing.T) {
		n := len(f.events())
		for field, edit := range map[string]func(*crm.Ticket){
			"status":       func(tk *crm.Ticket) { tk.Status = crm.TicketOpen },
			"satisfaction": func(tk *crm.Ticket) { tk.Satisfaction = 3 },
			"sla_timer_id": func(tk *crm.Ticket) { tk.SLATimerID = f.ids.NewID() },
			"sla_due_at":   func(tk *crm.Ticket) { tk.SLADueAt = &t0 },
			"subject":      func(tk *crm.Ticket) { tk.Subject = "" },
			"resolved_at":  func(tk *crm.Ticket) { tk.ClosedAt = &t0 },
		} {
			tk := crmtest.Ticket(f.ids, edit)
			_, err := f.svc.Create(f.ctx, ticket.CreateRequest{Ticket: tk})
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve, field)
			require.Equal(t, field, ve.Field)
			_, err = f.store.Tickets().Get(f.ctx, tk.ID)
			require.ErrorIs(t, err, crm.ErrNotFound)
		}
		_, err := f.svc.Create(f.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(f.ids), Policy: "gold"})
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "policy", ve.Field)
		require.Len(t, f.events(), n)
	})
}

func TestTimerFollowsTheTicket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	f.clock.Advance(30 * time.Minute)
	f.move(tk.ID, crm.TicketOpen)
	f.clock.Advance(30 * time.Minute)

	m := f.move(tk.ID, crm.TicketPending)
	require.Equal(t, ticket.TimerPaused, m.Event.Timer)
	tm := f.timer(tk.SLATimerID)
	require.Equal(t, time.Hour, tm.Consumed)
	require.True(t, tm.RunningSince.IsZero() && tm.DueAt.IsZero() && tm.WarnAt.IsZero(), "a paused timer fires nothing")

	resumed := f.clock.Advance(48 * time.Hour)
	fired, err := f.svc.Tick(f.ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Empty(t, fired, "time spent waiting on the customer does not count")
	m = f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, ticket.TimerResumed, m.Event.Timer)
	tm = f.timer(tk.SLATimerID)
	require.Equal(t, resumed.Add(3*time.Hour), tm.DueAt, "the three hours left")
	require.Equal(t, resumed.Add(2*time.Hour), tm.WarnAt)

	f.clock.Advance(time.Hour)
	m = f.move(tk.ID, crm.TicketResolved)
	require.Equal(t, ticket.TimerStopped, m.Event.Timer)
	require.Empty(t, m.Late)
	tm = f.timer(tk.SLATimerID)
	require.True(t, tm.Stopped)
	require.Equal(t, 2*time.Hour, tm.Consumed)

	reopened := f.clock.Advance(24 * time.Hour)
	m = f.move(tk.ID, crm.TicketOpen)
	require.Equal(t, ticket.EventTicketReopened, f.events()[len(f.events())-1].Type)
	require.Nil(t, m.Ticket.ResolvedAt)
	require.NotEqual(t, tk.SLATimerID, m.Ticket.SLATimerID, "a reopened ticket runs a new timer")
	require.Equal(t, ticket.TimerStarted, m.Event.Timer)
	require.Equal(t, reopened.Add(4*time.Hour), f.timer(m.Ticket.SLATimerID).DueAt)
	require.True(t, f.timer(tk.SLATimerID).Stopped, "the old one stays stopped")
}

func TestResolvingRecordsABreachThatWasDueButNotTicked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	f.move(tk.ID, crm.TicketOpen)
	f.clock.Advance(5 * time.Hour)
	m := f.move(tk.ID, crm.TicketResolved)
	require.Len(t, m.Late, 2)
	require.Equal(t, workflow.FiringBreach, m.Late[1].Kind)
	require.Contains(t, f.eventTypes(), workflow.EventSLABreached)
	require.Equal(t, crm.PriorityNormal, f.get(tk.ID).Priority, "a resolved ticket is not escalated")
}

func TestReopenWindow(t *testing.T) {
	t.Parallel()
	lc, err := ticket.NewLifecycle(48 * time.Hour)
	require.NoError(t, err)
	f := newFixture(t, func(c *ticket.Config) { c.Lifecycle = lc })
	tk := f.create()
	f.move(tk.ID, crm.TicketOpen)
	f.move(tk.ID, crm.TicketResolved)
	f.clock.Advance(48 * time.Hour)
	f.move(tk.ID, crm.TicketOpen)
	f.move(tk.ID, crm.TicketResolved)
	f.clock.Advance(48*time.Hour + time.Microsecond)
	before := f.get(tk.ID)
	_, err = f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	require.ErrorContains(t, err, "reopen window")
	require.Equal(t, before, f.get(tk.ID))

	for _, w := range []time.Duration{0, -time.Hour} {
		_, err := ticket.NewLifecycle(w)
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "reopen_window", ve.Field)
	}
	require.Equal(t, ticket.DefaultReopenWindow, ticket.DefaultLifecycle().ReopenWindow())
}

func TestTickCarriesOutBreachActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create(func(tk *crm.Ticket) { tk.AssigneeID = f.agents[1].ID })
	f.move(tk.ID, crm.TicketOpen)

	f.clock.Advance(3 * time.Hour)
	hs, err := f.svc.Tick(f.ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, workflow.FiringWarning, hs[0].Firing.Kind)
	require.Empty(t, hs[0].Skipped)
	require.Equal(t, []workflow.ActionSpec{{Kind: workflow.ActionNotify, Department: hs[0].Actions[0].Department, Title: "1 hour left"}}, hs[0].Actions, "a notification is the host's")
	require.Nil(t, hs[0].Reassigned)

	f.clock.Advance(time.Hour)
	hs, err = f.svc.Tick(f.ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	h := hs[0]
	require.Empty(t, h.Skipped)
	require.NotNil(t, h.Reassigned)
	require.Equal(t, "tier2", h.Reassigned.RuleSet)
	require.Equal(t, f.agents[1].ID, h.Reassigned.From)
	require.Equal(t, f.agents[0].ID, h.Reassigned.To, "the round robin starts with the first agent")
	require.NotNil(t, h.Escalated)
	require.Equal(t, crm.PriorityHigh, h.Escalated.ToPriority)
	got := f.get(tk.ID)
	require.Equal(t, f.agents[0].ID, got.AssigneeID)
	require.Equal(t, crm.PriorityHigh, got.Priority)
	require.Equal(t, h.Ticket, got)
	types := f.eventTypes()
	for _, typ := range []crm.EventType{workflow.EventSLABreached, workflow.RoutedEventType(crm.TypeTicket), ticket.EventTicketReassigned, ticket.EventTicketEscalated} {
		require.Contains(t, types, typ)
	}

	hs, err = f.svc.Tick(f.ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Empty(t, hs, "a firing is carried out once")
}

func TestEscalationToAManager(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *ticket.Config) {
		c.Escalation = ticket.Escalation{ToManager: true, KeepPriority: true}
		c.Routers = nil
		ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "first_line", "target": "1h", "on_breach": [{"kind": "escalate"}]}]}`), nil)
		require.NoError(t, err)
		c.SLA = map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: ps[0]}
	})
	boss := crmtest.User(f.ids)
	require.NoError(t, f.store.Users().Create(f.ctx, boss))
	top := crmtest.Department(f.ids, "Service", crm.NilID, func(d *crm.Department) { d.ManagerID = boss.ID })
	require.NoError(t, f.store.Departments().Create(f.ctx, top))
	desk := crmtest.Department(f.ids, "Help desk", top.ID, func(d *crm.Department) { d.ManagerID = f.agents[0].ID })
	require.NoError(t, f.store.Departments().Create(f.ctx, desk))
	tk := f.create(func(tk *crm.Ticket) { tk.AssigneeID, tk.DepartmentID = f.agents[0].ID, desk.ID })

	f.clock.Advance(time.Hour)
	hs, err := f.svc.Tick(f.ctx, time.Time{}, 10)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.NotNil(t, hs[0].Escalated)
	require.Equal(t, boss.ID, f.get(tk.ID).AssigneeID, "the help desk's manager holds the ticket, so it goes a level up")
	require.Equal(t, crm.PriorityNormal, f.get(tk.ID).Priority)
}

func TestTickLeavesTheFiringsOfOtherRecordsToTheHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	other := crm.Ref{Type: crm.TypeLead, ID: f.ids.NewID()}
	require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		wt, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		tm, err := f.policy.Start(f.ids.NewID(), other, t0, t0)
		if err != nil {
			return err
		}
		return wt.Timers().CreateTimer(ctx, &tm)
	}))
	f.clock.Advance(5 * time.Hour)
	hs, err := f.svc.Tick(f.ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Len(t, hs, 2)
	for _, h := range hs {
		require.Equal(t, "the timer is not a ticket's", h.Skipped)
	}
}

func TestNewRefusesABadConfigNamingTheField(t *testing.T) {
	t.Parallel()
	ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "a", "target": "1h", "on_breach": [{"kind": "route", "rule_set": "tier9"}]},
		{"name": "b", "target": "1h"}]}`), nil)
	require.NoError(t, err)
	twin := *ps[1]
	store := memstore.New(nil)
	for field, cfg := range map[string]*ticket.Config{
		"routers":     {SLA: map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityLow: ps[0]}},
		"sla":         {SLA: map[crm.TicketPriority]*workflow.SLAPolicy{"p0": ps[1]}},
		"sla.high":    {SLA: map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityHigh: nil}},
		"policies[1]": {Policies: []*workflow.SLAPolicy{ps[1], &twin}},
	} {
		_, err := ticket.New(store, cfg)
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve, field)
		require.Equal(t, field, ve.Field)
	}
	_, err = ticket.New(nil, nil)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
}

// TestConcurrentMovesOfOneTicket races many goroutines to move one
// ticket, each with the version it read: of every set of moves made on
// one version exactly one wins, and the ticket, its timer and its events
// stay consistent.
func TestConcurrentMovesOfOneTicket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	const workers, rounds = 8, 12
	next := map[crm.TicketStatus]crm.TicketStatus{crm.TicketNew: crm.TicketOpen, crm.TicketOpen: crm.TicketPending, crm.TicketPending: crm.TicketOpen}
	var wins, conflicts atomic.Int64
	for range rounds {
		cur := f.get(tk.ID)
		var wg sync.WaitGroup
		var won atomic.Int64
		for w := range workers {
			wg.Go(func() {
				_, err := f.svc.Transition(f.ctx, ticket.TransitionRequest{TicketID: tk.ID, To: next[cur.Status], Actor: f.agents[w%2].ID, Version: cur.Version})
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, crm.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, won.Load(), "exactly one move wins per version")
		wins.Add(won.Load())
	}
	require.EqualValues(t, rounds, wins.Load())
	require.EqualValues(t, rounds*(workers-1), conflicts.Load())
	got := f.get(tk.ID)
	require.Equal(t, tk.Version+rounds, got.Version)
	moves := 0
	for _, e := range f.events() {
		if e.Type == ticket.EventTicketOpened || e.Type == ticket.EventTicketSuspended {
			moves++
		}
	}
	require.Equal(t, rounds, moves, "one event per winning move")
	tm := f.timer(got.SLATimerID)
	require.Equal(t, got.Status == crm.TicketPending, tm.RunningSince.IsZero(), "the timer runs exactly when the ticket is not pending")
}

// TestTxFormsJoinTheCallersUnitOfWork checks that a Tx form's writes are
// the caller's to keep or discard, and that a recording wrapper around
// the unit of work sees the ticket's writes.
func TestTxFormsJoinTheCallersUnitOfWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tk := f.create()
	n := len(f.events())
	boom := errors.New("the host's own work failed")
	err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		if _, err := f.svc.TransitionTx(ctx, tx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, tk, f.get(tk.ID))
	require.Len(t, f.events(), n)

	rec, err := history.New(&history.Config{Clock: f.clock, IDs: f.ids})
	require.NoError(t, err)
	require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := f.svc.TransitionTx(ctx, rec.Wrap(tx), ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen, Actor: f.agents[0].ID})
		return err
	}))
	var change *crm.Event
	for _, e := range f.events() {
		if e.Type == crm.EventTicketUpdated {
			change = &e
		}
	}
	require.NotNil(t, change, "the recorder saw the ticket's update")
	require.Equal(t, f.agents[0].ID, change.ActorID)
}
