package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/pgstore"
)

// testDSN returns the test database's URL, skipping without one (failing on
// CI, where one must be).
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("CRMKIT_TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CRMKIT_TEST_DATABASE_URL is not set; CI must provide a PostgreSQL database")
		}
		t.Skip("CRMKIT_TEST_DATABASE_URL is not set; skipping the PostgreSQL CLI tests")
	}
	return dsn
}

// scratchSchema returns a schema name of the test's own, dropped with
// everything in it when the test ends.
func scratchSchema(t *testing.T, dsn string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "cli_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		db, err := pgxpool.New(context.Background(), dsn)
		if err == nil {
			_, _ = db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			db.Close()
		}
	})
	return schema
}

// migratedStore migrates a scratch schema with crmkit migrate and returns
// it with a store over it on clock.
func migratedStore(t *testing.T, dsn string, clock crm.Clock) (*pgstore.Store, string) {
	t.Helper()
	schema := scratchSchema(t, dsn)
	code, _, errOut := crmkitCLI("migrate", "--dsn", dsn, "--schema", schema)
	require.Equal(t, 0, code, errOut)
	db, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	s, err := pgstore.New(db, &pgstore.Config{Schema: schema, Clock: clock})
	require.NoError(t, err)
	return s, schema
}

// crmkitCLI runs the command and returns its exit code, stdout and stderr.
func crmkitCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMigrateUpStatusDownAgainstPostgreSQL(t *testing.T) {
	dsn := testDSN(t)
	schema := scratchSchema(t, dsn)
	code, out, errOut := crmkitCLI("migrate", "--dsn", dsn, "--schema", schema, "--status", "--format", "csv")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "version,name,state", lines[0])
	total := len(lines) - 1
	require.Greater(t, total, 20)
	require.NotContains(t, out, "applied", "nothing is applied to a new schema")

	code, out, errOut = crmkitCLI("migrate", "--dsn", dsn, "--schema", schema)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "now at version")
	code, out, _ = crmkitCLI("migrate", "--dsn", dsn, "--schema", schema)
	require.Equal(t, 0, code)
	require.Contains(t, out, "up to date", "a second run changes nothing")

	code, _, errOut = crmkitCLI("migrate", "--dsn", dsn, "--schema", schema, "--down", "2")
	require.Equal(t, 0, code, errOut)
	_, out, _ = crmkitCLI("migrate", "--dsn", dsn, "--schema", schema, "--status", "--format", "csv")
	require.Equal(t, total-2, strings.Count(out, ",applied"))
	require.Equal(t, 2, strings.Count(out, ",pending"))

	code, _, errOut = crmkitCLI("migrate", "--dsn", dsn, "--schema", schema, "--down", "1000")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--down 1000")
}

func TestMigrateNamesTheFlagOfBadInput(t *testing.T) {
	t.Setenv("CRMKIT_DATABASE_URL", "")
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"migrate"}, "--dsn"},
		{[]string{"migrate", "--dsn", "postgres://x", "--down", "-1"}, "--down"},
		{[]string{"migrate", "--dsn", "postgres://x", "--schema", "Bad;"}, "--schema"},
		{[]string{"migrate", "--dsn", "postgres://x", "--format", "xml"}, "--format"},
		{[]string{"migrate", "--dsn", "postgres://x", "--status", "--down", "1"}, "--down"},
		{[]string{"migrate", "--dsn", "::::", "--status"}, "--dsn"},
		{[]string{"migrate", "--dsn", "postgres://x", "extra"}, "extra"},
	} {
		code, _, errOut := crmkitCLI(tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.flag, "%v", tc.args)
		require.Equal(t, 1, strings.Count(errOut, "usage: crmkit migrate")+boolInt(!strings.Contains(errOut, "usage:")), "%v: usage at most once:\n%s", tc.args, errOut)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestHelpExitsZeroAtEveryLevel(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"migrate", "-h"}, {"migrate", "--help"}, {"dedupe", "-h"}, {"score", "-h"}, {"score", "--help"}, {"score", "train", "-h"}, {"score", "apply", "--help"}, {"version", "-h"}, {"version"}, {"report", "-h"}, {"report", "kpis", "-h"}, {"report", "funnel", "-h"}, {"report", "pipeline", "--help"}} {
		code, _, errOut := crmkitCLI(args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
	}
	_, out, _ := crmkitCLI("version")
	require.True(t, strings.HasPrefix(out, "crmkit "), out)
}

func TestDedupeRangeChecksItsNumericFlags(t *testing.T) {
	for _, tc := range []struct{ flag, value string }{
		{"--threshold", "-5"}, {"--threshold", "NaN"}, {"--threshold", "1000"},
		{"--max-cluster-size", "1"}, {"--max-cluster-size", "-3"}, {"--match-probability", "1.5"},
	} {
		code, _, errOut := crmkitCLI("dedupe", "--in", "in.csv", "--out", "out.csv", "--id", "id", "--field", "name=name", tc.flag, tc.value)
		require.Equal(t, 2, code, "%s %s: %s", tc.flag, tc.value, errOut)
		require.Contains(t, errOut, tc.flag+" ", "%s %s", tc.flag, tc.value)
	}
}
