package pool

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Tx is the set of storage ports the pool package needs from a unit of work.
// An adapter supports pools when the [crm.Tx] it passes to [crm.Store.InTx]
// also implements Tx; the [Service] reports [crm.ErrUnsupported] otherwise.
// Method names carry a "Pool" prefix so one adapter type can implement the
// ports of several domain packages.
//
// Concurrency contract, relied on by every invariant of the package: inside a
// unit of work, [Holdings.Get] and [Counters.Add] lock what they read until
// the unit of work ends, so two units of work touching the same customer or
// counter decide one after the other, and [Holdings.Due] skips holdings that
// another unit of work has locked. Tenancy comes from the context as for
// every crm port.
type Tx interface {
	crm.Tx
	Pools() Pools
	PoolHoldings() Holdings
	PoolLedger() Ledger
	PoolCounters() Counters
	PoolRequests() Requests
}

// Pools stores pool definitions.
type Pools interface {
	// Get returns a copy of the pool, or [crm.ErrNotFound].
	Get(ctx context.Context, id crm.ID) (*Pool, error)
	// Create validates and stores a new pool, setting TenantID from the
	// context when empty, Version to 1 and both times; [crm.ErrAlreadyExists]
	// for a repeated ID.
	Create(ctx context.Context, p *Pool) error
	// Update stores p if p.Version is current (else [crm.ErrConflict]),
	// incrementing Version; [crm.ErrNotFound] if it does not exist.
	Update(ctx context.Context, p *Pool) error
	// List returns up to limit pools after the pool with ID after (NilID
	// for the start), in ID order.
	List(ctx context.Context, after crm.ID, limit int) ([]*Pool, error)
}

// Holding is the pool package's state of one customer: where it is (owned
// or pooled), who may not take it yet, and when it falls due for recycling.
// The adapter stores it keyed by customer ID; [crm.Customer.OwnerID] and
// [crm.Customer.PoolID] mirror OwnerID and the pooled state.
type Holding struct {
	CustomerID crm.ID `json:"customer_id"`
	TenantID   string `json:"tenant_id,omitempty"`
	// Version is the optimistic-concurrency version, owned by the store.
	Version int64 `json:"version"`
	// PoolID is the customer's pool: the one it sits in when unowned, or the
	// one whose rules recycle it when owned (NilID: none).
	PoolID crm.ID `json:"pool_id,omitzero"`
	// OwnerID is the owner, NilID while the customer sits in its pool.
	OwnerID crm.ID `json:"owner_id,omitzero"`
	// OwnerDepartmentID is the owner's home department when it got the
	// customer, so department-scoped visibility needs no extra read.
	OwnerDepartmentID crm.ID `json:"owner_department_id,omitzero"`
	// Locked customers are never recycled.
	Locked bool `json:"locked,omitempty"`
	// Dealt records whether the customer counted as dealt when the owner's
	// counters were last adjusted.
	Dealt bool `json:"dealt,omitempty"`
	// EnteredAt is when the customer last entered its pool.
	EnteredAt time.Time `json:"entered_at,omitzero"`
	// OwnedSince is when the current owner got the customer.
	OwnedSince time.Time `json:"owned_since,omitzero"`
	// ProtectedUntil ends the protection period (zero: none).
	ProtectedUntil time.Time `json:"protected_until,omitzero"`
	// PreviousOwnerID may not claim the customer before PreviousOwnerUntil.
	PreviousOwnerID    crm.ID    `json:"previous_owner_id,omitzero"`
	PreviousOwnerUntil time.Time `json:"previous_owner_until,omitzero"`
	// LastOpportunityAt is when the customer's latest opportunity was
	// created; OpenOpportunity whether one is open. Both are refreshed by
	// [Service.Recompute].
	LastOpportunityAt time.Time `json:"last_opportunity_at,omitzero"`
	OpenOpportunity   bool      `json:"open_opportunity,omitempty"`
	// DueAt is when the customer falls back into its pool (zero: never);
	// DueReason names the deciding condition and DueRuleID the rule
	// version. Hosts sort by DueAt and remind owners before it.
	DueAt     time.Time     `json:"due_at,omitzero"`
	DueReason ConditionKind `json:"due_reason,omitempty"`
	DueRuleID string        `json:"due_rule_id,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// Owned reports whether the customer has an owner.
func (h *Holding) Owned() bool { return h.OwnerID != crm.NilID }

// Pooled reports whether the customer sits in a pool, free to claim.
func (h *Holding) Pooled() bool { return h.OwnerID == crm.NilID && h.PoolID != crm.NilID }

// Holdings stores one [Holding] per customer.
type Holdings interface {
	// Get returns a copy of the customer's holding, or [crm.ErrNotFound].
	// Inside a unit of work it locks the holding until the unit of work
	// ends (pgstore: SELECT ... FOR UPDATE), so operations on one customer
	// never interleave.
	Get(ctx context.Context, customerID crm.ID) (*Holding, error)
	// Create stores a new holding, setting Version to 1 and both times;
	// [crm.ErrAlreadyExists] if the customer has one.
	Create(ctx context.Context, h *Holding) error
	// Update stores h if h.Version is current (else [crm.ErrConflict]),
	// incrementing Version; [crm.ErrNotFound] if it does not exist.
	Update(ctx context.Context, h *Holding) error
	// Due returns up to limit owned, unlocked holdings with a non-zero DueAt
	// at or before now, earliest DueAt first (ties by customer ID). Inside a
	// unit of work it locks them and skips holdings another unit of work
	// has locked (pgstore: FOR UPDATE SKIP LOCKED), so concurrent sweeps
	// share the work.
	Due(ctx context.Context, now time.Time, limit int) ([]*Holding, error)
}

// Op names an ownership operation.
type Op string

// Operations recorded in the ledger.
const (
	OpCreate   Op = "create"
	OpClaim    Op = "claim"
	OpRelease  Op = "release"
	OpAssign   Op = "assign"
	OpTransfer Op = "transfer"
	OpLock     Op = "lock"
	OpUnlock   Op = "unlock"
	OpMove     Op = "move"
	OpEnter    Op = "enter"
	OpRecycle  Op = "recycle"
	// OpMerge settles a customer's ownership after a merge
	// ([Service.SettleMergeTx]); OpUnmerge restores it
	// ([Service.UndoMergeTx]). Their entries carry the whole placement
	// after the change: ToPool NilID means no pool.
	OpMerge   Op = "merge"
	OpUnmerge Op = "unmerge"
)

// Entry is one ownership ledger entry: an append-only record of who owned a
// customer before and after an operation, and why. Replaying a customer's
// entries in Seq order yields its current owner and pool. An entry is also
// an event of the outbox ([Entry.Event]): the store keeps one record that
// is both, so the entry's ID and Seq are its event's.
type Entry struct {
	ID       crm.ID `json:"id"`
	TenantID string `json:"tenant_id,omitempty"`
	// Seq is assigned by the store: the Seq of the entry's event in the
	// outbox, which increases with every event; entries of one customer
	// are stored in change order.
	Seq        int64  `json:"seq"`
	CustomerID crm.ID `json:"customer_id"`
	Op         Op     `json:"op"`
	FromOwner  crm.ID `json:"from_owner,omitzero"`
	ToOwner    crm.ID `json:"to_owner,omitzero"`
	FromPool   crm.ID `json:"from_pool,omitzero"`
	ToPool     crm.ID `json:"to_pool,omitzero"`
	// Reason is a host-defined reason code for releases, or the recycling
	// condition for recycles.
	Reason string `json:"reason,omitempty"`
	// RuleID and Rule identify and snapshot the recycling rule that decided
	// a recycle, so the decision stays explainable after the rule changes.
	RuleID string          `json:"rule_id,omitempty"`
	Rule   json.RawMessage `json:"rule,omitempty"`
	// ActorID is the user who acted, NilID for the system (sweeps).
	ActorID        crm.ID    `json:"actor_id,omitzero"`
	At             time.Time `json:"at"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
}

// Ledger is the append-only ownership ledger. Its entries are events of the
// outbox: Append stores one record that is both the entry and its event
// ([Entry.Event]), delivered like any event ([crm.Deliveries]), and List
// reads the entries back from those records. There is no separate event
// to append for an entry.
type Ledger interface {
	// Append stores e and the event it is, as one record: e.TenantID from
	// the context when empty, e.Seq assigned as the event's Seq, the
	// event's payload written with that Seq. It refuses an entry
	// [Entry.Validate] refuses; [crm.ErrAlreadyExists] when an entry or
	// event with e.ID exists.
	Append(ctx context.Context, e *Entry) error
	// List returns up to limit entries with Seq greater than afterSeq, in Seq
	// order; customerID NilID lists every customer's. Events that are not
	// ledger entries are never listed, even those of a pool event type
	// appended through [crm.EventWriter].
	List(ctx context.Context, customerID crm.ID, afterSeq int64, limit int) ([]*Entry, error)
}

// NoMax is the max of [Counters.Add] that never refuses.
const NoMax = math.MaxInt64

// Counters are named integer counters (owned customers per user, claims per
// user, pool and day). They make limits decidable by the store: the check
// and the increment are one conditional update. Every operation of the
// [Service] adds to the counters it needs in ascending key order, after
// locking its holdings, so units of work never wait on each other's
// counters in a cycle (a transfer from A to B and one from B to A both
// take A's counters first); a store's own multi-counter writes
// ([ClaimStore.PoolClaim]) must lock them in that order too.
type Counters interface {
	// Add adds delta to the counter named key (a missing counter is 0) when
	// the result is at most max, and returns the new value and true;
	// otherwise it changes nothing and returns the current value and false.
	// A result below zero is stored as zero. Inside a unit of work the
	// counter stays locked until the unit of work ends.
	Add(ctx context.Context, key string, delta, max int64) (value int64, ok bool, err error)
	// Get returns the counter's value (0 when missing).
	Get(ctx context.Context, key string) (int64, error)
}

// Request is the stored outcome of an operation carrying an idempotency key.
type Request struct {
	Key        string          `json:"key"`
	TenantID   string          `json:"tenant_id,omitempty"`
	Op         Op              `json:"op"`
	CustomerID crm.ID          `json:"customer_id"`
	ActorID    crm.ID          `json:"actor_id,omitzero"`
	Result     json.RawMessage `json:"result"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Requests stores idempotency records.
type Requests interface {
	// Get returns the request stored under key, or [crm.ErrNotFound].
	Get(ctx context.Context, key string) (*Request, error)
	// Put stores r (setting CreatedAt and TenantID);
	// [crm.ErrAlreadyExists] if the key is taken.
	Put(ctx context.Context, r *Request) error
}

// RequestPruner is an optional extension of [Requests] (memstore and pgstore
// implement it), found by type assertion on [Tx.PoolRequests]: it removes
// idempotency records older than a time. Every claim records one (a
// keyless claim under a key of its own), so [Service.PruneRequests] keeps
// the store from growing without end.
type RequestPruner interface {
	// Prune removes up to limit of the context tenant's requests created
	// before before, and returns how many it removed.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}

// BatchTx is an optional extension of [Tx] for set-based sweeps. When the
// unit of work implements it (memstore and pgstore do), [Service.Sweep]
// reads a batch's customers in one call and stores the batch's recycles
// (with their ledger entries, which are their events) and counters in a
// few statements instead of a dozen round trips per customer. Adapters without it get the same results one customer at
// a time.
type BatchTx interface {
	Tx
	// PoolCustomers returns the context tenant's customers among ids, in
	// any order; missing IDs are left out. Inside a unit of work it locks
	// them until the unit of work ends (pgstore: FOR UPDATE), as
	// [Holdings.Get] locks a holding.
	PoolCustomers(ctx context.Context, ids []crm.ID) ([]*crm.Customer, error)
	// PoolRecycleBatch stores several recycles at once, all or none (each
	// customer at most once per batch): each holding as given (if its
	// Version is current), each customer's placement as given in Customer
	// (if its version is still CustomerVersion), and each ledger entry with
	// its event, as [Ledger.Append] stores one (assigning Seq, in batch
	// order). It refuses a batch [ValidateRecycleBatch] refuses; a stale
	// holding or customer fails the whole batch with [crm.ErrConflict], a
	// repeated entry ID with [crm.ErrAlreadyExists].
	PoolRecycleBatch(ctx context.Context, batch []Recycled) error
}

// Recycled is one customer's recycle in a [BatchTx.PoolRecycleBatch].
type Recycled struct {
	// Holding is the holding after the recycle, carrying the Version read.
	Holding *Holding
	// CustomerVersion is the customer's Version read.
	CustomerVersion int64
	// Customer is the customer's placement after the recycle (unowned, in
	// the pool it goes back to), as the [Service] decided it.
	Customer CustomerPlacement
	// Entry is the recycle's ledger entry.
	Entry *Entry
}

// ClaimStore is an optional extension of [crm.Store] for claims stored by
// one atomic write instead of a unit of work of a dozen statements. When
// the store implements it (memstore and pgstore do), [Service.Claim] reads the state
// it decides on without locks, decides with the package's rules as usual,
// and hands the adapter the result with every limit already resolved to
// numbers; the adapter stores it only if the state read still holds.
// Rules never move into the adapter: it enforces the conditions it is
// given.
type ClaimStore interface {
	crm.Store
	// PoolClaimState reads, without locking, what a claim decides on: the
	// customer's holding, the customer, the actor and the holding's pool,
	// each nil when missing (a holding without a pool has none).
	PoolClaimState(ctx context.Context, customerID, actorID crm.ID) (*ClaimState, error)
	// PoolClaim stores w atomically (all or nothing, on its own: never
	// inside InTx; like InTx it never leaves the outcome open because ctx
	// ended, and reports a lost commit answer as [crm.ErrOutcomeUnknown])
	// if the customer's holding still has w.Holding.Version and the
	// customer still has w.CustomerVersion, and every counter of
	// w.Counters stays within its Max after adding one. It then writes the
	// holding as given (incrementing Version), the customer's placement as
	// given in w.Customer, adds one to each counter, appends w.Entry with
	// its event as [Ledger.Append] does (assigning Seq) and stores
	// w.Request, if set. It refuses a write [ClaimWrite.Validate] refuses.
	// Otherwise it changes nothing and says why in the outcome.
	PoolClaim(ctx context.Context, w *ClaimWrite) (ClaimOutcome, error)
}

// ClaimState is what [ClaimStore.PoolClaimState] reads.
type ClaimState struct {
	Holding  *Holding
	Customer *crm.Customer
	Actor    *crm.User
	Pool     *Pool
}

// CounterCheck is one counter a claim adds one to, within Max.
type CounterCheck struct {
	Key string
	Max int64
}

// ClaimWrite is a claim decided by the [Service], for [ClaimStore.PoolClaim].
type ClaimWrite struct {
	// Holding is the holding after the claim, carrying the Version read.
	Holding *Holding
	// CustomerVersion is the customer's Version read.
	CustomerVersion int64
	// Customer is the customer's placement after the claim (owned by the
	// claimant, in no pool), as the [Service] decided it.
	Customer CustomerPlacement
	// Counters are checked and incremented together.
	Counters []CounterCheck
	// Entry is the claim's ledger entry, stored with its event.
	Entry *Entry
	// Request, when set, is the claim's idempotency record, stored with
	// the claim as [Requests.Put] stores one (setting TenantID and
	// CreatedAt); its Result is RequestHead, the entry's Seq,
	// RequestTail. The [Service] sets it for every claim, so that a
	// retried claim finds what the first one stored.
	Request                  *Request
	RequestHead, RequestTail []byte
}

// ClaimOutcome says what [ClaimStore.PoolClaim] did.
type ClaimOutcome struct {
	// Stored is true when the claim was stored; the write's Holding and
	// Entry then carry their stored Version, Seq and times.
	Stored bool
	// Refused is the index in Counters of a counter that would have passed
	// its Max, with its Current value; -1 when no counter refused.
	Refused int
	Current int64
	// OwnerID is the holding's current owner when the claim was not
	// stored because the holding changed (NilID: still unowned, or gone).
	OwnerID crm.ID
}
