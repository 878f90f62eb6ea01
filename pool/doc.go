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
// (users, departments, department trees), an entry rule selecting customers by
// field, a priority deciding between several matching pools (the highest wins,
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
// reason, rule and rule snapshot, actor or system, time) and an event to the
// outbox, and applies the configured [Cascade] to contacts, open
// opportunities and follow-up plans. With an idempotency key a retried
// request returns the first result ([Result.Replayed]). Failures return
// typed errors ([ErrTaken], [ErrNotInPool], [*CooldownError],
// [*crm.LimitError], [*CollisionError], [crm.ErrPermissionDenied]) and leave
// nothing changed.
//
// A customer's department follows its owner: every operation that gives a
// customer an owner sets [crm.Customer.DepartmentID] to the owner's
// department, and every return to a pool clears it, so department and
// department-tree data scopes (package permission) cover exactly the
// customers their people own, and pooled customers are reached through pool
// scopes.
//
// # Recycling
//
// Every tracked customer carries a stored due time and reason
// ([Holding.DueAt], [Holding.DueReason]), recomputed by each operation and by
// [Service.Recompute], which hosts call after a follow-up, a deal or an
// opportunity; hosts sort by it and remind owners before it. [Service.Sweep]
// recycles what is due in batches, re-checking each candidate against its
// current facts; it is idempotent and safe from many instances at once
// (pgstore takes work with FOR UPDATE SKIP LOCKED). [Config.SweepWorkers]
// runs a call's batches in parallel, each in its own unit of work, which on
// PostgreSQL divides a large sweep among the server's cores. [Service.Plan]
// is its dry run. The package starts no background goroutines: hosts call
// Sweep from their scheduler, and its workers end before it returns.
//
// # Anti-collision
//
// A [DuplicateChecker] (the dedupe package provides one) is consulted when a
// customer is created or claimed; a match owned by someone else blocks or
// warns, per entry point ([CollisionMode]), and names the owner or pool only
// as far as the actor may see. [Service.Status] answers "is this customer
// free, in a pool, or protected by a colleague?" in one call.
//
// # Storage
//
// The package declares its storage ports in [Tx]: an adapter supports pools
// when the unit of work it passes to InTx implements them (memstore and
// pgstore do); otherwise operations fail with [crm.ErrUnsupported]. An
// adapter that also implements [BatchTx] (memstore, pgstore) gets
// set-based sweeps: a few statements per batch instead of a dozen round
// trips per customer. The conformance group storetest.RunPool checks an adapter, including the
// concurrency invariants: one winner among 32 simultaneous claims, caps and
// daily limits exact under contention, each due customer recycled exactly
// once by concurrent sweeps, and a ledger whose replay ([Replay]) gives
// every customer's owner.
package pool
