package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/report"
)

const funnelUsage = `usage: crmkit report funnel [--dsn URL] [--schema NAME] [--tenant T] --from DATE --to DATE [--tz ZONE]
                            [--pipelines FILE.json] [--pipeline KEY] [--format text|csv] [--svg FILE]
       crmkit report pipeline [--dsn URL] [--schema NAME] [--tenant T]
                            [--pipelines FILE.json] [--pipeline KEY] [--format text|csv] [--svg FILE]

funnel prints, for the deals that entered each stage of a pipeline over
[--from, --to), the count, the conversion to the next stage and the median
time in the stage; pipeline prints the open deals now by stage: count,
value and weighted value, per currency. --svg also draws the funnel, or the
weighted pipeline by stage (one series per currency), as an SVG chart.
--pipelines reads the tenant's pipelines ({"pipelines": [...]}); without it
the built-in pipeline is the only one.`

// pipelineFlags are the flags the two pipeline reports share.
type pipelineFlags struct {
	db                     dbFlags
	file, key, format, svg *string
	from, to, tz           *string
}

func addPipelineFlags(fs *flag.FlagSet, period bool) pipelineFlags {
	f := pipelineFlags{db: addDBFlags(fs)}
	f.file = fs.String("pipelines", "", "JSON file of the tenant's pipelines")
	f.key = fs.String("pipeline", "", "the pipeline's key (default: the built-in pipeline)")
	f.format = fs.String("format", "text", "text (aligned, for people) or csv (for scripts)")
	f.svg = fs.String("svg", "", "also write the chart to this SVG file")
	if period {
		f.from = fs.String("from", "", "first day, YYYY-MM-DD")
		f.to = fs.String("to", "", "day after the last, YYYY-MM-DD")
		f.tz = fs.String("tz", "UTC", "the tenant's time zone, e.g. Asia/Shanghai")
	}
	return f
}

// service checks the flags and returns the pipeline service over the
// database, the tenant's context and the period (zero without one).
func (f pipelineFlags) service(cmd string) (*pipeline.Service, context.Context, crm.Period, func(), error) {
	var p crm.Period
	if *f.format != "text" && *f.format != "csv" {
		return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --format %q: want text or csv", cmd, *f.format)}
	}
	if f.from != nil {
		loc, err := time.LoadLocation(*f.tz)
		if err != nil || *f.tz == "" || *f.tz == "Local" {
			return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --tz %q: want an IANA time zone such as Asia/Shanghai", cmd, *f.tz)}
		}
		p = crm.Period{Bucket: crm.BucketMonth, Location: loc}
		if p.From, err = time.ParseInLocation(time.DateOnly, *f.from, loc); err != nil {
			return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --from %q: want a date YYYY-MM-DD", cmd, *f.from)}
		}
		if p.To, err = time.ParseInLocation(time.DateOnly, *f.to, loc); err != nil {
			return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --to %q: want a date YYYY-MM-DD", cmd, *f.to)}
		}
		if !p.To.After(p.From) {
			return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --to %s: must be after --from %s", cmd, *f.to, *f.from)}
		}
	}
	catalog := pipeline.Tenants{}
	if *f.file != "" {
		fh, err := os.Open(*f.file)
		if err != nil {
			return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --pipelines: %v", cmd, err)}
		}
		set, err := pipeline.Load(fh)
		fh.Close()
		if err != nil {
			return nil, nil, p, nil, usageError{fmt.Sprintf("%s: --pipelines %s: %v", cmd, *f.file, err)}
		}
		catalog[*f.db.tenant] = set
	}
	ctx := crm.WithTenant(context.Background(), *f.db.tenant)
	s, closeDB, err := f.db.open(ctx, cmd)
	if err != nil {
		return nil, nil, p, nil, err
	}
	svc, err := pipeline.New(s, &pipeline.Config{Catalog: catalog})
	if err != nil {
		closeDB()
		return nil, nil, p, nil, err
	}
	return svc, ctx, p, closeDB, nil
}

// write prints t as the format asks.
func (f pipelineFlags) write(w io.Writer, t *report.Table) error {
	if *f.format == "csv" {
		return t.WriteCSV(w)
	}
	return t.WriteText(w)
}

// writeSVG writes a chart to --svg, when given, as an ordinary file.
func (f pipelineFlags) writeSVG(chart func(io.Writer) error) error {
	if *f.svg == "" {
		return nil
	}
	fh, err := os.OpenFile(*f.svg, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := chart(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func reportFunnel(args []string, stdout, stderr io.Writer) error {
	const cmd = "report funnel"
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, funnelUsage); fs.PrintDefaults() }
	f := addPipelineFlags(fs, true)
	if done, err := parseFlags(fs, args, cmd); done {
		return err
	}
	svc, ctx, p, closeDB, err := f.service(cmd)
	if err != nil {
		return err
	}
	defer closeDB()
	fun, err := svc.Funnel(ctx, pipeline.ReportRequest{Pipeline: *f.key, Period: p})
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	t := report.Table{Title: fmt.Sprintf("Funnel %s to %s", *f.from, *f.to), Columns: []string{"stage", "kind", "entered", "to_next", "median_time_in_stage"}, Right: []int{2, 3, 4}}
	chart := report.Funnel{Title: t.Title}
	for _, s := range fun.Stages {
		t.Rows = append(t.Rows, []string{string(s.Stage), string(s.Kind), strconv.FormatInt(s.Entered, 10),
			strconv.FormatFloat(100*s.Conversion, 'f', 1, 64) + "%", s.MedianTime.Round(time.Minute).String()})
		if s.Kind != pipeline.KindLost {
			chart.Stages = append(chart.Stages, report.FunnelStage{Name: string(s.Stage), Count: s.Entered})
		}
	}
	if err := f.write(stdout, &t); err != nil {
		return err
	}
	return f.writeSVG(chart.SVG)
}

func reportPipeline(args []string, stdout, stderr io.Writer) error {
	const cmd = "report pipeline"
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, funnelUsage); fs.PrintDefaults() }
	f := addPipelineFlags(fs, false)
	if done, err := parseFlags(fs, args, cmd); done {
		return err
	}
	svc, ctx, _, closeDB, err := f.service(cmd)
	if err != nil {
		return err
	}
	defer closeDB()
	v, err := svc.Value(ctx, pipeline.ReportRequest{Pipeline: *f.key})
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	t := report.Table{Title: "Open pipeline", Columns: []string{"stage", "currency", "deals", "value", "weighted"}, Right: []int{2, 3, 4}}
	chart := report.Bars{Title: "Weighted pipeline by stage"}
	series := map[string]int{}
	for i, s := range v.Stages {
		chart.Categories = append(chart.Categories, string(s.Stage))
		for _, x := range s.Values {
			t.Rows = append(t.Rows, []string{string(s.Stage), x.Currency, strconv.FormatInt(x.Count, 10), x.Amount.Amount().String(), x.Weighted.Amount().String()})
			if x.Currency == "" {
				continue
			}
			k, ok := series[x.Currency]
			if !ok {
				k = len(chart.Series)
				series[x.Currency] = k
				chart.Series = append(chart.Series, report.Series{Name: x.Currency})
			}
			for len(chart.Series[k].Values) <= i {
				chart.Series[k].Values = append(chart.Series[k].Values, 0)
			}
			w, _ := x.Weighted.Amount().Float64()
			chart.Series[k].Values[i] = w
		}
	}
	for _, x := range v.Total {
		t.Rows = append(t.Rows, []string{"total", x.Currency, strconv.FormatInt(x.Count, 10), x.Amount.Amount().String(), x.Weighted.Amount().String()})
	}
	if err := f.write(stdout, &t); err != nil {
		return err
	}
	for k := range chart.Series {
		for len(chart.Series[k].Values) < len(chart.Categories) {
			chart.Series[k].Values = append(chart.Series[k].Values, 0)
		}
	}
	if len(chart.Series) == 0 {
		chart.Series = []report.Series{{Name: "none", Values: make([]float64, len(chart.Categories))}}
	}
	return f.writeSVG(chart.SVG)
}
