package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// Wrap returns a unit of work over tx whose record repositories record
// every create, update and delete made through them, with its history and
// change event, as [Recorder.Record] does; the actor and operation come
// from the context ([crm.WithActor]). A tx that already records through r
// is returned as it is. Each update records against the version
// the unit of work last read or wrote of the record (a Get, a List, a
// Create or an Update through the wrapper), and reads it first only when
// the unit of work has not seen it. Every other port of tx is found
// through the wrapper with [crm.As].
func (r *Recorder) Wrap(tx crm.Tx) crm.Tx {
	if rt, ok := crm.As[*recordingTx](tx); ok && rt.r == r {
		return tx
	}
	return &recordingTx{Tx: tx, r: r, seen: map[crm.Ref]any{}}
}

// WrapStore returns a store whose units of work record as [Recorder.Wrap]
// does. Its store-level ports are the wrapped store's, found with
// [crm.AsStore]: a one-write claim (pool.ClaimStore) changes only the
// owner, pool and department of a customer, which the pool ledger keeps.
func (r *Recorder) WrapStore(s crm.Store) crm.Store {
	return &recordingStore{Store: s, r: r}
}

type recordingStore struct {
	crm.Store
	r *Recorder
}

// Unwrap implements [crm.StoreWrapper].
func (s *recordingStore) Unwrap() crm.Store { return s.Store }

// InTx implements [crm.Store]: fn gets a recording unit of work.
func (s *recordingStore) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return fn(ctx, s.r.Wrap(tx))
	})
}

// The store's own repositories read as the wrapped store's do, and write
// in a recording unit of work of their own, so a write and its history
// commit together.

// Customers implements [crm.Tx].
func (s *recordingStore) Customers() crm.CustomerRepository {
	return autoRepo(s, s.Store.Customers(), crm.Tx.Customers)
}

// Contacts implements [crm.Tx].
func (s *recordingStore) Contacts() crm.ContactRepository {
	return autoRepo(s, s.Store.Contacts(), crm.Tx.Contacts)
}

// Leads implements [crm.Tx].
func (s *recordingStore) Leads() crm.LeadRepository {
	return autoRepo(s, s.Store.Leads(), crm.Tx.Leads)
}

// Opportunities implements [crm.Tx].
func (s *recordingStore) Opportunities() crm.OpportunityRepository {
	return autoRepo(s, s.Store.Opportunities(), crm.Tx.Opportunities)
}

// Activities implements [crm.Tx].
func (s *recordingStore) Activities() crm.ActivityRepository {
	return autoRepo(s, s.Store.Activities(), crm.Tx.Activities)
}

// Tickets implements [crm.Tx].
func (s *recordingStore) Tickets() crm.TicketRepository {
	return autoRepo(s, s.Store.Tickets(), crm.Tx.Tickets)
}

// Users implements [crm.Tx].
func (s *recordingStore) Users() crm.UserRepository {
	return autoRepo(s, s.Store.Users(), crm.Tx.Users)
}

// Departments implements [crm.Tx].
func (s *recordingStore) Departments() crm.DepartmentRepository {
	return autoRepo(s, s.Store.Departments(), crm.Tx.Departments)
}

// Teams implements [crm.Tx].
func (s *recordingStore) Teams() crm.TeamRepository {
	return autoRepo(s, s.Store.Teams(), crm.Tx.Teams)
}

// Tasks implements [crm.Tx].
func (s *recordingStore) Tasks() crm.TaskRepository {
	return autoRepo(s, s.Store.Tasks(), crm.Tx.Tasks)
}

func autoRepo[T, F any](s *recordingStore, reads crm.Repository[T, F], in func(crm.Tx) crm.Repository[T, F]) crm.Repository[T, F] {
	return &autoCommitRepo[T, F]{Repository: reads, s: s, in: in}
}

// autoCommitRepo is a store-level repository of a recording store.
type autoCommitRepo[T, F any] struct {
	crm.Repository[T, F] // reads
	s                    *recordingStore
	in                   func(crm.Tx) crm.Repository[T, F]
}

// Create implements [crm.Repository].
func (r *autoCommitRepo[T, F]) Create(ctx context.Context, v *T) error {
	return r.s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return r.in(tx).Create(ctx, v) })
}

// Update implements [crm.Repository].
func (r *autoCommitRepo[T, F]) Update(ctx context.Context, v *T) error {
	return r.s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return r.in(tx).Update(ctx, v) })
}

// Delete implements [crm.Repository].
func (r *autoCommitRepo[T, F]) Delete(ctx context.Context, id crm.ID, version int64) error {
	return r.s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return r.in(tx).Delete(ctx, id, version) })
}

type recordingTx struct {
	crm.Tx
	r    *Recorder
	seen map[crm.Ref]any // the last version read or written of each record
}

// Unwrap implements [crm.TxWrapper].
func (t *recordingTx) Unwrap() crm.Tx { return t.Tx }

type record[T any] interface {
	*T
	GetMeta() *crm.Meta
	Clone() *T
}

func wrap[T any, P record[T], F any](t *recordingTx, typ crm.RecordType, inner crm.Repository[T, F]) crm.Repository[T, F] {
	return &recordingRepo[T, P, F]{inner: inner, t: t, typ: typ}
}

// Customers implements [crm.Tx].
func (t *recordingTx) Customers() crm.CustomerRepository {
	return wrap[crm.Customer](t, crm.TypeCustomer, t.Tx.Customers())
}

// Contacts implements [crm.Tx].
func (t *recordingTx) Contacts() crm.ContactRepository {
	return wrap[crm.Contact](t, crm.TypeContact, t.Tx.Contacts())
}

// Leads implements [crm.Tx].
func (t *recordingTx) Leads() crm.LeadRepository {
	return wrap[crm.Lead](t, crm.TypeLead, t.Tx.Leads())
}

// Opportunities implements [crm.Tx].
func (t *recordingTx) Opportunities() crm.OpportunityRepository {
	return wrap[crm.Opportunity](t, crm.TypeOpportunity, t.Tx.Opportunities())
}

// Activities implements [crm.Tx].
func (t *recordingTx) Activities() crm.ActivityRepository {
	return wrap[crm.Activity](t, crm.TypeActivity, t.Tx.Activities())
}

// Tickets implements [crm.Tx].
func (t *recordingTx) Tickets() crm.TicketRepository {
	return wrap[crm.Ticket](t, crm.TypeTicket, t.Tx.Tickets())
}

// Users implements [crm.Tx].
func (t *recordingTx) Users() crm.UserRepository {
	return wrap[crm.User](t, crm.TypeUser, t.Tx.Users())
}

// Departments implements [crm.Tx].
func (t *recordingTx) Departments() crm.DepartmentRepository {
	return wrap[crm.Department](t, crm.TypeDepartment, t.Tx.Departments())
}

// Teams implements [crm.Tx].
func (t *recordingTx) Teams() crm.TeamRepository {
	return wrap[crm.Team](t, crm.TypeTeam, t.Tx.Teams())
}

// Tasks implements [crm.Tx].
func (t *recordingTx) Tasks() crm.TaskRepository {
	return wrap[crm.Task](t, crm.TypeTask, t.Tx.Tasks())
}

type recordingRepo[T any, P record[T], F any] struct {
	inner crm.Repository[T, F]
	t     *recordingTx
	typ   crm.RecordType
}

func (r *recordingRepo[T, P, F]) ref(id crm.ID) crm.Ref { return crm.Ref{Type: r.typ, ID: id} }

func (r *recordingRepo[T, P, F]) remember(v *T) {
	r.t.seen[r.ref(P(v).GetMeta().ID)] = P(v).Clone()
}

// Get implements [crm.Repository].
func (r *recordingRepo[T, P, F]) Get(ctx context.Context, id crm.ID) (*T, error) {
	v, err := r.inner.Get(ctx, id)
	if err == nil {
		r.remember(v)
	}
	return v, err
}

// List implements [crm.Repository].
func (r *recordingRepo[T, P, F]) List(ctx context.Context, f F, page crm.PageRequest) (crm.Page[T], error) {
	p, err := r.inner.List(ctx, f, page)
	if err == nil {
		for _, v := range p.Items {
			r.remember(v)
		}
	}
	return p, err
}

// Create implements [crm.Repository].
func (r *recordingRepo[T, P, F]) Create(ctx context.Context, v *T) error {
	if err := r.inner.Create(ctx, v); err != nil {
		return err
	}
	r.remember(v)
	return r.record(ctx, P(v).GetMeta().ID, nil, P(v).Clone())
}

// CreateMany implements [crm.BulkCreator]: the records are stored through
// the inner repository's CreateMany when it has one, and their history
// entries and change events written together ([Recorder.RecordMany]).
func (r *recordingRepo[T, P, F]) CreateMany(ctx context.Context, vs []*T) error {
	if err := crm.CreateMany(ctx, r.inner, vs); err != nil {
		return err
	}
	actor, op, _ := crm.ActorOf(ctx)
	cs := make([]Change, len(vs))
	for i, v := range vs {
		// One copy serves as what the unit of work saw and as the change's
		// new side: both are only read.
		c, ref := P(v).Clone(), r.ref(P(v).GetMeta().ID)
		r.t.seen[ref] = c
		cs[i] = Change{Record: ref, New: c, Actor: actor, Operation: op}
	}
	if err := r.t.r.RecordMany(ctx, r.t.Tx, cs); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// Update implements [crm.Repository].
func (r *recordingRepo[T, P, F]) Update(ctx context.Context, v *T) error {
	if v == nil {
		return r.inner.Update(ctx, v) // the store reports it
	}
	m := P(v).GetMeta()
	old, err := r.before(ctx, m.ID, m.Version)
	if err != nil {
		return err
	}
	if err := r.inner.Update(ctx, v); err != nil {
		return err
	}
	r.remember(v)
	return r.record(ctx, m.ID, old, P(v).Clone())
}

// Delete implements [crm.Repository].
func (r *recordingRepo[T, P, F]) Delete(ctx context.Context, id crm.ID, version int64) error {
	old, err := r.before(ctx, id, version)
	if err != nil {
		return err
	}
	if err := r.inner.Delete(ctx, id, version); err != nil {
		return err
	}
	delete(r.t.seen, r.ref(id))
	return r.record(ctx, id, old, nil)
}

// before returns the version of the record that a write at version
// replaces: the one the unit of work saw, or the stored one.
func (r *recordingRepo[T, P, F]) before(ctx context.Context, id crm.ID, version int64) (*T, error) {
	if seen, ok := r.t.seen[r.ref(id)].(*T); ok && P(seen).GetMeta().Version == version {
		return seen, nil
	}
	old, err := r.inner.Get(ctx, id)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return nil, nil // the write itself reports the missing record
	case err != nil:
		return nil, fmt.Errorf("history: read %s %s before writing it: %w", r.typ, id, err)
	}
	return old, nil
}

func (r *recordingRepo[T, P, F]) record(ctx context.Context, id crm.ID, old, next *T) error {
	actor, op, _ := crm.ActorOf(ctx)
	c := Change{Record: r.ref(id), Actor: actor, Operation: op}
	if old != nil {
		c.Old = old
	}
	if next != nil {
		c.New = next
	}
	if c.Old == nil && c.New == nil {
		return nil
	}
	if _, err := r.t.r.Record(ctx, r.t.Tx, c); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}
