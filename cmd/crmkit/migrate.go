package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/report"
	"github.com/crmkit/crmkit/store/pgstore"
)

const migrateUsage = `usage: crmkit migrate [--dsn URL] [--schema NAME] [--status [--format text|csv]] [--down N]

Brings crmkit's PostgreSQL schema up to date with the migrations built into
this binary, safely from many processes at once. --status lists each
migration as applied or pending and changes nothing; --down N reverts the
newest N applied migrations (their tables and data are dropped).
The database URL comes from --dsn, or from CRMKIT_DATABASE_URL when --dsn is
not given.`

// runMigrate runs "crmkit migrate".
func runMigrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, migrateUsage); fs.PrintDefaults() }
	dsn := fs.String("dsn", "", "PostgreSQL URL, e.g. postgres://user:pass@host:5432/db (default $CRMKIT_DATABASE_URL)")
	schema := fs.String("schema", "public", "schema holding crmkit's tables")
	status := fs.Bool("status", false, "list applied and pending migrations; change nothing")
	down := fs.Int("down", 0, "revert the newest N applied migrations")
	format := fs.String("format", "text", "--status output: text (aligned, for people) or csv (for scripts)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if done, err := parseFlags(fs, args, "migrate"); done {
		return err
	}
	if *dsn == "" {
		*dsn = os.Getenv("CRMKIT_DATABASE_URL")
	}
	switch {
	case *dsn == "":
		return usageError{"migrate: --dsn is required (or set CRMKIT_DATABASE_URL)\n" + migrateUsage}
	case *down < 0:
		return usageError{fmt.Sprintf("migrate: --down %d: want a number of migrations, at least 1", *down)}
	case *down > 0 && *status:
		return usageError{"migrate: --down and --status do not go together: run --status first, then --down"}
	case *format != "text" && *format != "csv":
		return usageError{fmt.Sprintf("migrate: --format %q: want text or csv", *format)}
	case *timeout <= 0:
		return usageError{fmt.Sprintf("migrate: --timeout %v: want a positive duration", *timeout)}
	}
	if err := checkSchema(*schema); err != nil {
		return usageError{"migrate: --schema: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		// The parser's message may quote the URL, password included.
		return usageError{"migrate: --dsn: not a PostgreSQL URL or connection string"}
	}
	cfg.MaxConns = 2
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer db.Close()
	migs, err := pgstore.Migrations()
	if err != nil {
		return err
	}
	applied, err := pgstore.SchemaVersion(ctx, db, *schema)
	if err != nil {
		return fmt.Errorf("migrate: read schema %s: %w", *schema, err)
	}
	switch {
	case *status:
		t := report.Table{Columns: []string{"version", "name", "state"}, Right: []int{0}}
		for _, m := range migs {
			state := "pending"
			if m.Version <= applied {
				state = "applied"
			}
			t.Rows = append(t.Rows, []string{fmt.Sprintf("%04d", m.Version), m.Name, state})
		}
		if *format == "csv" {
			return t.WriteCSV(stdout)
		}
		t.Title = fmt.Sprintf("schema %s: version %d of %d", *schema, applied, len(migs))
		return t.WriteText(stdout)
	case *down > 0:
		if *down > applied {
			return usageError{fmt.Sprintf("migrate: --down %d: schema %s has only %d applied migrations", *down, *schema, applied)}
		}
		if err := pgstore.MigrateDown(ctx, db, *schema, applied-*down); err != nil {
			return fmt.Errorf("migrate: down: %w", err)
		}
		fmt.Fprintf(stdout, "schema %s: reverted %d migrations, now at version %d of %d\n", *schema, *down, applied-*down, len(migs))
		return nil
	}
	if err := pgstore.Migrate(ctx, db, *schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if applied == len(migs) {
		fmt.Fprintf(stdout, "schema %s: up to date at version %d\n", *schema, applied)
		return nil
	}
	fmt.Fprintf(stdout, "schema %s: applied %d migrations (%04d to %04d), now at version %d\n", *schema, len(migs)-applied, applied+1, len(migs), len(migs))
	return nil
}

// checkSchema validates a schema name as pgstore does, without a database.
func checkSchema(schema string) error {
	_, err := pgstore.New(&pgxpool.Pool{}, &pgstore.Config{Schema: schema})
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		return errors.New(ve.Reason)
	}
	return nil
}
