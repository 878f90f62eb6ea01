package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmkit/crmkit/crm"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DBTX is what the migrator and [Store.WithTx] need from a connection:
// *pgxpool.Pool, *pgxpool.Conn, *pgx.Conn and pgx.Tx all satisfy it.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// beginner is implemented by every DBTX pgx offers; on a pgx.Tx, Begin
// starts a savepoint.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migration is one schema change with its up and down SQL.
type Migration struct {
	// Version numbers migrations from 1 without gaps.
	Version int
	// Name is the file name's description, such as "init".
	Name string
	up   string
	down string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pgstore: read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("pgstore: migration file %q is not named NNNN_name.up.sql or NNNN_name.down.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("pgstore: read migration %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if mig.Name != m[2] {
			// Two branches took one number: running either alone would
			// skip the other's change without a word.
			return nil, fmt.Errorf("pgstore: migrations %04d_%s and %04d_%s share a version", v, mig.Name, v, m[2])
		}
		if m[3] == "up" {
			mig.up = string(body)
		} else {
			mig.down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for v := 1; v <= len(byVersion); v++ {
		mig := byVersion[v]
		if mig == nil || mig.up == "" || mig.down == "" {
			return nil, fmt.Errorf("pgstore: migration %04d is missing or lacks an up or down file", v)
		}
		out = append(out, *mig)
	}
	return out, nil
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// validSchema reports a schema name that is not a plain lower-case
// identifier; such names need no quoting rules to be spelled the same in SQL,
// psql and a host's own migrations.
func validSchema(schema string) error {
	if !identifier.MatchString(schema) {
		return crm.Invalid("schema", "must be 1-63 lower-case letters, digits or underscores, starting with a letter or underscore, got %q", schema)
	}
	if strings.HasPrefix(schema, "pg_") {
		return crm.Invalid("schema", "names starting with pg_ are reserved by PostgreSQL")
	}
	return nil
}

// render substitutes the quoted schema into a migration's SQL.
func render(sql, schema string) string {
	return strings.ReplaceAll(sql, "{{schema}}", pgx.Identifier{schema}.Sanitize())
}

// Migrate brings schema up to the latest embedded migration, creating the
// schema and its crm_schema_migrations table when missing. It is safe to
// call from many instances at once: a transaction-scoped advisory lock per
// schema serialises them, and migrations already applied are skipped.
//
// db may be a pool, a connection or the host's own pgx.Tx: on a pool or a
// connection Migrate runs in a transaction of its own; on a pgx.Tx it runs
// in a savepoint and the host's commit makes it permanent (the advisory lock
// is then held until the host's transaction ends).
func Migrate(ctx context.Context, db DBTX, schema string) error {
	migs, err := Migrations()
	if err != nil {
		return err
	}
	return migrateTo(ctx, db, schema, len(migs), migs)
}

// MigrateDown reverts migrations newer than version, newest first; 0 reverts
// every migration and drops all crmkit tables (and their data) from schema,
// leaving the schema and its (empty) crm_schema_migrations table. Like
// [Migrate] it runs in one transaction or savepoint under the advisory lock.
func MigrateDown(ctx context.Context, db DBTX, schema string, version int) error {
	migs, err := Migrations()
	if err != nil {
		return err
	}
	if version < 0 || version > len(migs) {
		return crm.Invalid("version", "must be between 0 and %d, got %d", len(migs), version)
	}
	return migrateTo(ctx, db, schema, version, migs)
}

// SchemaVersion returns the newest migration applied to schema, 0 when none
// is (or when the schema does not exist).
func SchemaVersion(ctx context.Context, db DBTX, schema string) (int, error) {
	if err := validSchema(schema); err != nil {
		return 0, err
	}
	var exists bool
	err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, "crm_schema_migrations"}.Sanitize()).Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("pgstore: schema version: %w", dbError(ctx, err))
	}
	if !exists {
		return 0, nil
	}
	var v int
	err = db.QueryRow(ctx, render(`SELECT coalesce(max(version), 0) FROM {{schema}}.crm_schema_migrations`, schema)).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("pgstore: schema version: %w", dbError(ctx, err))
	}
	return v, nil
}

func migrateTo(ctx context.Context, db DBTX, schema string, target int, migs []Migration) (err error) {
	if err := validSchema(schema); err != nil {
		return err
	}
	b, ok := db.(beginner)
	if !ok {
		return errors.New("pgstore: migrate: db cannot begin a transaction")
	}
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: begin: %w", dbError(ctx, err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := migrateLocked(ctx, tx, schema, target, migs); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: commit: %w", dbError(ctx, err))
	}
	return nil
}

func migrateLocked(ctx context.Context, tx pgx.Tx, schema string, target int, migs []Migration) error {
	// The lock comes first: CREATE SCHEMA IF NOT EXISTS is not safe against
	// a concurrent CREATE of the same name.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('crm_schema_migrations:' || $1))`, schema); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", dbError(ctx, err))
	}
	setup := render(`CREATE SCHEMA IF NOT EXISTS {{schema}};
CREATE TABLE IF NOT EXISTS {{schema}}.crm_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`, schema)
	if _, err := tx.Exec(ctx, setup); err != nil {
		return fmt.Errorf("pgstore: migrate: create version table: %w", dbError(ctx, err))
	}
	rows, err := tx.Query(ctx, render(`SELECT version FROM {{schema}}.crm_schema_migrations`, schema))
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read versions: %w", dbError(ctx, err))
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read versions: %w", dbError(ctx, err))
	}
	for _, v := range applied {
		if v > len(migs) {
			return fmt.Errorf("pgstore: migrate: schema %s is at version %d, newer than this crmkit's %d: %w", schema, v, len(migs), crm.ErrFailedPrecondition)
		}
	}
	for _, m := range migs {
		if m.Version > target || slices.Contains(applied, m.Version) {
			continue
		}
		if _, err := tx.Exec(ctx, render(m.up, schema)); err != nil {
			return fmt.Errorf("pgstore: migrate: %04d_%s up: %w", m.Version, m.Name, dbError(ctx, err))
		}
		if _, err := tx.Exec(ctx, render(`INSERT INTO {{schema}}.crm_schema_migrations (version, name) VALUES ($1, $2)`, schema), m.Version, m.Name); err != nil {
			return fmt.Errorf("pgstore: migrate: record %04d: %w", m.Version, dbError(ctx, err))
		}
	}
	for i := len(migs) - 1; i >= 0; i-- {
		m := migs[i]
		if m.Version <= target || !slices.Contains(applied, m.Version) {
			continue
		}
		if _, err := tx.Exec(ctx, render(m.down, schema)); err != nil {
			return fmt.Errorf("pgstore: migrate: %04d_%s down: %w", m.Version, m.Name, dbError(ctx, err))
		}
		if _, err := tx.Exec(ctx, render(`DELETE FROM {{schema}}.crm_schema_migrations WHERE version = $1`, schema), m.Version); err != nil {
			return fmt.Errorf("pgstore: migrate: unrecord %04d: %w", m.Version, dbError(ctx, err))
		}
	}
	return nil
}
