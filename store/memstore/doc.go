// Package memstore is crmkit's in-memory storage adapter: a complete
// [crm.Store] for tests, demos and small tools.
//
// # Semantics
//
// memstore enforces the same contract as the PostgreSQL adapter, and the
// conformance suite in store/storetest keeps the two honest: optimistic
// versions ([crm.ErrConflict] on a stale version), unique keys
// ([crm.ErrAlreadyExists]), tenant isolation, validated writes, the
// department tree without cycles, keyset pagination in ID order, a
// transactional outbox, and field history ([crm.History], on the store and
// its units of work), indexed by record, actor and time so that reads and
// purges never scan the whole history.
//
// # Copies
//
// Values are deep-copied on the way in and out: changing a record after
// Create, or the record Get returned, changes nothing stored.
//
// # Units of work
//
// [Store.InTx] holds the store's write lock for the whole function and keeps
// an undo log, so a unit of work is atomic and isolated: if the function
// returns an error, panics, or its context ends, every change is undone.
// Calls on the store's own repositories are single-call units of work; they
// take a read or write lock. Calling the store (rather than the tx) from
// inside a unit of work returns [crm.ErrNestedTx] instead of deadlocking.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. Units of work run one at a time,
// which is stricter than PostgreSQL's isolation and never weaker.
package memstore
