package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/crmkit/crmkit/crm"
)

// Config configures a [Store]. The zero value and nil are valid.
type Config struct {
	// Clock stamps CreatedAt and UpdatedAt. Defaults to crm.SystemClock.
	Clock crm.Clock
}

// Store is the in-memory storage adapter. It implements [crm.Store] and is
// safe for concurrent use. Units of work are serialised by one lock, so they
// never interleave; every value is copied on the way in and out.
type Store struct {
	mu    sync.RWMutex
	clock crm.Clock

	leads         *table[crm.Lead, *crm.Lead]
	customers     *table[crm.Customer, *crm.Customer]
	contacts      *table[crm.Contact, *crm.Contact]
	opportunities *table[crm.Opportunity, *crm.Opportunity]
	activities    *table[crm.Activity, *crm.Activity]
	tickets       *table[crm.Ticket, *crm.Ticket]
	users         *table[crm.User, *crm.User]
	departments   *table[crm.Department, *crm.Department]
	teams         *table[crm.Team, *crm.Team]
	tasks         *table[crm.Task, *crm.Task]
	// tasksByAssignee and tasksByDept order the open tasks (queue.go) of
	// each assignee and each department by due time.
	tasksByAssignee, tasksByDept map[crm.ID]*queueIndex
	// ticketsBySLA orders the tickets with an SLA due time
	// (queue_ticket.go) of each assignee, each department and each tenant.
	ticketsBySLA ticketQueues

	outbox  outbox
	history history // field history (history.go)

	// ext holds the state of domain packages' own ports (pools, scoring
	// models, routing cursors), one struct per package, created on first use
	// by [extension]. The struct's contents are guarded by mu like every
	// table; extMu guards only the map.
	extMu sync.Mutex
	ext   map[string]any
}

// extension returns the state stored under name, creating it with mk on
// first use. Domain port files (pool.go, lead.go, ...) keep their tables in
// such a struct and access it under s.mu, registering undo steps with
// tx.onUndo like the shared tables.
func extension[T any](s *Store, name string, mk func() *T) *T {
	s.extMu.Lock()
	defer s.extMu.Unlock()
	if v, ok := s.ext[name]; ok {
		return v.(*T)
	}
	v := mk()
	if s.ext == nil {
		s.ext = make(map[string]any)
	}
	s.ext[name] = v
	return v
}

var (
	_ crm.Store  = (*Store)(nil)
	_ crm.Tx     = (*tx)(nil)
	_ crm.Outbox = (*Store)(nil)
)

// New returns an empty store.
func New(cfg *Config) *Store {
	if cfg == nil {
		cfg = &Config{}
	}
	s := &Store{clock: cfg.Clock}
	if s.clock == nil {
		s.clock = crm.SystemClock{}
	}
	s.leads = newTable[crm.Lead]("lead")
	s.leads.afterPut = s.leadChanged
	s.customers = newTable[crm.Customer]("customer")
	s.contacts = newTable[crm.Contact]("contact")
	s.opportunities = newTable[crm.Opportunity]("opportunity")
	s.activities = newTable[crm.Activity]("activity")
	s.tickets = newTable[crm.Ticket]("ticket")
	s.users = newTable[crm.User]("user")
	s.users.unique = func(u *crm.User) string { return u.TenantID + "\x00" + u.EmailKey() }
	s.departments = newTable[crm.Department]("department")
	s.departments.beforeWrite = s.checkDepartment
	s.departments.beforeDelete = s.checkDepartmentDelete
	s.teams = newTable[crm.Team]("team")
	s.tasks = newTable[crm.Task]("task")
	s.tasksByAssignee, s.tasksByDept = make(map[crm.ID]*queueIndex), make(map[crm.ID]*queueIndex)
	s.tasks.afterPut = s.indexTask
	s.ticketsBySLA = newTicketQueues()
	s.tickets.afterPut = s.ticketsBySLA.index
	s.outbox.ids = make(map[crm.ID]int)
	s.outbox.lastOf = make(map[crm.ID]int)
	return s
}

// txState is the undo log of one unit of work; nil means "autocommit".
type txState struct {
	store *Store
	undo  []func()
}

type txKey struct{}

// tx is the [crm.Tx] handed to InTx functions and, with a nil state, the
// autocommit view of the store itself.
type tx struct {
	s  *Store
	st *txState
}

func (t tx) Leads() crm.LeadRepository {
	return repo[crm.Lead, crm.LeadFilter, *crm.Lead, *crm.LeadFilter]{t, t.s.leads}
}
func (t tx) Customers() crm.CustomerRepository {
	return repo[crm.Customer, crm.CustomerFilter, *crm.Customer, *crm.CustomerFilter]{t, t.s.customers}
}
func (t tx) Contacts() crm.ContactRepository {
	return repo[crm.Contact, crm.ContactFilter, *crm.Contact, *crm.ContactFilter]{t, t.s.contacts}
}
func (t tx) Opportunities() crm.OpportunityRepository {
	return repo[crm.Opportunity, crm.OpportunityFilter, *crm.Opportunity, *crm.OpportunityFilter]{t, t.s.opportunities}
}
func (t tx) Activities() crm.ActivityRepository {
	return repo[crm.Activity, crm.ActivityFilter, *crm.Activity, *crm.ActivityFilter]{t, t.s.activities}
}
func (t tx) Tickets() crm.TicketRepository {
	return repo[crm.Ticket, crm.TicketFilter, *crm.Ticket, *crm.TicketFilter]{t, t.s.tickets}
}
func (t tx) Users() crm.UserRepository {
	return repo[crm.User, crm.UserFilter, *crm.User, *crm.UserFilter]{t, t.s.users}
}
func (t tx) Departments() crm.DepartmentRepository {
	return repo[crm.Department, crm.DepartmentFilter, *crm.Department, *crm.DepartmentFilter]{t, t.s.departments}
}
func (t tx) Teams() crm.TeamRepository {
	return repo[crm.Team, crm.TeamFilter, *crm.Team, *crm.TeamFilter]{t, t.s.teams}
}
func (t tx) Tasks() crm.TaskRepository {
	return repo[crm.Task, crm.TaskFilter, *crm.Task, *crm.TaskFilter]{t, t.s.tasks}
}
func (t tx) Events() crm.EventWriter { return eventWriter{t} }

// Leads returns the autocommit lead repository.
func (s *Store) Leads() crm.LeadRepository { return tx{s: s}.Leads() }

// Customers returns the autocommit customer repository.
func (s *Store) Customers() crm.CustomerRepository { return tx{s: s}.Customers() }

// Contacts returns the autocommit contact repository.
func (s *Store) Contacts() crm.ContactRepository { return tx{s: s}.Contacts() }

// Opportunities returns the autocommit opportunity repository.
func (s *Store) Opportunities() crm.OpportunityRepository { return tx{s: s}.Opportunities() }

// Activities returns the autocommit activity repository.
func (s *Store) Activities() crm.ActivityRepository { return tx{s: s}.Activities() }

// Tickets returns the autocommit ticket repository.
func (s *Store) Tickets() crm.TicketRepository { return tx{s: s}.Tickets() }

// Users returns the autocommit user repository.
func (s *Store) Users() crm.UserRepository { return tx{s: s}.Users() }

// Departments returns the autocommit department repository.
func (s *Store) Departments() crm.DepartmentRepository { return tx{s: s}.Departments() }

// Teams returns the autocommit team repository.
func (s *Store) Teams() crm.TeamRepository { return tx{s: s}.Teams() }

// Tasks returns the autocommit task repository.
func (s *Store) Tasks() crm.TaskRepository { return tx{s: s}.Tasks() }

// Events returns an autocommit event writer.
func (s *Store) Events() crm.EventWriter { return tx{s: s}.Events() }

// Outbox returns the store itself, which implements [crm.Outbox].
func (s *Store) Outbox() crm.Outbox { return s }

// InTx runs fn in one unit of work holding the store's write lock. If fn
// returns an error or panics, or ctx is done when fn returns, every change fn
// made is undone.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) (err error) {
	if st, _ := ctx.Value(txKey{}).(*txState); st != nil && st.store == s {
		return crm.ErrNestedTx
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: begin: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &txState{store: s}
	committed := false
	defer func() {
		if !committed {
			st.rollback()
		}
	}()
	ctx = context.WithValue(ctx, txKey{}, st)
	if err := fn(ctx, tx{s: s, st: st}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	committed = true
	return nil
}

func (st *txState) rollback() {
	for i := len(st.undo) - 1; i >= 0; i-- {
		st.undo[i]()
	}
	st.undo = nil
}

// begin locks the store for one call. Inside InTx the lock is already held by
// the unit of work; a call on the autocommit view from inside a unit of work
// would deadlock, so it is refused.
func (t tx) begin(ctx context.Context, write bool) (unlock func(), err error) {
	if st, _ := ctx.Value(txKey{}).(*txState); st != nil && st.store == t.s && t.st == nil {
		return nil, crm.ErrNestedTx
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.st != nil {
		return func() {}, nil
	}
	if write {
		t.s.mu.Lock()
		return t.s.mu.Unlock, nil
	}
	t.s.mu.RLock()
	return t.s.mu.RUnlock, nil
}

func (t tx) onUndo(f func()) {
	if t.st != nil {
		t.st.undo = append(t.st.undo, f)
	}
}

// inTree walks up from dept within the tenant's departments. Callers hold
// the lock.
func (s *Store) inTree(tenant string) crm.InTree {
	return func(root, dept crm.ID) bool {
		for depth := 0; dept != crm.NilID && depth < 1000; depth++ {
			if dept == root {
				return true
			}
			d, ok := s.departments.rows[dept]
			if !ok || d.TenantID != tenant {
				return false
			}
			dept = d.ParentID
		}
		return false
	}
}

func (s *Store) checkDepartment(ctx context.Context, d *crm.Department) error {
	return crm.CheckDepartmentParent(ctx, d, func(_ context.Context, id crm.ID) (crm.ID, error) {
		p, ok := s.departments.rows[id]
		if !ok || p.TenantID != d.TenantID {
			return crm.NilID, crm.ErrNotFound
		}
		return p.ParentID, nil
	})
}

// checkReferences refuses a record that names a record of another tenant
// (see [crm.References]); a reference to no stored record is kept, as
// everywhere in crmkit. Callers hold the lock.
func (s *Store) checkReferences(e crm.Entity) error {
	tenant := e.GetMeta().TenantID
	var errs crm.ValidationErrors
	var buf [8]crm.Reference
	for _, ref := range crm.References(buf[:0], e) {
		if other, ok := s.tenantOf(ref.Type, ref.ID); ok && other != tenant {
			errs = append(errs, crm.ForeignReference(ref.Field))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// tenantOf returns the tenant of the stored record typ/id, and false when
// there is none. Callers hold the lock.
func (s *Store) tenantOf(typ crm.RecordType, id crm.ID) (string, bool) {
	switch typ {
	case crm.TypeLead:
		return rowTenant(s.leads, id)
	case crm.TypeCustomer:
		return rowTenant(s.customers, id)
	case crm.TypeContact:
		return rowTenant(s.contacts, id)
	case crm.TypeOpportunity:
		return rowTenant(s.opportunities, id)
	case crm.TypeActivity:
		return rowTenant(s.activities, id)
	case crm.TypeTicket:
		return rowTenant(s.tickets, id)
	case crm.TypeUser:
		return rowTenant(s.users, id)
	case crm.TypeDepartment:
		return rowTenant(s.departments, id)
	case crm.TypeTeam:
		return rowTenant(s.teams, id)
	case crm.TypeTask:
		return rowTenant(s.tasks, id)
	case crm.TypePool:
		// Pools live in package pool's state (pool.go), guarded by s.mu
		// like the tables.
		p, ok := tx{s: s}.poolState().pools[id]
		if !ok {
			return "", false
		}
		return p.TenantID, true
	}
	return "", false
}

func rowTenant[T any, PT entity[T]](t *table[T, PT], id crm.ID) (string, bool) {
	row, ok := t.rows[id]
	if !ok {
		return "", false
	}
	return PT(row).GetMeta().TenantID, true
}

func (s *Store) checkDepartmentDelete(d *crm.Department) error {
	for _, other := range s.departments.rows {
		if other.ParentID == d.ID && other.TenantID == d.TenantID {
			return fmt.Errorf("memstore: delete department %s: it has child department %s: %w", d.ID, other.ID, crm.ErrFailedPrecondition)
		}
	}
	return nil
}

// insertSorted adds id to the ordered ID list. IDs from a UUIDv7 or
// sequential generator arrive nearly in order, so the search ends near the
// tail and the copy is short.
func insertSorted(ids []crm.ID, id crm.ID) []crm.ID {
	i, _ := slices.BinarySearchFunc(ids, id, compareID)
	return slices.Insert(ids, i, id)
}

func removeSorted(ids []crm.ID, id crm.ID) []crm.ID {
	i, found := slices.BinarySearchFunc(ids, id, compareID)
	if !found {
		return ids
	}
	return slices.Delete(ids, i, i+1)
}

func compareID(a, b crm.ID) int { return bytes.Compare(a[:], b[:]) }
