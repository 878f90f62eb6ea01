package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The README quotes this program; running it against the test database, in
// a schema of its own that is dropped afterwards, keeps the quote honest.
func TestProgramRunsOnPostgreSQL(t *testing.T) {
	url := os.Getenv("CRMKIT_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CRMKIT_TEST_DATABASE_URL is not set in CI")
		}
		t.Skip("CRMKIT_TEST_DATABASE_URL is not set: PostgreSQL wiring not run")
	}
	schema := fmt.Sprintf("crmkit_wire_%d", time.Now().UnixNano())
	t.Setenv("CRMKIT_DATABASE_URL", url)
	t.Setenv("CRMKIT_SCHEMA", schema)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	main()
}
