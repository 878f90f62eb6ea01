package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/pgstore"
)

func TestReportKPIsReadsAMigratedSchema(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "cli_" + hex.EncodeToString(b[:])
	db, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		db.Close()
	})
	code, _, errOut := crmkitCLI("migrate", "--dsn", dsn, "--schema", schema)
	require.Equal(t, 0, code, errOut)

	// Three web leads and one fair lead in March (Shanghai), one converted.
	clock := crmtest.NewClock(time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC))
	s, err := pgstore.New(db, &pgstore.Config{Schema: schema, Clock: clock})
	require.NoError(t, err)
	ids := crmtest.NewIDs()
	tctx := crm.WithTenant(ctx, "acme")
	for i, src := range []string{"web", "web", "web", "fair"} {
		l := crmtest.Lead(ids, func(l *crm.Lead) { l.Source = src })
		require.NoError(t, s.Leads().Create(tctx, l))
		if i == 0 {
			l.Status, l.ConvertedCustomerID = crm.LeadConverted, ids.NewID()
			require.NoError(t, s.Leads().Update(tctx, l))
		}
	}
	code, out, errOut := crmkitCLI("report", "kpis", "--dsn", dsn, "--schema", schema, "--tenant", "acme",
		"--from", "2026-01-01", "--to", "2026-04-01", "--tz", "Asia/Shanghai", "--only", "leads", "--format", "csv")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "bucket,source,created,converted,conversion,followed_up,mean_first_follow_up", lines[0])
	require.Contains(t, lines, "2026-03-01,fair,1,0,0.0%,0,0s")
	require.Contains(t, lines, "2026-03-01,web,3,1,33.3%,0,0s")

	code, out, errOut = crmkitCLI("report", "kpis", "--dsn", dsn, "--schema", schema, "--from", "2026-01-01", "--to", "2026-04-01")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "web", "the default tenant has no leads")

	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--from", "2026-05-01", "--to", "2026-04-01"}, "--to"},
		{[]string{"--from", "2026-01-01", "--to", "2046-01-01", "--bucket", "day"}, "--bucket"},
		{[]string{"--from", "01/01/2026", "--to", "2026-04-01"}, "--from"},
		{[]string{"--from", "2026-01-01", "--to", "2026-04-01", "--tz", "Mars/Olympus"}, "--tz"},
		{[]string{"--from", "2026-01-01", "--to", "2026-04-01", "--format", "csv"}, "--only"},
		{[]string{"--from", "2026-01-01", "--to", "2026-04-01", "--only", "deals"}, "--only"},
	} {
		code, _, errOut := crmkitCLI(append([]string{"report", "kpis", "--dsn", dsn, "--schema", schema}, tc.args...)...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.flag, "%v", tc.args)
	}
}
