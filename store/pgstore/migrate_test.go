package pgstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/pgstore"
)

// tableCount counts the crm_ tables of schema, the version table included.
func tableCount(t *testing.T, pool *pgxpool.Pool, schema string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'crm\_%'`, schema).Scan(&n)
	require.NoError(t, err)
	return n
}

// createdTables counts the tables the embedded up migrations leave: their
// CREATE TABLE statements less their DROP TABLE statements, so adding a
// migration does not change this test.
func createdTables(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.up.sql"))
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		n += strings.Count(string(b), "CREATE TABLE ") - strings.Count(string(b), "DROP TABLE ")
	}
	return n
}

func requireVersion(t *testing.T, db pgstore.DBTX, schema string, want int) {
	t.Helper()
	v, err := pgstore.SchemaVersion(context.Background(), db, schema)
	require.NoError(t, err)
	require.Equal(t, want, v)
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testPool(t)
	migs, err := pgstore.Migrations()
	require.NoError(t, err)
	latest := migs[len(migs)-1].Version

	t.Run("UpDownUpLeavesAWorkingSchema", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)
		requireVersion(t, pool, schema, 0)
		require.NoError(t, pgstore.Migrate(ctx, pool, schema))
		requireVersion(t, pool, schema, latest)
		require.Equal(t, 1+createdTables(t), tableCount(t, pool, schema))

		require.NoError(t, pgstore.MigrateDown(ctx, pool, schema, 0))
		requireVersion(t, pool, schema, 0)
		require.Equal(t, 1, tableCount(t, pool, schema), "only crm_schema_migrations is left")

		require.NoError(t, pgstore.Migrate(ctx, pool, schema))
		requireVersion(t, pool, schema, latest)
		s, err := pgstore.New(pool, &pgstore.Config{Schema: schema})
		require.NoError(t, err)
		c := &crm.Customer{Meta: crm.Meta{ID: crm.UUIDv7{}.NewID()}, Name: "Huateng"}
		require.NoError(t, s.Customers().Create(ctx, c))
	})

	t.Run("MigrateTwiceIsANoOp", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)
		require.NoError(t, pgstore.Migrate(ctx, pool, schema))
		require.NoError(t, pgstore.Migrate(ctx, pool, schema))
		requireVersion(t, pool, schema, latest)
	})

	t.Run("ConcurrentMigrationsAllSucceed", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = pgstore.Migrate(ctx, pool, schema) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		requireVersion(t, pool, schema, latest)
		var applied int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "crm_schema_migrations"}.Sanitize()).Scan(&applied))
		require.Equal(t, latest, applied, "each migration is recorded once")
	})

	t.Run("RunsInsideTheHostsTransaction", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)

		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, pgstore.Migrate(ctx, tx, schema))
		requireVersion(t, tx, schema, latest)
		require.NoError(t, tx.Rollback(ctx))
		requireVersion(t, pool, schema, 0)

		tx, err = pool.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, pgstore.Migrate(ctx, tx, schema))
		require.NoError(t, tx.Commit(ctx))
		requireVersion(t, pool, schema, latest)
	})

	t.Run("RunsOnAPooledConnection", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		require.NoError(t, pgstore.Migrate(ctx, conn, schema))
		requireVersion(t, conn, schema, latest)
	})

	t.Run("RefusesASchemaNewerThanTheCode", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)
		require.NoError(t, pgstore.Migrate(ctx, pool, schema))
		_, err := pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "crm_schema_migrations"}.Sanitize()+" (version, name) VALUES (9999, 'future')")
		require.NoError(t, err)
		require.ErrorIs(t, pgstore.Migrate(ctx, pool, schema), crm.ErrFailedPrecondition)
	})

	t.Run("RefusesBadArguments", func(t *testing.T) {
		t.Parallel()
		var ve *crm.ValidationError
		require.ErrorAs(t, pgstore.Migrate(ctx, pool, `x"; DROP SCHEMA public; --`), &ve)
		require.Equal(t, "schema", ve.Field)
		require.ErrorAs(t, pgstore.MigrateDown(ctx, pool, "crm", latest+1), &ve)
		require.Equal(t, "version", ve.Field)
		_, err := pgstore.SchemaVersion(ctx, pool, "Upper")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})

	t.Run("CancelledContextStopsMigrating", func(t *testing.T) {
		t.Parallel()
		schema := freshSchema(t, pool)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, pgstore.Migrate(cctx, pool, schema), context.Canceled)
		requireVersion(t, pool, schema, 0)
	})
}

func TestMigrationsAreEmbeddedInOrder(t *testing.T) {
	migs, err := pgstore.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, migs)
	for i, m := range migs {
		require.Equal(t, i+1, m.Version)
		require.NotEmpty(t, m.Name)
	}
}

func TestNew(t *testing.T) {
	pool := &pgxpool.Pool{} // New does no I/O, so an unconnected pool will do
	t.Run("DefaultsToThePublicSchema", func(t *testing.T) {
		s, err := pgstore.New(pool, nil)
		require.NoError(t, err)
		require.Equal(t, "public", s.Schema())
	})
	t.Run("RefusesANilPool", func(t *testing.T) {
		_, err := pgstore.New(nil, nil)
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "pool", ve.Field)
	})
	for _, bad := range []string{"Crm", "1crm", "crm-x", "crm.x", `crm"`, "pg_crm", "a234567890123456789012345678901234567890123456789012345678901234"} {
		t.Run("RefusesSchema "+bad, func(t *testing.T) {
			_, err := pgstore.New(pool, &pgstore.Config{Schema: bad})
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "schema", ve.Field)
		})
	}
}
