package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/importer"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/store/pgstore"
)

const importUsage = `usage:
  crmkit import customers (--dsn URL [--schema NAME] | --dry-run) --tenant T --in FILE.csv
      --source SYSTEM --id COLUMN --map FIELD=COLUMN [--map FIELD=COLUMN ...]
      --on-duplicate block|warn|attach|merge --report FILE.csv
      [--actor USER_ID] [--encoding auto|utf-8|gbk|gb18030] [--batch N] [--region CN]

Imports customers from a CSV file, upserting on the ID column: a row whose
ID the source system already imported updates that customer, or changes
nothing when its values are the same, so a file can be imported again, and
an import that stopped can be run again to continue.

FIELD is a customer field (name, kind, contact, phone, email, address,
region, industry, level, source) or custom.<key> for a custom field. Values
are standardised (phones to E.164, e-mails in lower case, year-first dates
to YYYY-MM-DD, full-width characters folded); what was typed is kept in the
custom field typed_<field> when standardising changed it.

--on-duplicate says what a new row that duplicates a stored customer (or
an earlier row) does: block refuses it, warn stores it and names the
candidate, attach gives the stored customer the row's ID, merge merges the
row into it.

The report has one row per input row: line,external_id,outcome,customer_id,reason
with outcome created, updated, unchanged, attached, merged, blocked, warned,
invalid, or failed (its batch was not stored). --dry-run imports into memory
and writes the report without a database. A field is at most 64 KiB.

--actor names the crmkit user (a UUID) the field history and events record
as making the changes; the user must exist. Without it the changes are the
system's. A dry run has no users and ignores --actor.`

// mapFlags collects repeated --map FIELD=COLUMN flags.
type mapFlags struct {
	fields, columns []string
}

func (m *mapFlags) String() string { return strings.Join(m.fields, ",") }

func (m *mapFlags) Set(s string) error {
	field, col, ok := strings.Cut(s, "=")
	field, col = strings.TrimSpace(field), strings.TrimSpace(col)
	if !ok || field == "" || col == "" {
		return fmt.Errorf("want FIELD=COLUMN, got %q", s)
	}
	if err := importer.CheckField(field, field); err != nil {
		var ve *crm.ValidationError
		errors.As(err, &ve)
		return errors.New(ve.Reason)
	}
	for _, f := range m.fields {
		if f == field {
			return fmt.Errorf("field %q is mapped twice", field)
		}
	}
	m.fields, m.columns = append(m.fields, field), append(m.columns, col)
	return nil
}

// runImport runs "crmkit import".
func runImport(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, importUsage)
		if len(args) == 0 {
			return usageError{"import: want a record type: customers"}
		}
		return nil
	}
	if args[0] != "customers" {
		return usageError{fmt.Sprintf("import: unknown record type %q: want customers", args[0])}
	}
	return runImportCustomers(args[1:], stdout, stderr)
}

func runImportCustomers(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import customers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, importUsage); fs.PrintDefaults() }
	dsn := fs.String("dsn", "", "PostgreSQL URL (default $CRMKIT_DATABASE_URL)")
	schema := fs.String("schema", "public", "schema holding crmkit's tables")
	dry := fs.Bool("dry-run", false, "import into memory: write the report, store nothing")
	tenant := fs.String("tenant", "", "tenant to import into")
	in := fs.String("in", "", "input CSV file with a header row")
	source := fs.String("source", "", "name of the source system, e.g. legacy_erp; IDs are unique per source")
	idCol := fs.String("id", "", "column holding the source system's customer ID")
	var maps mapFlags
	fs.Var(&maps, "map", "FIELD=COLUMN, repeatable: a customer field and the column it comes from")
	onDup := fs.String("on-duplicate", "", "block, warn, attach or merge")
	reportPath := fs.String("report", "", "report CSV file to write")
	batch := fs.Int("batch", crmkit.DefaultImportBatch, fmt.Sprintf("rows per transaction, 1 to %d", crmkit.MaxImportBatch))
	region := fs.String("region", "CN", "country assumed for phone numbers without a country code")
	enc := encodingFlag(fs)
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	actorFlag := fs.String("actor", "", "ID of the user making the import, for history and events (default: none, the system)")
	if done, err := parseFlags(fs, args, "import customers"); done {
		return err
	}
	tenantSet := false
	fs.Visit(func(f *flag.Flag) { tenantSet = tenantSet || f.Name == "tenant" })
	if *dsn == "" && !*dry {
		*dsn = os.Getenv("CRMKIT_DATABASE_URL")
	}
	bad := func(format string, a ...any) error {
		return usageError{"import customers: " + fmt.Sprintf(format, a...)}
	}
	switch {
	case *dry && *dsn != "":
		return bad("--dsn and --dry-run do not go together")
	case !*dry && *dsn == "":
		return bad("--dsn is required (or set CRMKIT_DATABASE_URL), or --dry-run")
	case !tenantSet:
		return bad("--tenant is required (--tenant '' for the default tenant)")
	case *in == "":
		return bad("--in is required")
	case *source == "":
		return bad("--source is required: the name of the system the file comes from")
	case len(*source) > importer.MaxSourceBytes:
		return bad("--source: at most %d bytes", importer.MaxSourceBytes)
	case *idCol == "":
		return bad("--id is required: the column holding the source system's customer ID")
	case len(maps.fields) == 0:
		return bad("--map is required: FIELD=COLUMN for each column to import")
	case *onDup == "":
		return bad("--on-duplicate is required: block, warn, attach or merge")
	case *reportPath == "":
		return bad("--report is required")
	case *batch < 1 || *batch > crmkit.MaxImportBatch:
		return bad("--batch %d: want 1 to %d", *batch, crmkit.MaxImportBatch)
	case sameFile(*in, *reportPath):
		return bad("--report must not be the --in file")
	}
	switch crmkit.OnDuplicate(*onDup) {
	case crmkit.DuplicateBlock, crmkit.DuplicateWarn, crmkit.DuplicateAttach, crmkit.DuplicateMerge:
	default:
		return bad("--on-duplicate %q: want block, warn, attach or merge", *onDup)
	}
	if err := checkEncoding("import customers", *enc); err != nil {
		return err
	}
	if err := checkSchema(*schema); err != nil {
		return bad("--schema: %v", err)
	}
	actor := crm.NilID
	if *actorFlag != "" {
		id, err := crm.ParseID("actor", *actorFlag)
		if err != nil || id == crm.NilID {
			return bad("--actor %q: want a user ID (a UUID)", truncateName(*actorFlag))
		}
		actor = id
	}

	input, err := openCSV(*in, *enc)
	if err != nil {
		return fmt.Errorf("import customers: --in %w", err)
	}
	defer input.Close()
	input.r.ReuseRecord = true
	idIdx, err := input.Column(*idCol)
	if err != nil {
		return fmt.Errorf("import customers: --id: line 1: %w", err)
	}
	idx := make([]int, len(maps.fields))
	columns := map[string]string{"external_id": *idCol}
	for i, col := range maps.columns {
		if idx[i], err = input.Column(col); err != nil {
			return fmt.Errorf("import customers: --map %s=%s: line 1: %w", maps.fields[i], col, err)
		}
		columns[maps.fields[i]] = col
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx = crm.WithTenant(ctx, *tenant)
	var store crm.Store
	if *dry {
		store = memstore.New(nil)
	} else {
		cfg, err := pgxpool.ParseConfig(*dsn)
		if err != nil {
			return bad("--dsn: not a PostgreSQL URL or connection string")
		}
		cfg.MaxConns = 4
		db, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("import customers: connect: %w", err)
		}
		defer db.Close()
		applied, err := pgstore.SchemaVersion(ctx, db, *schema)
		if err != nil {
			return fmt.Errorf("import customers: read schema %s: %w", *schema, err)
		}
		migs, err := pgstore.Migrations()
		if err != nil {
			return err
		}
		if applied < len(migs) {
			return fmt.Errorf("import customers: schema %s is at version %d of %d: run crmkit migrate first", *schema, applied, len(migs))
		}
		if store, err = pgstore.New(db, &pgstore.Config{Schema: *schema}); err != nil {
			return fmt.Errorf("import customers: %w", err)
		}
	}
	c, err := crmkit.New(store, nil)
	if err != nil {
		return fmt.Errorf("import customers: %w", err)
	}
	if actor != crm.NilID && *dry {
		fmt.Fprintln(stderr, "import customers: a dry run has no users; --actor is ignored")
		actor = crm.NilID
	}
	if actor != crm.NilID {
		err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			_, err := tx.Users().Get(ctx, actor)
			return err
		})
		if errors.Is(err, crm.ErrNotFound) {
			return bad("--actor %s: no such user in tenant %q", actor, *tenant)
		}
		if err != nil {
			return fmt.Errorf("import customers: --actor %s: %w", actor, err)
		}
	}

	var readErr error
	rows := func(yield func(crmkit.ImportRow, error) bool) {
		for {
			rec, line, err := input.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var br *badRowError
			if errors.As(err, &br) {
				if !yield(crmkit.ImportRow{Line: br.line, Problem: br.reason}, nil) {
					return
				}
				continue
			}
			if err != nil {
				readErr = err
				yield(crmkit.ImportRow{}, err)
				return
			}
			row := crmkit.ImportRow{Line: line, ExternalID: rec[idIdx], Values: make(map[string]string, len(idx))}
			for i, j := range idx {
				row.Values[maps.fields[i]] = rec[j]
			}
			row.Problem = cellProblem(input.header, rec)
			if !yield(row, nil) {
				return
			}
		}
	}

	report, err := newReportFile(*reportPath)
	if err != nil {
		return fmt.Errorf("import customers: --report: %w", err)
	}
	prog := newImportProgress(stderr, *quiet)
	sum, err := c.ImportCustomers(ctx, crmkit.ImportRequest{
		Source: *source, Rows: iter.Seq2[crmkit.ImportRow, error](rows), OnDuplicate: crmkit.OnDuplicate(*onDup),
		BatchSize: *batch, Region: *region, Columns: columns, Actor: actor,
		Report: func(r crmkit.ImportResult) error {
			prog.add(r.Outcome)
			return report.write(r)
		},
	})
	prog.done()
	// The report is written whatever happened: it says which rows a
	// failed batch held.
	if cerr := report.close(); cerr != nil && err == nil {
		err = fmt.Errorf("--report: %w", cerr)
	}
	if err != nil {
		if readErr != nil {
			return fmt.Errorf("import customers: --in %s: %w", *in, readErr)
		}
		return fmt.Errorf("import customers: %w", err)
	}
	what := "imported"
	if *dry {
		what = "dry run, nothing stored"
	}
	fmt.Fprintf(stdout, "%s: %d rows: %s; report in %s\n", what, sum.Rows, countsText(sum.Counts), *reportPath)
	return nil
}

// cellProblem names the first cell that cannot be imported: one over
// importer.MaxValueBytes or holding a NUL byte.
func cellProblem(header, rec []string) string {
	for i, v := range rec {
		switch {
		case len(v) > importer.MaxValueBytes:
			return fmt.Sprintf("column %q: value of %d bytes, at most %d", clipName(header[i]), len(v), importer.MaxValueBytes)
		case strings.IndexByte(v, 0) >= 0:
			return fmt.Sprintf("column %q: NUL byte", clipName(header[i]))
		}
	}
	return ""
}

func clipName(s string) string {
	if len(s) > 40 {
		cut := 40
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return s[:cut] + "..."
	}
	return s
}

func countsText(counts map[crmkit.ImportOutcome]int) string {
	var parts []string
	for _, o := range []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportUpdated, crmkit.ImportUnchanged, crmkit.ImportAttached,
		crmkit.ImportMerged, crmkit.ImportWarned, crmkit.ImportBlocked, crmkit.ImportInvalid, crmkit.ImportFailed} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// reportFile streams the report to a temporary file renamed over the
// report path when closed, so a report is never half written.
type reportFile struct {
	path string
	tmp  *os.File
	bw   *bufio.Writer
	w    *csv.Writer
}

func newReportFile(path string) (*reportFile, error) {
	tmp, err := os.CreateTemp(dirOf(path), ".crmkit-*.csv")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(tmp, 1<<16)
	r := &reportFile{path: path, tmp: tmp, bw: bw, w: csv.NewWriter(bw)}
	return r, r.w.Write([]string{"line", "external_id", "outcome", "customer_id", "reason"})
}

func (r *reportFile) write(res crmkit.ImportResult) error {
	id := ""
	if res.CustomerID != crm.NilID {
		id = res.CustomerID.String()
	}
	return r.w.Write([]string{fmt.Sprint(res.Line), clipName256(res.ExternalID), string(res.Outcome), id, res.Reason})
}

// clipName256 keeps an over-long external ID from bloating the report.
func clipName256(s string) string {
	if len(s) <= importer.MaxExternalIDBytes {
		return s
	}
	cut := importer.MaxExternalIDBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

func (r *reportFile) close() error {
	defer os.Remove(r.tmp.Name())
	r.w.Flush()
	err := r.w.Error()
	if err == nil {
		err = r.bw.Flush()
	}
	if cerr := r.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(r.tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(r.tmp.Name(), r.path)
	}
	return err
}

// importProgress reports progress on stderr: a line redrawn in place on a
// terminal, a plain line at most every two seconds otherwise.
type importProgress struct {
	w      io.Writer
	quiet  bool
	tty    bool
	rows   int
	counts map[crmkit.ImportOutcome]int
	start  time.Time
	last   time.Time
}

func newImportProgress(w io.Writer, quiet bool) *importProgress {
	p := &importProgress{w: w, quiet: quiet, counts: map[crmkit.ImportOutcome]int{}, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *importProgress) add(o crmkit.ImportOutcome) {
	p.rows++
	p.counts[o]++
	if p.quiet {
		return
	}
	every := 2 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.print(false)
}

func (p *importProgress) print(final bool) {
	rate := float64(p.rows) / max(time.Since(p.start).Seconds(), 1e-9)
	text := fmt.Sprintf("import: %d rows (%.0f rows/s): %s", p.rows, rate, countsText(p.counts))
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", text)
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", text)
	default:
		fmt.Fprintln(p.w, text)
	}
}

func (p *importProgress) done() {
	if !p.quiet && p.rows > 0 {
		p.print(true)
	}
}
