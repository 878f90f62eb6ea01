package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Print("leadscoring: ", err)
		os.Exit(1)
	}
}

const modelJSON = `{
  "id": "smb-inbound", "version": 1, "name": "SMB inbound",
  "fit": {"cap": 100, "groups": [
    {"name": "firmographics", "cap": 60, "rules": [
      {"id": "target-industry", "when": {"field": "industry", "in": ["manufacturing", "retail", "logistics"]}, "points": 25},
      {"id": "east-or-south", "when": {"field": "region", "in": ["cn-east", "cn-south"]}, "points": 10},
      {"id": "mid-size", "when": {"field": "company_size", "range": {"gte": 50, "lte": 999}}, "points": 20},
      {"id": "budget", "when": {"field": "fields.budget_cny", "range": {"gte": 100000}}, "points": 15}]},
    {"name": "person", "rules": [
      {"id": "decision-maker", "when": {"any": [
        {"field": "title", "contains": "director"},
        {"field": "title", "contains": "chief"}]}, "points": 20},
      {"id": "free-mail", "when": {"field": "email", "contains": "@gmail."}, "points": -10}]}]},
  "engagement": {"cap": 100, "groups": [
    {"name": "activity", "rules": [
      {"id": "demo-request", "description": "asked for a demo", "when": {"event": {"kind": "demo_request"}}, "points": 40},
      {"id": "visits", "when": {"event": {"kind": "web_visit", "within_days": 90}}, "points_each": 2, "max_points": 20},
      {"id": "email-clicks", "when": {"event": {"kind": "email_click", "within_days": 30}}, "points_each": 3, "max_points": 15},
      {"id": "unsubscribed", "when": {"event": {"kind": "unsubscribe"}}, "points": -30}]}]},
  "decay": {"half_life_days": 14},
  "stages": [
    {"stage": "sales_qualified", "min_fit": 60, "min_engagement": 40, "requires": ["marketing_qualified"]},
    {"stage": "marketing_qualified", "min_total": 60},
    {"stage": "disqualified", "max_total": -10}]
}`

func run(ctx context.Context, w io.Writer) error {
	// A fixed clock and sequential IDs keep the output the same on every run.
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	if err != nil {
		return err
	}
	if err := ruleScoring(ctx, w, svc, store, clock, ids); err != nil {
		return fmt.Errorf("rule scoring: %w", err)
	}
	fmt.Fprintln(w)
	if err := predictiveScoring(ctx, w, svc); err != nil {
		return fmt.Errorf("predictive scoring: %w", err)
	}
	return nil
}

func ruleScoring(ctx context.Context, w io.Writer, svc *lead.Service, store *memstore.Store, clock *crmtest.Clock, ids *crmtest.IDs) error {
	model, err := lead.ParseModel([]byte(modelJSON))
	if err != nil {
		return err
	}
	// Stored versions are immutable: a changed model is published as
	// version 2, and snapshots record which version scored a lead.
	if err := svc.SaveModel(ctx, model); err != nil {
		return err
	}

	l := crmtest.Lead(ids, func(l *crm.Lead) {
		l.Name, l.Company, l.Title = "Li Wei", "Huateng Precision", "Purchasing Director"
		l.Industry, l.Region, l.CompanySize = "Manufacturing", "cn-east", 320
		l.Email, l.Phone = "li.wei@huateng.cn", "+86 21 5555 0101"
		l.Fields = crm.Fields{"budget_cny": crm.Number(decimal.NewFromInt(250000))}
	})
	if err := store.Leads().Create(ctx, l); err != nil {
		return err
	}
	now := clock.Now()
	day := 24 * time.Hour
	events := []lead.Engagement{
		{Kind: "web_visit", At: now.Add(-20 * day), Count: 2},
		{Kind: "email_click", At: now.Add(-9 * day)},
		{Kind: "web_visit", At: now.Add(-3 * day), Count: 4},
		{Kind: "demo_request", At: now.Add(-2 * day)},
	}

	snap, err := svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: model.ID(), Events: events})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "== rule model ==")
	fmt.Fprintln(w, model.Explain(l, events, now))
	fmt.Fprintf(w, "stored snapshot: model %s v%d, total %.2f, grade %s, stage %s, version %d\n",
		snap.ModelID, snap.ModelVersion, snap.Total, snap.Grade, snap.Stage, snap.Version)

	// The model suggests a stage; the lifecycle decides whether the move is
	// allowed and records it.
	if snap.Stage != "" {
		_, h, err := svc.Transition(ctx, lead.TransitionRequest{LeadID: l.ID, To: snap.Stage, Reason: "scored " + snap.Grade})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "moved %s -> %s (%s)\n", h.From, h.To, h.Reason)
	}

	// A month without new activity: the same events are worth less.
	clock.Advance(30 * day)
	later, err := svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: model.ID(), Events: events})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "30 days later: engagement %.2f (was %.2f), grade %s, stage %q, snapshot version %d\n",
		later.Engagement, snap.Engagement, later.Grade, later.Stage, later.Version)

	hist, err := svc.History(ctx, l.ID, crm.PageRequest{})
	if err != nil {
		return err
	}
	for _, h := range hist.Items {
		fmt.Fprintf(w, "history: %s %s -> %s\n", h.At.Format(time.DateOnly), h.From, h.To)
	}
	return nil
}

// leakyColumns are filled in by sales staff after contact (see the data
// set's README), plus the two ID columns: learning from them would predict
// the past.
var leakyColumns = []string{
	"Prospect ID", "Lead Number", "Tags", "Lead Quality", "Lead Profile",
	"Asymmetrique Activity Index", "Asymmetrique Profile Index",
	"Asymmetrique Activity Score", "Asymmetrique Profile Score", "Last Notable Activity",
}

func predictiveScoring(ctx context.Context, w io.Writer, svc *lead.Service) error {
	fmt.Fprintln(w, "== predictive model ==")
	path, err := leadsFile()
	if err != nil {
		fmt.Fprintln(w, "skipped:", err)
		return nil
	}
	tbl, err := readTable(path)
	if err != nil {
		return err
	}
	cfg := &lead.TrainConfig{Label: "Converted", Exclude: leakyColumns}
	cv, err := lead.CrossValidate(tbl, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d leads; default model (%s), 5-fold cross-validated ROC AUC %.3f\n", len(tbl.Rows), lead.Ensemble, cv.Mean)
	p, err := lead.Train(tbl, cfg)
	if err != nil {
		return err
	}
	// Predictors are stored like scoring models: immutable versions.
	if err := svc.SavePredictor(ctx, "course-signups", 1, p); err != nil {
		return err
	}
	p, err = svc.LoadPredictor(ctx, "course-signups", 0)
	if err != nil {
		return err
	}
	scorer := p.Bind(tbl.Columns)
	// Explain the first lead that did convert, and the first that did not.
	label := slices.Index(tbl.Columns, "Converted")
	for _, want := range []string{"1", "0"} {
		i := slices.IndexFunc(tbl.Rows, func(r []string) bool { return r[label] == want })
		if i < 0 {
			continue
		}
		row := tbl.Rows[i]
		prob, top := scorer.Explain(row, 4)
		fmt.Fprintf(w, "lead %s (converted: %s): probability %.2f; top features:\n", row[0], want, prob)
		for _, f := range top {
			fmt.Fprintf(w, "  %+.2f log-odds  %s = %s\n", f.Weight, f.Column, f.Value)
		}
	}
	return nil
}

// leadsFile finds ../shared/data/leads/leads_train.csv relative to the
// repository root, the directory holding go.mod.
func leadsFile() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the crmkit repository: go.mod not found")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "data", "leads", "leads_train.csv")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("shared leads data set not found at %s", path)
	}
	return path, nil
}

func readTable(path string) (*lead.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("read %s: no rows", path)
	}
	return &lead.Table{Columns: recs[0], Rows: recs[1:]}, nil
}
