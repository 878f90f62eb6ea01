package remind

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/workflow"
)

// MaxBatch bounds [Config.Batch] and [TaskQuery.Limit].
const MaxBatch = 5000

// Config configures a [Sweeper]. The zero value is usable; [New] copies
// it, so changing it afterwards changes nothing.
type Config struct {
	// Clock stamps events. Defaults to the system clock.
	Clock crm.Clock
	// IDs generates event IDs. Defaults to UUIDv7.
	IDs crm.IDGenerator
	// ApprovalWaiting is how long an approval step waits on an approver
	// before [KindApprovalWaiting] fires. Defaults to 24 hours.
	ApprovalWaiting time.Duration
	// Batch is the most reminders one unit of work fires, 1 to
	// [MaxBatch]. Defaults to 500.
	Batch int
	// Kinds are the kinds [Sweeper.Sweep] fires, in this order. Defaults
	// to [Kinds]: all of them.
	Kinds []Kind
}

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
		out.Kinds = slices.Clone(c.Kinds)
	}
	if out.Clock == nil {
		out.Clock = crm.SystemClock{}
	}
	if out.IDs == nil {
		out.IDs = crm.UUIDv7{Clock: out.Clock}
	}
	if out.ApprovalWaiting == 0 {
		out.ApprovalWaiting = 24 * time.Hour
	}
	if out.Batch == 0 {
		out.Batch = 500
	}
	if len(out.Kinds) == 0 {
		out.Kinds = Kinds()
	}
	return out
}

func (c *Config) validate() error {
	var p crm.Problems
	if c.ApprovalWaiting < 0 {
		p.Add("approval_waiting", "must not be negative, got %s", c.ApprovalWaiting)
	}
	if c.Batch < 1 || c.Batch > MaxBatch {
		p.Add("batch", "must be between 1 and %d, got %d", MaxBatch, c.Batch)
	}
	for i, k := range c.Kinds {
		if !k.Valid() {
			p.Add(fmt.Sprintf("kinds[%d]", i), "unknown reminder kind %q", truncate(string(k), 32))
		} else if slices.Index(c.Kinds, k) != i {
			p.Add(fmt.Sprintf("kinds[%d]", i), "repeats %q", k)
		}
	}
	return p.Err()
}

// Sweeper fires due reminders: each becomes one stored [Firing] and one
// [EventFired] event in the same unit of work. It holds no state between
// calls and is safe for concurrent use; hosts call [Sweeper.Sweep] from
// their scheduler, from as many application instances as they like.
type Sweeper struct {
	store crm.Store
	cfg   Config
}

// New returns a sweeper over store. A nil cfg means defaults; a bad one
// is a [*crm.ValidationError] naming the field. The store's units of work
// must implement [Tx] (checked when sweeping, through [TxOf]).
func New(store crm.Store, cfg *Config) (*Sweeper, error) {
	if store == nil {
		return nil, crm.Invalid("store", "is required")
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Sweeper{store: store, cfg: c}, nil
}

// Result counts what a sweep fired. Not safe for concurrent mutation.
type Result struct {
	// Fired counts the reminders fired, by kind.
	Fired map[Kind]int
}

// Total returns the number of reminders fired.
func (r Result) Total() int {
	n := 0
	for _, v := range r.Fired {
		n += v
	}
	return n
}

func (r *Result) add(k Kind, n int) {
	if n == 0 {
		return
	}
	if r.Fired == nil {
		r.Fired = make(map[Kind]int)
	}
	r.Fired[k] += n
}

// Sweep fires up to limit reminders of the context's tenant due at now,
// kind after kind ([Config.Kinds]), in units of work of [Config.Batch]
// reminders each. A reminder fires when:
//
//   - [KindTaskReminder]: an open task's RemindAt is at or before now;
//   - [KindTaskOverdue]: an open task's DueAt is before now;
//   - [KindApprovalWaiting]: an active step of a pending approval request
//     started at least [Config.ApprovalWaiting] before now and one of its
//     approvers has not decided;
//   - [KindPoolNotice]: an owned, unlocked customer of a pool with
//     [pool.Pool.NoticeDays] set falls back into it after now and at most
//     that many days from now.
//
// Each fires once for the time it is for (RemindAt, DueAt, step start,
// the customer's due time):
// the [Firing] key is unique in storage, so Sweep is safe from many
// goroutines and application instances at once and every reminder fires
// exactly once; a moved RemindAt or DueAt, a step started again, or a
// customer's moved due time fires anew. Tasks done, cancelled or deleted,
// and customers released, locked or recycled, before a batch claims them
// do not fire. now is cut to microseconds, the precision stores keep. limit
// counts reminders fired; one batch of approvals takes every reminder of
// a request, so a request waiting on more approvers than the limit left
// passes it.
//
// A failed batch keeps nothing; batches already committed stay, and the
// result counts them alongside the error. Reminders of tasks and holdings
// another sweep holds are skipped, not waited for; a later Sweep fires them if that
// sweep rolls back. A limit below 1 or a zero now is a
// [*crm.ValidationError]; an adapter without [Tx] (or, for pool notices,
// without [pool.Tx]) is [crm.ErrUnsupported].
func (s *Sweeper) Sweep(ctx context.Context, now time.Time, limit int) (Result, error) {
	var res Result
	switch {
	case limit < 1:
		return res, crm.Invalid("limit", "must be at least 1, got %d", limit)
	case now.IsZero():
		return res, crm.Invalid("now", "is required")
	}
	now = crm.StorageTime(now)
	for _, kind := range s.cfg.Kinds {
		var cur cursor
		for !cur.done && limit > 0 {
			var fired int
			var next cursor
			err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				next = cur // InTx may retry: start from the same cursor
				var err error
				fired, err = s.fire(ctx, tx, kind, now, &next, min(limit, s.cfg.Batch))
				return err
			})
			if err != nil {
				return res, err
			}
			cur = next
			res.add(kind, fired)
			limit -= fired
		}
	}
	return res, nil
}

// FireTx fires one batch of up to limit reminders of kind due at now
// inside the open unit of work tx, starting at the earliest, and returns
// how many it fired; the firings and their events commit with tx. It is
// one unit of work of [Sweeper.Sweep], for a host that sweeps inside its
// own transaction. A nil tx, a zero now, an unknown kind or a limit
// outside 1 to [MaxBatch] is a [*crm.ValidationError] naming the field.
func (s *Sweeper) FireTx(ctx context.Context, tx crm.Tx, kind Kind, now time.Time, limit int) (int, error) {
	switch {
	case tx == nil:
		return 0, crm.Invalid("tx", "is required")
	case now.IsZero():
		return 0, crm.Invalid("now", "is required")
	case !kind.Valid():
		return 0, crm.Invalid("kind", "unknown reminder kind %q", truncate(string(kind), 32))
	case limit < 1 || limit > MaxBatch:
		return 0, crm.Invalid("limit", "must be between 1 and %d, got %d", MaxBatch, limit)
	}
	var cur cursor
	return s.fire(ctx, tx, kind, crm.StorageTime(now), &cur, limit)
}

// cursor is where a sweep of one kind goes on: after the last task or
// holding (time, ID) or approval request (ID) it looked at; for pool
// notices, within pool (whose notice period is days; 0: go on with the
// pool after it).
type cursor struct {
	at   time.Time
	id   crm.ID
	pool crm.ID
	days int
	done bool // nothing more is due
}

// fire runs one batch of kind in tx and advances cur.
func (s *Sweeper) fire(ctx context.Context, tx crm.Tx, kind Kind, now time.Time, cur *cursor, limit int) (int, error) {
	rt, err := TxOf(tx)
	if err != nil {
		return 0, err
	}
	st := rt.Reminders()
	var due []Due
	switch kind {
	case KindApprovalWaiting:
		due, err = s.waitingApprovals(ctx, st, now, cur, limit)
	case KindPoolNotice:
		due, err = poolNotices(ctx, tx, st, now, cur, limit)
	default:
		due, err = st.DueTasks(ctx, TaskQuery{Kind: kind, Now: now, AfterAt: cur.at, AfterID: cur.id, Limit: limit})
		if err == nil {
			if len(due) < limit {
				cur.done = true
			}
			if n := len(due); n > 0 {
				cur.at, cur.id = due[n-1].At, due[n-1].Subject.ID
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("remind: sweep %s: %w", kind, err)
	}
	n, err := s.record(ctx, rt, now, due)
	if err != nil {
		return 0, fmt.Errorf("remind: sweep %s: %w", kind, err)
	}
	return n, nil
}

// waitingApprovals lists requests after cur until it has found reminders
// or run out, and returns at most limit of them, or all of one request's
// when that one alone has more. A batch takes every reminder of a request
// or none, so cur moves past each request it returns.
func (s *Sweeper) waitingApprovals(ctx context.Context, st Store, now time.Time, cur *cursor, limit int) ([]Due, error) {
	startedBy := now.Add(-s.cfg.ApprovalWaiting)
	var out []Due
	for len(out) == 0 && !cur.done {
		ins, err := st.WaitingApprovals(ctx, startedBy, cur.id, limit)
		if err != nil {
			return nil, err
		}
		if len(ins) < limit {
			cur.done = true
		}
		for _, in := range ins {
			due := Waiting(in, startedBy)
			if len(out) > 0 && len(out)+len(due) > limit {
				// Never half a request: the next batch starts with it.
				cur.done = false
				return out, nil
			}
			out = append(out, due...)
			cur.id = in.ID
		}
	}
	return out, nil
}

// poolPage is how many pools one listing reads.
const poolPage = 100

// poolNotices lists notices of the pool at cur, then of the pools after
// it that set a notice period, until it has found some or run out. A
// batch holds notices of one pool; cur moves within the pool, and on to
// the next once a batch comes back short.
func poolNotices(ctx context.Context, tx crm.Tx, st Store, now time.Time, cur *cursor, limit int) ([]Due, error) {
	ptx, ok := crm.As[pool.Tx](tx)
	if !ok {
		return nil, fmt.Errorf("storage adapter %T has no pool ports: %w", tx, crm.ErrUnsupported)
	}
	for !cur.done {
		if cur.days == 0 {
			pools, err := ptx.Pools().List(ctx, cur.pool, poolPage)
			if err != nil {
				return nil, fmt.Errorf("list pools: %w", err)
			}
			if len(pools) == 0 {
				cur.done = true
				break
			}
			// Pools without notices are passed over; the next listing
			// starts after the last pool looked at.
			cur.pool, cur.at, cur.id = pools[len(pools)-1].ID, time.Time{}, crm.NilID
			for _, p := range pools {
				if p.NoticeDays > 0 {
					cur.pool, cur.days = p.ID, p.NoticeDays
					break
				}
			}
			if cur.days == 0 {
				if len(pools) < poolPage {
					cur.done = true
				}
				continue
			}
		}
		days := cur.days
		due, err := st.DueNotices(ctx, NoticeQuery{
			PoolID: cur.pool, Now: now, Until: now.AddDate(0, 0, days),
			AfterAt: cur.at, AfterID: cur.id, Limit: limit,
		})
		if err != nil {
			return nil, err
		}
		if len(due) < limit {
			cur.days = 0 // this pool is done: the next batch lists the pools after it
		} else {
			cur.at, cur.id = due[len(due)-1].At, due[len(due)-1].Subject.ID
		}
		if len(due) > 0 {
			for i := range due {
				due[i].NoticeDays = days
			}
			return due, nil
		}
	}
	return nil, nil
}

// Waiting returns the [KindApprovalWaiting] reminders of request in: one
// for every approver who has not decided on an active step started at or
// before startedBy, in step then task order. A request that is not
// pending has none.
func Waiting(in *workflow.Instance, startedBy time.Time) []Due {
	if in.Status != workflow.ApprovalPending {
		return nil
	}
	var out []Due
	for _, step := range in.Steps {
		if step.Status != workflow.StepActive || step.StartedAt.IsZero() || step.StartedAt.After(startedBy) {
			continue
		}
		for _, t := range step.Tasks {
			if t.Decision != "" {
				continue
			}
			out = append(out, Due{
				Kind:        KindApprovalWaiting,
				Subject:     crm.Ref{Type: workflow.RecordTypeApproval, ID: in.ID},
				About:       in.Record,
				RecipientID: t.Approver,
				At:          crm.StorageTime(step.StartedAt),
				Part:        step.Name + "/" + t.Approver.String(),
				Step:        step.Name,
			})
		}
	}
	return out
}

// record stores a firing for each of due and appends the events of those
// this unit of work won.
func (s *Sweeper) record(ctx context.Context, rt Tx, now time.Time, due []Due) (int, error) {
	if len(due) == 0 {
		return 0, nil
	}
	// Key order: concurrent sweeps wait for each other's keys in one order.
	due = slices.Clone(due)
	slices.SortFunc(due, compareDue)
	due = slices.CompactFunc(due, func(a, b Due) bool { return compareDue(a, b) == 0 })
	firings := make([]Firing, len(due))
	events := make([]crm.Event, len(due))
	for i, d := range due {
		ev, err := crm.NewEvent(s.cfg.IDs, s.cfg.Clock, EventFired, d.Subject, crm.NilID, FiredPayload{
			Kind: d.Kind, Subject: d.Subject, About: d.About, RecipientID: d.RecipientID,
			At: d.At, Title: d.Title, Step: d.Step, PoolID: d.PoolID, NoticeDays: d.NoticeDays,
		})
		if err != nil {
			return 0, err
		}
		events[i] = ev
		firings[i] = Firing{Kind: d.Kind, SubjectID: d.Subject.ID, At: d.At, Part: d.Part,
			RecipientID: d.RecipientID, EventID: ev.ID, FiredAt: now}
	}
	stored, err := rt.Reminders().Record(ctx, firings)
	if err != nil {
		return 0, fmt.Errorf("record firings: %w", err)
	}
	won := make([]*crm.Event, 0, len(events))
	for i := range events {
		if stored[i] {
			won = append(won, &events[i])
		}
	}
	if len(won) == 0 {
		return 0, nil
	}
	if err := rt.Events().Append(ctx, won...); err != nil {
		return 0, fmt.Errorf("append events: %w", err)
	}
	return len(won), nil
}

// compareDue orders reminders by their firing key.
func compareDue(a, b Due) int {
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	if c := strings.Compare(a.Subject.ID.String(), b.Subject.ID.String()); c != 0 {
		return c
	}
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return strings.Compare(a.Part, b.Part)
}
