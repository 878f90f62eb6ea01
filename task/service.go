package task

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// OverlapPolicy says what an appointment overlapping another open
// appointment of its assignee does.
type OverlapPolicy string

// Overlap policies.
const (
	// OverlapWarn stores the appointment and lists the overlaps in the
	// result.
	OverlapWarn OverlapPolicy = "warn"
	// OverlapRefuse refuses the appointment with an [*OverlapError].
	OverlapRefuse OverlapPolicy = "refuse"
)

// Errors of task operations. Each matches a crm sentinel too.
var (
	// ErrNotOpen: the task is done or cancelled; only open tasks are
	// completed, cancelled or rescheduled.
	ErrNotOpen = fmt.Errorf("%w: task is not open", crm.ErrFailedPrecondition)
	// ErrOverlap: an appointment overlaps another open appointment of its
	// assignee under [OverlapRefuse]; see [*OverlapError].
	ErrOverlap = fmt.Errorf("%w: appointment overlaps another of its assignee", crm.ErrFailedPrecondition)
)

// Overlap is another open appointment of the same assignee sharing time
// with the one being booked.
type Overlap struct {
	TaskID  crm.ID    `json:"task_id"`
	Title   string    `json:"title"`
	StartAt time.Time `json:"start_at"`
	EndAt   time.Time `json:"end_at"`
}

// OverlapError refuses an appointment that overlaps others of its
// assignee ([OverlapRefuse]). It matches [ErrOverlap] and
// [crm.ErrFailedPrecondition]: the calendar, not the request, stands in
// the way, and moving either appointment lets it through.
type OverlapError struct {
	AssigneeID crm.ID
	// Overlaps lists the appointments in the way, earliest first.
	Overlaps []Overlap
}

// Error implements error. It carries no package prefix: the [Service]
// returns it wrapped in "task: <operation>: ".
func (e *OverlapError) Error() string {
	ids := make([]string, len(e.Overlaps))
	for i, o := range e.Overlaps {
		ids[i] = o.TaskID.String()
	}
	return fmt.Sprintf("appointment of %s overlaps %d open appointment(s): %s", e.AssigneeID, len(e.Overlaps), strings.Join(ids, ", "))
}

// Is reports whether target is [ErrOverlap] or [crm.ErrFailedPrecondition].
func (e *OverlapError) Is(target error) bool {
	return target == ErrOverlap || target == crm.ErrFailedPrecondition
}

// CalendarLocker is an optional port of a unit of work: LockCalendar
// serialises the appointment bookings of one assignee until the unit of
// work ends, so that two concurrent bookings cannot both miss each other in
// the overlap check. pgstore takes a transaction-scoped advisory lock;
// memstore needs none (its units of work never interleave). The service
// finds it with [crm.As]; without it overlaps are checked without a lock,
// which is exact only on an adapter that serialises units of work.
type CalendarLocker interface {
	LockCalendar(ctx context.Context, assignee crm.ID) error
}

// Config configures a [Service]. The zero value and nil are valid.
type Config struct {
	// Clock tells the time: creation and completion times, and the
	// earliest due time. Defaults to crm.SystemClock.
	Clock crm.Clock
	// IDs makes the IDs of new tasks and of the next occurrences of
	// recurring ones. Defaults to crm.UUIDv7 on Clock.
	IDs crm.IDGenerator
	// OverlapPolicy decides what an appointment overlapping another open
	// appointment of its assignee does. Defaults to [OverlapWarn].
	OverlapPolicy OverlapPolicy
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	if c.OverlapPolicy == "" {
		c.OverlapPolicy = OverlapWarn
	}
	return c
}

func (c Config) validate() error {
	if c.OverlapPolicy != OverlapWarn && c.OverlapPolicy != OverlapRefuse {
		return crm.Invalid("overlap_policy", "must be warn or refuse, got %q", c.OverlapPolicy)
	}
	return nil
}

// Service plans, completes, cancels and reschedules tasks and
// appointments over a [crm.Store]. It is safe for concurrent use and
// starts no goroutines.
type Service struct {
	store crm.Store
	cfg   Config
}

// New returns a service over store. A nil cfg means defaults; a bad one is
// a [*crm.ValidationError] naming the field.
func New(store crm.Store, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("task: new: %w", crm.Invalid("store", "is required"))
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("task: new: %w", err)
	}
	return &Service{store: store, cfg: c}, nil
}

// inUnit runs a Tx form in a unit of work of its own.
func inUnit[Req, Out any](ctx context.Context, s *Service, req Req, fn func(context.Context, crm.Tx, Req) (Out, error)) (Out, error) {
	var out Out
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = fn(ctx, tx, req)
		return err
	})
	return out, err
}

func (s *Service) now() time.Time { return crm.StorageTime(s.cfg.Clock.Now()) }

// CreateRequest asks to plan a task or book an appointment.
type CreateRequest struct {
	// Task is the new task. Required. An ID of crm.NilID gets one from
	// the generator; Status must be empty or open. An appointment needs
	// StartAt and EndAt, and its DueAt, when zero, is set to StartAt. A
	// recurring task gets SeriesStart = DueAt and Occurrence = 1. An
	// empty DepartmentID gets the assignee's department, an empty
	// CreatedBy the Actor.
	Task *crm.Task
	// Actor is the user planning the task; crm.NilID for the system.
	Actor crm.ID
}

// CreateResult is a stored task and the appointments it overlaps.
type CreateResult struct {
	// Task is the stored task, a copy the caller owns.
	Task *crm.Task
	// Overlaps are the assignee's other open appointments sharing time
	// with this one, earliest first ([OverlapWarn]); empty for a to-do.
	Overlaps []Overlap
}

// Create stores a task in one unit of work; see [Service.CreateTx].
func (s *Service) Create(ctx context.Context, req CreateRequest) (*CreateResult, error) {
	return inUnit(ctx, s, req, s.CreateTx)
}

// CreateTx stores a new open task inside the caller's unit of work. Bad
// input is a [*crm.ValidationError] naming the field, with nothing
// written: a due time (an appointment's start_at) before now, a reminder
// after the due time, an appointment whose end_at is not after its start,
// a recurrence that never fires a second occurrence ("recurrence.until",
// "recurrence.count"), an unknown assignee or subject. An appointment
// overlapping another open appointment of its assignee is listed in
// [CreateResult.Overlaps], or refused with an [*OverlapError] under
// [OverlapRefuse]. On error the caller must roll back; req.Task is not
// modified.
func (s *Service) CreateTx(ctx context.Context, tx crm.Tx, req CreateRequest) (*CreateResult, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "create")
	fail := func(err error) (*CreateResult, error) { return nil, fmt.Errorf("task: create: %w", err) }
	if req.Task == nil {
		return fail(crm.Invalid("task", "is required"))
	}
	t := req.Task.Clone()
	if t.ID == crm.NilID {
		t.ID = s.cfg.IDs.NewID()
	}
	if t.Kind == crm.TaskAppointment && t.DueAt.IsZero() && t.StartAt != nil {
		t.DueAt = *t.StartAt
	}
	t.Normalise()
	if t.Status != crm.TaskOpen {
		return fail(crm.Invalid("status", "a new task is open, got %q", t.Status))
	}
	now := s.now()
	if !t.DueAt.IsZero() && t.DueAt.Before(now) {
		field := "due_at"
		if t.Kind == crm.TaskAppointment {
			field = "start_at"
		}
		return fail(crm.Invalid(field, "is before the creation time %s", now.Format(time.RFC3339)))
	}
	if t.Recurrence != nil {
		if t.SeriesStart == nil && !t.DueAt.IsZero() {
			start := t.DueAt
			t.SeriesStart = &start
		}
		if t.Occurrence == 0 {
			t.Occurrence = 1
		}
		t.Normalise()
	}
	if t.CreatedBy == crm.NilID {
		t.CreatedBy = req.Actor
	}
	if err := t.Validate(); err != nil {
		return fail(err)
	}
	if err := checkSubject(ctx, tx, t.Subject); err != nil {
		return fail(err)
	}
	assignee, err := tx.Users().Get(ctx, t.AssigneeID)
	if errors.Is(err, crm.ErrNotFound) {
		return fail(crm.Invalid("assignee_id", "unknown user %s", t.AssigneeID))
	}
	if err != nil {
		return fail(err)
	}
	if t.DepartmentID == crm.NilID {
		t.DepartmentID = assignee.DepartmentID
	}
	overlaps, err := s.checkOverlaps(ctx, tx, t)
	if err != nil {
		return fail(err)
	}
	if err := tx.Tasks().Create(ctx, t); err != nil {
		return fail(err)
	}
	return &CreateResult{Task: t.Clone(), Overlaps: overlaps}, nil
}

// checkSubject refuses a subject that is not stored.
func checkSubject(ctx context.Context, tx crm.Tx, ref crm.Ref) error {
	var err error
	switch ref.Type {
	case crm.TypeLead:
		_, err = tx.Leads().Get(ctx, ref.ID)
	case crm.TypeCustomer:
		_, err = tx.Customers().Get(ctx, ref.ID)
	case crm.TypeContact:
		_, err = tx.Contacts().Get(ctx, ref.ID)
	case crm.TypeOpportunity:
		_, err = tx.Opportunities().Get(ctx, ref.ID)
	case crm.TypeTicket:
		_, err = tx.Tickets().Get(ctx, ref.ID)
	}
	if errors.Is(err, crm.ErrNotFound) {
		return crm.Invalid("subject.id", "unknown %s %s", ref.Type, ref.ID)
	}
	return err
}

// checkOverlaps lists the open appointments of t's assignee that share
// time with t (an appointment), after locking the assignee's calendar
// where the adapter can; under OverlapRefuse any is an *OverlapError.
func (s *Service) checkOverlaps(ctx context.Context, tx crm.Tx, t *crm.Task) ([]Overlap, error) {
	if t.Kind != crm.TaskAppointment || t.StartAt == nil || t.EndAt == nil {
		return nil, nil
	}
	if l, ok := crm.As[CalendarLocker](tx); ok {
		if err := l.LockCalendar(ctx, t.AssigneeID); err != nil {
			return nil, err
		}
	}
	f := crm.TaskFilter{
		AssigneeIDs: []crm.ID{t.AssigneeID}, Statuses: []crm.TaskStatus{crm.TaskOpen},
		Kinds: []crm.TaskKind{crm.TaskAppointment}, Overlapping: &crm.Window{From: *t.StartAt, To: *t.EndAt},
	}
	var out []Overlap
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := tx.Tasks().List(ctx, f, page)
		if err != nil {
			return nil, err
		}
		for _, o := range got.Items {
			if o.ID != t.ID {
				out = append(out, Overlap{TaskID: o.ID, Title: o.Title, StartAt: *o.StartAt, EndAt: *o.EndAt})
			}
		}
		if got.NextCursor == "" {
			break
		}
		page.Cursor = got.NextCursor
	}
	sortOverlaps(out)
	if len(out) > 0 && s.cfg.OverlapPolicy == OverlapRefuse {
		return nil, &OverlapError{AssigneeID: t.AssigneeID, Overlaps: out}
	}
	return out, nil
}

func sortOverlaps(os []Overlap) {
	// Insertion sort: a calendar rarely holds more than a few overlaps.
	for i := 1; i < len(os); i++ {
		for j := i; j > 0 && os[j].StartAt.Before(os[j-1].StartAt); j-- {
			os[j], os[j-1] = os[j-1], os[j]
		}
	}
}

// openTask reads an open task at version (0: any).
func openTask(ctx context.Context, tx crm.Tx, id crm.ID, version int64) (*crm.Task, error) {
	if id == crm.NilID {
		return nil, crm.Invalid("task_id", "is required")
	}
	t, err := tx.Tasks().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != 0 && t.Version != version {
		return nil, fmt.Errorf("version %d is stale, stored version is %d: %w", version, t.Version, crm.ErrConflict)
	}
	if !t.Open() {
		return nil, ErrNotOpen
	}
	return t, nil
}

// CompleteRequest asks to mark a task done.
type CompleteRequest struct {
	// TaskID is the task. Required.
	TaskID crm.ID
	// Version, when not 0, must be the task's stored version
	// ([crm.ErrConflict] otherwise).
	Version int64
	// ActivityID is the stored activity that answered the task; crm.NilID
	// to mark it done without one.
	ActivityID crm.ID
	// Actor is the user completing it; crm.NilID for the system.
	Actor crm.ID
}

// CompleteResult is a done task and, for a recurring one, its next
// occurrence.
type CompleteResult struct {
	// Task is the done task, a copy the caller owns.
	Task *crm.Task
	// Next is the next occurrence of a recurring task, stored open in the
	// same unit of work; nil when there is none (a one-off, or the series
	// ended).
	Next *crm.Task
	// NextOverlaps are the appointments the next occurrence overlaps. A
	// next occurrence is stored whatever the overlap policy: a completion
	// never fails for a booking in the future.
	NextOverlaps []Overlap
}

// Complete marks a task done in one unit of work; see
// [Service.CompleteTx].
func (s *Service) Complete(ctx context.Context, req CompleteRequest) (*CompleteResult, error) {
	return inUnit(ctx, s, req, s.CompleteTx)
}

// CompleteTx marks an open task done inside the caller's unit of work:
// Status done, CompletedAt now, CompletedBy the activity. A recurring task
// gets its next occurrence in the same unit of work, due where the
// recurrence says, its reminder and appointment span moved by as much;
// occurrences already past due by now are skipped (a daily task completed
// three days late is due tomorrow, not three times today), and none is
// created once the series ends. Errors: [ErrNotOpen] (done or cancelled:
// of many concurrent completions exactly one wins, the others get it or
// [crm.ErrConflict]), [crm.ErrNotFound], [crm.ErrConflict] on a stale
// Version, a [*crm.ValidationError] on "activity_id" for an unknown
// activity. The activity's subject is not compared with the task's: the
// caller names the task the activity answers.
func (s *Service) CompleteTx(ctx context.Context, tx crm.Tx, req CompleteRequest) (*CompleteResult, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "complete")
	fail := func(err error) (*CompleteResult, error) {
		return nil, fmt.Errorf("task: complete %s: %w", req.TaskID, err)
	}
	t, err := openTask(ctx, tx, req.TaskID, req.Version)
	if err != nil {
		return fail(err)
	}
	if req.ActivityID != crm.NilID {
		if _, err := tx.Activities().Get(ctx, req.ActivityID); errors.Is(err, crm.ErrNotFound) {
			return fail(crm.Invalid("activity_id", "unknown activity %s", req.ActivityID))
		} else if err != nil {
			return fail(err)
		}
	}
	now := s.now()
	prev := t.Clone()
	t.Status, t.CompletedBy, t.CompletedAt = crm.TaskDone, req.ActivityID, &now
	if err := tx.Tasks().Update(ctx, t); err != nil {
		return fail(err)
	}
	out := &CompleteResult{Task: t.Clone()}
	next := s.nextOccurrence(prev, now)
	if next == nil {
		return out, nil
	}
	if out.NextOverlaps, err = s.overlapsOf(ctx, tx, next); err != nil {
		return fail(err)
	}
	if err := tx.Tasks().Create(ctx, next); err != nil {
		return fail(fmt.Errorf("next occurrence: %w", err))
	}
	out.Next = next.Clone()
	return out, nil
}

// overlapsOf lists overlaps without refusing any.
func (s *Service) overlapsOf(ctx context.Context, tx crm.Tx, t *crm.Task) ([]Overlap, error) {
	warn := *s
	warn.cfg.OverlapPolicy = OverlapWarn
	return warn.checkOverlaps(ctx, tx, t)
}

// nextOccurrence returns the occurrence after t (open, as it was before
// completion), the first not due before now, or nil when the series ends.
func (s *Service) nextOccurrence(t *crm.Task, now time.Time) *crm.Task {
	if t.Recurrence == nil || t.SeriesStart == nil {
		return nil
	}
	n := max(t.Occurrence, 1)
	var due time.Time
	for {
		at, ok := t.Recurrence.Next(*t.SeriesStart, n)
		if !ok {
			return nil
		}
		n++
		if due = at; !due.Before(now) {
			break
		}
	}
	next := t.Clone()
	shift := due.Sub(t.DueAt)
	next.ID, next.Version, next.CreatedAt, next.UpdatedAt = s.cfg.IDs.NewID(), 0, time.Time{}, time.Time{}
	next.Status, next.CompletedBy, next.CompletedAt = crm.TaskOpen, crm.NilID, nil
	next.DueAt, next.Occurrence, next.PreviousID = due, n, t.ID
	for _, p := range []**time.Time{&next.RemindAt, &next.StartAt, &next.EndAt} {
		if *p != nil {
			moved := (*p).Add(shift)
			*p = &moved
		}
	}
	return next
}

// CancelRequest asks to cancel a task.
type CancelRequest struct {
	// TaskID is the task. Required.
	TaskID crm.ID
	// Version, when not 0, must be the task's stored version.
	Version int64
	// Actor is the user cancelling it; crm.NilID for the system.
	Actor crm.ID
}

// Cancel cancels a task in one unit of work; see [Service.CancelTx].
func (s *Service) Cancel(ctx context.Context, req CancelRequest) (*crm.Task, error) {
	return inUnit(ctx, s, req, s.CancelTx)
}

// CancelTx cancels an open task inside the caller's unit of work. A
// recurring task's series ends with it: no next occurrence is created.
// Errors: [ErrNotOpen], [crm.ErrNotFound], [crm.ErrConflict] on a stale
// Version.
func (s *Service) CancelTx(ctx context.Context, tx crm.Tx, req CancelRequest) (*crm.Task, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "cancel")
	t, err := openTask(ctx, tx, req.TaskID, req.Version)
	if err != nil {
		return nil, fmt.Errorf("task: cancel %s: %w", req.TaskID, err)
	}
	t.Status = crm.TaskCancelled
	if err := tx.Tasks().Update(ctx, t); err != nil {
		return nil, fmt.Errorf("task: cancel %s: %w", req.TaskID, err)
	}
	return t.Clone(), nil
}

// RescheduleRequest asks to move an open task.
type RescheduleRequest struct {
	// TaskID is the task. Required.
	TaskID crm.ID
	// Version, when not 0, must be the task's stored version.
	Version int64
	// DueAt is the new due time (an appointment's new start). Required;
	// not before now.
	DueAt time.Time
	// RemindAt is the new reminder; nil moves the old one (if any) with
	// the due time.
	RemindAt *time.Time
	// EndAt is an appointment's new end; nil keeps its length.
	EndAt *time.Time
	// Actor is the user moving it; crm.NilID for the system.
	Actor crm.ID
}

// RescheduleResult is a moved task and the appointments it now overlaps.
type RescheduleResult struct {
	// Task is the moved task, a copy the caller owns.
	Task *crm.Task
	// Overlaps are the assignee's other open appointments the moved
	// appointment now shares time with, earliest first ([OverlapWarn]).
	Overlaps []Overlap
}

// Reschedule moves a task in one unit of work; see
// [Service.RescheduleTx].
func (s *Service) Reschedule(ctx context.Context, req RescheduleRequest) (*RescheduleResult, error) {
	return inUnit(ctx, s, req, s.RescheduleTx)
}

// RescheduleTx moves an open task inside the caller's unit of work, its
// appointment span and reminder with it unless given. Moving the first
// occurrence of a recurring task moves its series; a later occurrence
// moves alone and may not move before the series' start. A moved
// appointment is checked for overlaps as at creation. Errors:
// [*crm.ValidationError] naming the field ("due_at" before now,
// "remind_at", "end_at", "recurrence.until"), [*OverlapError],
// [ErrNotOpen], [crm.ErrNotFound], [crm.ErrConflict].
func (s *Service) RescheduleTx(ctx context.Context, tx crm.Tx, req RescheduleRequest) (*RescheduleResult, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "reschedule")
	fail := func(err error) (*RescheduleResult, error) {
		return nil, fmt.Errorf("task: reschedule %s: %w", req.TaskID, err)
	}
	if req.DueAt.IsZero() {
		return fail(crm.Invalid("due_at", "is required"))
	}
	due := crm.StorageTime(req.DueAt)
	if now := s.now(); due.Before(now) {
		return fail(crm.Invalid("due_at", "is before now (%s)", now.Format(time.RFC3339)))
	}
	t, err := openTask(ctx, tx, req.TaskID, req.Version)
	if err != nil {
		return fail(err)
	}
	shift := due.Sub(t.DueAt)
	switch {
	case req.RemindAt != nil:
		t.RemindAt = req.RemindAt
	case t.RemindAt != nil:
		moved := t.RemindAt.Add(shift)
		t.RemindAt = &moved
	}
	if t.Kind == crm.TaskAppointment && t.StartAt != nil && t.EndAt != nil {
		end := t.EndAt.Add(shift)
		if req.EndAt != nil {
			end = *req.EndAt
		}
		start := due
		t.StartAt, t.EndAt = &start, &end
	} else if req.EndAt != nil {
		return fail(crm.Invalid("end_at", "is only for appointments"))
	}
	t.DueAt = due
	if t.Recurrence != nil && t.SeriesStart != nil {
		switch {
		case t.Occurrence <= 1:
			start := due
			t.SeriesStart = &start
		case due.Before(*t.SeriesStart):
			return fail(crm.Invalid("due_at", "is before the series' first occurrence (%s)", t.SeriesStart.Format(time.RFC3339)))
		}
	}
	t.Normalise()
	if err := t.Validate(); err != nil {
		return fail(err)
	}
	overlaps, err := s.checkOverlaps(ctx, tx, t)
	if err != nil {
		return fail(err)
	}
	if err := tx.Tasks().Update(ctx, t); err != nil {
		return fail(err)
	}
	return &RescheduleResult{Task: t.Clone(), Overlaps: overlaps}, nil
}
