package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
)

func TestReportKPIsReadsAMigratedSchema(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	// Three web leads and one fair lead in March (Shanghai), one converted.
	clock := crmtest.NewClock(time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC))
	s, schema := migratedStore(t, dsn, clock)
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

func TestReportFunnelAndPipelineDrawTheirCharts(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	// Four deals in March: all qualified, two reach a proposal, one is won.
	clock := crmtest.NewClock(time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC))
	s, schema := migratedStore(t, dsn, clock)
	ids := crmtest.NewIDs()
	svc, err := pipeline.New(s, &pipeline.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	cust := crmtest.Customer(ids)
	require.NoError(t, s.Customers().Create(ctx, cust))
	rep := ids.NewID()
	var deals []*crm.Opportunity
	for i := range 4 {
		o := crmtest.Opportunity(ids, cust.ID, func(o *crm.Opportunity) {
			m, err := crm.NewMoney(decimal.NewFromInt(int64(1000*(i+1))), "CNY")
			require.NoError(t, err)
			o.Stage, o.Amount = "", m
			o.ExpectedClose = ptr(clock.Now().AddDate(0, 1, 0))
		})
		require.NoError(t, svc.Start(ctx, o, rep))
		deals = append(deals, o)
	}
	clock.Advance(48 * time.Hour)
	for _, o := range deals[:2] {
		_, err := svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: crm.StageProposal, Actor: rep})
		require.NoError(t, err)
	}
	clock.Advance(24 * time.Hour)
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: deals[0].ID, To: crm.StageWon, Actor: rep})
	require.NoError(t, err)

	dir := t.TempDir()
	svg := filepath.Join(dir, "funnel.svg")
	code, out, errOut := crmkitCLI("report", "funnel", "--dsn", dsn, "--schema", schema, "--from", "2026-03-01", "--to", "2026-04-01",
		"--format", "csv", "--svg", svg)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "qualification,open,4,0.0%,48h0m0s")
	require.Contains(t, out, "proposal,open,2,")
	require.Contains(t, out, "won,won,1,")
	chart, err := os.ReadFile(svg)
	require.NoError(t, err)
	require.Contains(t, string(chart), "<svg")
	require.Contains(t, string(chart), "qualification")

	svg = filepath.Join(dir, "pipeline.svg")
	code, out, errOut = crmkitCLI("report", "pipeline", "--dsn", dsn, "--schema", schema, "--format", "csv", "--svg", svg)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "qualification,CNY,2,7000")
	require.Contains(t, out, "proposal,CNY,1,2000")
	require.Contains(t, out, "total,CNY,3,9000")
	chart, err = os.ReadFile(svg)
	require.NoError(t, err)
	require.Contains(t, string(chart), "Weighted pipeline by stage")

	code, _, errOut = crmkitCLI("report", "funnel", "--dsn", dsn, "--schema", schema, "--from", "2026-04-01", "--to", "2026-03-01")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--to")
	code, _, errOut = crmkitCLI("report", "pipeline", "--dsn", dsn, "--schema", schema, "--pipelines", filepath.Join(dir, "none.json"))
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--pipelines")
}

func ptr[T any](v T) *T { return &v }
