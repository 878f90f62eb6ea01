package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/pgstore"
)

// Pools stored with the entry form of schema version 10 are rewritten into
// the condition language by migration 11 and select the same customers;
// migrating down restores the old form.
func TestMigrationRewritesPoolEntryRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testPool(t)
	schema := freshSchema(t, db)
	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 10))

	id := crm.UUIDv7{}.NewID()
	old := `{"id":"` + id.String() + `","name":"East","members":{"all":true},"version":1,
		"entry":{"match":[{"field":"region","in":["cn-east","cn-north"]},{"field":"fields.tier","in":["gold"]}]}}`
	table := pgx.Identifier{schema, "crm_pools"}.Sanitize()
	_, err := db.Exec(ctx, "INSERT INTO "+table+" (id, version, created_at, updated_at, definition) VALUES ($1, 1, now(), now(), $2::jsonb)", id.String(), old)
	require.NoError(t, err)

	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	s, err := pgstore.New(db, &pgstore.Config{Schema: schema})
	require.NoError(t, err)
	var got *pool.Pool
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		got, err = tx.(pool.Tx).Pools().Get(ctx, id)
		return err
	}))
	require.NoError(t, got.Validate())
	in := &crm.Customer{Name: "Acme", Region: "CN-East", Fields: crm.Fields{"tier": crm.String("Gold")}}
	out := &crm.Customer{Name: "Acme", Region: "cn-west", Fields: crm.Fields{"tier": crm.String("gold")}}
	require.True(t, got.Matches(in))
	require.False(t, got.Matches(out))

	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 10))
	var entry string
	require.NoError(t, db.QueryRow(ctx, "SELECT definition->>'entry' FROM "+table+" WHERE id = $1", id.String()).Scan(&entry))
	require.JSONEq(t, `{"match":[{"field":"region","in":["cn-east","cn-north"]},{"field":"fields.tier","in":["gold"]}]}`, entry)
}
