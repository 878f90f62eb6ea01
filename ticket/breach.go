package ticket

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// Escalation says what an SLA firing's escalate action
// ([workflow.ActionEscalate]) does to a ticket, and who gets a ticket
// that a route action's router sends to a queue.
type Escalation struct {
	// KeepPriority leaves the priority alone. By default an escalation
	// raises it one step: low → normal → high → urgent.
	KeepPriority bool
	// ToManager hands the ticket to the manager of its department, or of
	// the nearest department above it with a manager other than the
	// current assignee ([crm.Department.ManagerID]).
	ToManager bool
	// Assignee gets the ticket when ToManager finds no manager, or on
	// every escalation when ToManager is off; it also gets a ticket a
	// router sends to a queue. NilID: an escalation keeps the assignee,
	// and a ticket routed to a queue is left unassigned.
	Assignee crm.ID
}

// Handled is what [Service.Tick] and [Service.HandleFiringsTx] did with
// one SLA firing.
type Handled struct {
	Firing workflow.Firing
	// Skipped says why nothing was done: the firing is not a ticket's,
	// its timer is not the ticket's current one, the ticket is resolved
	// or closed, or its policy is unknown to the service. Empty when the
	// actions were carried out.
	Skipped string
	// Ticket is the ticket after the actions; nil when skipped.
	Ticket *crm.Ticket
	// Reassigned and Escalated are the payloads of the events written,
	// nil when the firing asked for no such action or it changed
	// nothing.
	Reassigned *ReassignedPayload
	Escalated  *EscalatedPayload
	// Actions are the firing's actions left to the host (create_task,
	// notify), as [workflow.SLAPolicy.Actions] returned them.
	Actions []workflow.ActionSpec
}

// Tick fires the SLA timers due at now, at most limit of them
// ([workflow.Tick]), and carries out what the firings of ticket timers
// ask for ([Service.HandleFiringsTx]), all in one unit of work: the
// timers, the "sla.warned" and "sla.breached" events, the tickets'
// reassignments and escalations and their events commit together or not
// at all. Concurrent ticks from many instances fire (and carry out) each
// firing exactly once. Firings of other records' timers are returned
// with Skipped set, for the host to act on. A zero now means the clock's
// time. A store without workflow's ports is [crm.ErrUnsupported].
func (s *Service) Tick(ctx context.Context, now time.Time, limit int) ([]Handled, error) {
	if now.IsZero() {
		now = s.cfg.Clock.Now()
	}
	var out []Handled
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) error {
		wt, err := workflowTx(tx)
		if err != nil {
			return fmt.Errorf("ticket: tick: %w", err)
		}
		fs, err := workflow.Tick(ctx, wt, s.cfg.IDs, now, limit)
		if err != nil {
			return fmt.Errorf("ticket: tick: %w", err)
		}
		out, err = s.HandleFiringsTx(ctx, tx, now, fs)
		return err
	}, func(err error) error { return fmt.Errorf("ticket: tick: %w", err) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HandleFiringsTx carries out, inside the caller's unit of work, the
// route and escalate actions of SLA firings that [workflow.Tick] returned
// in that same unit of work (their policies' OnWarn or OnBreach, see
// [workflow.SLAPolicy.Actions]), at now:
//
//   - route {"rule_set": name}: the ticket is routed with
//     Config.Routers[name] ([workflow.Router.RouteTx], which keeps the
//     router's state and writes "ticket.routed"); the chosen user becomes
//     the assignee, and a queue decision gives the ticket to
//     [Escalation.Assignee] or leaves it unassigned. It writes
//     [EventTicketReassigned] when the assignee changed.
//   - escalate: as [Escalation] says; it writes [EventTicketEscalated]
//     when the priority or the assignee changed.
//
// The ticket is stored once per firing. A firing whose timer is no longer
// the ticket's ([crm.Ticket.SLATimerID]) or whose ticket is resolved or
// closed is skipped. A firing leaves the timer running and
// [crm.Ticket.SLADueAt] as it was: a breached ticket keeps the deadline
// it missed, so it heads its assignee's queue ([Service.BySLA]) until it
// is resolved or paused, wherever the actions moved it. Errors of the
// store or a router fail the whole call; the caller must not commit
// then.
func (s *Service) HandleFiringsTx(ctx context.Context, tx crm.Tx, now time.Time, firings []workflow.Firing) ([]Handled, error) {
	ctx = crm.DefaultActor(ctx, crm.NilID, "sla_action")
	out := make([]Handled, 0, len(firings))
	for _, f := range firings {
		h, err := s.handle(ctx, tx, now, f)
		if err != nil {
			return nil, fmt.Errorf("ticket: sla %s of timer %s: %w", f.Kind, f.TimerID, err)
		}
		out = append(out, h)
	}
	return out, nil
}

func (s *Service) handle(ctx context.Context, tx crm.Tx, now time.Time, f workflow.Firing) (Handled, error) {
	h := Handled{Firing: f}
	if f.Record.Type != crm.TypeTicket {
		h.Skipped = "the timer is not a ticket's"
		return h, nil
	}
	p := s.policies[f.Policy]
	if p == nil {
		h.Skipped = fmt.Sprintf("the service knows no policy %q", f.Policy)
		return h, nil
	}
	t, err := tx.Tickets().Get(ctx, f.Record.ID)
	if errors.Is(err, crm.ErrNotFound) {
		h.Skipped = "the ticket does not exist"
		return h, nil
	}
	if err != nil {
		return h, err
	}
	switch st := statusOr(t.Status); {
	case t.SLATimerID != f.TimerID:
		h.Skipped = "the timer is not the ticket's current one"
		return h, nil
	case st == crm.TicketResolved || st == crm.TicketClosed:
		h.Skipped = "the ticket is " + string(st)
		return h, nil
	}
	ref := FiringRef{TimerID: f.TimerID, Policy: f.Policy, Kind: f.Kind}
	changed := false
	for _, a := range p.Actions(f) {
		switch a.Kind {
		case workflow.ActionRoute:
			r, err := s.route(ctx, tx, now, t, a.RuleSet, ref)
			if err != nil {
				return h, err
			}
			if r != nil {
				h.Reassigned, changed = r, true
			}
		case workflow.ActionEscalate:
			e, err := s.escalate(ctx, tx, t, ref)
			if err != nil {
				return h, err
			}
			if e != nil {
				h.Escalated, changed = e, true
			}
		default:
			h.Actions = append(h.Actions, a)
		}
	}
	if changed {
		if err := tx.Tickets().Update(ctx, t); err != nil {
			return h, err
		}
		if h.Reassigned != nil {
			if err := s.emit(ctx, tx, EventTicketReassigned, t.ID, crm.NilID, h.Reassigned); err != nil {
				return h, err
			}
		}
		if h.Escalated != nil {
			if err := s.emit(ctx, tx, EventTicketEscalated, t.ID, crm.NilID, h.Escalated); err != nil {
				return h, err
			}
		}
	}
	h.Ticket = t
	return h, nil
}

// route routes t with the router of ruleSet and changes its assignee;
// nil when the assignee stays.
func (s *Service) route(ctx context.Context, tx crm.Tx, now time.Time, t *crm.Ticket, ruleSet string, ref FiringRef) (*ReassignedPayload, error) {
	r := s.cfg.Routers[ruleSet]
	if r == nil { // New refuses such a policy; a host may build its firings by hand
		return nil, fmt.Errorf("no router for rule set %q: %w", truncate(ruleSet, 64), crm.ErrFailedPrecondition)
	}
	rt, err := workflowTx(tx)
	if err != nil {
		return nil, err
	}
	rec, err := s.cfg.Record(r.Schema(), t)
	if err != nil {
		return nil, fmt.Errorf("routing record: %w", err)
	}
	d, err := r.RouteTx(ctx, rt, s.cfg.IDs, t.ID, &workflow.Request{Record: rec, Now: now})
	if err != nil {
		return nil, err
	}
	to := d.UserID
	if to == crm.NilID {
		to = s.cfg.Escalation.Assignee
	}
	if to == t.AssigneeID {
		return nil, nil
	}
	p := &ReassignedPayload{TicketID: t.ID, Firing: ref, From: t.AssigneeID, To: to, Queue: d.Queue, RuleSet: ruleSet, Rule: d.Rule}
	t.AssigneeID = to
	return p, nil
}

// escalate raises t's priority and hands it on as [Config.Escalation]
// says; nil when nothing changed.
func (s *Service) escalate(ctx context.Context, tx crm.Tx, t *crm.Ticket, ref FiringRef) (*EscalatedPayload, error) {
	esc := s.cfg.Escalation
	p := &EscalatedPayload{TicketID: t.ID, Firing: ref, FromPriority: t.Priority, ToPriority: t.Priority, FromAssignee: t.AssigneeID, ToAssignee: t.AssigneeID}
	if !esc.KeepPriority {
		p.ToPriority = raise(t.Priority)
	}
	to := crm.NilID
	if esc.ToManager {
		m, err := s.manager(ctx, tx, t)
		if err != nil {
			return nil, err
		}
		to = m
	}
	if to == crm.NilID {
		to = esc.Assignee
	}
	if to != crm.NilID {
		p.ToAssignee = to
	}
	if p.ToPriority == p.FromPriority && p.ToAssignee == p.FromAssignee {
		return nil, nil
	}
	t.Priority, t.AssigneeID = p.ToPriority, p.ToAssignee
	return p, nil
}

// raise returns the next priority up; urgent stays urgent.
func raise(p crm.TicketPriority) crm.TicketPriority {
	switch p {
	case crm.PriorityLow:
		return crm.PriorityNormal
	case crm.PriorityNormal, "":
		return crm.PriorityHigh
	}
	return crm.PriorityUrgent
}

// maxDepartmentDepth bounds the walk up the department tree.
const maxDepartmentDepth = 64

// manager returns the manager of t's department, or of the nearest one
// above it, who is not t's assignee; NilID when there is none.
func (s *Service) manager(ctx context.Context, tx crm.Tx, t *crm.Ticket) (crm.ID, error) {
	id := t.DepartmentID
	for range maxDepartmentDepth {
		if id == crm.NilID {
			break
		}
		d, err := tx.Departments().Get(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			break
		}
		if err != nil {
			return crm.NilID, fmt.Errorf("read department %s: %w", id, err)
		}
		if d.ManagerID != crm.NilID && d.ManagerID != t.AssigneeID {
			return d.ManagerID, nil
		}
		id = d.ParentID
	}
	return crm.NilID, nil
}
