package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/crm"
)

// Config configures a [Store]. nil means all defaults.
type Config struct {
	// Schema is the PostgreSQL schema holding crmkit's tables: 1-63
	// lower-case letters, digits or underscores. Defaults to "public".
	Schema string
	// Clock stamps CreatedAt, UpdatedAt and acknowledgements. Defaults to
	// crm.SystemClock.
	Clock crm.Clock
}

func (c *Config) withDefaults() Config {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.Schema == "" {
		out.Schema = "public"
	}
	if out.Clock == nil {
		out.Clock = crm.SystemClock{}
	}
	return out
}

func (c *Config) validate() error {
	return validSchema(c.Schema)
}

// maxAttempts bounds how often InTx runs a unit of work that PostgreSQL
// aborted with a serialisation failure or a deadlock: once plus three
// retries.
const maxAttempts = 4

// Store is the PostgreSQL storage adapter. It implements [crm.Store] and is
// safe for concurrent use; it holds no connection of its own and starts no
// goroutines.
type Store struct {
	pool   *pgxpool.Pool
	clock  crm.Clock
	schema string
	sql    *statements
}

var (
	_ crm.Store  = (*Store)(nil)
	_ crm.Tx     = view{}
	_ crm.Outbox = outbox{}
)

// New returns a store over pool using the tables in cfg.Schema, which
// [Migrate] (or [Store.Migrate]) must have created. New does no I/O.
func New(pool *pgxpool.Pool, cfg *Config) (*Store, error) {
	if pool == nil {
		return nil, crm.Invalid("pool", "is required")
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Store{pool: pool, clock: c.Clock, schema: c.Schema, sql: newStatements(c.Schema)}, nil
}

// Schema returns the schema the store uses.
func (s *Store) Schema() string { return s.schema }

// Migrate runs [Migrate] on the store's pool and schema.
func (s *Store) Migrate(ctx context.Context) error { return Migrate(ctx, s.pool, s.schema) }

// txKey marks the context of a unit of work run by InTx.
type txKey struct{}

// view is a [crm.Tx]: the store's autocommit view (tx == nil), a unit of work
// of InTx, or a host's transaction (WithTx).
type view struct {
	s *Store
	// q runs statements: the pool, or tx.
	q  DBTX
	tx pgx.Tx
}

func (s *Store) auto() view { return view{s: s, q: s.pool} }

// WithTx returns crmkit's repositories over a transaction the host began on
// the same database, so crmkit's writes commit or roll back with the host's
// own. The host owns tx: it commits or rolls back, and must not use tx from
// several goroutines at once. Serialisation failures are not retried here;
// they return [crm.ErrConflict] and the host decides.
func (s *Store) WithTx(tx pgx.Tx) crm.Tx { return view{s: s, q: tx, tx: tx} }

// Leads returns the autocommit lead repository: each call is a unit of work
// of its own.
func (s *Store) Leads() crm.LeadRepository { return s.auto().Leads() }

// Customers returns the autocommit customer repository.
func (s *Store) Customers() crm.CustomerRepository { return s.auto().Customers() }

// Contacts returns the autocommit contact repository.
func (s *Store) Contacts() crm.ContactRepository { return s.auto().Contacts() }

// Opportunities returns the autocommit opportunity repository.
func (s *Store) Opportunities() crm.OpportunityRepository { return s.auto().Opportunities() }

// Activities returns the autocommit activity repository.
func (s *Store) Activities() crm.ActivityRepository { return s.auto().Activities() }

// Tickets returns the autocommit ticket repository.
func (s *Store) Tickets() crm.TicketRepository { return s.auto().Tickets() }

// Users returns the autocommit user repository.
func (s *Store) Users() crm.UserRepository { return s.auto().Users() }

// Departments returns the autocommit department repository.
func (s *Store) Departments() crm.DepartmentRepository { return s.auto().Departments() }

// Teams returns the autocommit team repository.
func (s *Store) Teams() crm.TeamRepository { return s.auto().Teams() }

// Tasks returns the autocommit task repository.
func (s *Store) Tasks() crm.TaskRepository { return s.auto().Tasks() }

// Events returns an autocommit event writer.
func (s *Store) Events() crm.EventWriter { return s.auto().Events() }

// Outbox returns the outbox reader, which spans every tenant.
func (s *Store) Outbox() crm.Outbox { return outbox{s.auto()} }

func (v view) Leads() crm.LeadRepository {
	return repo[crm.Lead, crm.LeadFilter, *crm.Lead, *crm.LeadFilter]{v, v.s.sql.leads}
}
func (v view) Customers() crm.CustomerRepository {
	return repo[crm.Customer, crm.CustomerFilter, *crm.Customer, *crm.CustomerFilter]{v, v.s.sql.customers}
}
func (v view) Contacts() crm.ContactRepository {
	return repo[crm.Contact, crm.ContactFilter, *crm.Contact, *crm.ContactFilter]{v, v.s.sql.contacts}
}
func (v view) Opportunities() crm.OpportunityRepository {
	return repo[crm.Opportunity, crm.OpportunityFilter, *crm.Opportunity, *crm.OpportunityFilter]{v, v.s.sql.opportunities}
}
func (v view) Activities() crm.ActivityRepository {
	return repo[crm.Activity, crm.ActivityFilter, *crm.Activity, *crm.ActivityFilter]{v, v.s.sql.activities}
}
func (v view) Tickets() crm.TicketRepository {
	return repo[crm.Ticket, crm.TicketFilter, *crm.Ticket, *crm.TicketFilter]{v, v.s.sql.tickets}
}
func (v view) Users() crm.UserRepository {
	return repo[crm.User, crm.UserFilter, *crm.User, *crm.UserFilter]{v, v.s.sql.users}
}
func (v view) Departments() crm.DepartmentRepository {
	return repo[crm.Department, crm.DepartmentFilter, *crm.Department, *crm.DepartmentFilter]{v, v.s.sql.departments}
}
func (v view) Teams() crm.TeamRepository {
	return repo[crm.Team, crm.TeamFilter, *crm.Team, *crm.TeamFilter]{v, v.s.sql.teams}
}
func (v view) Tasks() crm.TaskRepository {
	return repo[crm.Task, crm.TaskFilter, *crm.Task, *crm.TaskFilter]{v, v.s.sql.tasks}
}
func (v view) Events() crm.EventWriter { return eventWriter{v} }

// check refuses a call whose context has ended, and a call on the
// autocommit view from inside InTx's function: it would run outside the
// unit of work (and could wait forever on a row lock the unit holds).
func (v view) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if v.tx == nil {
		if s, _ := ctx.Value(txKey{}).(*Store); s == v.s {
			return crm.ErrNestedTx
		}
	}
	return nil
}

// atomic runs fn in the view's transaction, or in a new one for an
// autocommit call that needs several statements to be atomic.
func (v view) atomic(ctx context.Context, fn func(q pgx.Tx) error) (err error) {
	if v.tx != nil {
		return fn(v.tx)
	}
	tx, err := v.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return commit(ctx, tx)
}

// commitTimeout bounds how long a COMMIT that was sent is waited for.
const commitTimeout = 30 * time.Second

// commit commits tx; the caller checked that ctx has not ended. The
// answer is awaited even if ctx ends meanwhile (up to commitTimeout), so a
// cancelled caller learns what happened: committed (nil) or not (an
// error). Only a lost answer is [crm.ErrOutcomeUnknown].
func commit(ctx context.Context, tx pgx.Tx) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return commitError(cctx, tx.Commit(cctx))
}

// InTx runs fn in one READ COMMITTED transaction. That level suffices
// because every update and delete is conditional on the version the caller
// read, and rules that span rows take row or advisory locks. fn is run again
// (up to three more times) when PostgreSQL aborts the transaction with a
// serialisation failure or a deadlock; after that InTx returns an error
// matching [crm.ErrConflict].
//
// If fn returns an error or panics, or ctx ends before the commit, the
// transaction is rolled back (a panic is re-raised after the rollback).
// Once COMMIT is sent, InTx waits for its answer even if ctx ends, so an
// ended context never leaves the outcome open: InTx returns nil when the
// transaction committed and an error when it did not. Only when the
// answer is lost (the connection breaks, or no answer within 30 seconds)
// does InTx return an error matching [crm.ErrOutcomeUnknown]: the unit of
// work may have been stored.
// Calling InTx, or the store's own repositories, from inside fn returns
// [crm.ErrNestedTx].
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	if st, _ := ctx.Value(txKey{}).(*Store); st == s {
		return crm.ErrNestedTx
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = s.runTx(ctx, fn)
		if err == nil || !shouldRetry(err) {
			return err
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			if !errors.Is(err, crm.ErrConflict) {
				err = fmt.Errorf("%w: %w", crm.ErrConflict, err)
			}
			return fmt.Errorf("pgstore: unit of work aborted %d times: %w", attempt, err)
		}
	}
}

func (s *Store) runTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: begin: %w", err)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("pgstore: begin: %w", dbError(ctx, err))
	}
	committed := false
	defer func() {
		if !committed {
			// Without the caller's cancellation, so a healthy connection
			// goes back to the pool cleanly; a broken one fails fast.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, s), view{s: s, q: tx, tx: tx}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	if err := commit(ctx, tx); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	committed = true
	return nil
}
