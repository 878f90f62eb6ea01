package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/segment"
)

func TestSegmentUsageErrorsNameTheFlag(t *testing.T) {
	t.Setenv("CRMKIT_DATABASE_URL", "")
	dir := t.TempDir()
	rule := filepath.Join(dir, "rule.json")
	require.NoError(t, os.WriteFile(rule, []byte(`{"id":"x","when":{"field":"colour","equals":"red"}}`), 0o644))
	out := filepath.Join(dir, "out.csv")
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"segment", "export", "--tenant", "a", "--rfm", "champions", "--out", out}, "--dsn", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--rfm", "champions", "--out", out}, "--tenant", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--out", out}, "--rfm and --rule", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--rfm", "champions", "--rule", rule, "--out", out}, "--rfm and --rule", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--rfm", "kings", "--out", out}, "--rfm \"kings\"", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--rfm", "champions", "--out", out, "--page", "0"}, "--page", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--rfm", "champions", "--out", out, "--format", "xml"}, "--format", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--rfm", "champions"}, "--out", 2},
		{[]string{"segment", "export", "--dsn", "postgres://x", "--tenant", "a", "--rule", rule, "--out", out}, "when.field", 1},
		{[]string{"segment", "rfm", "--dsn", "postgres://x", "--tenant", "a"}, "--currency", 2},
		{[]string{"segment", "rfm", "--dsn", "postgres://x", "--tenant", "a", "--currency", "yuan"}, "--currency", 2},
		{[]string{"segment", "rfm", "--dsn", "postgres://x", "--tenant", "a", "--currency", "CNY", "--rate", "USD=-1"}, "--rate", 2},
		{[]string{"segment", "rfm", "--dsn", "postgres://x", "--tenant", "a", "--currency", "CNY", "--rate", "USD"}, "--rate", 2},
		{[]string{"segment", "grow"}, `unknown subcommand "grow"`, 2},
	} {
		code, _, errOut := crmkitCLI(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
	require.NoFileExists(t, out)
	for _, args := range [][]string{{"segment", "-h"}, {"segment", "export", "-h"}, {"segment", "rfm", "--help"}} {
		code, out, errOut := crmkitCLI(args...)
		require.Equal(t, 0, code, args)
		require.Equal(t, 1, strings.Count(out+errOut, "usage:"), "usage printed once: %v", args)
	}
}

func TestSegmentRFMAndExportAgainstPostgreSQL(t *testing.T) {
	dsn := testDSN(t)
	clock := crmtest.NewClock(time.Now().UTC())
	s, schema := migratedStore(t, dsn, clock)
	ids := crmtest.NewIDs()
	ctx := crm.WithTenant(context.Background(), "acme")
	var custs []*crm.Customer
	for i := range 12 {
		c := crmtest.Customer(ids, func(c *crm.Customer) {
			c.Name = "客户 " + string(rune('A'+i))
			if i%2 == 0 {
				c.Tags = []string{"vip"}
			}
		})
		require.NoError(t, s.Customers().Create(ctx, c))
		custs = append(custs, c)
		if i >= 10 {
			continue // no won deals: no score
		}
		for d := 0; d <= i; d++ {
			cur := "CNY"
			if i == 3 && d == 0 {
				cur = "USD"
			}
			amount, err := crm.NewMoney(decimal.NewFromInt(int64(1000*(i+1))), cur)
			require.NoError(t, err)
			closed := clock.Now().AddDate(0, 0, -(10-i)*20-d)
			o := crmtest.Opportunity(ids, c.ID, func(o *crm.Opportunity) {
				o.Stage, o.Amount, o.ClosedAt, o.Probability = crm.StageWon, amount, &closed, 100
			})
			require.NoError(t, s.Opportunities().Create(ctx, o))
		}
	}
	db := []string{"--dsn", dsn, "--schema", schema, "--tenant", "acme"}
	cli := func(args ...string) (int, string, string) {
		return crmkitCLI(append(args[:2:2], append(db, args[2:]...)...)...)
	}

	// A won deal in USD needs its rate.
	code, _, errOut := cli("segment", "rfm", "--currency", "CNY")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, "--rate USD=RATE is needed")
	code, out, errOut := cli("segment", "rfm", "--currency", "CNY", "--rate", "USD=7.1")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "scored 10 customers in CNY")

	svc, err := segment.New(s, nil)
	require.NoError(t, err)
	all := make([]crm.ID, len(custs))
	for i, c := range custs {
		all[i] = c.ID
	}
	scores, err := svc.Scores(ctx, all)
	require.NoError(t, err)
	require.Len(t, scores, 10)
	top := scores[custs[9].ID].Segment
	var want, wantVIP []string
	for _, c := range custs {
		if sc := scores[c.ID]; sc != nil && sc.Segment == top {
			want = append(want, c.ID.String())
			if slices.Contains(c.Tags, "vip") {
				wantVIP = append(wantVIP, c.ID.String())
			}
		}
	}
	slices.Sort(want)
	slices.Sort(wantVIP)
	require.GreaterOrEqual(t, len(want), 2, "a segment of several customers, over several pages")

	dir := t.TempDir()
	csvOut := filepath.Join(dir, "members.csv")
	code, out, errOut = cli("segment", "export", "--rfm", string(top), "--out", csvOut, "--page", "1")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "exported "+itoa(len(want))+" members of segment rfm_"+string(top))
	f, err := os.Open(csvOut)
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Equal(t, memberHeader, rows[0])
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
		require.Equal(t, string(top), r[13])
		require.Equal(t, "CNY", r[19])
		sc := scores[uuidOf(t, r[0])]
		require.Equal(t, sc.Monetary.Amount().String(), r[18])
	}
	require.Equal(t, want, got, "every member once, in customer ID order, across pages")
	st, err := os.Stat(csvOut)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	// --tag narrows the segment.
	code, _, errOut = cli("segment", "export", "--rfm", string(top), "--tag", "vip", "--out", csvOut)
	require.Equal(t, 0, code, errOut)
	f, err = os.Open(csvOut)
	require.NoError(t, err)
	rows, err = csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	got = got[:0]
	for _, r := range rows[1:] {
		got = append(got, r[0])
		require.Equal(t, "vip", r[12])
	}
	require.Equal(t, wantVIP, got)

	// A rule file, as JSON Lines: the unscored customers too.
	rule := filepath.Join(dir, "rule.json")
	require.NoError(t, os.WriteFile(rule, []byte(`{"id":"vips","when":{"field":"tags","equals":"vip"}}`), 0o644))
	jsonOut := filepath.Join(dir, "members.jsonl")
	code, _, errOut = cli("segment", "export", "--rule", rule, "--out", jsonOut, "--format", "jsonl", "--page", "4")
	require.Equal(t, 0, code, errOut)
	var members []memberLine
	readJSONL(t, jsonOut, func(b []byte) {
		var m memberLine
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&m))
		members = append(members, m)
	})
	require.Len(t, members, 6)
	unscored := 0
	for _, m := range members {
		require.Equal(t, []string{"vip"}, m.Tags)
		if m.RFM == nil {
			unscored++
			continue
		}
		sc := scores[m.CustomerID]
		require.Equal(t, string(sc.Segment), m.RFM.Segment)
		require.Equal(t, sc.Frequency, m.RFM.Frequency)
		require.True(t, sc.Monetary.Amount().Equal(m.RFM.Monetary))
	}
	require.Equal(t, 1, unscored, "customer 10 has no won deal")
}

func itoa(n int) string { return strconv.Itoa(n) }

func uuidOf(t *testing.T, s string) crm.ID {
	t.Helper()
	id, err := crm.ParseID("customer_id", s)
	require.NoError(t, err)
	return id
}
