package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/kpi"
	"github.com/crmkit/crmkit/report"
	"github.com/crmkit/crmkit/store/pgstore"
)

const reportUsage = `usage: crmkit report funnel|pipeline ... (see crmkit report funnel -h)
       crmkit report kpis [--dsn URL] [--schema NAME] [--tenant T] --from DATE --to DATE
                          [--bucket day|week|month|quarter] [--tz ZONE] [--only TABLE] [--format text|csv]

Prints the KPIs of a tenant over [--from, --to) from a crmkit PostgreSQL
schema, bucketed in the tenant's time zone: lead conversion and first
follow-up by source, new, retained, churned and lost customers, ticket first
response, resolution, SLA compliance and satisfaction, and pool claims,
releases and recycles. Dates are YYYY-MM-DD in --tz. The database URL comes
from --dsn, or from CRMKIT_DATABASE_URL.`

// runReport runs "crmkit report".
func runReport(args []string, stdout, stderr io.Writer) error {
	return runSubcommand("report", reportUsage, map[string]subcommand{"kpis": reportKPIs, "funnel": reportFunnel, "pipeline": reportPipeline}, args, stdout, stderr)
}

// dbFlags are the flags of commands that read a crmkit schema.
type dbFlags struct {
	dsn, schema, tenant *string
}

func addDBFlags(fs *flag.FlagSet) dbFlags {
	return dbFlags{
		dsn:    fs.String("dsn", "", "PostgreSQL URL (default $CRMKIT_DATABASE_URL)"),
		schema: fs.String("schema", "public", "schema holding crmkit's tables"),
		tenant: fs.String("tenant", "", "tenant to read (default: the default tenant)"),
	}
}

// open checks the flags and opens the store, or returns a usage error
// naming the flag.
func (f dbFlags) open(ctx context.Context, cmd string) (*pgstore.Store, func(), error) {
	if *f.dsn == "" {
		*f.dsn = os.Getenv("CRMKIT_DATABASE_URL")
	}
	if *f.dsn == "" {
		return nil, nil, usageError{cmd + ": --dsn is required (or set CRMKIT_DATABASE_URL)"}
	}
	if err := checkSchema(*f.schema); err != nil {
		return nil, nil, usageError{cmd + ": --schema: " + err.Error()}
	}
	cfg, err := pgxpool.ParseConfig(*f.dsn)
	if err != nil {
		return nil, nil, usageError{cmd + ": --dsn: not a PostgreSQL URL or connection string"}
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect: %w", cmd, err)
	}
	s, err := pgstore.New(db, &pgstore.Config{Schema: *f.schema})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, db.Close, nil
}

func reportKPIs(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report kpis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, reportUsage); fs.PrintDefaults() }
	db := addDBFlags(fs)
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "day after the last, YYYY-MM-DD")
	bucket := fs.String("bucket", "month", "day, week, month or quarter")
	tz := fs.String("tz", "UTC", "the tenant's time zone, e.g. Asia/Shanghai")
	format := fs.String("format", "text", "text (aligned, for people) or csv (for scripts; needs --only)")
	only := fs.String("only", "", "print one table: leads, customers, service or pools")
	if done, err := parseFlags(fs, args, "report kpis"); done {
		return err
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "" || *tz == "Local" {
		return usageError{fmt.Sprintf("report kpis: --tz %q: want an IANA time zone such as Asia/Shanghai", *tz)}
	}
	p := crm.Period{Bucket: crm.Bucket(*bucket), Location: loc}
	if p.From, err = time.ParseInLocation(time.DateOnly, *from, loc); err != nil {
		return usageError{fmt.Sprintf("report kpis: --from %q: want a date YYYY-MM-DD", *from)}
	}
	if p.To, err = time.ParseInLocation(time.DateOnly, *to, loc); err != nil {
		return usageError{fmt.Sprintf("report kpis: --to %q: want a date YYYY-MM-DD", *to)}
	}
	if err := p.Validate(); err != nil {
		var ve *crm.ValidationError
		if errors.As(err, &ve) {
			return usageError{fmt.Sprintf("report kpis: --%s: %s", ve.Field, ve.Reason)}
		}
		return usageError{"report kpis: " + err.Error()}
	}
	if *format != "text" && *format != "csv" {
		return usageError{fmt.Sprintf("report kpis: --format %q: want text or csv", *format)}
	}
	tables := map[string]int{"leads": 0, "customers": 1, "service": 2, "pools": 3}
	if _, ok := tables[*only]; !ok && *only != "" {
		return usageError{fmt.Sprintf("report kpis: --only %q: want leads, customers, service or pools", *only)}
	}
	if *format == "csv" && *only == "" {
		return usageError{"report kpis: --format csv writes one table: add --only leads, customers, service or pools"}
	}
	ctx := crm.WithTenant(context.Background(), *db.tenant)
	s, closeDB, err := db.open(ctx, "report kpis")
	if err != nil {
		return err
	}
	defer closeDB()
	svc, err := kpi.New(s)
	if err != nil {
		return err
	}
	r, err := svc.Report(ctx, kpi.Request{Period: p})
	if err != nil {
		return fmt.Errorf("report kpis: %w", err)
	}
	for i, t := range kpiTables(r, loc) {
		if *only != "" && tables[*only] != i {
			continue
		}
		if *format == "csv" {
			if err := t.WriteCSV(stdout); err != nil {
				return err
			}
			continue
		}
		if err := t.WriteText(stdout); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// kpiTables lays a KPI report out as tables, buckets labelled by their
// first day in loc.
func kpiTables(r *kpi.Report, loc *time.Location) []report.Table {
	day := func(t time.Time) string { return t.In(loc).Format(time.DateOnly) }
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	pct := func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }
	dur := func(d time.Duration) string { return d.Round(time.Minute).String() }
	leads := report.Table{Title: "Leads", Columns: []string{"bucket", "source", "created", "converted", "conversion", "followed_up", "mean_first_follow_up"}, Right: []int{2, 3, 4, 5, 6}}
	for _, x := range r.Leads {
		leads.Rows = append(leads.Rows, []string{day(x.Bucket), x.Source, n(x.Created), n(x.Converted), pct(x.ConversionRate()), n(x.FollowedUp), dur(x.MeanFirstFollowUp())})
	}
	cust := report.Table{Title: "Dealt customers", Columns: []string{"bucket", "active", "new", "retained", "churned", "lost", "retention"}, Right: []int{1, 2, 3, 4, 5, 6}}
	for _, x := range r.Customers {
		cust.Rows = append(cust.Rows, []string{day(x.Bucket), n(x.Active), n(x.New), n(x.Retained), n(x.Churned), n(x.Lost), pct(x.RetentionRate())})
	}
	tickets := report.Table{Title: "Service", Columns: []string{"bucket", "created", "mean_first_response", "resolved", "mean_resolution", "sla_compliance", "csat", "mean_score"}, Right: []int{1, 2, 3, 4, 5, 6, 7}}
	for _, x := range r.Tickets {
		tickets.Rows = append(tickets.Rows, []string{day(x.Bucket), n(x.Created), dur(x.MeanFirstResponse()), n(x.Resolved), dur(x.MeanResolution()),
			pct(x.SLACompliance()), pct(x.CSAT()), strconv.FormatFloat(x.MeanSatisfaction(), 'f', 2, 64)})
	}
	pools := report.Table{Title: "Pools", Columns: []string{"bucket", "pool_id", "claims", "releases", "recycles"}, Right: []int{2, 3, 4}}
	for _, x := range r.Pools {
		pools.Rows = append(pools.Rows, []string{day(x.Bucket), x.PoolID.String(), n(x.Claims), n(x.Releases), n(x.Recycles)})
	}
	return []report.Table{leads, cust, tickets, pools}
}
