package remind

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// Tx is the set of storage ports the remind package needs from a unit of
// work. An adapter supports reminders when the [crm.Tx] it passes to
// [crm.Store.InTx] also implements Tx (memstore and pgstore do); [TxOf]
// finds it through any [crm.TxWrapper], and the [Sweeper] reports
// [crm.ErrUnsupported] without it.
type Tx interface {
	crm.Tx
	// Reminders lists due reminders and stores firings.
	Reminders() Store
}

// TaskQuery asks [Store.DueTasks] for one batch of due task reminders. A
// plain value: safe for concurrent reads.
type TaskQuery struct {
	// Kind is [KindTaskReminder] (RemindAt at or before Now) or
	// [KindTaskOverdue] (DueAt before Now).
	Kind Kind
	// Now is the sweep's time, at storage precision.
	Now time.Time
	// AfterAt and AfterID continue after the last task of the previous
	// batch, in (time, ID) order; zero AfterAt starts at the first.
	AfterAt time.Time
	AfterID crm.ID
	// Limit is the most tasks to return, 1 to [MaxBatch].
	Limit int
}

// Time returns the time a reminder of q's kind about task t is for, its
// RemindAt or its DueAt, and whether it is due at q.Now and comes after
// q's cursor: an open task whose RemindAt is at or before Now (a
// reminder) or whose DueAt is before Now (overdue). Whether it already
// fired is the firings' to say. Adapters that select in Go call it; SQL
// adapters write the same test in their query.
func (q TaskQuery) Time(t *crm.Task) (time.Time, bool) {
	if !t.Open() {
		return time.Time{}, false
	}
	var at time.Time
	switch q.Kind {
	case KindTaskReminder:
		if t.RemindAt == nil || t.RemindAt.After(q.Now) {
			return time.Time{}, false
		}
		at = *t.RemindAt
	default:
		if !t.DueAt.Before(q.Now) {
			return time.Time{}, false
		}
		at = t.DueAt
	}
	return at, Past(at, t.ID, q.AfterAt, q.AfterID)
}

// Past reports whether a reminder at at about the record id comes after
// the cursor (afterAt, afterID) in (time, ID) order; a zero afterAt is
// the start, which every reminder comes after.
func Past(at time.Time, id crm.ID, afterAt time.Time, afterID crm.ID) bool {
	if afterAt.IsZero() {
		return true
	}
	c := at.Compare(afterAt)
	return c > 0 || c == 0 && bytes.Compare(id[:], afterID[:]) > 0
}

// NoticeQuery asks [Store.DueNotices] for one batch of pool notices of one
// pool. A plain value: safe for concurrent reads.
type NoticeQuery struct {
	// PoolID is the pool whose holdings are listed.
	PoolID crm.ID
	// Now is the sweep's time, at storage precision: holdings due at or
	// before it have fallen back (or are about to) and get no notice.
	Now time.Time
	// Until is the latest DueAt listed: Now plus the pool's notice
	// period. It must not be before Now.
	Until time.Time
	// AfterAt and AfterID continue after the last holding of the previous
	// batch, in (DueAt, customer ID) order; zero AfterAt starts at the
	// first.
	AfterAt time.Time
	AfterID crm.ID
	// Limit is the most notices to return, 1 to [MaxBatch].
	Limit int
}

// Store is the storage port of reminders. Tenancy comes from the context
// and other tenants' tasks, requests and firings are invisible; a method
// called with a done context returns the context's error (wrapped) and
// writes nothing; results are copies the caller owns. Implementations are
// safe for concurrent use.
type Store interface {
	// DueTasks returns up to q.Limit reminders of open tasks due for
	// q.Kind at q.Now that have no [Firing] of that kind for the task's
	// current time (RemindAt or DueAt), ordered by that time then task ID,
	// after (q.AfterAt, q.AfterID). Done, cancelled and deleted tasks are
	// never listed. Inside a unit of work the tasks stay locked until it
	// ends, and tasks another unit of work holds are skipped, not waited
	// for (PostgreSQL: FOR UPDATE SKIP LOCKED), so many sweeps share the
	// work. A bad query is a [*crm.ValidationError] naming the field.
	DueTasks(ctx context.Context, q TaskQuery) ([]Due, error)
	// DueNotices returns up to q.Limit [KindPoolNotice] reminders: one
	// for each holding of pool q.PoolID that is owned, not locked, and
	// due ([pool.Holding.DueAt]) after q.Now and at or before q.Until,
	// with no [Firing] of that kind for its current DueAt, ordered by
	// DueAt then customer ID, after (q.AfterAt, q.AfterID). Each Due's
	// Subject and About are the customer, its RecipientID the owner, its
	// At the DueAt and its PoolID q.PoolID; NoticeDays is left to the
	// caller. Inside a unit of work the holdings stay locked until it
	// ends, and holdings another unit of work holds are skipped, not
	// waited for (PostgreSQL: FOR UPDATE SKIP LOCKED). A bad query is a
	// [*crm.ValidationError] naming the field.
	DueNotices(ctx context.Context, q NoticeQuery) ([]Due, error)
	// WaitingApprovals returns up to limit pending approval requests with
	// an active step started at or before startedBy, in ID order after
	// the request after (NilID: from the first). It locks nothing: the
	// unique key of [Store.Record] decides which sweep fires.
	WaitingApprovals(ctx context.Context, startedBy time.Time, after crm.ID, limit int) ([]*workflow.Instance, error)
	// Record stores the firings whose key is not stored yet and reports,
	// for each, whether this call stored it. A key that another unit of
	// work has stored but not committed is waited for: stored when that
	// unit of work rolls back, not stored when it commits. Every firing is
	// validated first ([Firing.Validate], a [*crm.ValidationError] naming
	// the field, nothing stored); TenantID is set from the context.
	// Callers pass firings in key order so that concurrent calls wait for
	// one another in one order.
	Record(ctx context.Context, firings []Firing) ([]bool, error)
	// Firings returns the stored firings of subject, oldest first; none
	// is not an error.
	Firings(ctx context.Context, subject crm.ID) ([]Firing, error)
}

// TxOf returns tx as a remind [Tx], or an error matching
// [crm.ErrUnsupported] when the adapter has no reminder ports.
func TxOf(tx crm.Tx) (Tx, error) {
	if rt, ok := tx.(Tx); ok {
		return rt, nil
	}
	rt, ok := crm.As[Tx](tx)
	if !ok {
		return nil, fmt.Errorf("remind: storage adapter %T has no reminder ports: %w", tx, crm.ErrUnsupported)
	}
	return joinedTx{Tx: tx, ports: rt}, nil
}

// joinedTx is a wrapped unit of work seen as a remind [Tx]: events
// through the wrapper, the reminder port of the adapter inside it.
type joinedTx struct {
	crm.Tx
	ports Tx
}

// Reminders implements [Tx].
func (j joinedTx) Reminders() Store { return j.ports.Reminders() }

// Unwrap implements [crm.TxWrapper].
func (j joinedTx) Unwrap() crm.Tx { return j.Tx }

// Validate reports every invalid field of q as [crm.ValidationErrors].
// Adapters call it in [Store.DueTasks].
func (q TaskQuery) Validate() error {
	var p crm.Problems
	if q.Kind != KindTaskReminder && q.Kind != KindTaskOverdue {
		p.Add("kind", "must be %s or %s, got %q", KindTaskReminder, KindTaskOverdue, truncate(string(q.Kind), 32))
	}
	if q.Now.IsZero() {
		p.Add("now", "is required")
	}
	if q.Limit < 1 || q.Limit > MaxBatch {
		p.Add("limit", "must be between 1 and %d, got %d", MaxBatch, q.Limit)
	}
	return p.Err()
}

// Validate reports every invalid field of q as [crm.ValidationErrors].
// Adapters call it in [Store.DueNotices].
func (q NoticeQuery) Validate() error {
	var p crm.Problems
	if q.PoolID == crm.NilID {
		p.Add("pool_id", "is required")
	}
	if q.Now.IsZero() {
		p.Add("now", "is required")
	}
	if q.Until.IsZero() {
		p.Add("until", "is required")
	} else if q.Until.Before(q.Now) {
		p.Add("until", "must not be before now")
	}
	if q.Limit < 1 || q.Limit > MaxBatch {
		p.Add("limit", "must be between 1 and %d, got %d", MaxBatch, q.Limit)
	}
	return p.Err()
}
