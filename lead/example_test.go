package lead_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/memstore"
)

// A rule model with fit and engagement rules, half-life decay and stages;
// the explanation says which rules matched and what each gave.
func ExampleModel_Explain() {
	model, err := lead.ParseModel([]byte(`{
	  "id": "smb-inbound", "version": 1,
	  "fit": {"groups": [{"name": "firmographics", "rules": [
	    {"id": "target-industry", "when": {"field": "industry", "in": ["manufacturing", "retail"]}, "points": 30},
	    {"id": "decision-maker", "when": {"field": "title", "contains": "director"}, "points": 20},
	    {"id": "free-mail", "when": {"field": "email", "contains": "@gmail."}, "points": -10}]}]},
	  "engagement": {"groups": [{"name": "activity", "rules": [
	    {"id": "demo-request", "when": {"event": {"kind": "demo_request"}}, "points": 40},
	    {"id": "visits", "when": {"event": {"kind": "web_visit", "within_days": 90}}, "points_each": 2, "max_points": 10}]}]},
	  "decay": {"half_life_days": 14},
	  "stages": [{"stage": "sales_qualified", "min_fit": 40, "min_engagement": 30},
	             {"stage": "marketing_qualified", "min_total": 40}]
	}`))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) // in a service: clock.Now()
	l := &crm.Lead{Name: "Li Wei", Title: "Purchasing Director", Industry: "Manufacturing", Email: "li.wei@huateng.cn"}
	events := []lead.Engagement{
		{Kind: "demo_request", At: now.Add(-14 * 24 * time.Hour)}, // one half-life ago
		{Kind: "web_visit", At: now.Add(-2 * time.Hour), Count: 3},
	}
	fmt.Println(model.Explain(l, events, now))

	// A week later the same lead has cooled down.
	later := model.Score(l, events, now.Add(7*24*time.Hour))
	fmt.Printf("a week later: engagement %.1f, grade %s, stage %q\n", later.Engagement, later.Grade, later.Stage)
	// Output:
	// smb-inbound v1: fit 50, engagement 25.98, total 75.98, grade B3, stage marketing_qualified
	//   fit/firmographics target-industry: +30  when industry in ["manufacturing", "retail"]
	//   fit/firmographics decision-maker: +20  when title contains "director"
	//   engagement/activity demo-request: +20 (of +40)  when event "demo_request" at least 1
	//   engagement/activity visits: +5.98 (of +6)  when event "web_visit" at least 1 within 90 days
	// a week later: engagement 18.4, grade B4, stage "marketing_qualified"
}

// Train a predictive model on a few past leads and score a new one, with
// the features that moved its score most.
func ExampleTrain() {
	history := &lead.Table{Columns: []string{"id", "source", "minutes_on_site", "converted"}}
	for i := range 60 {
		source := []string{"web_form", "trade_show", "cold_call"}[i%3]
		minutes := fmt.Sprint((i * 7) % 50)
		won := "no"
		if source == "web_form" && (i*7)%50 > 15 || (i*7)%50 > 40 {
			won = "yes"
		}
		if i%10 == 0 {
			minutes = "Select" // an unanswered form field
		}
		history.Rows = append(history.Rows, []string{fmt.Sprint(i), source, minutes, won})
	}
	p, err := lead.Train(history, &lead.TrainConfig{Label: "converted", Exclude: []string{"id"}, Algorithm: lead.NaiveBayes})
	if err != nil {
		panic(err)
	}
	hot := map[string]string{"source": "web_form", "minutes_on_site": "45"}
	cold := map[string]string{"source": "cold_call", "minutes_on_site": "3"}
	prob, top := p.Explain(hot, 1)
	fmt.Printf("hot %.2f, cold %.2f\n", prob, p.Score(cold))
	fmt.Printf("strongest signal: %s = %s\n", top[0].Column, top[0].Value)
	// Output:
	// hot 0.94, cold 0.04
	// strongest signal: minutes_on_site = 45
}

// Move a lead through its lifecycle: each move is checked, stored with its
// event, and a refused move says why.
func ExampleService_Transition() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Wang Fang", Company: "Huateng Technology"}
	if err := store.Leads().Create(ctx, l); err != nil {
		panic(err)
	}

	_, _, err = svc.Transition(ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadSQL})
	fmt.Println(err)

	_, h, err := svc.Transition(ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadMQL})
	if err != nil {
		panic(err)
	}
	fmt.Println(h.From, "->", h.To, "at", h.At.Format(time.DateTime))

	evs, _ := store.Outbox().Pending(ctx, 10)
	fmt.Println(evs[0].Type)
	// Output:
	// lead: cannot move from new to sales_qualified: the lead needs a phone number or an email address
	// new -> marketing_qualified at 2026-03-01 09:00:00
	// lead.qualified
}

// Store a scoring model, score a lead with it and keep the snapshot; a
// stored model version cannot be changed, only followed by a new version.
func ExampleService_ScoreLead() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	model, err := lead.ParseModel([]byte(`{"id": "smb", "version": 1,
	  "fit": {"groups": [{"name": "firm", "rules": [
	    {"id": "retail", "when": {"field": "industry", "equals": "retail"}, "points": 50}]}]},
	  "engagement": {"groups": [{"name": "activity", "rules": [
	    {"id": "demo", "when": {"event": {"kind": "demo_request"}}, "points": 40}]}]},
	  "decay": {"half_life_days": 7}}`))
	if err != nil {
		panic(err)
	}
	if err := svc.SaveModel(ctx, model); err != nil {
		panic(err)
	}
	l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Wang Fang", Industry: "Retail"}
	if err := store.Leads().Create(ctx, l); err != nil {
		panic(err)
	}
	demo := []lead.Engagement{{Kind: "demo_request", At: clock.Now().Add(-7 * 24 * time.Hour)}}
	snap, err := svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "smb", Events: demo})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s v%d: fit %.0f, engagement %.0f, grade %s (snapshot version %d)\n",
		snap.ModelID, snap.ModelVersion, snap.Fit, snap.Engagement, snap.Grade, snap.Version)

	spec := model.Spec()
	spec.Fit.Groups[0].Rules[0].Points = 60
	changed, err := lead.Compile(spec)
	if err != nil {
		panic(err)
	}
	fmt.Println(errors.Is(svc.SaveModel(ctx, changed), crm.ErrAlreadyExists))
	// Output:
	// smb v1: fit 50, engagement 20, grade B4 (snapshot version 1)
	// true
}

// regionRouter routes a converted lead to the user who covers its region,
// reading users through the conversion's unit of work.
type regionRouter struct{}

func (regionRouter) RouteOwner(ctx context.Context, tx crm.Tx, l *crm.Lead) (crm.ID, error) {
	page, err := tx.Users().List(ctx, crm.UserFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	if err != nil {
		return crm.NilID, err
	}
	for _, u := range page.Items {
		if slices.Contains(u.Regions, l.Region) {
			return u.ID, nil
		}
	}
	return crm.NilID, nil // keep the lead's owner
}

// sameName finds a customer named as the lead's company, in the
// conversion's unit of work.
type sameName struct{}

func (sameName) FindCustomer(ctx context.Context, tx crm.Tx, l *crm.Lead) (lead.DuplicateMatch, bool, error) {
	page, err := tx.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	if err != nil {
		return lead.DuplicateMatch{}, false, err
	}
	for _, c := range page.Items {
		if c.Name == l.Company {
			return lead.DuplicateMatch{CustomerID: c.ID, Score: 1, Reason: "same name"}, true, nil
		}
	}
	return lead.DuplicateMatch{}, false, nil
}

// managersOnly lets only managers convert leads.
type managersOnly struct{}

func (managersOnly) AuthorizeLead(ctx context.Context, tx crm.Tx, a *lead.Access) error {
	if a.Action == lead.ActionConvert && !slices.Contains(a.Actor.Roles, "manager") {
		return fmt.Errorf("%s may not convert leads: %w", a.Actor.Name, crm.ErrPermissionDenied)
	}
	return nil
}

// Convert leads with the three seams a host (or crmkit's composition root)
// wires in: an authorizer, a duplicate checker and an owner router. Each
// works inside the conversion's unit of work.
func ExampleService_Convert() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	east := &crm.Department{Meta: crm.Meta{ID: ids.NewID()}, Name: "East"}
	rep := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "Zhang Min", Email: "zhang.min@example.com", Active: true}
	manager := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "Li Wei", Email: "li.wei@example.com", Active: true,
		Roles: []string{"manager"}, Regions: []string{"cn-east"}, DepartmentID: east.ID}
	if err := store.Departments().Create(ctx, east); err != nil {
		panic(err)
	}
	for _, u := range []*crm.User{rep, manager} {
		if err := store.Users().Create(ctx, u); err != nil {
			panic(err)
		}
	}
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids,
		Authorizer: managersOnly{}, Duplicates: sameName{}, Router: regionRouter{}})
	if err != nil {
		panic(err)
	}
	first := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Wang Fang", Company: "Huateng Technology", Region: "cn-east"}
	second := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Chen Jie", Company: "Huateng Technology", Region: "cn-east"}
	for _, l := range []*crm.Lead{first, second} {
		if err := store.Leads().Create(ctx, l); err != nil {
			panic(err)
		}
	}

	_, err = svc.Convert(ctx, lead.ConvertRequest{LeadID: first.ID, Actor: rep.ID})
	fmt.Println(err)

	conv, err := svc.Convert(ctx, lead.ConvertRequest{LeadID: first.ID, Actor: manager.ID})
	if err != nil {
		panic(err)
	}
	names := map[crm.ID]string{rep.ID: rep.Name, manager.ID: manager.Name, east.ID: east.Name}
	fmt.Printf("%s owned by %s in %s\n", conv.Customer.Name, names[conv.Customer.OwnerID], names[conv.Customer.DepartmentID])

	_, err = svc.Convert(ctx, lead.ConvertRequest{LeadID: second.ID, Actor: manager.ID})
	fmt.Println("duplicate:", errors.Is(err, crm.ErrAlreadyExists))
	conv, err = svc.Convert(ctx, lead.ConvertRequest{LeadID: second.ID, Actor: manager.ID, OnDuplicate: lead.DuplicateAttach})
	if err != nil {
		panic(err)
	}
	fmt.Println("attached:", conv.Attached, conv.Contact.Name)
	// Output:
	// Zhang Min may not convert leads: crm: permission denied
	// Huateng Technology owned by Li Wei in East
	// duplicate: true
	// attached: true Chen Jie
}

// Convert a lead inside the host's own unit of work: when the host's work
// fails afterwards, the conversion is not kept either.
func ExampleService_ConvertTx() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Wang Fang", Company: "Huateng Technology"}
	if err := store.Leads().Create(ctx, l); err != nil {
		panic(err)
	}

	errBilling := errors.New("billing: account could not be opened")
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		conv, err := svc.ConvertTx(ctx, tx, lead.ConvertRequest{LeadID: l.ID})
		if err != nil {
			return err
		}
		fmt.Println("converted inside the unit of work:", conv.Customer.Name)
		return errBilling // the host's own step fails
	})
	fmt.Println(err)

	stored, _ := store.Leads().Get(ctx, l.ID)
	customers, _ := store.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{})
	fmt.Println(stored.Status, len(customers.Items))
	// Output:
	// converted inside the unit of work: Huateng Technology
	// billing: account could not be opened
	// new 0
}

// Which leads just turned hot? Scoring marks a rise of the grade (better
// on one axis, no worse on the other); Rising lists the owner's risen
// leads, newest rise first.
func ExampleService_Rising() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	model, err := lead.ParseModel([]byte(`{"id": "hot", "version": 1,
	  "fit": {"groups": [{"name": "firm", "rules": [
	    {"id": "retail", "when": {"field": "industry", "equals": "retail"}, "points": 80}]}]},
	  "engagement": {"groups": [{"name": "web", "rules": [
	    {"id": "visits", "when": {"event": {"kind": "web_visit"}}, "points_each": 10, "max_points": 100}]}]}}`))
	if err != nil {
		panic(err)
	}
	if err := svc.SaveModel(ctx, model); err != nil {
		panic(err)
	}
	owner := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "Li Wei", Email: "li.wei@example.com"}
	if err := store.Users().Create(ctx, owner); err != nil {
		panic(err)
	}
	score := func(l *crm.Lead, visits int) {
		events := []lead.Engagement{{Kind: "web_visit", At: clock.Now(), Count: visits}}
		if _, err := svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "hot", Events: events}); err != nil {
			panic(err)
		}
	}
	var leads []*crm.Lead
	for _, name := range []string{"Wang Fang", "Zhao Lei"} {
		l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: name, Industry: "retail", OwnerID: owner.ID}
		if err := store.Leads().Create(ctx, l); err != nil {
			panic(err)
		}
		leads = append(leads, l)
		score(l, 1) // A4: a first grade above the lowest rises
	}
	since := clock.Advance(24 * time.Hour)
	score(leads[0], 9) // A4 -> A1: rose
	score(leads[1], 1) // A4 again: no rise since yesterday
	page, err := svc.Rising(ctx, lead.RisingRequest{Actor: owner.ID, ModelID: "hot", Since: since})
	if err != nil {
		panic(err)
	}
	for _, r := range page.Items {
		fmt.Printf("%s: %s -> %s at %s\n", r.Lead.Name, r.Score.RoseFrom, r.Score.Grade, r.Score.RoseAt.Format(time.DateTime))
	}
	// Output:
	// Wang Fang: A4 -> A1 at 2026-03-02 09:00:00
}
