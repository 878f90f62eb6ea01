package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/segment"
)

// TestComputeRFMScoresAsQuintile checks the cut-point scoring of
// ComputeRFM against segment.Quintile over the stored aggregates, for
// small and odd tenant sizes with heavy ties (where a rounding error in
// the cut points would show).
func TestComputeRFMScoresAsQuintile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	s := newStore(t, clock)
	pool := testPool(t)
	customers := pgx.Identifier{s.Schema(), "crm_customers"}.Sanitize()
	opps := pgx.Identifier{s.Schema(), "crm_opportunities"}.Sanitize()
	svc, err := segment.New(s, &segment.Config{Clock: clock})
	require.NoError(t, err)
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 17, 23, 40, 97, 251} {
		tenant := fmt.Sprintf("t%d", n)
		_, err := pool.Exec(ctx, "INSERT INTO "+customers+` (id, tenant_id, version, created_at, updated_at, kind, name, status)
			SELECT gen_random_uuid(), $1, 1, $2, $2, 'company', 'Customer ' || i, 'dealt' FROM generate_series(1, $3) AS i`, tenant, clock.Now(), n)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, "INSERT INTO "+opps+` (id, tenant_id, version, created_at, updated_at, customer_id, name, amount, amount_currency, stage, closed_at)
			SELECT gen_random_uuid(), c.tenant_id, 1, $2::timestamptz, $2::timestamptz, c.id, 'Deal', 10 * (1 + (hashtext(c.id::text || d) & 3)),
				CASE WHEN hashtext(c.id::text) & 1 = 0 THEN 'USD' ELSE 'CNY' END, 'won',
				$2::timestamptz - make_interval(days => hashtext(d || c.id::text) & 3)
			FROM `+customers+` AS c, generate_series(1, 1 + (hashtext(c.id::text) & 7) % 3) AS d WHERE c.tenant_id = $1`, tenant, clock.Now())
		require.NoError(t, err)
		tctx := crm.WithTenant(ctx, tenant)
		got, err := svc.Compute(tctx, segment.ComputeRequest{Currency: "CNY", Rates: segment.Rates{"USD": decimal.RequireFromString("7.12")}})
		require.NoError(t, err)
		require.Equal(t, n, got)
		rows, err := pool.Query(ctx, "SELECT id::text FROM "+customers+" WHERE tenant_id = $1", tenant)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crm.ID, error) {
			var id string
			if err := row.Scan(&id); err != nil {
				return crm.NilID, err
			}
			return crm.ParseID("id", id)
		})
		require.NoError(t, err)
		scores, err := svc.Scores(tctx, ids)
		require.NoError(t, err)
		require.Len(t, scores, n)
		for _, a := range scores {
			var r, f, m int
			for _, b := range scores {
				if b.LastWonAt.Before(a.LastWonAt) {
					r++
				}
				if b.Frequency < a.Frequency {
					f++
				}
				if b.Monetary.Amount().LessThan(a.Monetary.Amount()) {
					m++
				}
			}
			want := [3]int{segment.Quintile(r, n), segment.Quintile(f, n), segment.Quintile(m, n)}
			require.Equal(t, want, [3]int{a.R, a.F, a.M}, "tenant of %d, customer %s", n, a.CustomerID)
		}
	}
}

// TestComputeRFMRestoresTheCallersSettings checks that the planner
// settings ComputeRFM sets for its statement do not outlive it in the
// caller's transaction.
func TestComputeRFMRestoresTheCallersSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	s := newStore(t, clock)
	svc, err := segment.New(s, &segment.Config{Clock: clock})
	require.NoError(t, err)
	tx, err := testPool(t).Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL work_mem = '5MB'")
	require.NoError(t, err)
	show := func() (out [3]string) {
		require.NoError(t, tx.QueryRow(ctx, "SELECT current_setting('work_mem'), current_setting('enable_seqscan'), current_setting('enable_nestloop')").
			Scan(&out[0], &out[1], &out[2]))
		return out
	}
	before := show()
	require.Equal(t, "5MB", before[0])
	_, err = svc.ComputeTx(ctx, s.WithTx(tx), segment.ComputeRequest{Currency: "CNY"})
	require.NoError(t, err)
	require.Equal(t, before, show())
}
