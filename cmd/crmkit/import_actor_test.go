package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

func TestImportActor(t *testing.T) {
	t.Run("ABadIDNamesTheFlag", func(t *testing.T) {
		dir := t.TempDir()
		in, report := filepath.Join(dir, "in.csv"), filepath.Join(dir, "report.csv")
		require.NoError(t, os.WriteFile(in, []byte(importCSV), 0o644))
		for _, bad := range []string{"li.wei", "00000000-0000-0000-0000-000000000000"} {
			code, _, errOut := crmkitCLI(importArgs(in, report, "--dry-run", "--actor", bad)...)
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, "--actor")
		}
		require.NoFileExists(t, report)
	})
	t.Run("RecordsTheUserAgainstPostgreSQL", func(t *testing.T) {
		dsn := testDSN(t)
		clock := crmtest.NewClock(time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC))
		s, schema := migratedStore(t, dsn, clock)
		ids := crmtest.NewIDs()
		ctx := crm.WithTenant(context.Background(), "acme")
		u := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "Li Wei", Email: "li.wei@example.com", Active: true}
		require.NoError(t, s.Users().Create(ctx, u))
		dir := t.TempDir()
		in, report := filepath.Join(dir, "in.csv"), filepath.Join(dir, "report.csv")
		require.NoError(t, os.WriteFile(in, []byte(importCSV), 0o644))

		// A user of another tenant, or none, is refused before anything is stored.
		code, _, errOut := crmkitCLI(importArgs(in, report, "--dsn", dsn, "--schema", schema, "--actor", ids.NewID().String())...)
		require.Equal(t, 2, code, errOut)
		require.Contains(t, errOut, "--actor")
		require.Contains(t, errOut, "no such user")

		code, _, errOut = crmkitCLI(importArgs(in, report, "--dsn", dsn, "--schema", schema, "--actor", u.ID.String())...)
		require.Equal(t, 0, code, errOut)
		recs := readReport(t, report)
		require.Equal(t, "created", recs[0][2])
		id, err := crm.ParseID("customer_id", recs[0][3])
		require.NoError(t, err)
		c, err := s.Customers().Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, u.ID, c.CreatedBy, "the import is the actor's")
	})
}
