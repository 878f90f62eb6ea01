// Package pool runs public customer pools (公海): salespeople claim (领取)
// customers nobody works on, neglected customers fall back (回收) to the pool
// so others can try, managers assign (分配) and transfer, and two salespeople
// never chase the same customer (撞单). Every operation is correct under
// concurrency, on every storage adapter: limits are decided by the store
// inside the operation's unit of work, never read-then-written.
//
// # Pools and rules
//
// A [Pool] is plain data, usually JSON ([ParsePool]): admins and members
// (users, departments, department trees), an entry rule selecting customers
// (a condition of crmkit's one condition language, package
// [github.com/crmkit/crmkit/cond], on [cond.CustomerSchema]), a priority deciding between several matching pools (the highest wins,
// ties go to the lowest ID), hidden fields masked until a customer is claimed
// ([Pool.Mask], [Service.View]), daily claim limits, cooldowns, a protection
// period and versioned recycling rules. A [RecycleRule] combines conditions
// (no follow-up, no deal, no opportunity for N days, per customer level; the
// protection period expired) with AND ("all") or OR ("any"), excludes dealt
// customers or customers with an open opportunity (won, lost and deleted
// opportunities do not count), and takes effect from a stated time. Locked
// customers are never recycled. Validation names the bad field
// ("recycle[0].conditions[1].days"); zero days are refused, never read as
// "off".
//
// # Limits
//
// [Limit] values cap owned customers (counting dealt ones or not), locked
// customers and daily claims per pool. They resolve one way: every limit that
// applies to a user must hold, so the strictest wins, unless an explicit
// per-user exception replaces them. Daily claims are counted per pool and
// user in the pool's time zone, and releases never uncount them, so a
// claim-release-claim loop cannot get around the limit.
//
// # Operations
//
// [Service] offers [Service.Claim], [Service.Release] (with a reason code),
// [Service.Assign], [Service.Transfer], [Service.Lock], [Service.Unlock],
// [Service.Move], [Service.Enter] (by hand or by rule) and [Service.Create].
// Each runs in one unit of work of the store: it locks the customer's
// [Holding], checks state, permission (through an [Authorizer]), cooldowns,
// collisions and limits, updates the customer and its holding, writes an
// ownership ledger [Entry] (before and after owner and pool, operation,
// reason, rule and rule snapshot, actor or system, time), which the store
// keeps as the operation's event in the outbox too, and applies the configured [Cascade] to contacts, open
// opportunities and follow-up plans. With an idempotency key a retried
// request returns the first result ([Result.Replayed]). Keys are at most
// [MaxIdempotencyKeyLen] bytes of UTF-8 without control characters and
// outside [ReservedKeyPrefix]; anything else is a [*crm.ValidationError] on
// "idempotency_key" on every adapter.
//
// # Outcomes
//
// An operation whose context ends either took effect (it returns its
// result) or did not (it returns the context's error): adapters wait for
// the answer of a commit they sent. Only a lost answer (a broken
// connection during the commit) returns an error matching
// [crm.ErrOutcomeUnknown], meaning the operation may have been stored;
// retrying the same request then settles it. Operations with an
// idempotency key replay their first result; a claim records a key of its
// own when the caller gave none, so a keyless claim retried by its actor
// returns the first result instead of [ErrTaken] ([Service.Claim]). Failures return
// typed errors ([ErrTaken], [ErrNotInPool], [*CooldownError],
// [*crm.LimitError], [*CollisionError], [crm.ErrPermissionDenied]) and leave
// nothing changed. A customer merged into another ([crm.Customer.MergedInto])
// takes part in none of them: claim, release, assign, transfer, lock,
// unlock, move and enter refuse it with [ErrMerged].
//
// The idempotency records behind these answers are kept until the host
// prunes them with [Service.PruneRequests] (from its scheduler, like
// [Service.Sweep]); keep them longer than any client retries.
//
// # Joining a unit of work
//
// Every mutating operation has a Tx form that joins a unit of work the
// caller holds instead of opening its own: [Service.ClaimTx],
// [Service.ReleaseTx], [Service.AssignTx], [Service.TransferTx],
// [Service.LockTx], [Service.UnlockTx], [Service.MoveTx], [Service.EnterTx],
// [Service.CreateTx], [Service.RecomputeTx], [Service.CreatePoolTx],
// [Service.UpdatePoolTx] and [Service.MoveUserTx]. The tx comes from
// [crm.Store.InTx], or is a host's own transaction (pgstore's
// Store.WithTx), so one commit can span pool operations, other domains and
// the host's own tables; nothing is kept unless the caller commits. The
// plain form is InTx plus the Tx form, on one code path; only
// [Service.Claim] may instead store a claim with one conditional write
// ([ClaimStore]). Idempotency keys work the same in both forms. A tx
// without the pool ports ([Tx]) gets an error matching
// [crm.ErrUnsupported]. Inside a memstore unit of work, use only its tx:
// the store's own repositories wait for the unit of work to end.
//
// A customer's department follows its owner: every operation that gives a
// customer an owner sets [crm.Customer.DepartmentID] to the owner's
// department, and every return to a pool clears it, so department and
// department-tree data scopes (package permission) cover exactly the
// customers their people own, and pooled customers are reached through pool
// scopes. When a person changes department, [Service.MoveUser] moves them
// and, in the same unit of work, their customers' departments and their
// holdings' [Holding.OwnerDepartmentID]. [DefaultAuthorizer] decides
// transfers and who sees an owner on the owner's current department, read
// in the unit of work, so a user moved by other means takes the say over
// their customers along too.
//
// # Merged customers
//
// When customers merge (package dedupe, wired by the root package crmkit),
// [Service.SettleMergeTx] settles ownership inside the merge's unit of
// work, after the customers were updated: an owned survivor keeps its
// owner, an unowned one takes the owner of the first owned loser (with the
// owned-customer counters), and every loser leaves its owner and its pool
// for good. Each change is an [OpMerge] ledger entry, which is its event. The
// returned [MergeOwnership] is plain JSON kept with the merge;
// [Service.UndoMergeTx] restores holdings, customers' ownership fields and
// counters from it ([OpUnmerge] entries), refusing with [crm.ErrConflict]
// when a holding changed since.
//
// # Recycling
//
// Every tracked customer carries a stored due time and reason
// ([Holding.DueAt], [Holding.DueReason]), recomputed by each operation and by
// [Service.Recompute], which hosts call after a follow-up, a deal or an
// opportunity; hosts sort by it, and a pool's [Pool.NoticeDays] has the
// reminder sweep (package remind) tell each owner once per due time that
// the customer falls back within that many days. [Service.Sweep]
// recycles what is due in batches, re-checking each candidate against its
// current facts; it is idempotent and safe from many instances at once
// (pgstore takes work with FOR UPDATE SKIP LOCKED). [Config.SweepWorkers]
// runs a call's batches in parallel, each in its own unit of work, which on
// PostgreSQL divides a large sweep among the server's cores. [Service.Plan]
// is its dry run. The package starts no background goroutines: hosts call
// Sweep from their scheduler, and its workers end before it returns.
//
// # Work queue
//
// [Service.FallingBack] pages the owned, unlocked customers that fall back
// within a time (overdue ones first), earliest due first, ties by customer
// ID: an owner's own ("mine"), or a team's, given as a [crm.DataScope] (the
// composition root passes the permission policy's list filter) or, by
// default, the departments the owner manages and those below them
// ([crm.QueueScope]). Its keyset cursor ([FallingBackCursor]) refuses a
// cursor of any other list or queue on "page.cursor". The adapter serves it
// through the optional [FallingBackQueue] port from ordered indexes per
// owner and per owner department (memstore and pgstore); without the port
// the call reports [crm.ErrUnsupported].
//
// # Anti-collision
//
// A [DuplicateChecker] is consulted when a customer is created or claimed
// (the root package crmkit provides one backed by package dedupe; this
// package imports no other domain); a match owned by someone else blocks or
// warns, per entry point ([CollisionMode]), and names the owner or pool only
// as far as the actor may see. [Service.Status] answers "is this customer
// free, in a pool, or protected by a colleague?" in one call. A checker that
// also implements [CustomerIndexer] keeps match keys current: Create and
// Enter hand it the stored customer in the same unit of work.
//
// # Storage
//
// The package declares its storage ports in [Tx]: an adapter supports pools
// when the unit of work it passes to InTx implements them (memstore and
// pgstore do); otherwise operations fail with [crm.ErrUnsupported].
//
// Three ports are optional. The package finds each by type assertion and
// falls back on its own when it is missing; memstore and pgstore implement
// all three:
//
//   - [ClaimStore], on the store: [Service.Claim] stores a claim with one
//     conditional write. Fallback: the claim runs in a unit of work.
//   - [BatchTx], on the unit of work: [Service.Sweep] recycles a batch in
//     a few statements instead of a dozen round trips per customer.
//     Fallback: one customer at a time.
//   - [RequestPruner], on [Tx.PoolRequests]: [Service.PruneRequests]
//     removes old idempotency records. Fallback: none possible;
//     PruneRequests reports [crm.ErrUnsupported].
//
// Adapters only compare versions and write: the rules stay here. They
// receive final values (the holding, the customer's [CustomerPlacement],
// counters with their maxima resolved) and check what they store with the
// package's own functions ([Holding.Validate], [Entry.Validate],
// [ValidateRecycleBatch], [ClaimWrite.Validate]). Every unit of work locks the holdings it needs first
// and then its counters in ascending key order ([Counters]), so concurrent
// operations (opposite transfers, sweeps, merge settlements) never
// deadlock on them; one caller's unit of work spanning several operations
// may still, and pgstore then retries it. The conformance group storetest.RunPool checks an adapter, including the
// concurrency invariants: one winner among 32 simultaneous claims, caps and
// daily limits exact under contention, each due customer recycled exactly
// once by concurrent sweeps, and a ledger whose replay ([Replay]) gives
// every customer's owner.
//
// # Events
//
// Each ledger entry is an event of the outbox, with the customer as
// subject: [EventClaimed], [EventReleased], [EventAssigned],
// [EventTransferred], [EventLocked], [EventUnlocked], [EventMoved],
// [EventPooled], [EventRecycled], [EventOwnershipMerged],
// [EventOwnershipUnmerged], and [EventAcquired] from [Service.Create].
// The store keeps one record that is both ([Ledger]): the event has the
// entry's ID and Seq, and relays deliver it like any other event. Its
// payload is the entry as an [EntryPayload] (aliases name it per type:
// [ClaimedPayload], ...), without the rule snapshot and idempotency key,
// which [Service.Ledger] reads; decode it with [crm.DecodePayload].
// [Entry.Event] is the event an entry is. [Service.MoveUser] writes
// [EventUserMoved] with a [UserMovedPayload], an event of its own.
package pool
