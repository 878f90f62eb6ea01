package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/pgstore"
)

// TestImportOnOneConnection runs two imports of one file at once on a
// pool of a single connection: a batch of one import loses to the other
// and is tried again while the next batch of its own import is waiting
// for it. The next batch lets go of the connection, so both imports end,
// with one customer per external ID.
func TestImportOnOneConnection(t *testing.T) {
	shared := testPool(t)
	schema := freshSchema(t, shared)
	s, err := pgstore.New(shared, &pgstore.Config{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	cfg, err := pgxpool.ParseConfig(os.Getenv(urlEnv))
	require.NoError(t, err)
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(one.Close)
	s1, err := pgstore.New(one, &pgstore.Config{Schema: schema})
	require.NoError(t, err)
	c, err := crmkit.New(s1, nil)
	require.NoError(t, err)

	rows := make([]crmkit.ImportRow, 60)
	for i := range rows {
		rows[i] = crmkit.ImportRow{Line: i + 2, ExternalID: fmt.Sprintf("P-%03d", i), Values: map[string]string{
			"kind": "person", "name": fmt.Sprintf("客户%03d", i), "email": fmt.Sprintf("c%03d@example.com", i)}}
	}
	ctx, cancel := context.WithTimeout(crm.WithTenant(context.Background(), "acme"), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sums := make([]*crmkit.ImportSummary, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			sums[i], errs[i] = c.ImportCustomers(ctx, crmkit.ImportRequest{Source: "erp", OnDuplicate: crmkit.DuplicateBlock, BatchSize: 4,
				Rows: func(yield func(crmkit.ImportRow, error) bool) {
					for _, r := range rows {
						if !yield(r, nil) {
							return
						}
					}
				}})
		})
	}
	wg.Wait()
	require.NoError(t, ctx.Err(), "the imports ended before the deadline")
	for i := range 2 {
		require.NoError(t, errs[i])
	}
	for j := range rows {
		require.Equal(t, sums[0].Results[j].CustomerID, sums[1].Results[j].CustomerID, "line %d: one customer", rows[j].Line)
	}
	var n int
	require.NoError(t, shared.QueryRow(context.Background(), "SELECT count(*) FROM "+schema+".crm_customers WHERE tenant_id = 'acme'").Scan(&n))
	require.Equal(t, len(rows), n)
}
