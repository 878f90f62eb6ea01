package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/pgstore"
)

const urlEnv = "CRMKIT_TEST_DATABASE_URL"

// sharedPool is opened once by TestMain when the database URL is set; every
// test works in schemas of its own, so sharing connections is safe and keeps
// the server's connection count low.
var sharedPool *pgxpool.Pool

func TestMain(m *testing.M) {
	if url := os.Getenv(urlEnv); url != "" {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgstore tests: bad %s: %v\n", urlEnv, err)
			os.Exit(2)
		}
		cfg.MaxConns = 8
		// Test data need not survive a crash; not waiting for the WAL
		// flush at each commit makes the suite's many migrations cheaper.
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
		sharedPool, err = pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgstore tests: connect: %v\n", err)
			os.Exit(2)
		}
	}
	code := m.Run()
	if sharedPool != nil {
		dropRecycledSchemas(sharedPool)
		sharedPool.Close()
	}
	os.Exit(code)
}

// testPool returns the shared pool, skipping the test when no database is
// configured (and failing it on CI, where one must be).
func testPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	if sharedPool == nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set; CI must provide a PostgreSQL database", urlEnv)
		}
		tb.Skipf("%s is not set; skipping PostgreSQL tests (e.g. export %s=postgres://postgres:postgres@localhost:5432/crmkit_test?sslmode=disable)", urlEnv, urlEnv)
	}
	return sharedPool
}

// freshSchema returns the name of a schema that does not exist yet and is
// dropped, with everything in it, when the test ends.
func freshSchema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "crmkit_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// newStore returns a store over a fresh, migrated schema.
func newStore(tb testing.TB, clock crm.Clock) *pgstore.Store {
	tb.Helper()
	pool := testPool(tb)
	schema := freshSchema(tb, pool)
	s, err := pgstore.New(pool, &pgstore.Config{Schema: schema, Clock: clock})
	require.NoError(tb, err)
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

// recycled holds migrated schemas emptied by earlier conformance subtests.
// Migrating a fresh schema of some forty tables costs far more than
// truncating one, and the conformance suite makes hundreds of stores.
var recycled = make(chan string, 64)

// recycledStore returns a store over an empty, migrated schema: a recycled
// one when available, else a fresh one. When the test ends the schema is
// truncated (sequences restarted) and offered for reuse, so every store
// still starts exactly as empty as a new one.
func recycledStore(tb testing.TB, clock crm.Clock) *pgstore.Store {
	tb.Helper()
	pool := testPool(tb)
	var schema string
	select {
	case schema = <-recycled:
	default:
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema = "crmkit_test_" + hex.EncodeToString(b[:])
		s, err := pgstore.New(pool, &pgstore.Config{Schema: schema})
		require.NoError(tb, err)
		require.NoError(tb, s.Migrate(context.Background()))
	}
	tb.Cleanup(func() {
		if err := truncateSchema(context.Background(), pool, schema); err != nil {
			tb.Errorf("empty schema %s: %v", schema, err)
			return
		}
		select {
		case recycled <- schema:
		default:
			_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		}
	})
	s, err := pgstore.New(pool, &pgstore.Config{Schema: schema, Clock: clock})
	require.NoError(tb, err)
	return s
}

// truncateSchema empties every crmkit table of schema except the migration
// history, restarting sequences.
func truncateSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'crm\_%' AND tablename <> 'crm_schema_migrations'`, schema)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("no crm_ tables in schema %s", schema)
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgx.Identifier{schema, t}.Sanitize()
	}
	_, err = pool.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")+" RESTART IDENTITY CASCADE")
	return err
}

func dropRecycledSchemas(pool *pgxpool.Pool) {
	for {
		select {
		case schema := <-recycled:
			_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		default:
			return
		}
	}
}
