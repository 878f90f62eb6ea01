// Package pgstore is crmkit's PostgreSQL storage adapter: a [crm.Store] over
// a pgx v5 connection pool, with embedded migrations. It is the reference for
// production use and the proof that crmkit's storage ports hold under real
// transactions.
//
// # Setup
//
// The host owns the pool; pgstore neither opens nor closes it and starts no
// goroutines:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store, err := pgstore.New(pool, &pgstore.Config{Schema: "crm"})
//	err = store.Migrate(ctx) // or pgstore.Migrate(ctx, pool, "crm") from a deploy step
//
// [New] does no I/O; a nil [Config] uses schema "public" and the system
// clock.
//
// # Migrations
//
// The schema is created by SQL files embedded in the package
// (migrations/NNNN_name.up.sql and .down.sql). [Migrate] applies the missing
// ones and records each in the table crm_schema_migrations of the schema;
// [MigrateDown] reverts to an earlier version; [SchemaVersion] reports the
// current one. Both take a pool, a connection or the host's own pgx.Tx (see
// [DBTX]), so crmkit's tables can be created in the same transaction as the
// host's. A transaction-scoped advisory lock per schema makes concurrent
// calls from several instances safe: one migrates, the others wait and then
// find nothing to do. [Migrations] lists what is embedded.
//
// # Schema
//
// Every table is prefixed crm_ and lives in the configured schema:
// crm_leads, crm_customers, crm_contacts, crm_opportunities, crm_activities,
// crm_tickets, crm_users, crm_departments, crm_teams, the outbox
// crm_events and the field history crm_history (migration 0013; its old
// and new values are json, not jsonb, so they read back byte for byte).
// Each scalar field has a typed column (uuid, text, integer,
// boolean, timestamptz; Money as a numeric amount plus a text currency),
// string lists are text[], team members uuid[], and custom [crm.Fields] are
// jsonb in their own JSON encoding. A reference to nothing ([crm.NilID]) is
// NULL. The primary key is id; tenant_id is text, ” for the default tenant.
// Every list filter has an index (tenant_id, column, id), so a filtered page
// is one index range; user emails are unique per tenant on the trimmed,
// lower-cased key [crm.User.EmailKey]. Times are stored and returned as UTC
// microseconds ([crm.StorageTime]), so values read back equal memstore's.
//
// # Host transactions
//
// [Store.InTx] runs a unit of work in a transaction of its own.
// A host that already has a transaction passes it to [Store.WithTx] and gets
// crmkit's repositories inside it: crmkit's writes (and outbox events) then
// commit or roll back with the host's, and the host ends the transaction.
//
//	tx, err := pool.Begin(ctx)
//	defer tx.Rollback(ctx)
//	err = store.WithTx(tx).Customers().Create(ctx, customer)
//	// ... the host's own statements on tx ...
//	err = tx.Commit(ctx)
//
// # Error mapping
//
// One function translates PostgreSQL errors, and the original error stays in
// the chain for errors.As:
//
//   - no row: [crm.ErrNotFound]
//   - unique_violation (23505), a repeated ID or user email:
//     [crm.ErrAlreadyExists]
//   - serialization_failure (40001) or deadlock_detected (40P01):
//     [crm.ErrConflict], after InTx's retries
//   - a server that cannot be reached, shuts down or drops the connection:
//     [crm.ErrUnavailable]
//   - a cancelled or expired context: the context's error
//
// Bad input is a [*crm.ValidationError] (or [crm.ValidationErrors]) returned
// unchanged, before any statement runs. Other failures read
// "pgstore: <op> <type> <id>: <cause>".
//
// Once COMMIT is sent, InTx waits for its answer even when the caller's
// context ends (for up to 30 seconds), so an ended context never leaves the
// outcome open: the unit of work is either stored (no error) or not (the
// context's error). Only a connection lost while COMMIT is in flight, or a
// server that does not answer in time, is reported as
// [crm.ErrOutcomeUnknown]: the server may have committed, and no client can
// know. Retry the same request: pool claims record an idempotency key of
// their own and replay their first result, other operations with a key do
// the same, and records and events have caller-chosen IDs, so a repeated
// Create reports [crm.ErrAlreadyExists]. A write through the store's
// autocommit repositories (outside InTx) is one statement that commits on
// its own: when the context ends while the statement is with the server, it
// is reported as [crm.ErrOutcomeUnknown] unless the statement never left or
// the server refused it, so a context error always means nothing was
// stored.
// A one-write pool claim (pool.ClaimStore) is one batch that commits on its
// own; it is awaited like a COMMIT, and when the context ends first a
// cancel request stops it if it has not committed yet, so its outcome is
// definite too.
//
// # Concurrency
//
// A [Store] is safe for concurrent use by many goroutines and many
// instances. Units of work run at READ COMMITTED: every update and delete
// is conditional on the version the caller read (a stale version is
// [crm.ErrConflict], never a lost update), unique keys are enforced by
// unique indexes, and changes to a tenant's department tree are serialised
// by a transaction-scoped advisory lock, so two concurrent moves cannot
// together make a cycle. InTx retries a unit of work that PostgreSQL aborts
// with a serialisation failure or deadlock up to three times, so its
// function must not have effects outside the transaction.
//
// The outbox implements [crm.Deliveries], so several relays can share the
// delivery of events: leasing is serialised per schema by a
// transaction-scoped advisory lock, which settlements hold shared, and a
// lease is one UPDATE of the lowest deliverable events. Migration 0012 adds
// the delivery state to crm_events.
//
// Pool ledger entries are rows of crm_events (migration 0014): one row is
// both the entry and its event, marked by ledger_op, with the rule
// snapshot and idempotency key in ledger_rule and ledger_key.
//
// A failed statement aborts a PostgreSQL transaction. pgstore therefore
// reports the expected refusals (a repeated ID or email, a stale version, a
// missing record, a department with children) without a failing statement,
// so a unit of work may handle them and carry on, as it can with memstore.
package pgstore
