package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// NextDueAt returns when the request next needs a [Approvals.Tick]: the
// earliest DueAt of its active steps whose timeout has not fired yet,
// rounded up to the whole microsecond; zero when the request is finished
// or no running step has a timeout. Rounding up to the precision stores
// keep means a store comparing microseconds never lists a request before
// one of its steps is due. Adapters that implement [ApprovalDeadlines]
// keep it beside each stored request.
func (in *Instance) NextDueAt() time.Time {
	if in.Status != ApprovalPending {
		return time.Time{}
	}
	var next time.Time
	for i := range in.Steps {
		s := &in.Steps[i]
		if s.Status != StepActive || s.TimedOut || s.DueAt.IsZero() {
			continue
		}
		if next.IsZero() || s.DueAt.Before(next) {
			next = s.DueAt
		}
	}
	if next.IsZero() {
		return next
	}
	next = next.UTC()
	if t := next.Truncate(time.Microsecond); !t.Equal(next) {
		return t.Add(time.Microsecond)
	}
	return next
}

// ApprovalDeadlines is the optional part of an [ApprovalInstances] port
// that finds requests with a step timeout due, so hosts fire timeouts from
// storage ([Approvals.TickDue]) without loading every request. Adapters
// offer it by implementing it on the value ApprovalInstances returns;
// [Approvals.TickDue] finds it by type assertion, so adapters written
// before it existed keep compiling. crmkit's memstore and pgstore
// implement it. The port keeps [Instance.NextDueAt] of every
// request it stores (on create and on update) and lists by it.
// Implementations are safe for concurrent use; tenancy comes from the
// context; a context that ends makes it return the context's error
// (wrapped).
type ApprovalDeadlines interface {
	// DueInstances returns up to limit pending requests of the context's
	// tenant whose [Instance.NextDueAt] is at or before now, earliest
	// first, then by ID. Inside a unit of work they stay locked until it
	// ends, and requests another unit of work holds are skipped, not
	// waited for (PostgreSQL: FOR UPDATE SKIP LOCKED), so many application
	// instances tick at once without handling a request twice. A limit
	// outside 1 to [MaxTickLimit] is a [*crm.ValidationError] on "limit".
	// Results are copies the caller owns.
	DueInstances(ctx context.Context, now time.Time, limit int) ([]*Instance, error)
	// UpdateInstances is [ApprovalInstances.UpdateInstance] for many
	// requests at once, all or nothing: when any request is missing
	// ([crm.ErrNotFound]), stale or listed twice ([crm.ErrConflict]), or
	// changes what it is about ([*crm.ValidationError]), it writes none.
	// Versions are written back only on success. It exists so TickDue
	// stores a batch with one set-based statement on SQL adapters.
	UpdateInstances(ctx context.Context, ins []*Instance) error
}

// ApprovalTickResult is what one [Approvals.TickDue] batch did.
type ApprovalTickResult struct {
	// Claimed is how many due requests the batch claimed. Fewer than the
	// limit means no more were due (or free) when it ran.
	Claimed int
	// Saved are the requests the batch changed and stored, in claim
	// order, with their new Version.
	Saved []*Instance
	// Events are the events the batch appended to the outbox, Seq set:
	// reminders, escalations and the decisions of automatic approvals and
	// rejections.
	Events []crm.Event
	// Failed are the claimed requests whose timeouts could not be applied
	// (a calendar that cannot place the next step's due time). They are
	// left unchanged and stay due, so a host can log them and fix their
	// definition; the rest of the batch is stored.
	Failed []ApprovalTickFailure
}

// ApprovalTickFailure is one claimed request [Approvals.TickDue] could not
// tick.
type ApprovalTickFailure struct {
	// ID is the request's.
	ID crm.ID
	// Err is what [Approvals.Tick] returned for it.
	Err error
}

// More reports whether the host should run another batch at once: the
// batch claimed a full limit of requests and stored at least one, so more
// may be due. A loop on More ends even when some requests keep failing.
func (r ApprovalTickResult) More(limit int) bool {
	return r.Claimed >= limit && len(r.Saved) > 0
}

// TickDue fires the approval step timeouts due at now inside the unit of
// work tx: it claims up to limit due requests of the context's tenant
// ([ApprovalDeadlines.DueInstances]), applies [Approvals.Tick] to each,
// stores every ticked request with one [ApprovalDeadlines.UpdateInstances]
// (compare-and-swap on each Version) and appends all their events through
// tx.Events(), so requests and events commit together or not at all. It is the approval counterpart of [Tick]
// for SLA timers and takes the same arguments.
//
// now is cut to microseconds, the precision stores keep, so claiming and
// firing agree on what is due. Run it inside [crm.Store.InTx]: claims then
// hold until commit, so TickDue is safe from many goroutines and
// application instances at once, and every due timeout fires exactly once.
// A repeated TickDue at the same now fires nothing again. Hosts tick a
// tenant in a loop of units of work while [ApprovalTickResult.More].
//
// A nil tx, a zero now or a limit outside 1 to [MaxTickLimit] is a
// [*crm.ValidationError] naming the field; a port without
// [ApprovalDeadlines] is [crm.ErrUnsupported]. A storage error ends the
// batch with an error, and the caller's unit of work then keeps nothing.
func (a *Approvals) TickDue(ctx context.Context, tx ApprovalTx, now time.Time, limit int) (ApprovalTickResult, error) {
	switch {
	case tx == nil:
		return ApprovalTickResult{}, crm.Invalid("tx", "is required")
	case now.IsZero():
		return ApprovalTickResult{}, crm.Invalid("now", "is required")
	case limit < 1 || limit > MaxTickLimit:
		return ApprovalTickResult{}, crm.Invalid("limit", "must be between 1 and %d, got %d", MaxTickLimit, limit)
	}
	store := tx.ApprovalInstances()
	deadlines, ok := store.(ApprovalDeadlines)
	if !ok {
		return ApprovalTickResult{}, fmt.Errorf("workflow: tick approvals: port %T does not list due requests: %w", store, crm.ErrUnsupported)
	}
	now = crm.StorageTime(now)
	claimed, err := deadlines.DueInstances(ctx, now, limit)
	if err != nil {
		return ApprovalTickResult{}, fmt.Errorf("workflow: tick approvals: claim: %w", err)
	}
	res := ApprovalTickResult{Claimed: len(claimed), Saved: make([]*Instance, 0, len(claimed))}
	for _, in := range claimed {
		evs, err := a.Tick(in, now)
		if err != nil {
			res.Failed = append(res.Failed, ApprovalTickFailure{ID: in.ID, Err: err})
			continue
		}
		// Stored even when nothing fired: the update recomputes the
		// request's next due time, so a stale one never stays listed.
		res.Saved = append(res.Saved, in)
		res.Events = append(res.Events, evs...)
	}
	if len(res.Saved) > 0 {
		if err := deadlines.UpdateInstances(ctx, res.Saved); err != nil {
			return ApprovalTickResult{}, fmt.Errorf("workflow: tick approvals: store approvals: %w", err)
		}
	}
	// One append for the batch: SQL adapters insert the events together.
	if err := appendEvents(ctx, tx.Events(), res.Events); err != nil {
		return ApprovalTickResult{}, fmt.Errorf("workflow: tick approvals: %w", err)
	}
	return res, nil
}
