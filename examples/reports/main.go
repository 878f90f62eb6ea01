// Command reports shows a sales manager's dashboard on crmkit, in memory:
// a quarter of deals moved through the pipeline by two salespeople, then
// the funnel, win rate, deal size and sales cycle, the weighted pipeline
// and the forecast, each within the manager's department tree, with the
// funnel and the weighted pipeline written as SVG charts.
//
//	go run ./examples/reports [-out DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/report"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	out := flag.String("out", os.TempDir(), "folder for funnel.svg and pipeline.svg")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *out); err != nil {
		fmt.Fprintln(os.Stderr, "reports:", err)
		os.Exit(1)
	}
}

// run builds the quarter, prints the dashboard to w and writes the charts
// into dir.
func run(ctx context.Context, w io.Writer, dir string) error {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return err
	}
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, shanghai)
	clock := crmtest.NewClock(start)
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids})
	if err != nil {
		return err
	}
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	if err := store.Departments().Create(ctx, sales); err != nil {
		return err
	}
	manager := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "张敏", sales.ID })
	reps := []*crm.User{
		crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "李伟", sales.ID }),
		crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "赵磊", sales.ID }),
	}
	for _, u := range append([]*crm.User{manager}, reps...) {
		if err := store.Users().Create(ctx, u); err != nil {
			return err
		}
	}
	sales.ManagerID = manager.ID
	if err := store.Departments().Update(ctx, sales); err != nil {
		return err
	}

	// A quarter of deals: each week six new deals; each deal moves on
	// through the stages with a chance at every step, and is won or lost.
	rng := rand.New(rand.NewPCG(2026, 1))
	stages := []crm.OpportunityStage{crm.StageNeedsAnalysis, crm.StageProposal, crm.StageNegotiation}
	for week := range 13 {
		for i := range 6 {
			clock.Set(start.AddDate(0, 0, 7*week).Add(time.Duration(i) * time.Hour))
			rep := reps[(week+i)%2]
			cust := crmtest.Customer(ids)
			if err := store.Customers().Create(ctx, cust); err != nil {
				return err
			}
			amount, err := crm.NewMoney(decimal.NewFromInt(int64(20+rng.IntN(180))*1000), "CNY")
			if err != nil {
				return err
			}
			deal := crmtest.Opportunity(ids, cust.ID, func(o *crm.Opportunity) {
				o.Stage, o.Amount, o.OwnerID, o.DepartmentID = "", amount, rep.ID, sales.ID
				o.ExpectedClose = ptr(clock.Now().AddDate(0, 1+rng.IntN(3), 0))
			})
			if _, err := c.StartOpportunity(ctx, crmkit.StartOpportunityRequest{Opportunity: deal, Actor: rep.ID}); err != nil {
				return err
			}
			at, reached := clock.Now(), 0
			for _, to := range stages {
				if rng.Float64() > 0.75 {
					break
				}
				reached++
				at = at.Add(time.Duration(1+rng.IntN(6)) * 24 * time.Hour)
				clock.Set(at)
				if _, err := c.MoveOpportunity(ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: to, Actor: rep.ID}); err != nil {
					return err
				}
			}
			// Only a negotiated deal is won; any deal may be lost.
			if won, lost := reached == len(stages) && rng.Float64() < 0.7, rng.Float64() < 0.25; won || lost {
				clock.Set(at.Add(time.Duration(1+rng.IntN(5)) * 24 * time.Hour))
				move := pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageWon, Actor: rep.ID}
				if !won {
					move.To, move.LostReason = crm.StageLost, "price"
				}
				if _, err := c.MoveOpportunity(ctx, move); err != nil {
					return err
				}
			}
		}
	}
	clock.Set(start.AddDate(0, 3, 0))

	q1 := crm.Period{From: start.Truncate(24 * time.Hour), To: time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai), Bucket: crm.BucketMonth, Location: shanghai}
	req := crmkit.FigureRequest{Viewer: manager.ID, ReportRequest: pipeline.ReportRequest{Period: q1}}
	fmt.Fprintf(w, "%s's dashboard, Q1 2026 (Sales and below)\n\n", manager.Name)
	perf, err := c.PipelinePerformance(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "won %d, lost %d: win rate %.0f%%; sales cycle %s on average (median %s)\n",
		perf.Won, perf.Lost, 100*perf.WinRate, days(perf.CycleMean), days(perf.CycleMedian))
	for i, r := range perf.Revenue {
		fmt.Fprintf(w, "revenue %s %s, average deal %s\n", r.Amount(), r.Currency(), perf.AverageDeal[i].Amount().Round(0))
	}

	fun, err := c.Funnel(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	funnel := report.Table{Title: "Funnel", Columns: []string{"stage", "entered", "to next", "median stay"}, Right: []int{1, 2, 3}}
	chart := report.Funnel{Title: "Q1 2026 funnel"}
	for _, s := range fun.Stages {
		funnel.Rows = append(funnel.Rows, []string{string(s.Stage), strconv.FormatInt(s.Entered, 10),
			strconv.FormatFloat(100*s.Conversion, 'f', 0, 64) + "%", days(s.MedianTime)})
		if s.Kind != pipeline.KindLost {
			chart.Stages = append(chart.Stages, report.FunnelStage{Name: string(s.Stage), Count: s.Entered})
		}
	}
	if err := funnel.WriteText(w); err != nil {
		return err
	}

	value, err := c.PipelineValue(ctx, crmkit.FigureRequest{Viewer: manager.ID})
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	open := report.Table{Title: "Open pipeline now", Columns: []string{"stage", "deals", "value", "weighted"}, Right: []int{1, 2, 3}}
	bars := report.Bars{Title: "Weighted pipeline by stage (CNY)", Series: []report.Series{{Name: "CNY"}}}
	for _, s := range value.Stages {
		for _, v := range s.Values {
			open.Rows = append(open.Rows, []string{string(s.Stage), strconv.FormatInt(v.Count, 10), v.Amount.String(), v.Weighted.String()})
			f, _ := v.Weighted.Amount().Float64()
			bars.Categories = append(bars.Categories, string(s.Stage))
			bars.Series[0].Values = append(bars.Series[0].Values, f)
		}
	}
	if err := open.WriteText(w); err != nil {
		return err
	}

	forecast, err := c.Forecast(ctx, crmkit.FigureRequest{Viewer: manager.ID, ReportRequest: pipeline.ReportRequest{
		Period: crm.Period{From: q1.To, To: q1.To.AddDate(0, 3, 0), Bucket: crm.BucketMonth, Location: shanghai}}})
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	fc := report.Table{Title: "Forecast by expected close", Columns: []string{"month", "owner", "deals", "weighted"}, Right: []int{2, 3}}
	names := map[crm.ID]string{reps[0].ID: reps[0].Name, reps[1].ID: reps[1].Name}
	for _, r := range forecast {
		fc.Rows = append(fc.Rows, []string{r.Bucket.In(shanghai).Format("2006-01"), names[r.OwnerID], strconv.FormatInt(r.Count, 10), r.Weighted.String()})
	}
	if err := fc.WriteText(w); err != nil {
		return err
	}

	for name, draw := range map[string]func(io.Writer) error{"funnel.svg": chart.SVG, "pipeline.svg": bars.SVG} {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := draw(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\ncharts: %s, %s\n", filepath.Join(dir, "funnel.svg"), filepath.Join(dir, "pipeline.svg"))
	return nil
}

// days prints a duration in days, one decimal.
func days(d time.Duration) string { return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + "d" }

func ptr[T any](v T) *T { return &v }
