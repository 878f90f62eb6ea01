package ticket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// Config configures a [Service].
type Config struct {
	// Clock stamps moves, timers and events. Defaults to crm.SystemClock.
	Clock crm.Clock
	// IDs makes ticket, timer and event IDs. Defaults to crm.UUIDv7 on
	// Clock.
	IDs crm.IDGenerator
	// Lifecycle decides which status moves are allowed. Defaults to
	// DefaultLifecycle().
	Lifecycle *Lifecycle
	// SLA is the SLA policy a new ticket of each priority runs under; a
	// priority without one starts no timer. One policy may serve several
	// priorities. Defaults to nil: no timers.
	SLA map[crm.TicketPriority]*workflow.SLAPolicy
	// Policies are further SLA policies a [CreateRequest] may name
	// instead of its priority's. Policy names are unique across SLA and
	// Policies. Defaults to nil.
	Policies []*workflow.SLAPolicy
	// Routers carry out the route actions of SLA firings, by rule set
	// name: an action {"kind": "route", "rule_set": "tier2"} routes the
	// ticket with Routers["tier2"], whose rule set is for tickets. Every
	// route action of a policy above must name one. Defaults to nil.
	Routers map[string]*workflow.Router
	// Record fills the routing record of a ticket for a router's schema.
	// Defaults to [Record].
	Record func(schema *cond.Schema, t *crm.Ticket) (*cond.Record, error)
	// Escalation says what the escalate actions of SLA firings do, and who
	// gets a ticket a router sends to a queue. Defaults to the zero
	// Escalation: raise the priority one step.
	Escalation Escalation
}

// Service moves tickets through their lifecycle, with their SLA timers and
// events, each operation one all-or-nothing unit of work, and carries out
// what SLA firings ask for ([Service.Tick]). Every mutating operation has
// a Tx form that joins a unit of work the caller holds. The timers are
// workflow's: a store whose units of work lack workflow's ports
// ([workflow.TxOf]) serves only tickets that run no timer. It is safe for
// concurrent use.
type Service struct {
	store    crm.Store
	cfg      Config
	policies map[string]*workflow.SLAPolicy
}

// New returns a service on store. A nil cfg means defaults. Problems of
// the configuration are [*crm.ValidationError] values naming the field.
func New(store crm.Store, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("ticket: new: %w", crm.Invalid("store", "is required"))
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	if c.Lifecycle == nil {
		c.Lifecycle = DefaultLifecycle()
	}
	if c.Record == nil {
		c.Record = Record
	}
	s := &Service{store: store, cfg: c, policies: map[string]*workflow.SLAPolicy{}}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("ticket: new: %w", err)
	}
	return s, nil
}

func (s *Service) validate() error {
	var probs crm.Problems
	add := func(field string, p *workflow.SLAPolicy) {
		if q, dup := s.policies[p.Name]; dup && q != p {
			probs.Add(field, "another policy is named %q", p.Name)
			return
		}
		s.policies[p.Name] = p
	}
	for prio, p := range s.cfg.SLA {
		if !prio.Valid() {
			probs.Add("sla", "unknown priority %q", truncate(string(prio), 32))
			continue
		}
		if p == nil {
			probs.Add("sla."+string(prio), "is nil")
			continue
		}
		add("sla."+string(prio), p)
	}
	for i, p := range s.cfg.Policies {
		if p == nil {
			probs.Add(fmt.Sprintf("policies[%d]", i), "is nil")
			continue
		}
		add(fmt.Sprintf("policies[%d]", i), p)
	}
	for name, r := range s.cfg.Routers {
		switch {
		case r == nil:
			probs.Add("routers."+name, "is nil")
		case r.RuleSet().Name != name:
			probs.Add("routers."+name, "routes with rule set %q", r.RuleSet().Name)
		case r.RuleSet().RecordType != crm.TypeTicket:
			probs.Add("routers."+name, "routes %s records, not tickets", r.RuleSet().RecordType)
		}
	}
	for _, p := range s.policies {
		for _, a := range append(p.OnWarn[:len(p.OnWarn):len(p.OnWarn)], p.OnBreach...) {
			if a.Kind == workflow.ActionRoute && s.cfg.Routers[a.RuleSet] == nil {
				probs.Add("routers", "policy %s routes with rule set %q, which no router has", p.Name, truncate(a.RuleSet, 64))
			}
		}
	}
	return probs.Err()
}

// run runs op, the Tx form of an operation, in a unit of work of its own.
func (s *Service) run(ctx context.Context, op func(ctx context.Context, tx crm.Tx) error, wrapErr func(error) error) error {
	var opErr error
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		opErr = op(ctx, tx)
		return opErr
	})
	switch {
	case err == nil:
		return nil
	case opErr != nil && errors.Is(err, opErr):
		return err
	default:
		return wrapErr(err)
	}
}

func wrap(op string, id crm.ID, err error) error {
	if strings.HasPrefix(err.Error(), "ticket: ") {
		return err
	}
	return fmt.Errorf("ticket: %s %s: %w", op, id, err)
}

// workflowTx returns tx with workflow's ports, or an error matching
// [crm.ErrUnsupported].
func workflowTx(tx crm.Tx) (workflow.Tx, error) {
	return workflow.TxOf(tx)
}

// CreateRequest asks to store a new ticket and start its SLA timer.
type CreateRequest struct {
	// Ticket is the ticket to store; its ID is made when zero. Its status
	// must be empty or new, and its resolution, close, first response,
	// satisfaction, SLA timer and SLA due time unset. It is not changed:
	// Create returns the stored copy.
	Ticket *crm.Ticket
	// Actor is the user raising the ticket; NilID for the system.
	Actor crm.ID
	// Policy, when set, names the SLA policy to run instead of the one of
	// the ticket's priority ([Config.SLA], [Config.Policies]).
	Policy string
}

// Create stores a new ticket in status new, starts the SLA timer of its
// priority (or of req.Policy) from now and links it to the ticket
// ([crm.Ticket.SLATimerID], with its deadline in [crm.Ticket.SLADueAt]),
// and writes [EventTicketRaised], in one unit of work. Errors: a
// [*crm.ValidationError] naming the field for a bad ticket or an unknown
// policy, [crm.ErrAlreadyExists] for a repeated ID,
// [crm.ErrUnsupported] when a timer must start on a store without
// workflow's ports. It is [Service.CreateTx] in a unit of work of its own.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*crm.Ticket, error) {
	var out *crm.Ticket
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.CreateTx(ctx, tx, req)
		return err
	}, func(err error) error { return fmt.Errorf("ticket: create: %w", err) })
	return out, err
}

// CreateTx is [Service.Create] inside a unit of work the caller holds
// ([crm.Store.InTx], or a host's own transaction such as pgstore's
// Store.WithTx); it commits nothing. When it returns an error the caller
// must not commit what it wrote.
func (s *Service) CreateTx(ctx context.Context, tx crm.Tx, req CreateRequest) (*crm.Ticket, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "raise")
	if req.Ticket == nil {
		return nil, fmt.Errorf("ticket: create: %w", crm.Invalid("ticket", "is required"))
	}
	t := req.Ticket.Clone()
	out, err := s.create(ctx, tx, t, req)
	if err != nil {
		return nil, wrap("create", t.ID, err)
	}
	return out, nil
}

func (s *Service) create(ctx context.Context, tx crm.Tx, t *crm.Ticket, req CreateRequest) (*crm.Ticket, error) {
	var probs crm.Problems
	if t.Status != "" && t.Status != crm.TicketNew {
		probs.Add("status", "a ticket starts as new, not %s", truncate(string(t.Status), 32))
	}
	if t.ResolvedAt != nil || t.ClosedAt != nil || t.FirstResponseAt != nil {
		probs.Add("resolved_at", "a new ticket has no resolution, close or first response")
	}
	if t.Satisfaction != 0 {
		probs.Add("satisfaction", "is given at close, not at creation")
	}
	if t.SLATimerID != crm.NilID {
		probs.Add("sla_timer_id", "is set by the service")
	}
	if t.SLADueAt != nil {
		probs.Add("sla_due_at", "is set by the service")
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	if t.ID == crm.NilID {
		t.ID = s.cfg.IDs.NewID()
	}
	t.Normalise()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	policy := s.cfg.SLA[t.Priority]
	if req.Policy != "" {
		if policy = s.policies[req.Policy]; policy == nil {
			return nil, crm.Invalid("policy", "unknown SLA policy %q", truncate(req.Policy, 64))
		}
	}
	payload := RaisedPayload{TicketID: t.ID, Priority: t.Priority, Actor: req.Actor}
	if policy != nil {
		timer, err := s.startTimer(ctx, tx, policy, t.ID)
		if err != nil {
			return nil, err
		}
		t.SLATimerID, t.SLADueAt = timer.ID, slaDue(nil, timer)
		payload.Policy, payload.TimerID = policy.Name, timer.ID
		if !timer.DueAt.IsZero() {
			payload.DueAt = &timer.DueAt
		}
	}
	if err := tx.Tickets().Create(ctx, t); err != nil {
		return nil, err
	}
	if err := s.emit(ctx, tx, EventTicketRaised, t.ID, req.Actor, payload); err != nil {
		return nil, err
	}
	return t, nil
}

// startTimer starts and stores a new timer of policy on ticket id from
// now.
func (s *Service) startTimer(ctx context.Context, tx crm.Tx, policy *workflow.SLAPolicy, id crm.ID) (*workflow.Timer, error) {
	wt, err := workflowTx(tx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	timer, err := policy.Start(s.cfg.IDs.NewID(), crm.Ref{Type: crm.TypeTicket, ID: id}, now, now)
	if err != nil {
		return nil, fmt.Errorf("start sla timer: %w", err)
	}
	if err := wt.Timers().CreateTimer(ctx, &timer); err != nil {
		return nil, fmt.Errorf("store sla timer: %w", err)
	}
	return &timer, nil
}

// TransitionRequest asks to move a ticket to another status.
type TransitionRequest struct {
	TicketID crm.ID
	To       crm.TicketStatus
	// Actor is the user making the move; NilID for the system. A move out
	// of new by a user is the ticket's first response.
	Actor crm.ID
	// Reason explains the move; optional, at most 2000 bytes.
	Reason string
	// Version, when non-zero, must equal the ticket's current version, so
	// a move decided on a stale read is refused with [crm.ErrConflict].
	Version int64
}

// Moved is what a move did.
type Moved struct {
	// Ticket is the ticket as stored after the move.
	Ticket *crm.Ticket
	// Event is the payload of the event the move wrote.
	Event MovedPayload
	// Late are the SLA firings that were due but not yet ticked when a
	// resolution stopped the timer: workflow.StopTx wrote their
	// "sla.warned" or "sla.breached" events with the move. Their actions
	// are not carried out: the ticket is resolved.
	Late []workflow.Firing
}

// maxReason bounds a move's reason.
const maxReason = 2000

// Transition moves a ticket to req.To if the [Lifecycle] allows it, in one
// unit of work with its SLA timer and its event ([EventType]):
//
//   - out of new by a user: FirstResponseAt is set, once;
//   - to pending: the SLA timer pauses; back to open: it resumes;
//   - to resolved: ResolvedAt is set and the timer stops (firings already
//     due are recorded, see [Moved.Late]);
//   - resolved to open (a reopening): ResolvedAt is cleared and a new
//     timer starts under the old one's policy (or the priority's);
//   - to closed: ClosedAt is set; [Service.Close] records a satisfaction
//     score too.
//
// Each move that touches the timer sets [crm.Ticket.SLADueAt] from it
// (see [Service.BySLA]): nil while paused or stopped, the timer's
// deadline while it runs.
//
// Errors: [crm.ErrNotFound]; [crm.ErrConflict] for a stale req.Version,
// or when a concurrent Tick changed the timer (retry); a
// [*crm.ValidationError] naming the field ("status", "reason"); a
// [*TransitionError] ([crm.ErrFailedPrecondition]) for a move the
// lifecycle refuses. On any error nothing is stored. It is
// [Service.TransitionTx] in a unit of work of its own.
func (s *Service) Transition(ctx context.Context, req TransitionRequest) (*Moved, error) {
	var out *Moved
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.TransitionTx(ctx, tx, req)
		return err
	}, func(err error) error { return wrap("transition", req.TicketID, err) })
	return out, err
}

// TransitionTx is [Service.Transition] inside a unit of work the caller
// holds; it commits nothing. When it returns an error the caller must not
// commit what it wrote.
func (s *Service) TransitionTx(ctx context.Context, tx crm.Tx, req TransitionRequest) (*Moved, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "transition")
	out, err := s.move(ctx, tx, move{id: req.TicketID, to: req.To, actor: req.Actor, reason: req.Reason, version: req.Version})
	if err != nil {
		return nil, wrap("transition", req.TicketID, err)
	}
	return out, nil
}

// CloseRequest asks to close a resolved ticket.
type CloseRequest struct {
	TicketID crm.ID
	// Actor is the user closing the ticket; NilID for the system.
	Actor crm.ID
	// Satisfaction is the customer's score, 1 (worst) to 5 (best); 0 when
	// the customer gave none.
	Satisfaction int
	Reason       string
	// Version, when non-zero, must equal the ticket's current version.
	Version int64
}

// Close moves a resolved ticket to closed, setting ClosedAt and recording
// req.Satisfaction, and writes [EventTicketClosed], in one unit of work. A
// score outside 1-5 (other than 0) is a [*crm.ValidationError] on
// "satisfaction", and closing a ticket that is not resolved a
// [*TransitionError]; the other errors are [Service.Transition]'s. It is
// [Service.CloseTx] in a unit of work of its own.
func (s *Service) Close(ctx context.Context, req CloseRequest) (*Moved, error) {
	var out *Moved
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.CloseTx(ctx, tx, req)
		return err
	}, func(err error) error { return wrap("close", req.TicketID, err) })
	return out, err
}

// CloseTx is [Service.Close] inside a unit of work the caller holds; it
// commits nothing. When it returns an error the caller must not commit
// what it wrote.
func (s *Service) CloseTx(ctx context.Context, tx crm.Tx, req CloseRequest) (*Moved, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "close")
	if req.Satisfaction != 0 && (req.Satisfaction < crm.MinSatisfaction || req.Satisfaction > crm.MaxSatisfaction) {
		return nil, wrap("close", req.TicketID, crm.Invalid("satisfaction", "must be between %d and %d, or 0 for none, got %d", crm.MinSatisfaction, crm.MaxSatisfaction, req.Satisfaction))
	}
	out, err := s.move(ctx, tx, move{id: req.TicketID, to: crm.TicketClosed, actor: req.Actor, reason: req.Reason, version: req.Version, score: req.Satisfaction})
	if err != nil {
		return nil, wrap("close", req.TicketID, err)
	}
	return out, nil
}

// RespondRequest records an agent's answer to a ticket.
type RespondRequest struct {
	TicketID crm.ID
	// Actor is the agent who answered. Required: the system does not
	// respond.
	Actor crm.ID
	// Version, when non-zero, must equal the ticket's current version.
	Version int64
}

// Respond records that req.Actor answered the ticket: the first answer
// sets FirstResponseAt, and an answer to a new ticket opens it as well.
// It writes [EventTicketResponded] when it changed the ticket and nothing
// at all when the ticket was answered before and is not new (the ticket
// is returned as stored, with a zero Event). A missing actor is a
// [*crm.ValidationError] on "actor"; a closed ticket is refused with
// [crm.ErrFailedPrecondition]. It is [Service.RespondTx] in a unit of
// work of its own.
func (s *Service) Respond(ctx context.Context, req RespondRequest) (*Moved, error) {
	var out *Moved
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.RespondTx(ctx, tx, req)
		return err
	}, func(err error) error { return wrap("respond", req.TicketID, err) })
	return out, err
}

// RespondTx is [Service.Respond] inside a unit of work the caller holds;
// it commits nothing. When it returns an error the caller must not commit
// what it wrote.
func (s *Service) RespondTx(ctx context.Context, tx crm.Tx, req RespondRequest) (*Moved, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "respond")
	out, err := s.respond(ctx, tx, req)
	if err != nil {
		return nil, wrap("respond", req.TicketID, err)
	}
	return out, nil
}

func (s *Service) respond(ctx context.Context, tx crm.Tx, req RespondRequest) (*Moved, error) {
	if req.Actor == crm.NilID {
		return nil, crm.Invalid("actor", "is required: a response is an agent's")
	}
	t, err := s.load(ctx, tx, req.TicketID, req.Version)
	if err != nil {
		return nil, err
	}
	from := statusOr(t.Status)
	switch {
	case from == crm.TicketNew:
		return s.apply(ctx, tx, t, move{id: t.ID, to: crm.TicketOpen, actor: req.Actor}, EventTicketResponded)
	case from == crm.TicketClosed:
		return nil, fmt.Errorf("ticket %s is closed: %w", t.ID, crm.ErrFailedPrecondition)
	case t.FirstResponseAt != nil:
		return &Moved{Ticket: t}, nil
	}
	now := crm.StorageTime(s.cfg.Clock.Now())
	t.FirstResponseAt = &now
	if err := tx.Tickets().Update(ctx, t); err != nil {
		return nil, err
	}
	p := MovedPayload{TicketID: t.ID, From: from, To: from, Actor: req.Actor, At: *t.FirstResponseAt, FirstResponse: true}
	if err := s.emit(ctx, tx, EventTicketResponded, t.ID, req.Actor, p); err != nil {
		return nil, err
	}
	return &Moved{Ticket: t, Event: p}, nil
}

// move is one status move asked for.
type move struct {
	id      crm.ID
	to      crm.TicketStatus
	actor   crm.ID
	reason  string
	version int64
	score   int
}

func (s *Service) load(ctx context.Context, tx crm.Tx, id crm.ID, version int64) (*crm.Ticket, error) {
	t, err := tx.Tickets().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != 0 && version != t.Version {
		return nil, fmt.Errorf("ticket %s is at version %d, not %d: %w", t.ID, t.Version, version, crm.ErrConflict)
	}
	return t, nil
}

func (s *Service) move(ctx context.Context, tx crm.Tx, m move) (*Moved, error) {
	if len(m.reason) > maxReason || strings.IndexByte(m.reason, 0) >= 0 {
		return nil, crm.Invalid("reason", "must be text without NUL bytes, at most %d bytes", maxReason)
	}
	t, err := s.load(ctx, tx, m.id, m.version)
	if err != nil {
		return nil, err
	}
	return s.apply(ctx, tx, t, m, "")
}

// apply checks and makes move m of t and writes its event (typ, or the
// move's own [EventType] when empty).
func (s *Service) apply(ctx context.Context, tx crm.Tx, t *crm.Ticket, m move, typ crm.EventType) (*Moved, error) {
	now := crm.StorageTime(s.cfg.Clock.Now())
	from := statusOr(t.Status)
	if err := s.cfg.Lifecycle.Check(t, m.to, now); err != nil {
		return nil, err
	}
	if typ == "" {
		typ = EventType(from, m.to)
	}
	p := MovedPayload{TicketID: t.ID, From: from, To: m.to, Actor: m.actor, At: now, Reason: strings.TrimSpace(m.reason), Satisfaction: m.score}
	out := &Moved{}
	var err error
	if from == crm.TicketNew && m.actor != crm.NilID && t.FirstResponseAt == nil {
		t.FirstResponseAt, p.FirstResponse = &now, true
	}
	switch {
	case m.to == crm.TicketPending:
		p.TimerID, p.Timer, err = s.pauseTimer(ctx, tx, t, now)
	case m.to == crm.TicketOpen && from == crm.TicketPending:
		p.TimerID, p.Timer, err = s.resumeTimer(ctx, tx, t, now)
	case m.to == crm.TicketResolved:
		t.ResolvedAt = &now
		p.TimerID, out.Late, err = s.stopTimer(ctx, tx, t, now)
		if p.TimerID != crm.NilID {
			p.Timer = TimerStopped
		}
	case m.to == crm.TicketOpen && from == crm.TicketResolved:
		t.ResolvedAt = nil
		p.TimerID, err = s.restartTimer(ctx, tx, t)
		if p.TimerID != crm.NilID {
			p.Timer = TimerStarted
		}
	case m.to == crm.TicketClosed:
		// The timer stopped at resolution: a closed ticket is in no queue.
		t.ClosedAt, t.Satisfaction, t.SLADueAt = &now, m.score, nil
	}
	if err != nil {
		return nil, err
	}
	t.Status = m.to
	if err := tx.Tickets().Update(ctx, t); err != nil {
		return nil, err
	}
	if err := s.emit(ctx, tx, typ, t.ID, m.actor, p); err != nil {
		return nil, err
	}
	out.Ticket, out.Event = t, p
	return out, nil
}

// timer loads the ticket's current timer and its policy; nil when the
// ticket runs none.
func (s *Service) timer(ctx context.Context, tx crm.Tx, t *crm.Ticket) (workflow.Tx, *workflow.Timer, *workflow.SLAPolicy, error) {
	if t.SLATimerID == crm.NilID {
		return nil, nil, nil, nil
	}
	wt, err := workflowTx(tx)
	if err != nil {
		return nil, nil, nil, err
	}
	timer, err := wt.Timers().GetTimer(ctx, t.SLATimerID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read sla timer %s: %w", t.SLATimerID, err)
	}
	p := s.policies[timer.Policy]
	if p == nil {
		return nil, nil, nil, fmt.Errorf("sla timer %s runs under policy %q, which the service does not know: %w", timer.ID, timer.Policy, crm.ErrFailedPrecondition)
	}
	return wt, timer, p, nil
}

// pauseTimer pauses the ticket's running timer; a paused or stopped one
// (a host stopped it) is left alone. Either way SLADueAt follows the
// timer.
func (s *Service) pauseTimer(ctx context.Context, tx crm.Tx, t *crm.Ticket, now time.Time) (crm.ID, string, error) {
	wt, timer, p, err := s.timer(ctx, tx, t)
	if err != nil {
		return crm.NilID, "", err
	}
	defer func() { t.SLADueAt = slaDue(t.SLADueAt, timer) }()
	if timer == nil || timer.Stopped || timer.RunningSince.IsZero() {
		return crm.NilID, "", nil
	}
	if err := p.Pause(timer, now); err != nil {
		return crm.NilID, "", fmt.Errorf("pause sla timer %s: %w", timer.ID, err)
	}
	if err := wt.Timers().UpdateTimer(ctx, timer); err != nil {
		return crm.NilID, "", fmt.Errorf("store sla timer %s: %w", timer.ID, err)
	}
	return timer.ID, TimerPaused, nil
}

// resumeTimer resumes the ticket's paused timer; a running or stopped one
// is left alone. Either way SLADueAt follows the timer.
func (s *Service) resumeTimer(ctx context.Context, tx crm.Tx, t *crm.Ticket, now time.Time) (crm.ID, string, error) {
	wt, timer, p, err := s.timer(ctx, tx, t)
	if err != nil {
		return crm.NilID, "", err
	}
	defer func() { t.SLADueAt = slaDue(t.SLADueAt, timer) }()
	if timer == nil || timer.Stopped || !timer.RunningSince.IsZero() {
		return crm.NilID, "", nil
	}
	if err := p.Resume(timer, now); err != nil {
		return crm.NilID, "", fmt.Errorf("resume sla timer %s: %w", timer.ID, err)
	}
	if err := wt.Timers().UpdateTimer(ctx, timer); err != nil {
		return crm.NilID, "", fmt.Errorf("store sla timer %s: %w", timer.ID, err)
	}
	return timer.ID, TimerResumed, nil
}

// stopTimer stops the ticket's timer with [workflow.StopTx], which stores
// the events of firings that were due and returns them. The ticket leaves
// the SLA queue (SLADueAt nil) whether or not a timer ran.
func (s *Service) stopTimer(ctx context.Context, tx crm.Tx, t *crm.Ticket, now time.Time) (crm.ID, []workflow.Firing, error) {
	wt, timer, p, err := s.timer(ctx, tx, t)
	if err != nil {
		return crm.NilID, nil, err
	}
	t.SLADueAt = nil
	if timer == nil || timer.Stopped {
		return crm.NilID, nil, nil
	}
	late, err := workflow.StopTx(ctx, wt, s.cfg.IDs, p, timer.ID, now)
	if err != nil {
		return crm.NilID, nil, err
	}
	return timer.ID, late, nil
}

// restartTimer starts a new timer for a reopened ticket under the policy
// of its last timer, or of its priority, and links it to the ticket with
// its deadline.
func (s *Service) restartTimer(ctx context.Context, tx crm.Tx, t *crm.Ticket) (crm.ID, error) {
	policy := s.cfg.SLA[t.Priority]
	if t.SLATimerID != crm.NilID {
		_, old, p, err := s.timer(ctx, tx, t)
		if err != nil {
			return crm.NilID, err
		}
		if !old.Stopped {
			return crm.NilID, fmt.Errorf("sla timer %s of a resolved ticket still runs: %w", old.ID, crm.ErrFailedPrecondition)
		}
		policy = p
	}
	t.SLADueAt = nil
	if policy == nil {
		return crm.NilID, nil
	}
	timer, err := s.startTimer(ctx, tx, policy, t.ID)
	if err != nil {
		return crm.NilID, err
	}
	t.SLATimerID, t.SLADueAt = timer.ID, slaDue(nil, timer)
	return timer.ID, nil
}

// slaDue returns a ticket's [crm.Ticket.SLADueAt] for its timer (nil for
// none), given the value it had (prev): nil unless the timer runs; while
// it runs, its deadline (DueAt), at storage precision. A breached timer
// has no DueAt left: a ticket keeps the deadline it missed, and one whose
// breached timer resumes after a pause is overdue from the resumption
// (the timer keeps no earlier instant).
func slaDue(prev *time.Time, timer *workflow.Timer) *time.Time {
	var at time.Time
	switch {
	case timer == nil || timer.Stopped || timer.RunningSince.IsZero():
		return nil
	case !timer.DueAt.IsZero():
		at = timer.DueAt
	case prev != nil:
		at = *prev
	default:
		at = timer.RunningSince
	}
	at = crm.StorageTime(at)
	return &at
}

func (s *Service) emit(ctx context.Context, tx crm.Tx, typ crm.EventType, id crm.ID, actor crm.ID, payload any) error {
	ev, err := crm.NewEvent(s.cfg.IDs, s.cfg.Clock, typ, crm.Ref{Type: crm.TypeTicket, ID: id}, actor, payload)
	if err != nil {
		return err
	}
	if err := tx.Events().Append(ctx, &ev); err != nil {
		return fmt.Errorf("append %s event: %w", typ, err)
	}
	return nil
}
