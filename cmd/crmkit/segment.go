package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/segment"
)

const segmentUsage = `usage:
  crmkit segment export [--dsn URL] [--schema NAME] --tenant T (--rfm SEGMENT | --rule FILE.json)
                        [--tag TAG] --out FILE [--format csv|jsonl] [--page N] [--quiet]
  crmkit segment rfm [--dsn URL] [--schema NAME] --tenant T --currency CNY [--rate USD=7.1 ...]

export writes every member of a segment of the tenant's customers, page by page, to --out:
--rfm SEGMENT selects the customers with that RFM segment (champions, loyal, at_risk, ...;
see "crmkit segment rfm"), --rule FILE a segment rule in JSON, e.g.
  {"id": "vip_east", "when": {"all": [{"field": "tags", "equals": "vip"},
                                      {"field": "rfm_segment", "in": ["champions", "loyal"]}]}}
and --tag TAG keeps only the members with that tag. As CSV, the header is
  customer_id,name,kind,status,level,industry,region,source,phone,email,owner_id,
  department_id,tags,rfm_segment,rfm_r,rfm_f,rfm_m,frequency,monetary,currency,last_won_at
(tags separated by ";"; the rfm columns empty for a customer without a score). As JSON Lines,
one object a member:
  {"customer_id":"...","name":"...","kind":"company","status":"active",...,"tags":["vip"],
   "rfm":{"segment":"champions","r":5,"f":5,"m":4,"frequency":12,"monetary":"88000",
          "currency":"CNY","last_won_at":"2026-03-01T08:00:00Z"}}
("rfm" absent without a score; empty fields left out). Members come in customer ID order;
progress goes to stderr.

rfm computes every customer's RFM scores from won opportunities, summing their amounts in
--currency; each other currency a won deal is in needs its --rate (how many units of
--currency one unit of it is worth). The URL defaults to $CRMKIT_DATABASE_URL.`

// runSegment runs "crmkit segment export|rfm".
func runSegment(args []string, stdout, stderr io.Writer) error {
	return runSubcommand("segment", segmentUsage, map[string]subcommand{"export": segmentExport, "rfm": segmentRFM}, args, stdout, stderr)
}

// tenantGiven reports whether --tenant was on the command line.
func tenantGiven(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "tenant" })
	return set
}

// exportSegment builds the segment export selects from the flags.
func exportSegment(rfm, rulePath, tag string) (*segment.Segment, error) {
	bad := func(format string, a ...any) error {
		return usageError{"segment export: " + fmt.Sprintf(format, a...)}
	}
	var r segment.Rule
	switch {
	case (rfm == "") == (rulePath == ""):
		return nil, bad("give exactly one of --rfm and --rule\n%s", segmentUsage)
	case rfm != "":
		if !segment.Name(rfm).Valid() {
			names := make([]string, 0, 16)
			for _, n := range segment.Names() {
				names = append(names, string(n))
			}
			return nil, bad("--rfm %q: want one of %s", truncateName(rfm), strings.Join(names, ", "))
		}
		lit, _ := json.Marshal(rfm)
		r = segment.Rule{ID: "rfm_" + rfm, When: &cond.Condition{Field: segment.FieldSegment, Equals: lit}}
	default:
		data, err := os.ReadFile(rulePath)
		if err != nil {
			return nil, fmt.Errorf("segment export: --rule: %w", err)
		}
		if err := cond.DecodeStrict(data, &r); err != nil {
			return nil, fmt.Errorf("segment export: --rule %s: %w", rulePath, err)
		}
	}
	if tag != "" {
		lit, _ := json.Marshal(tag)
		test := cond.Condition{Field: "tags", Equals: lit}
		if r.When == nil {
			r.When = &test
		} else {
			r.When = &cond.Condition{All: []cond.Condition{*r.When, test}}
		}
	}
	seg, err := segment.Compile(r)
	if err != nil {
		if rulePath != "" {
			return nil, fmt.Errorf("segment export: --rule %s: %w", rulePath, err)
		}
		return nil, bad("--tag %q: %v", truncateName(tag), err)
	}
	return seg, nil
}

func segmentExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("segment export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, segmentUsage); fs.PrintDefaults() }
	db := addDBFlags(fs)
	rfm := fs.String("rfm", "", "RFM segment to export, e.g. champions")
	rulePath := fs.String("rule", "", "segment rule JSON file to export, instead of --rfm")
	tag := fs.String("tag", "", "keep only the members with this tag")
	out := fs.String("out", "", "file to write the members to")
	format := fs.String("format", "csv", "csv or jsonl")
	page := fs.Int("page", crm.MaxPageLimit, fmt.Sprintf("members read per page, 1 to %d", crm.MaxPageLimit))
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if done, err := parseFlags(fs, args, "segment export"); done {
		return err
	}
	bad := func(format string, a ...any) error {
		return usageError{"segment export: " + fmt.Sprintf(format, a...)}
	}
	switch {
	case !tenantGiven(fs):
		return bad("--tenant is required (--tenant '' for the default tenant)")
	case *out == "":
		return bad("--out is required")
	case *format != "csv" && *format != "jsonl":
		return bad("--format %q: want csv or jsonl", *format)
	case *page < 1 || *page > crm.MaxPageLimit:
		return bad("--page %d: want 1 to %d", *page, crm.MaxPageLimit)
	case *rulePath != "" && sameFile(*rulePath, *out):
		return bad("--out %s is the --rule file; write the members to another file", *out)
	}
	seg, err := exportSegment(*rfm, *rulePath, *tag)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	store, closeDB, err := db.open(ctx, "segment export")
	if err != nil {
		return err
	}
	defer closeDB()
	ctx = crm.WithTenant(ctx, *db.tenant)
	svc, err := segment.New(store, nil)
	if err != nil {
		return fmt.Errorf("segment export: %w", err)
	}

	n := 0
	last := time.Now()
	err = writeFileAtomic(*out, func(w io.Writer) error {
		mw := newMemberWriter(w, *format)
		req := segment.MembersRequest{Segment: seg, Page: crm.PageRequest{Limit: *page}}
		for {
			p, err := svc.Members(ctx, req)
			if err != nil {
				return err
			}
			for i := range p.Items {
				if err := mw.write(p.Items[i]); err != nil {
					return err
				}
			}
			n += len(p.Items)
			if !*quiet && time.Since(last) >= 2*time.Second {
				last = time.Now()
				fmt.Fprintf(stderr, "segment export: %d members\n", n)
			}
			if p.NextCursor == "" {
				return mw.flush()
			}
			req.Page.Cursor = p.NextCursor
		}
	})
	if err != nil {
		return fmt.Errorf("segment export: %w", err)
	}
	fmt.Fprintf(stdout, "exported %d members of segment %s; wrote %s\n", n, seg.ID(), *out)
	return nil
}

// memberHeader is the header of "segment export" as CSV.
var memberHeader = []string{"customer_id", "name", "kind", "status", "level", "industry", "region", "source", "phone", "email",
	"owner_id", "department_id", "tags", "rfm_segment", "rfm_r", "rfm_f", "rfm_m", "frequency", "monetary", "currency", "last_won_at"}

// memberLine is one member of "segment export --format jsonl".
type memberLine struct {
	CustomerID   crm.ID   `json:"customer_id"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind,omitempty"`
	Status       string   `json:"status,omitempty"`
	Level        string   `json:"level,omitempty"`
	Industry     string   `json:"industry,omitempty"`
	Region       string   `json:"region,omitempty"`
	Source       string   `json:"source,omitempty"`
	Phone        string   `json:"phone,omitempty"`
	Email        string   `json:"email,omitempty"`
	OwnerID      crm.ID   `json:"owner_id,omitzero"`
	DepartmentID crm.ID   `json:"department_id,omitzero"`
	Tags         []string `json:"tags,omitempty"`
	RFM          *rfmLine `json:"rfm,omitempty"`
}

// rfmLine is a member's RFM score in JSON Lines.
type rfmLine struct {
	Segment   string          `json:"segment"`
	R         int             `json:"r"`
	F         int             `json:"f"`
	M         int             `json:"m"`
	Frequency int             `json:"frequency"`
	Monetary  decimal.Decimal `json:"monetary"`
	Currency  string          `json:"currency"`
	LastWonAt time.Time       `json:"last_won_at"`
}

// memberWriter writes members as CSV or JSON Lines.
type memberWriter struct {
	csv  *csv.Writer
	json jsonLines
}

func newMemberWriter(w io.Writer, format string) *memberWriter {
	if format == "jsonl" {
		return &memberWriter{json: newJSONLines(w)}
	}
	mw := &memberWriter{csv: csv.NewWriter(w)}
	_ = mw.csv.Write(memberHeader) // an error shows in Flush
	return mw
}

func (mw *memberWriter) write(m *segment.Member) error {
	c := m.Customer
	l := memberLine{CustomerID: c.ID, Name: c.Name, Kind: string(c.Kind), Status: string(c.Status), Level: c.Level,
		Industry: c.Industry, Region: c.Region, Source: c.Source, Phone: c.Phone, Email: c.Email,
		OwnerID: c.OwnerID, DepartmentID: c.DepartmentID, Tags: c.Tags}
	if s := m.Score; s != nil {
		l.RFM = &rfmLine{Segment: string(s.Segment), R: s.R, F: s.F, M: s.M, Frequency: s.Frequency,
			Monetary: s.Monetary.Amount(), Currency: s.Monetary.Currency(), LastWonAt: s.LastWonAt.UTC()}
	}
	if mw.csv == nil {
		return mw.json.write(l)
	}
	id := func(x crm.ID) string {
		if x == crm.NilID {
			return ""
		}
		return x.String()
	}
	row := []string{id(c.ID), c.Name, string(c.Kind), string(c.Status), c.Level, c.Industry, c.Region, c.Source, c.Phone, c.Email,
		id(c.OwnerID), id(c.DepartmentID), strings.Join(c.Tags, ";"), "", "", "", "", "", "", "", ""}
	if r := l.RFM; r != nil {
		copy(row[13:], []string{r.Segment, strconv.Itoa(r.R), strconv.Itoa(r.F), strconv.Itoa(r.M), strconv.Itoa(r.Frequency),
			r.Monetary.String(), r.Currency, r.LastWonAt.Format(time.RFC3339)})
	}
	return mw.csv.Write(row)
}

func (mw *memberWriter) flush() error {
	if mw.csv == nil {
		return nil
	}
	mw.csv.Flush()
	return mw.csv.Error()
}

// rateFlags collects repeated --rate CUR=RATE flags.
type rateFlags segment.Rates

func (r rateFlags) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + r[k].String()
	}
	return strings.Join(keys, ",")
}

func (r rateFlags) Set(s string) error {
	cur, rate, ok := strings.Cut(s, "=")
	cur = strings.ToUpper(strings.TrimSpace(cur))
	if !ok || cur == "" {
		return fmt.Errorf("want CURRENCY=RATE, got %q", s)
	}
	d, err := decimal.NewFromString(strings.TrimSpace(rate))
	if err != nil || !d.IsPositive() {
		return fmt.Errorf("%s: want a positive number, got %q", cur, rate)
	}
	if _, dup := r[cur]; dup {
		return fmt.Errorf("%s given twice", cur)
	}
	r[cur] = d
	return nil
}

func segmentRFM(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("segment rfm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, segmentUsage); fs.PrintDefaults() }
	db := addDBFlags(fs)
	currency := fs.String("currency", "", "ISO 4217 currency monetary value is summed in, e.g. CNY")
	rates := rateFlags{}
	fs.Var(rates, "rate", "CURRENCY=RATE, repeatable: how many units of --currency one unit of CURRENCY is worth")
	if done, err := parseFlags(fs, args, "segment rfm"); done {
		return err
	}
	bad := func(format string, a ...any) error {
		return usageError{"segment rfm: " + fmt.Sprintf(format, a...)}
	}
	switch {
	case !tenantGiven(fs):
		return bad("--tenant is required (--tenant '' for the default tenant)")
	case *currency == "":
		return bad("--currency is required, e.g. --currency CNY")
	case !crm.ValidCurrency(strings.ToUpper(*currency)):
		return bad("--currency %q: want an ISO 4217 currency such as CNY", truncateName(*currency))
	}
	req := segment.ComputeRequest{Currency: strings.ToUpper(*currency), Rates: segment.Rates(rates)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	store, closeDB, err := db.open(ctx, "segment rfm")
	if err != nil {
		return err
	}
	defer closeDB()
	ctx = crm.WithTenant(ctx, *db.tenant)
	svc, err := segment.New(store, nil)
	if err != nil {
		return fmt.Errorf("segment rfm: %w", err)
	}
	n, err := svc.Compute(ctx, req)
	if err != nil {
		var ve *crm.ValidationError
		if errors.As(err, &ve) {
			if cur, ok := strings.CutPrefix(ve.Field, "rates."); ok {
				return bad("--rate %s=RATE is needed: %s", cur, ve.Reason)
			}
			if ve.Field == "currency" {
				return bad("--currency: %s", ve.Reason)
			}
		}
		return fmt.Errorf("segment rfm: %w", err)
	}
	fmt.Fprintf(stdout, "scored %d customers in %s\n", n, req.Currency)
	return nil
}
