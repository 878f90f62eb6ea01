package pgstore

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestReadMigrationsRefusesTwoMigrationsOfOneVersion(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	fsys := fstest.MapFS{
		"migrations/0001_init.up.sql":     file("SELECT 1"),
		"migrations/0001_init.down.sql":   file("SELECT 1"),
		"migrations/0002_ledger.up.sql":   file("SELECT 2"),
		"migrations/0002_ledger.down.sql": file("SELECT 2"),
		"migrations/0002_tasks.up.sql":    file("SELECT 3"),
		"migrations/0002_tasks.down.sql":  file("SELECT 3"),
	}
	_, err := readMigrations(fsys)
	require.ErrorContains(t, err, "0002_ledger and 0002_tasks share a version")

	delete(fsys, "migrations/0002_tasks.up.sql")
	delete(fsys, "migrations/0002_tasks.down.sql")
	migs, err := readMigrations(fsys)
	require.NoError(t, err)
	require.Len(t, migs, 2)
	require.Equal(t, "ledger", migs[1].Name)
}
