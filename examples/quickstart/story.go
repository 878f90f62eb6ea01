package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// story is the host application: one store, the domain services wired
// together, and the people and records the chapters share.
type story struct {
	ctx   context.Context
	out   io.Writer
	clock *crmtest.Clock
	ids   *crmtest.IDs
	store *memstore.Store
	names map[crm.ID]string

	company, marketing, sales, east *crm.Department
	chen, zhang, zhou, liWei, zhao  *crm.User

	policy    *permission.Policy
	dupes     *duplicates
	leads     *lead.Service
	pools     *pool.Service
	eastPool  *pool.Pool
	router    *workflow.Router
	approvals *workflow.Approvals
	schema    *workflow.Schema

	lead      *crm.Lead
	customer  *crm.Customer
	deal      *crm.Opportunity
	neglected *crm.Customer
}

func newStory(ctx context.Context, out io.Writer) (*story, error) {
	// Monday 2 March 2026, 09:00 in Shanghai.
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	s := &story{ctx: ctx, out: out, clock: clock, ids: crmtest.NewIDs(), names: map[crm.ID]string{}}
	s.store = memstore.New(&memstore.Config{Clock: clock})

	// Block from the "match" weight: a rep must attach to the existing
	// customer or say why it is a different one.
	cfg := &dedupe.Config{Fields: dedupe.CustomerFields(), MatchWeight: 10}
	matcher, err := dedupe.New(cfg)
	if err != nil {
		return nil, err
	}
	index, err := dedupe.NewIndex(matcher, nil)
	if err != nil {
		return nil, err
	}
	s.dupes = &duplicates{index: index, policy: dedupe.Policy{BlockScore: cfg.MatchWeight}}
	return s, nil
}

func (s *story) printf(format string, args ...any) { fmt.Fprintf(s.out, "   "+format+"\n", args...) }

func (s *story) user(name string, dept *crm.Department, roles ...string) *crm.User {
	u := crmtest.User(s.ids, func(u *crm.User) {
		u.Name, u.DepartmentID, u.Roles, u.Capacity = name, dept.ID, roles, 50
		u.Regions = []string{"cn-east"}
	})
	s.names[u.ID] = u.Name
	return u
}

func (s *story) name(id crm.ID) string {
	if n, ok := s.names[id]; ok {
		return n
	}
	if id == crm.NilID {
		return "nobody"
	}
	return id.String()
}

// addCustomer stores a customer and keeps the duplicate index in step.
func (s *story) addCustomer(tx crm.Tx, c *crm.Customer) error {
	if err := tx.Customers().Create(s.ctx, c); err != nil {
		return err
	}
	s.names[c.ID] = c.Name
	return s.dupes.index.Add(dedupe.CustomerEntry(c))
}

// policyJSON is the permission policy: roles granted by department, data
// scopes, a denial that overrides a grant, and a claim right limited to one
// public pool. The placeholders are department and pool IDs.
const policyJSON = `{
  "record_types": [
    {"name": "lead", "fields": ["name", "company", "phone", "email", "status", "follow_up_status"]},
    {"name": "customer", "fields": ["name", "phone", "email", "level"]},
    {"name": "opportunity", "fields": ["name", "amount", "stage"]}
  ],
  "roles": [
    {"name": "marketing", "description": "captures and works leads",
     "rules": [
       {"id": "marketing.leads", "record_type": "lead", "actions": ["view", "create", "edit"], "scope": "all"},
       {"id": "marketing.hands_off_sales", "effect": "deny", "record_type": "lead", "actions": ["edit", "delete"], "scope": "all",
        "when": {"owner_departments": ["%[1]s"]}}]},
    {"name": "sales_rep", "description": "works own leads and customers; claims from the East China pool",
     "rules": [
       {"id": "sales.own_leads", "record_type": "lead", "actions": ["view", "edit"], "scope": "own"},
       {"id": "sales.own_customers", "record_type": "customer", "actions": ["view", "edit", "create"], "scope": "own"},
       {"id": "sales.pool", "record_type": "customer", "actions": ["view", "claim"], "scope": "all", "when": {"pools": ["%[2]s"]}},
       {"id": "sales.own_deals", "record_type": "opportunity", "actions": ["view", "create", "edit"], "scope": "own"}]},
    {"name": "sales_manager", "description": "sees and manages the whole sales department tree",
     "rules": [
       {"id": "manager.tree", "record_type": "customer", "actions": ["view", "edit", "assign"], "scope": "department_tree"},
       {"id": "manager.deals", "record_type": "opportunity", "actions": ["view", "approve"], "scope": "department_tree"}]}
  ],
  "bindings": [
    {"department": "%[3]s", "roles": ["marketing"]},
    {"department": "%[1]s", "subtree": true, "roles": ["sales_rep"]}
  ]
}`

// poolJSON is the East China public pool: anyone may claim, at most 5 a
// day; a customer without a follow-up for 15 days (30 for level A) falls
// back unless it is dealt or has an open opportunity; a previous owner
// waits 30 days to claim it again.
const poolJSON = `{
  "id": "%s", "name": "East China", "time_zone": "Asia/Shanghai",
  "members": {"all": true},
  "limits": [{"kind": "daily_claims", "max": 5}],
  "previous_owner_cooldown_days": 30,
  "recycle": [{
    "id": "neglect-v1", "effective_from": "2026-01-01T00:00:00+08:00", "combine": "any",
    "conditions": [{"kind": "no_follow_up", "days": 15, "level_days": {"A": 30}}],
    "exclude": {"dealt": true, "open_opportunity": true}
  }]
}`

func (s *story) organisation() error {
	s.company = crmtest.Department(s.ids, "Huateng Group", crm.NilID)
	s.marketing = crmtest.Department(s.ids, "Marketing", s.company.ID)
	s.sales = crmtest.Department(s.ids, "Sales", s.company.ID)
	s.east = crmtest.Department(s.ids, "Sales East China", s.sales.ID)
	s.chen = s.user("陈洁", s.marketing)
	s.zhang = s.user("张敏", s.sales, "sales_manager")
	s.zhou = s.user("周洋", s.sales, "director")
	s.liWei = s.user("李伟", s.east)
	s.zhao = s.user("赵磊", s.east)
	s.sales.ManagerID = s.zhang.ID
	depts := []*crm.Department{s.company, s.marketing, s.sales, s.east}
	users := []*crm.User{s.chen, s.zhang, s.zhou, s.liWei, s.zhao}
	err := s.store.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, d := range depts {
			if err := tx.Departments().Create(ctx, d); err != nil {
				return err
			}
		}
		for _, u := range users {
			if err := tx.Users().Create(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.printf("%s: %s; %s > %s (李伟, 赵磊), managed by 张敏, director 周洋", s.company.Name, s.marketing.Name, s.sales.Name, s.east.Name)

	// The store refuses a department tree with a cycle, naming the field.
	moved := *s.company
	moved.ParentID = s.east.ID
	var ve *crm.ValidationError
	if err := s.store.Departments().Update(s.ctx, &moved); errors.As(err, &ve) {
		s.printf("moving the group below its own team is refused: field %s would make a cycle", ve.Field)
	}

	poolID := s.ids.NewID()
	flat := make([]crm.Department, len(depts))
	for i, d := range depts {
		flat[i] = *d
	}
	if s.policy, err = permission.Load(fmt.Appendf(nil, policyJSON, s.sales.ID, poolID, s.marketing.ID), flat, nil); err != nil {
		return err
	}
	if s.eastPool, err = pool.ParsePool(fmt.Appendf(nil, poolJSON, poolID)); err != nil {
		return err
	}
	s.pools, err = pool.New(s.store, &pool.Config{Clock: s.clock, IDs: s.ids, Duplicates: s.dupes,
		Authorizer: &authorizer{policy: s.policy}})
	if err != nil {
		return err
	}
	if err := s.pools.CreatePool(s.ctx, s.eastPool); err != nil {
		return err
	}
	s.printf("permission policy loaded: 3 roles; East China public pool: daily claim limit 5, recycled after 15 days without follow-up")
	return nil
}

// modelJSON is a small rule model: fit points for who the lead is,
// engagement points for what they did, halving every 14 days.
const modelJSON = `{
  "id": "inbound", "version": 1, "name": "Inbound leads",
  "fit": {"cap": 100, "groups": [{"name": "firmographics", "rules": [
    {"id": "target-industry", "when": {"field": "industry", "op": "in", "values": ["manufacturing", "logistics"]}, "points": 30},
    {"id": "east-china", "when": {"field": "region", "op": "equals", "value": "cn-east"}, "points": 15},
    {"id": "buyer", "when": {"field": "title", "op": "contains", "value": "采购"}, "points": 20}]}]},
  "engagement": {"cap": 100, "groups": [{"name": "activity", "rules": [
    {"id": "demo-request", "when": {"event": {"kind": "demo_request"}}, "points": 40},
    {"id": "visits", "when": {"event": {"kind": "web_visit", "within_days": 90}}, "points_each": 3, "max_points": 15}]}]},
  "decay": {"half_life_days": 14},
  "stages": [{"stage": "marketing_qualified", "min_total": 80}]
}`

func (s *story) captureLead() error {
	var err error
	if s.leads, err = lead.New(s.store, &lead.Config{Clock: s.clock, IDs: s.ids, Duplicates: s.dupes}); err != nil {
		return err
	}
	model, err := lead.ParseModel([]byte(modelJSON))
	if err != nil {
		return err
	}
	if err := s.leads.SaveModel(s.ctx, model); err != nil {
		return err
	}
	s.lead = &crm.Lead{Meta: crm.Meta{ID: s.ids.NewID()}, Name: "王芳", Company: "华腾科技(北京)有限公司",
		Title: "采购经理", Phone: "+86 138-0013-8000", Source: "web_form", Region: "cn-east",
		Industry: "manufacturing", Status: crm.LeadNew}
	s.printf("web form: %s, %s at %s, phone %s", s.lead.Name, s.lead.Title, s.lead.Company, s.lead.Phone)

	// Marketing may create leads; the policy says so, with the rule.
	chen := s.policy.Subject(s.chen)
	res := permission.LeadResource(s.lead, s.marketing.ID)
	s.printf("陈洁 creates it: %s", s.policy.Check(&chen, permission.ActionCreate, &res).Reason())
	s.lead.DepartmentID = s.marketing.ID
	if err := s.store.Leads().Create(s.ctx, s.lead); err != nil {
		return err
	}

	day := 24 * time.Hour
	now := s.clock.Now()
	events := []lead.Engagement{
		{Kind: "web_visit", At: now.Add(-10 * day), Count: 3},
		{Kind: "demo_request", At: now.Add(-1 * day)},
	}
	snap, err := s.leads.ScoreLead(s.ctx, lead.ScoreRequest{LeadID: s.lead.ID, ModelID: model.ID(), Events: events})
	if err != nil {
		return err
	}
	s.printf("score: fit %.0f, engagement %.1f, grade %s; the model suggests %s", snap.Fit, snap.Engagement, snap.Grade, snap.Stage)
	for _, c := range model.Explain(s.lead, events, now).Contributions {
		s.printf("  %-16s %+.1f", c.Rule, c.Points)
	}
	l, h, err := s.leads.Transition(s.ctx, lead.TransitionRequest{LeadID: s.lead.ID, To: snap.Stage, Actor: s.chen.ID, Reason: "scored " + snap.Grade})
	if err != nil {
		return err
	}
	s.lead = l
	s.printf("lifecycle: %s -> %s, by %s", h.From, h.To, s.name(h.Actor))
	return nil
}

// rulesJSON routes East China leads round robin across the team, and
// everything else to a queue.
const rulesJSON = `{
  "name": "inbound_leads", "record_type": "lead", "fallback_queue": "unassigned", "time_zone": "Asia/Shanghai",
  "rules": [{"name": "east_china", "when": {"field": "region", "in": ["cn-east"]}, "target": {"team": "%s"}, "strategy": "round_robin"}]
}`

func (s *story) routeLead() error {
	team := crmtest.Team(s.ids, "East China", []crm.ID{s.liWei.ID, s.zhao.ID})
	if err := s.store.Teams().Create(s.ctx, team); err != nil {
		return err
	}
	schema, err := workflow.NewSchema(workflow.Field{Name: "region", Kind: workflow.KindString})
	if err != nil {
		return err
	}
	rules, err := workflow.ParseRuleSet(fmt.Appendf(nil, rulesJSON, team.ID))
	if err != nil {
		return err
	}
	members := []workflow.Member{workflow.MemberFromUser(s.liWei), workflow.MemberFromUser(s.zhao)}
	if s.router, err = workflow.NewRouter(schema, rules, members, []workflow.Team{workflow.TeamFromCRM(team)}); err != nil {
		return err
	}
	rec := schema.NewRecord()
	if err := rec.SetString("region", s.lead.Region); err != nil {
		return err
	}
	req := &workflow.Request{Record: rec, Now: s.clock.Now()}
	// The decision, its explanation, the rotating cursor, the lead.routed
	// event and the new owner are read and written in one unit of work.
	var why *workflow.Explanation
	err = s.store.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		st := s.router.NewState()
		if err := w.Routing().LoadRouting(ctx, rules.Name, s.router.Day(req.Now), st); err != nil {
			return err
		}
		if why, err = s.router.Explain(st, req); err != nil {
			return err
		}
		d, err := s.router.RouteTx(ctx, w, s.ids, s.lead.ID, req)
		if err != nil {
			return err
		}
		l, err := tx.Leads().Get(ctx, s.lead.ID)
		if err != nil {
			return err
		}
		l.OwnerID, l.DepartmentID = d.UserID, s.east.ID
		if err := tx.Leads().Update(ctx, l); err != nil {
			return err
		}
		s.lead = l
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range why.Rules {
		s.printf("rule %s matched: %v", r.Name, r.Matched)
	}
	for _, c := range why.Candidates {
		if c.Chosen {
			s.printf("%s: chosen (round robin, %d open)", s.name(c.UserID), c.Open)
		} else {
			s.printf("%s: skipped, %s", s.name(c.UserID), c.Skipped)
		}
	}

	// The lead now belongs to sales: marketing may no longer edit it.
	chen := s.policy.Subject(s.chen)
	res := permission.LeadResource(s.lead, s.marketing.ID)
	s.printf("陈洁 edits it now: %s", s.policy.Check(&chen, permission.ActionEdit, &res).Reason())
	return nil
}

func (s *story) convertLead() error {
	// An import put the company into the public pool last year.
	s.customer = crmtest.Customer(s.ids, func(c *crm.Customer) {
		c.Name, c.Phone, c.Level, c.Region, c.Industry = "北京华腾科技有限公司", "13800138000", "A", "cn-east", "manufacturing"
	})
	s.neglected = crmtest.Customer(s.ids, func(c *crm.Customer) {
		c.Name, c.Phone, c.Level, c.Region = "上海明达机械有限公司", "021-5555 0101", "B", "cn-east"
	})
	err := s.store.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := s.addCustomer(tx, s.customer); err != nil {
			return err
		}
		return s.addCustomer(tx, s.neglected)
	})
	if err != nil {
		return err
	}
	for _, c := range []*crm.Customer{s.customer, s.neglected} {
		if _, err := s.pools.Enter(s.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: s.eastPool.ID}); err != nil {
			return err
		}
	}
	s.clock.Advance(time.Hour)

	// Converting asks the duplicate checker first: the lead's company and
	// phone, written differently, are those of the pooled customer.
	_, err = s.leads.Convert(s.ctx, lead.ConvertRequest{LeadID: s.lead.ID, Actor: s.liWei.ID})
	var de *lead.DuplicateError
	if !errors.As(err, &de) {
		return fmt.Errorf("expected a duplicate, got %v", err)
	}
	s.printf("conversion refused: the lead matches %s (%s)", s.name(de.Match.CustomerID), de.Match.Reason)

	res, err := s.pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.liWei.ID, CustomerID: s.customer.ID})
	if err != nil {
		return err
	}
	s.printf("李伟 claims it from the East China pool; it falls back on %s unless followed up", res.Holding.DueAt.In(shanghai).Format(time.DateOnly))
	_, err = s.pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.zhao.ID, CustomerID: s.customer.ID})
	s.printf("赵磊 tries a moment later: refused, already owned: %v", errors.Is(err, pool.ErrTaken))

	// 赵磊 types the same company in as a new customer: anti-collision
	// (防撞单) refuses it and says who holds it.
	copyOf := crmtest.Customer(s.ids, func(c *crm.Customer) { c.Name, c.Phone = "华腾科技（北京）有限公司", "+86 138 0013 8000" })
	_, err = s.pools.Create(s.ctx, pool.CreateRequest{Actor: s.zhao.ID, Customer: copyOf})
	var ce *pool.CollisionError
	if errors.As(err, &ce) {
		c := ce.Collisions[0]
		who := "a colleague (赵磊 may not see whom)"
		if c.OwnerID != crm.NilID {
			who = s.name(c.OwnerID)
		}
		s.printf("赵磊 enters it as a new customer: refused, it collides with %s, owned by %s", s.name(c.CustomerID), who)
	}

	amount, err := crm.ParseMoney("280000.00 CNY")
	if err != nil {
		return err
	}
	conv, err := s.leads.Convert(s.ctx, lead.ConvertRequest{LeadID: s.lead.ID, Actor: s.liWei.ID,
		OnDuplicate: lead.DuplicateAttach, Opportunity: &lead.OpportunityDraft{Name: "ERP rollout 2026", Amount: amount, Probability: 40}})
	if err != nil {
		return err
	}
	s.deal, s.lead = conv.Opportunity, conv.Lead
	s.names[conv.Contact.ID] = conv.Contact.Name
	s.printf("converted, attached to %s: contact %s, opportunity %q worth %s; lead status %s",
		conv.Customer.Name, conv.Contact.Name, conv.Opportunity.Name, conv.Opportunity.Amount, conv.Lead.Status)
	_, err = s.leads.Convert(s.ctx, lead.ConvertRequest{LeadID: s.lead.ID, Actor: s.liWei.ID})
	s.printf("converting it again: refused, already converted: %v", errors.Is(err, crm.ErrFailedPrecondition))

	// 赵磊 claims the other pooled customer, and then never calls.
	if _, err := s.pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.zhao.ID, CustomerID: s.neglected.ID}); err != nil {
		return err
	}
	s.printf("赵磊 claims %s", s.neglected.Name)
	return nil
}

var shanghai = time.FixedZone("CST", 8*3600)

// chainJSON is the discount approval chain: above 10% the submitter's
// department manager; above 20% also a director.
const chainJSON = `{
  "key": "deal_discount", "version": 1, "record_type": "opportunity",
  "entry": {"field": "discount_percent", "range": {"gt": 0}},
  "steps": [
    {"name": "sales_manager", "when": {"field": "discount_percent", "range": {"gt": 10}},
     "approvers": [{"department_manager": {}}]},
    {"name": "director", "when": {"field": "discount_percent", "range": {"gt": 20}},
     "approvers": [{"role": "director"}]}
  ]}`

func (s *story) approveDiscount() error {
	users := []crm.User{*s.chen, *s.zhang, *s.zhou, *s.liWei, *s.zhao}
	tree, err := crm.NewDepartmentTree([]crm.Department{*s.company, *s.marketing, *s.sales, *s.east})
	if err != nil {
		return err
	}
	org, err := workflow.NewOrg(users, tree, nil)
	if err != nil {
		return err
	}
	if s.approvals, err = workflow.NewApprovals(s.ids, s.clock, org, nil); err != nil {
		return err
	}
	if s.schema, err = workflow.NewSchema(workflow.Field{Name: "discount_percent", Kind: workflow.KindNumber}); err != nil {
		return err
	}
	spec := &workflow.DefinitionSpec{}
	if err := json.Unmarshal([]byte(chainJSON), spec); err != nil {
		return err
	}
	def, err := workflow.NewDefinition(s.schema, org, spec)
	if err != nil {
		return err
	}
	rec := s.schema.NewRecord()
	if err := rec.SetNumber("discount_percent", decimalOf("15")); err != nil {
		return err
	}
	ref := crm.Ref{Type: crm.TypeOpportunity, ID: s.deal.ID}
	var in *workflow.Instance
	err = s.inWorkflow(func(ctx context.Context, tx workflow.Tx) error {
		if err := tx.ApprovalDefinitions().CreateDefinition(ctx, spec); err != nil {
			return err
		}
		in, err = s.approvals.SubmitTx(ctx, tx, def, rec, ref, s.liWei.ID)
		return err
	})
	if err != nil {
		return err
	}
	step := in.Steps[0]
	s.printf("李伟 submits: step %s waits for %s; the deal is locked: %v", step.Name, s.name(step.Tasks[0].Approver), in.IsLocked())

	// The manager's right to approve comes from the permission policy.
	zhang := s.policy.Subject(s.zhang)
	res := permission.OpportunityResource(s.deal, crm.NilID)
	if d := s.policy.Check(&zhang, permission.ActionApprove, &res); !d.Allowed {
		return d.Err()
	}
	s.clock.Advance(2 * time.Hour)
	err = s.inWorkflow(func(ctx context.Context, tx workflow.Tx) error {
		in, err = tx.ApprovalInstances().GetInstance(ctx, in.ID)
		if err != nil {
			return err
		}
		events, err := s.approvals.Approve(in, s.zhang.ID, "ok for a reference customer")
		if err != nil {
			return err
		}
		return workflow.SaveTx(ctx, tx, in, events)
	})
	if err != nil {
		return err
	}
	s.printf("张敏 approves: %s; locked: %v", in.Status, in.IsLocked())
	return nil
}

func (s *story) inWorkflow(fn func(ctx context.Context, tx workflow.Tx) error) error {
	return s.store.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return fn(ctx, w)
	})
}

func (s *story) recycle() error {
	// 李伟 follows up the next day; the pool recomputes when the customer
	// would fall back.
	s.clock.Advance(24 * time.Hour)
	call := crmtest.Activity(s.ids, crm.Ref{Type: crm.TypeCustomer, ID: s.customer.ID}, s.liWei.ID, func(a *crm.Activity) {
		a.OccurredAt, a.Note = s.clock.Now(), "Scoped the rollout; proposal next week"
	})
	err := s.store.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := tx.Activities().Create(s.ctx, call); err != nil {
			return err
		}
		c, err := tx.Customers().Get(ctx, s.customer.ID)
		if err != nil {
			return err
		}
		c.LastFollowUpAt = &call.OccurredAt
		return tx.Customers().Update(ctx, c)
	})
	if err != nil {
		return err
	}
	if _, err := s.pools.Recompute(s.ctx, s.customer.ID); err != nil {
		return err
	}
	s.printf("李伟 calls %s and records it", s.customer.Name)

	s.clock.Advance(16 * 24 * time.Hour)
	s.printf("16 days later, %s", s.clock.Now().In(shanghai).Format("Monday 2 January"))
	plan, err := s.pools.Plan(s.ctx, s.clock.Now(), 100)
	if err != nil {
		return err
	}
	for _, p := range plan {
		s.printf("the sweep's dry run: %s, owned by %s, falls back (rule %s: %s)", s.name(p.CustomerID), s.name(p.OwnerID), p.RuleID, p.Reason)
	}
	res, err := s.pools.Sweep(s.ctx, s.clock.Now(), 1000)
	if err != nil {
		return err
	}
	s.printf("the sweep recycles %d customer(s); %s keeps %s (open opportunity)", res.Recycled, s.name(s.liWei.ID), s.customer.Name)
	_, err = s.pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.zhao.ID, CustomerID: s.neglected.ID})
	var cd *pool.CooldownError
	if errors.As(err, &cd) {
		s.printf("赵磊 tries to claim it back: refused until %s (%s)", cd.Until.In(shanghai).Format(time.DateOnly), cd.Kind)
	}
	if _, err := s.pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.liWei.ID, CustomerID: s.neglected.ID}); err != nil {
		return err
	}
	s.printf("李伟 claims it instead")
	return nil
}

func (s *story) concurrentEdit() error {
	mine, err := s.store.Customers().Get(s.ctx, s.customer.ID)
	if err != nil {
		return err
	}
	theirs, err := s.store.Customers().Get(s.ctx, s.customer.ID)
	if err != nil {
		return err
	}
	mine.Level = "A+"
	if err := s.store.Customers().Update(s.ctx, mine); err != nil {
		return err
	}
	theirs.Level = "B"
	err = s.store.Customers().Update(s.ctx, theirs)
	s.printf("first edit saved (version %d); the second, made on the old version, is refused: conflict=%v", mine.Version, errors.Is(err, crm.ErrConflict))

	// A unit of work that fails leaves nothing behind.
	err = s.store.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		mine.Level = "S"
		if err := tx.Customers().Update(ctx, mine); err != nil {
			return err
		}
		return tx.Opportunities().Create(ctx, crmtest.Opportunity(s.ids, mine.ID, func(o *crm.Opportunity) { o.Probability = 140 }))
	})
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		stored, err := s.store.Customers().Get(s.ctx, s.customer.ID)
		if err != nil {
			return err
		}
		s.printf("a deal with probability 140 is refused (%s: %s); the level change in the same unit of work is undone: level %s", ve.Field, ve.Reason, stored.Level)
	}
	return nil
}

func (s *story) lists() error {
	for _, u := range []*crm.User{s.zhang, s.liWei, s.zhao, s.chen} {
		subject := s.policy.Subject(u)
		f := s.policy.ListFilter(&subject, crm.TypeCustomer, permission.ActionView)
		page, err := s.store.Customers().List(s.ctx, crm.CustomerFilter{Scope: f.Scope}, crm.PageRequest{Limit: 20})
		if err != nil {
			return err
		}
		names := make([]string, len(page.Items))
		for i, c := range page.Items {
			names[i] = c.Name
		}
		s.printf("%s sees %d: %v", u.Name, len(names), names)
	}
	return nil
}

func (s *story) outbox() error {
	events, err := s.store.Outbox().Pending(s.ctx, 100)
	if err != nil {
		return err
	}
	for _, e := range events {
		actor := "system"
		if e.ActorID != crm.NilID {
			actor = s.name(e.ActorID)
		}
		s.printf("#%-2d %-28s by %s", e.Seq, e.Type, actor)
	}
	ack := make([]crm.ID, len(events))
	for i, e := range events {
		ack[i] = e.ID
	}
	if err := s.store.Outbox().Ack(s.ctx, ack...); err != nil {
		return err
	}
	s.printf("acknowledged after publishing; %d left", len(events)-len(ack))
	return nil
}
