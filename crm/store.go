package crm

import (
	"context"
	"encoding/base64"
	"fmt"
)

// Storage ports.
//
// Every adapter (memstore, pgstore, a host's own) implements [Store]. The
// contract, checked by the conformance suite in store/storetest:
//
//   - Get returns a copy the caller owns; changing it changes nothing stored.
//     A missing ID, or a record of another tenant, is [ErrNotFound].
//   - Create validates the record ([*ValidationError] naming the field,
//     nothing written), sets TenantID from the context when empty, sets
//     Version to 1 and CreatedAt = UpdatedAt = now, and writes those back into
//     the caller's value. A repeated ID or unique key of the caller's tenant
//     is [ErrAlreadyExists].
//   - Record IDs are unique across the whole store, not per tenant: every
//     port of every domain package keys records by ID alone. An ID already
//     held by a record of another tenant is refused with the
//     [*ValidationError] of [IDTakenByAnotherTenant] on "id", never with
//     [ErrAlreadyExists] (which says "a record you can read exists") and
//     never naming the tenant or anything of the record. Generated IDs
//     (UUIDv7) do not collide, so only a caller who chose a known ID meets
//     it, and learns only that the ID is taken.
//   - References stay in their tenant: every field by which a record names
//     another ([References]: owner, department, pool, customer, contact,
//     team, activity and task subject, department parent and manager, team
//     lead and members, creator, conversion results, a task's completing
//     activity and previous occurrence) must name a record of the
//     record's own tenant or no stored record at all. Create and Update
//     refuse a reference to a record of another tenant with a
//     [*ValidationError] naming the field ("owner_id", "member_ids[1]",
//     "subject.id"; see [ForeignReference]), nothing written. A reference
//     to a missing record is allowed (users are deleted, hosts store
//     records in any order), except a department's parent, which must
//     exist. The rule is checked when the referring record is written; a
//     record stored later under an ID another tenant already names is not
//     looked for (generated IDs cannot be predicted).
//   - Update validates, requires the caller's Version to equal the stored one
//     (otherwise [ErrConflict], nothing written), increments Version, keeps
//     CreatedAt, sets UpdatedAt, and writes those back into the caller's value.
//   - Delete requires the stored Version too.
//   - List returns one page in ID order (which is creation order for UUIDv7
//     IDs). A page holds at most [PageRequest.Limit] records; an empty
//     NextCursor means there are no more.
//   - Every method returns ctx.Err() (wrapped) when the context is done, and
//     a unit of work whose context ends before it commits is rolled back.
//   - Times are stored in UTC with microsecond precision ([StorageTime]).

// Repository is the storage port of one record type T, listed with filter F.
// Implementations are safe for concurrent use.
type Repository[T any, F any] interface {
	// Get returns the record with id, or [ErrNotFound].
	Get(ctx context.Context, id ID) (*T, error)
	// Create stores a new record; see the contract above.
	Create(ctx context.Context, v *T) error
	// Update stores a changed record if v.Version is current, else returns
	// [ErrConflict]; [ErrNotFound] if it does not exist.
	Update(ctx context.Context, v *T) error
	// Delete removes the record if version is current, else returns
	// [ErrConflict]; [ErrNotFound] if it does not exist.
	Delete(ctx context.Context, id ID, version int64) error
	// List returns the page of records matching f after page.Cursor.
	List(ctx context.Context, f F, page PageRequest) (Page[T], error)
}

// The repositories of the shared records.
type (
	// LeadRepository stores leads.
	LeadRepository = Repository[Lead, LeadFilter]
	// CustomerRepository stores customers.
	CustomerRepository = Repository[Customer, CustomerFilter]
	// ContactRepository stores contacts.
	ContactRepository = Repository[Contact, ContactFilter]
	// OpportunityRepository stores opportunities.
	OpportunityRepository = Repository[Opportunity, OpportunityFilter]
	// ActivityRepository stores follow-up activities.
	ActivityRepository = Repository[Activity, ActivityFilter]
	// TicketRepository stores tickets.
	TicketRepository = Repository[Ticket, TicketFilter]
	// UserRepository stores users; emails are unique per tenant,
	// case-insensitively.
	UserRepository = Repository[User, UserFilter]
	// DepartmentRepository stores departments. Create and Update refuse an
	// unknown parent or a cycle ([*ValidationError] on "parent_id"); Delete
	// refuses a department that still has children ([ErrFailedPrecondition]).
	DepartmentRepository = Repository[Department, DepartmentFilter]
	// TeamRepository stores teams.
	TeamRepository = Repository[Team, TeamFilter]
	// TaskRepository stores follow-up tasks and appointments.
	TaskRepository = Repository[Task, TaskFilter]
)

// EventWriter appends events to the outbox inside a unit of work.
type EventWriter interface {
	// Append validates and stores events, assigning each its Seq (written
	// back into the slice) and the context's tenant when TenantID is empty.
	// A repeated event ID is [ErrAlreadyExists].
	Append(ctx context.Context, events ...*Event) error
}

// Tx is the set of ports a unit of work offers. A Tx passed to the function
// of [Store.InTx] is valid only until that function returns, and must not be
// used from several goroutines at once.
type Tx interface {
	Leads() LeadRepository
	Customers() CustomerRepository
	Contacts() ContactRepository
	Opportunities() OpportunityRepository
	Activities() ActivityRepository
	Tickets() TicketRepository
	Users() UserRepository
	Departments() DepartmentRepository
	Teams() TeamRepository
	Tasks() TaskRepository
	Events() EventWriter
}

// Store is a storage adapter. Its own repositories (the embedded Tx) run each
// call as a unit of work of its own; InTx groups calls into one.
// Implementations are safe for concurrent use.
//
// Domain packages declare further ports of their own (pools, scoring
// models, routing cursors); an adapter supports a domain package when the Tx
// it passes to InTx also implements that package's Tx interface, which the
// package finds with [As] (through any [TxWrapper] a host puts around the
// unit of work) and reports as [ErrUnsupported] when missing.
// Optional ports (this package's [DepartmentTreeVersions] and, on the
// outbox, [Deliveries]; pool's ClaimStore, BatchTx, RequestPruner and
// FallingBackQueue; task's DueQueue; ticket's SLAQueue; lead's
// RisingQueue; workflow's ApprovalDeadlines and ApprovalInbox;
// pipeline's AnalyticsTx) are found
// by type assertion too, each with a fallback in its package (for the
// work queues, [ErrUnsupported]);
// storetest.Features lists them.
type Store interface {
	Tx
	// InTx runs fn in one all-or-nothing unit of work. If fn returns an
	// error, panics, or ctx ends before commit, nothing fn wrote is kept
	// (including events) and InTx returns the error. fn may be called more
	// than once when the adapter retries a serialisation failure, so it must
	// not have effects outside tx. InTx must not be nested: calling it from
	// inside fn returns an error matching [ErrFailedPrecondition].
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Outbox reads and acknowledges stored events.
	Outbox() Outbox
}

// Outbox is the read side of the transactional outbox, for a relay that
// forwards events to the host's broker. It spans every tenant.
type Outbox interface {
	// Pending returns up to limit unacknowledged events, lowest Seq first.
	Pending(ctx context.Context, limit int) ([]Event, error)
	// Ack marks events as delivered; unknown or already acknowledged IDs are
	// ignored, so a relay may retry.
	Ack(ctx context.Context, ids ...ID) error
}

type tenantKey struct{}

// WithTenant returns a context whose storage calls act for tenant: created
// records get it, and reads, updates and lists see only its records.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// TenantFrom returns the tenant set by [WithTenant], or "" (the default
// tenant).
func TenantFrom(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// ApplyTenant sets m.TenantID from the context when empty and refuses a
// record of another tenant. Adapters call it in Create.
func ApplyTenant(ctx context.Context, m *Meta) error {
	t := TenantFrom(ctx)
	if m.TenantID == "" {
		m.TenantID = t
		return nil
	}
	if m.TenantID != t {
		return Invalid("tenant_id", "record of tenant %q written in the context of tenant %q", truncate(m.TenantID, 64), truncate(t, 64))
	}
	return nil
}

// Page limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// PageRequest asks for one page of a list.
type PageRequest struct {
	// Limit is the most records to return, 1 to [MaxPageLimit]. Defaults to
	// [DefaultPageLimit].
	Limit int
	// Cursor continues after the previous page; empty starts at the first
	// record. Cursors are opaque.
	Cursor string
}

// Page is one page of a list.
type Page[T any] struct {
	Items []*T
	// NextCursor continues the list; empty when there are no more records.
	NextCursor string
}

// Resolve validates the request and returns the effective limit and the ID
// after which the page starts (NilID for the first page).
func (p PageRequest) Resolve() (limit int, after ID, err error) {
	limit = p.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 1 || limit > MaxPageLimit {
		return 0, NilID, Invalid("page.limit", "must be between 1 and %d, got %d", MaxPageLimit, p.Limit)
	}
	if p.Cursor == "" {
		return limit, NilID, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || len(b) != 16 {
		return 0, NilID, Invalid("page.cursor", "not a cursor from a previous page")
	}
	copy(after[:], b)
	return limit, after, nil
}

// CursorAfter returns the cursor that continues after id.
func CursorAfter(id ID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ErrNestedTx is returned by InTx when called inside another unit of work.
var ErrNestedTx = fmt.Errorf("%w: InTx called inside a unit of work; use the tx passed to fn", ErrFailedPrecondition)

// ApplyEventTenant is [ApplyTenant] for events. Adapters call it in
// [EventWriter.Append].
func ApplyEventTenant(ctx context.Context, e *Event) error {
	m := Meta{TenantID: e.TenantID}
	if err := ApplyTenant(ctx, &m); err != nil {
		return err
	}
	e.TenantID = m.TenantID
	return nil
}

// TxWrapper is implemented by a [Tx] that wraps another, as a host's
// tracing or auditing layer does: Unwrap returns the wrapped unit of work.
type TxWrapper interface {
	Unwrap() Tx
}

// StoreWrapper is implemented by a [Store] that wraps another, as a
// recording store (package history) does: Unwrap returns the wrapped
// store.
type StoreWrapper interface {
	Unwrap() Store
}

// AsStore finds the store-level port T (a one-write claim, pool.ClaimStore)
// on s or on the stores it wraps ([StoreWrapper]), outermost first, as
// [As] finds a unit of work's port.
func AsStore[T any](s Store) (T, bool) {
	for range 32 { // a wrapping chain longer than this is a cycle
		if s == nil {
			break
		}
		if t, ok := s.(T); ok {
			return t, true
		}
		w, ok := s.(StoreWrapper)
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var zero T
	return zero, false
}

// As finds the port T on tx or on the units of work it wraps
// ([TxWrapper]; a [StoreWrapper] for a store's own repositories),
// outermost first, as errors.As finds an error in a chain.
// Domain packages find their ports with it, so a host that wraps the
// units of work crmkit is given keeps every port working.
func As[T any](tx Tx) (T, bool) {
	for range 32 { // a wrapping chain longer than this is a cycle
		if tx == nil {
			break
		}
		if t, ok := tx.(T); ok {
			return t, true
		}
		if sw, ok := tx.(StoreWrapper); ok {
			tx = sw.Unwrap()
			continue
		}
		w, ok := tx.(TxWrapper)
		if !ok {
			break
		}
		tx = w.Unwrap()
	}
	var zero T
	return zero, false
}
