package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/kpi"
	"github.com/crmkit/crmkit/store/pgstore"
)

// BenchmarkKPILeads1M computes lead conversion and first follow-up by
// month and source over a year of 1,000,000 leads (300,000 activities
// about them), for the whole tenant and for one department tree. With
// CRMKIT_BENCH_KEEP_SCHEMA=1 the seeded data is kept in schema
// crmkit_bench_kpi_leads and reused by later runs.
func BenchmarkKPILeads1M(b *testing.B) {
	ctx := context.Background()
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const rootID, childID = "00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000002"
	root, err := crm.ParseID("root", rootID)
	require.NoError(b, err)
	pool := testPool(b)
	s := seededStore(b, "kpi_leads", "v1", crmtest.NewClock(time.Now()), func(s *pgstore.Store) {
		leads := pgx.Identifier{s.Schema(), "crm_leads"}.Sanitize()
		acts := pgx.Identifier{s.Schema(), "crm_activities"}.Sanitize()
		deps := pgx.Identifier{s.Schema(), "crm_departments"}.Sanitize()
		_, err := pool.Exec(ctx, "INSERT INTO "+deps+" (id, tenant_id, version, created_at, updated_at, name, parent_id)"+
			" VALUES ($1, '', 1, now(), now(), 'Sales', NULL), ($2, '', 1, now(), now(), 'East', $1)", rootID, childID)
		require.NoError(b, err)
		// Departments: 1 in 8 leads in East, the others in ten others.
		_, err = pool.Exec(ctx, "INSERT INTO "+leads+" (id, tenant_id, version, created_at, updated_at, name, source, status, department_id)"+
			" SELECT gen_random_uuid(), '', 1, t, t, 'Lead ' || i, (ARRAY['web_form', 'trade_fair', 'referral', 'ads'])[1 + i % 4],"+
			" CASE WHEN i % 5 = 0 THEN 'converted' ELSE 'new' END,"+
			" CASE WHEN i % 8 = 0 THEN $2::uuid ELSE ('00000000-0000-7000-8000-0000000001' || lpad((i % 10)::text, 2, '0'))::uuid END"+
			" FROM (SELECT i, $1::timestamptz + (i % 525600) * interval '1 minute' AS t FROM generate_series(1, 1000000) AS i) AS g", from, childID)
		require.NoError(b, err)
		_, err = pool.Exec(ctx, "INSERT INTO "+acts+" (id, tenant_id, version, created_at, updated_at, kind, subject_type, subject_id, actor_id, occurred_at)"+
			" SELECT gen_random_uuid(), '', 1, now(), now(), 'call', 'lead', l.id, l.id, l.created_at + interval '3 hours'"+
			" FROM (SELECT id, created_at FROM "+leads+" ORDER BY id LIMIT 300000) AS l")
		require.NoError(b, err)
		_, err = pool.Exec(ctx, "ANALYZE "+leads+"; ANALYZE "+acts+"; ANALYZE "+deps)
		require.NoError(b, err)
	})
	svc, err := kpi.New(s)
	require.NoError(b, err)
	period := crm.Period{From: from, To: from.AddDate(1, 0, 0), Bucket: crm.BucketMonth}
	for _, c := range []struct {
		name  string
		scope *crm.DataScope
	}{{"Tenant", nil}, {"DepartmentTree", &crm.DataScope{DepartmentTrees: []crm.ID{root}}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := svc.Report(ctx, kpi.Request{Period: period, Scope: kpi.Scopes{Leads: c.scope, Customers: &crm.DataScope{}, Tickets: &crm.DataScope{}}})
				require.NoError(b, err)
				require.NotEmpty(b, r.Leads)
			}
		})
	}
}
