package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// SLAPolicy is a service-level target measured in business time, such as
// "first response within 4 business hours, warn after 3". It is immutable
// and safe for concurrent use.
type SLAPolicy struct {
	// Name identifies the policy, such as "first_response".
	Name string
	// Target is the business time allowed; Warn (optional, below Target)
	// when to warn.
	Target, Warn time.Duration
	// Calendar measures business time; nil means every hour counts.
	Calendar *calendar.Calendar
	// OnWarn and OnBreach are the actions a firing asks the host to perform
	// (notify the agent, create a task for the team lead).
	OnWarn, OnBreach []ActionSpec
}

func (p *SLAPolicy) validate() error {
	var errs crm.ValidationErrors
	if !crm.ValidName(p.Name) {
		errs = append(errs, crm.Invalid("name", "must be 1-64 lower-case letters, digits or underscores, starting with a letter"))
	}
	if p.Target <= 0 {
		errs = append(errs, crm.Invalid("target", "must be positive"))
	}
	if p.Warn < 0 || p.Warn >= p.Target && p.Warn != 0 {
		errs = append(errs, crm.Invalid("warn", "must be between 0 and the target"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (p *SLAPolicy) add(t time.Time, d time.Duration) (time.Time, error) {
	if p.Calendar == nil {
		return t.Add(d), nil
	}
	return p.Calendar.Add(t, d)
}

func (p *SLAPolicy) between(a, b time.Time) time.Duration {
	if p.Calendar == nil {
		return b.Sub(a)
	}
	return p.Calendar.Between(a, b)
}

// Timer tracks one SLA target on one record. It is a plain value; the
// [SLAPolicy] methods change it, and adapters store it with optimistic
// versions.
type Timer struct {
	ID       crm.ID  `json:"id"`
	TenantID string  `json:"tenant_id,omitempty"`
	Version  int64   `json:"version"`
	Record   crm.Ref `json:"record"`
	Policy   string  `json:"policy"`
	// Consumed is the business time used before the current run.
	Consumed time.Duration `json:"consumed"`
	// RunningSince is when the current run started; zero while paused or
	// stopped.
	RunningSince time.Time `json:"running_since,omitzero"`
	// WarnAt and DueAt are when the warning and the breach fire; zero when
	// stopped, already fired, or paused before they were due.
	WarnAt   time.Time `json:"warn_at,omitzero"`
	DueAt    time.Time `json:"due_at,omitzero"`
	Warned   bool      `json:"warned,omitempty"`
	Breached bool      `json:"breached,omitempty"`
	Stopped  bool      `json:"stopped,omitempty"`
}

// NextAt returns the next instant the timer fires, zero when none.
func (t *Timer) NextAt() time.Time {
	switch {
	case !t.WarnAt.IsZero():
		return t.WarnAt
	default:
		return t.DueAt
	}
}

// Start returns a running timer for record from start. A timer whose due
// time is already before now is refused ([*crm.ValidationError] on
// "start"): it would be born breached, which means the start is wrong.
func (p *SLAPolicy) Start(id crm.ID, record crm.Ref, start, now time.Time) (Timer, error) {
	if err := p.validate(); err != nil {
		return Timer{}, fmt.Errorf("workflow: sla policy: %w", err)
	}
	if id == crm.NilID || record.ID == crm.NilID || record.Type == "" {
		return Timer{}, crm.Invalid("record", "timer id and record are required")
	}
	t := Timer{ID: id, Record: record, Policy: p.Name}
	if err := p.run(&t, start); err != nil {
		return Timer{}, err
	}
	if t.DueAt.Before(now) {
		return Timer{}, crm.Invalid("start", "the timer would be due at %s, before now %s", t.DueAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// run starts a run at from and computes the fire instants. A warning or
// breach whose business time is already used up and that has not fired
// yet stays due: at the instant kept by [SLAPolicy.Pause], else at from.
func (p *SLAPolicy) run(t *Timer, from time.Time) error {
	due, err := p.instant(t.DueAt, from, p.Target-t.Consumed)
	if err != nil {
		return fmt.Errorf("workflow: sla %s due time: %w", p.Name, err)
	}
	warn := time.Time{}
	if p.Warn > 0 && !t.Warned {
		if warn, err = p.instant(t.WarnAt, from, p.Warn-t.Consumed); err != nil {
			return fmt.Errorf("workflow: sla %s warning time: %w", p.Name, err)
		}
	}
	if t.Breached {
		due = time.Time{}
	}
	t.RunningSince, t.DueAt, t.WarnAt = from, due, warn
	return nil
}

// instant returns when left business time is used up from from; when none
// is left the firing is overdue and fires at kept (its unfired instant) or
// at from.
func (p *SLAPolicy) instant(kept, from time.Time, left time.Duration) (time.Time, error) {
	switch {
	case left > 0:
		return p.add(from, left)
	case !kept.IsZero():
		return kept, nil
	}
	return from, nil
}

// Pause stops the clock, for example while waiting on the customer. A
// warning or breach already due at now that no Tick has fired yet stays
// due, so pausing never swallows it. Pausing a paused or stopped timer is
// [crm.ErrFailedPrecondition].
func (p *SLAPolicy) Pause(t *Timer, now time.Time) error {
	if t.Stopped || t.RunningSince.IsZero() {
		return fmt.Errorf("workflow: sla timer %s is not running: %w", t.ID, crm.ErrFailedPrecondition)
	}
	if now.Before(t.RunningSince) {
		return crm.Invalid("now", "is before the timer's run started")
	}
	t.Consumed += p.between(t.RunningSince, now)
	t.RunningSince = time.Time{}
	if now.Before(t.WarnAt) {
		t.WarnAt = time.Time{}
	}
	if now.Before(t.DueAt) {
		t.DueAt = time.Time{}
	}
	return nil
}

// Resume restarts a paused timer at now with the business time left; a
// firing whose time is used up fires at the next Tick.
func (p *SLAPolicy) Resume(t *Timer, now time.Time) error {
	if t.Stopped || !t.RunningSince.IsZero() {
		return fmt.Errorf("workflow: sla timer %s is not paused: %w", t.ID, crm.ErrFailedPrecondition)
	}
	return p.run(t, now)
}

// Stop ends the timer (the response was given, the ticket resolved). A
// warning or breach already due at now that no Tick has fired yet is
// returned and marked fired on the timer, so a late answer still counts as
// a breach: the caller stores its event ([Firing.Event]) with the timer in
// the same unit of work. Stopping a stopped timer changes nothing.
func (p *SLAPolicy) Stop(t *Timer, now time.Time) []Firing {
	if t.Stopped {
		return nil
	}
	fired := t.due(now, nil)
	for _, f := range fired {
		t.Fire(f)
	}
	if !t.RunningSince.IsZero() && now.After(t.RunningSince) {
		t.Consumed += p.between(t.RunningSince, now)
	}
	t.Stopped, t.RunningSince, t.WarnAt, t.DueAt = true, time.Time{}, time.Time{}, time.Time{}
	return fired
}

// Actions returns what firing f asks the host to do under this policy:
// OnWarn for a warning, OnBreach for a breach (such as a task for the team
// lead), or nil when f belongs to another policy. The slice is a copy.
func (p *SLAPolicy) Actions(f Firing) []ActionSpec {
	switch {
	case f.Policy != p.Name:
		return nil
	case f.Kind == FiringWarning:
		return slices.Clone(p.OnWarn)
	case f.Kind == FiringBreach:
		return slices.Clone(p.OnBreach)
	}
	return nil
}

// Firing kinds.
const (
	FiringWarning = "warning"
	FiringBreach  = "breach"
)

// Firing is one SLA event due: a warning or a breach of a timer.
type Firing struct {
	TimerID  crm.ID
	TenantID string
	Record   crm.Ref
	Policy   string
	Kind     string
	// At is the instant the firing was due (the timer's WarnAt or DueAt).
	At time.Time
}

// Due returns what fires at now among timers, without changing them:
// warnings and breaches whose instant is at or before now. It is pure.
func Due(timers []Timer, now time.Time) []Firing {
	var out []Firing
	for i := range timers {
		out = timers[i].due(now, out)
	}
	return out
}

func (t *Timer) due(now time.Time, out []Firing) []Firing {
	if !t.WarnAt.IsZero() && !now.Before(t.WarnAt) {
		out = append(out, Firing{TimerID: t.ID, TenantID: t.TenantID, Record: t.Record, Policy: t.Policy, Kind: FiringWarning, At: t.WarnAt})
	}
	if !t.DueAt.IsZero() && !now.Before(t.DueAt) {
		out = append(out, Firing{TimerID: t.ID, TenantID: t.TenantID, Record: t.Record, Policy: t.Policy, Kind: FiringBreach, At: t.DueAt})
	}
	return out
}

// Fire marks a firing done on its timer, so it never fires twice.
func (t *Timer) Fire(f Firing) {
	switch f.Kind {
	case FiringWarning:
		t.Warned, t.WarnAt = true, time.Time{}
	case FiringBreach:
		t.Breached, t.DueAt = true, time.Time{}
	}
}

// Validate reports what makes a timer unfit to store: a missing ID, record
// or policy, negative consumed time, or fire instants on a stopped timer.
// Adapters call it on create and update.
func (t *Timer) Validate() error {
	var errs crm.ValidationErrors
	if t.ID == crm.NilID {
		errs = append(errs, crm.Invalid("id", "is required"))
	}
	if t.Record.Type == "" || t.Record.ID == crm.NilID {
		errs = append(errs, crm.Invalid("record", "type and id are required"))
	}
	if !crm.ValidName(t.Policy) {
		errs = append(errs, crm.Invalid("policy", "must be 1-64 lower-case letters, digits or underscores, starting with a letter"))
	}
	if t.Consumed < 0 {
		errs = append(errs, crm.Invalid("consumed", "must not be negative"))
	}
	if t.Stopped && (!t.WarnAt.IsZero() || !t.DueAt.IsZero()) {
		errs = append(errs, crm.Invalid("stopped", "a stopped timer has no warning or due time"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// TimerStore is the storage port for SLA timers. Implementations are safe
// for concurrent use; tenancy comes from the context as for every crm port;
// every method returns the context's error (wrapped) when ctx ends, writing
// nothing. Results are copies the caller owns, and values passed in are
// copied. Times are stored as [crm.StorageTime].
type TimerStore interface {
	// CreateTimer validates ([Timer.Validate]) and stores a new timer with
	// Version 1 and TenantID from the context when empty (both written
	// back); a repeated ID is [crm.ErrAlreadyExists].
	CreateTimer(ctx context.Context, t *Timer) error
	// GetTimer returns a timer or [crm.ErrNotFound].
	GetTimer(ctx context.Context, id crm.ID) (*Timer, error)
	// UpdateTimer stores t if t.Version is current (then increments it,
	// written back), else [crm.ErrConflict]; [crm.ErrNotFound] if it does
	// not exist.
	UpdateTimer(ctx context.Context, t *Timer) error
	// UpdateTimers is UpdateTimer for many timers at once, all or nothing:
	// when any timer is missing or stale it returns [crm.ErrConflict] (or
	// [crm.ErrNotFound]) and writes none. It exists so that Tick stores a
	// batch with one set-based statement on SQL adapters.
	UpdateTimers(ctx context.Context, ts []*Timer) error
	// ClaimDue returns up to limit timers whose warning or due instant is
	// at or before now, earliest first. Inside a unit of work they stay
	// locked until it ends, and timers another unit of work holds are
	// skipped, not waited for (PostgreSQL: FOR UPDATE SKIP LOCKED), so
	// many instances tick at once without firing anything twice.
	ClaimDue(ctx context.Context, now time.Time, limit int) ([]*Timer, error)
}

// TickTx is what [Tick] needs of a unit of work: the timer port and the
// outbox. [Tx] satisfies it.
type TickTx interface {
	Timers() TimerStore
	Events() crm.EventWriter
}

// MaxTickLimit bounds the timers one [Tick] claims, so one unit of work
// stays short enough not to hold locks for long.
const MaxTickLimit = 10000

// Tick fires what is due at now inside the unit of work tx: it claims up to
// limit due timers ([TimerStore.ClaimDue]), marks each firing on its timer,
// stores the timers with one [TimerStore.UpdateTimers], and appends one
// event per firing ([Firing.EventType], IDs from ids) through tx.Events(),
// so timers and events commit together or not at all. It returns the
// firings for the caller to act on (its policies' OnWarn and OnBreach) in
// the same unit of work.
//
// Run it inside [crm.Store.InTx]: claims then hold until commit, so Tick is
// safe from many goroutines and application instances at once, and every
// due firing fires exactly once. A repeated Tick at the same now fires
// nothing again. Outside a unit of work a concurrent Tick may make the
// update fail with [crm.ErrConflict]; nothing is then written.
func Tick(ctx context.Context, tx TickTx, ids crm.IDGenerator, now time.Time, limit int) ([]Firing, error) {
	if tx == nil || ids == nil {
		return nil, crm.Invalid("tx", "a unit of work and an id generator are required")
	}
	if limit < 1 || limit > MaxTickLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", MaxTickLimit, limit)
	}
	if now.IsZero() {
		return nil, crm.Invalid("now", "is required")
	}
	store := tx.Timers()
	timers, err := store.ClaimDue(ctx, now, limit)
	if err != nil {
		return nil, fmt.Errorf("workflow: tick: claim: %w", err)
	}
	var out []Firing
	changed := timers[:0]
	for _, t := range timers {
		n := len(out)
		out = t.due(now, out)
		if len(out) == n {
			continue
		}
		for _, f := range out[n:] {
			t.Fire(f)
		}
		changed = append(changed, t)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	if err := store.UpdateTimers(ctx, changed); err != nil {
		return nil, fmt.Errorf("workflow: tick: store timers: %w", err)
	}
	events := make([]crm.Event, len(out))
	ptrs := make([]*crm.Event, len(out))
	for i := range out {
		if events[i], err = out[i].Event(ids, now); err != nil {
			return nil, fmt.Errorf("workflow: tick: %w", err)
		}
		ptrs[i] = &events[i]
	}
	if err := tx.Events().Append(ctx, ptrs...); err != nil {
		return nil, fmt.Errorf("workflow: tick: append events: %w", err)
	}
	return out, nil
}

// StopTx stops the stored timer id under policy p inside the unit of work
// tx ([SLAPolicy.Stop]): it loads the timer, stops it at now, stores it
// (compare-and-swap on its Version: a Tick that fired it meanwhile makes
// this [crm.ErrConflict], and the caller retries) and appends one event per
// firing that was due but not yet ticked, so a late answer is recorded as
// a breach in the outbox. It returns those firings for the caller to act
// on ([SLAPolicy.Actions]). Stopping a stopped timer writes nothing.
func StopTx(ctx context.Context, tx TickTx, ids crm.IDGenerator, p *SLAPolicy, id crm.ID, now time.Time) ([]Firing, error) {
	switch {
	case tx == nil || ids == nil || p == nil:
		return nil, crm.Invalid("tx", "a unit of work, an id generator and a policy are required")
	case now.IsZero():
		return nil, crm.Invalid("now", "is required")
	}
	t, err := tx.Timers().GetTimer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("workflow: stop timer %s: %w", id, err)
	}
	if t.Policy != p.Name {
		return nil, crm.Invalid("policy", "timer %s runs under %s, not %s", id, t.Policy, p.Name)
	}
	if t.Stopped {
		return nil, nil
	}
	fired := p.Stop(t, now)
	if err := tx.Timers().UpdateTimer(ctx, t); err != nil {
		return nil, fmt.Errorf("workflow: stop timer %s: %w", id, err)
	}
	if len(fired) == 0 {
		return nil, nil
	}
	events := make([]crm.Event, len(fired))
	ptrs := make([]*crm.Event, len(fired))
	for i := range fired {
		if events[i], err = fired[i].Event(ids, now); err != nil {
			return nil, fmt.Errorf("workflow: stop timer %s: %w", id, err)
		}
		ptrs[i] = &events[i]
	}
	if err := tx.Events().Append(ctx, ptrs...); err != nil {
		return nil, fmt.Errorf("workflow: stop timer %s: append events: %w", id, err)
	}
	return fired, nil
}

// RecordTypeSLA is the subject type of SLA events; the subject ID is the
// timer's.
const RecordTypeSLA crm.RecordType = "sla"

// SLA event types, written by [Tick] for each [Firing] with the timer as
// subject and the system as actor.
const (
	// EventSLAWarned: a timer reached its warning; payload [SLAWarnedPayload].
	EventSLAWarned crm.EventType = "sla.warned"
	// EventSLABreached: a timer reached its deadline; payload
	// [SLABreachedPayload].
	EventSLABreached crm.EventType = "sla.breached"
)

// SLAPayload is the payload of SLA events: the record the timer watches,
// its policy, the kind of firing and the instant it was due (UTC).
type SLAPayload struct {
	Record crm.Ref `json:"record"`
	Policy string  `json:"policy"`
	// Kind is [FiringWarning] or [FiringBreach].
	Kind  string    `json:"kind"`
	DueAt time.Time `json:"due_at"`
}

// Payload types of the SLA events, one name per event type.
type (
	// SLAWarnedPayload is the payload of [EventSLAWarned].
	SLAWarnedPayload = SLAPayload
	// SLABreachedPayload is the payload of [EventSLABreached].
	SLABreachedPayload = SLAPayload
)

// Event returns the outbox event of a firing that happened at now: type
// [Firing.EventType], subject the timer ([RecordTypeSLA]), actor the system,
// and a payload with the record, policy, kind and the instant it was due.
func (f Firing) Event(ids crm.IDGenerator, now time.Time) (crm.Event, error) {
	payload, err := json.Marshal(SLAPayload{Record: f.Record, Policy: f.Policy, Kind: f.Kind, DueAt: f.At.UTC()})
	if err != nil {
		return crm.Event{}, fmt.Errorf("encode %s payload: %w", f.EventType(), err)
	}
	e := crm.Event{ID: ids.NewID(), TenantID: f.TenantID, Type: f.EventType(), Subject: crm.Ref{Type: RecordTypeSLA, ID: f.TimerID},
		OccurredAt: now, Payload: payload}
	return e, e.Validate()
}

// EventType returns the event type of a firing: "sla.warned" or
// "sla.breached".
func (f Firing) EventType() crm.EventType {
	if f.Kind == FiringWarning {
		return EventSLAWarned
	}
	return EventSLABreached
}

// Tx is what a unit of work offers workflow when the adapter supports it:
// the shared ports plus routing state, SLA timers, approvals and hand-off
// states. Hosts find it by type assertion on the [crm.Tx] passed to
// [crm.Store.InTx]; an adapter without it does not support workflow
// storage ([crm.ErrUnsupported]).
type Tx interface {
	crm.Tx
	// Routing returns the routing-state port bound to the unit of work.
	Routing() RoutingStore
	// Timers returns the SLA-timer port bound to the unit of work.
	Timers() TimerStore
	// ApprovalDefinitions returns the approval-chain port bound to the
	// unit of work.
	ApprovalDefinitions() ApprovalDefinitions
	// ApprovalInstances returns the approval-request port bound to the
	// unit of work.
	ApprovalInstances() ApprovalInstances
	// Handoffs returns the hand-off state port bound to the unit of work.
	Handoffs() HandoffStore
}

// TxOf returns tx as a workflow [Tx], or an error matching
// [crm.ErrUnsupported] when the adapter lacks workflow storage.
func TxOf(tx crm.Tx) (Tx, error) {
	if w, ok := tx.(Tx); ok {
		return w, nil
	}
	w, ok := crm.As[Tx](tx)
	if !ok {
		return nil, fmt.Errorf("workflow: storage adapter %T has no workflow ports: %w", tx, crm.ErrUnsupported)
	}
	return joinedTx{Tx: tx, ports: w}, nil
}

// joinedTx is a wrapped unit of work seen as a workflow [Tx]: the shared
// records through the wrapper, so a recording wrapper (package history)
// sees every write, and the workflow ports of the adapter inside it.
type joinedTx struct {
	crm.Tx
	ports Tx
}

// Routing implements [Tx].
func (j joinedTx) Routing() RoutingStore { return j.ports.Routing() }

// Timers implements [Tx].
func (j joinedTx) Timers() TimerStore { return j.ports.Timers() }

// ApprovalDefinitions implements [Tx].
func (j joinedTx) ApprovalDefinitions() ApprovalDefinitions { return j.ports.ApprovalDefinitions() }

// ApprovalInstances implements [Tx].
func (j joinedTx) ApprovalInstances() ApprovalInstances { return j.ports.ApprovalInstances() }

// Handoffs implements [Tx].
func (j joinedTx) Handoffs() HandoffStore { return j.ports.Handoffs() }

// Unwrap implements [crm.TxWrapper].
func (j joinedTx) Unwrap() crm.Tx { return j.Tx }
