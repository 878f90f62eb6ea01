package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/task"
	"github.com/crmkit/crmkit/workflow"
)

// story is the host application: one store, one CRM wired over it by
// crmkit.New, and the people and records the chapters share.
type story struct {
	ctx   context.Context
	out   io.Writer
	clock *crmtest.Clock
	ids   *crmtest.IDs
	store *memstore.Store
	names map[crm.ID]string

	company, marketing, sales, east *crm.Department
	chen, zhang, zhou, liWei, zhao  *crm.User

	crm      *crmkit.CRM
	policy   *permission.Policy
	eastPool *pool.Pool
	schema   *cond.Schema
	org      *workflow.Org

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

// addCustomer enters a customer as an import would (the system, no
// owner): checked against the stored customers, stored with its match keys.
func (s *story) addCustomer(c *crm.Customer) error {
	if _, err := s.crm.CreateCustomer(s.ctx, crmkit.CreateCustomerRequest{Customer: c}); err != nil {
		return err
	}
	s.names[c.ID] = c.Name
	return nil
}

// policyJSON is the permission policy: roles granted by department, data
// scopes, a denial that overrides a grant, and a claim right limited to one
// public pool. The placeholders are department and pool IDs.
const policyJSON = `{
  "record_types": [
    {"name": "lead", "fields": ["name", "company", "phone", "email", "status", "follow_up_status"]},
    {"name": "customer", "fields": ["name", "phone", "email", "level"]},
    {"name": "opportunity", "fields": ["name", "amount", "stage"]},
    {"name": "activity"}, {"name": "task"}
  ],
  "roles": [
    {"name": "marketing", "description": "captures and works leads",
     "rules": [
       {"id": "marketing.leads", "record_type": "lead", "actions": ["view", "create", "edit"], "scope": "all"},
       {"id": "marketing.hands_off_sales", "effect": "deny", "record_type": "lead", "actions": ["edit", "delete"], "scope": "all",
        "when": {"field": "department_id", "under": ["%[1]s"]}}]},
    {"name": "sales_rep", "description": "works own leads and customers; claims from the East China pool",
     "rules": [
       {"id": "sales.own_leads", "record_type": "lead", "actions": ["view", "edit"], "scope": "own"},
       {"id": "sales.own_customers", "record_type": "customer", "actions": ["view", "edit", "create"], "scope": "own"},
       {"id": "sales.pool", "record_type": "customer", "actions": ["view", "claim"], "scope": "all", "when": {"field": "pool_id", "in": ["%[2]s"]}},
       {"id": "sales.own_deals", "record_type": "opportunity", "actions": ["view", "create", "edit"], "scope": "own"},
       {"id": "sales.own_activities", "record_type": "activity", "actions": ["view", "create"], "scope": "own"},
       {"id": "sales.own_tasks", "record_type": "task", "actions": ["view", "create", "edit"], "scope": "own"}]},
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
	if s.policy, err = permission.Load(fmt.Appendf(nil, policyJSON, s.sales.ID, poolID, s.marketing.ID), depts, nil); err != nil {
		return err
	}
	if s.eastPool, err = pool.ParsePool(fmt.Appendf(nil, poolJSON, poolID)); err != nil {
		return err
	}
	router, err := s.router()
	if err != nil {
		return err
	}
	flat := make([]crm.Department, len(depts))
	for i, d := range depts {
		flat[i] = *d
	}
	approvals, err := s.approvalEngine(users, flat)
	if err != nil {
		return err
	}
	// One call wires every capability over the store: the pools ask dedupe
	// (anti-collision) and the policy; conversions ask dedupe and the
	// router; approvals ask the policy. Nothing below is glue.
	s.crm, err = crmkit.New(s.store, &crmkit.Config{
		Clock: s.clock, IDs: s.ids,
		Permissions: s.policy,
		Router:      router,
		Approvals:   approvals,
	})
	if err != nil {
		return err
	}
	if err := s.crm.Pools.CreatePool(s.ctx, s.eastPool); err != nil {
		return err
	}
	s.printf("permission policy loaded: 3 roles; East China public pool: daily claim limit 5, recycled after 15 days without follow-up")
	s.printf("crmkit.New wires pools, leads, dedupe, routing, approvals and the policy over the store")
	return nil
}

// rulesJSON routes East China leads round robin across the team, and
// everything else to a queue.
const rulesJSON = `{
  "name": "inbound_leads", "record_type": "lead", "fallback_queue": "unassigned", "time_zone": "Asia/Shanghai",
  "rules": [{"name": "east_china", "when": {"field": "region", "in": ["cn-east"]}, "target": {"team": "%s"}, "strategy": "round_robin"}]
}`

// router builds the lead router over the East China team.
func (s *story) router() (*workflow.Router, error) {
	team := crmtest.Team(s.ids, "East China", []crm.ID{s.liWei.ID, s.zhao.ID})
	if err := s.store.Teams().Create(s.ctx, team); err != nil {
		return nil, err
	}
	schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	if err != nil {
		return nil, err
	}
	rules, err := workflow.ParseRuleSet(fmt.Appendf(nil, rulesJSON, team.ID))
	if err != nil {
		return nil, err
	}
	members := []workflow.Member{workflow.MemberFromUser(s.liWei), workflow.MemberFromUser(s.zhao)}
	return workflow.NewRouter(schema, rules, members, []workflow.Team{workflow.TeamFromCRM(team)})
}

// approvalEngine builds the approval engine over a snapshot of the org.
func (s *story) approvalEngine(users []*crm.User, depts []crm.Department) (*workflow.Approvals, error) {
	tree, err := crm.NewDepartmentTree(depts)
	if err != nil {
		return nil, err
	}
	flat := make([]crm.User, len(users))
	for i, u := range users {
		flat[i] = *u
	}
	if s.org, err = workflow.NewOrg(flat, tree, nil); err != nil {
		return nil, err
	}
	return workflow.NewApprovals(s.org, &workflow.ApprovalsConfig{IDs: s.ids, Clock: s.clock})
}

// modelJSON is a small rule model: fit points for who the lead is,
// engagement points for what they did, halving every 14 days.
const modelJSON = `{
  "id": "inbound", "version": 1, "name": "Inbound leads",
  "fit": {"cap": 100, "groups": [{"name": "firmographics", "rules": [
    {"id": "target-industry", "when": {"field": "industry", "in": ["manufacturing", "logistics"]}, "points": 30},
    {"id": "east-china", "when": {"field": "region", "equals": "cn-east"}, "points": 15},
    {"id": "buyer", "when": {"field": "title", "contains": "采购"}, "points": 20}]}]},
  "engagement": {"cap": 100, "groups": [{"name": "activity", "rules": [
    {"id": "demo-request", "when": {"event": {"kind": "demo_request"}}, "points": 40},
    {"id": "visits", "when": {"event": {"kind": "web_visit", "within_days": 90}}, "points_each": 3, "max_points": 15}]}]},
  "decay": {"half_life_days": 14},
  "stages": [{"stage": "marketing_qualified", "min_total": 80}]
}`

func (s *story) captureLead() error {
	model, err := lead.ParseModel([]byte(modelJSON))
	if err != nil {
		return err
	}
	if err := s.crm.Leads.SaveModel(s.ctx, model); err != nil {
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
	snap, err := s.crm.Leads.ScoreLead(s.ctx, lead.ScoreRequest{LeadID: s.lead.ID, ModelID: model.ID(), Events: events})
	if err != nil {
		return err
	}
	s.printf("score: fit %.0f, engagement %.1f, grade %s; the model suggests %s", snap.Fit, snap.Engagement, snap.Grade, snap.Stage)
	for _, c := range model.Explain(s.lead, events, now).Contributions {
		s.printf("  %-16s %+.1f", c.Rule, c.Points)
	}
	l, h, err := s.crm.Leads.Transition(s.ctx, lead.TransitionRequest{LeadID: s.lead.ID, To: snap.Stage, Actor: s.chen.ID, Reason: "scored " + snap.Grade})
	if err != nil {
		return err
	}
	s.lead = l
	s.printf("lifecycle: %s -> %s, by %s", h.From, h.To, s.name(h.Actor))
	return nil
}

func (s *story) routeLead() error {
	// The decision, its explanation, the rotating cursor, the lead.routed
	// event and the new owner are read and written in one unit of work.
	routed, err := s.crm.RouteLead(s.ctx, crmkit.RouteLeadRequest{LeadID: s.lead.ID, Actor: s.chen.ID, Explain: true})
	if err != nil {
		return err
	}
	s.lead = routed.Lead
	for _, r := range routed.Explanation.Rules {
		s.printf("rule %s matched: %v", r.Name, r.Matched)
	}
	for _, c := range routed.Explanation.Candidates {
		if c.Chosen {
			s.printf("%s: chosen (round robin, %d open)", s.name(c.UserID), c.Open)
		} else {
			s.printf("%s: skipped, %s", s.name(c.UserID), c.Skipped)
		}
	}

	// The lead now belongs to sales: marketing may no longer change it,
	// and the refusal names the rule.
	_, _, err = s.crm.Leads.Transition(s.ctx, lead.TransitionRequest{LeadID: s.lead.ID, To: crm.LeadDisqualified, Actor: s.chen.ID, Reason: "duplicate"})
	if d, ok := permission.IsDenied(err); ok {
		s.printf("陈洁 disqualifies it now: %s", d.Reason())
	}
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
	for _, c := range []*crm.Customer{s.customer, s.neglected} {
		if err := s.addCustomer(c); err != nil {
			return err
		}
		if _, err := s.crm.Pools.Enter(s.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: s.eastPool.ID}); err != nil {
			return err
		}
	}
	s.clock.Advance(time.Hour)

	// Converting checks the stored customers first: the lead's company and
	// phone, written differently, are those of the pooled customer.
	_, err := s.crm.Leads.Convert(s.ctx, lead.ConvertRequest{LeadID: s.lead.ID, Actor: s.liWei.ID})
	var de *lead.DuplicateError
	if !errors.As(err, &de) {
		return fmt.Errorf("expected a duplicate, got %v", err)
	}
	s.printf("conversion refused: the lead matches %s (%s)", s.name(de.Match.CustomerID), de.Match.Reason)

	res, err := s.crm.Pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.liWei.ID, CustomerID: s.customer.ID})
	if err != nil {
		return err
	}
	s.printf("李伟 claims it from the East China pool; it falls back on %s unless followed up", res.Holding.DueAt.In(shanghai).Format(time.DateOnly))
	_, err = s.crm.Pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.zhao.ID, CustomerID: s.customer.ID})
	s.printf("赵磊 tries a moment later: refused, already owned: %v", errors.Is(err, pool.ErrTaken))

	// 赵磊 types the same company in as a new customer: anti-collision
	// (防撞单) refuses it and says who holds it.
	copyOf := crmtest.Customer(s.ids, func(c *crm.Customer) { c.Name, c.Phone = "华腾科技（北京）有限公司", "+86 138 0013 8000" })
	_, err = s.crm.CreateCustomer(s.ctx, crmkit.CreateCustomerRequest{Customer: copyOf, Actor: s.zhao.ID, Own: true})
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
	conv, err := s.crm.Leads.Convert(s.ctx, lead.ConvertRequest{LeadID: s.lead.ID, Actor: s.liWei.ID,
		OnDuplicate: lead.DuplicateAttach, Opportunity: &lead.OpportunityDraft{Name: "ERP rollout 2026", Amount: amount, Probability: 40}})
	if err != nil {
		return err
	}
	s.deal, s.lead = conv.Opportunity, conv.Lead
	s.names[conv.Contact.ID] = conv.Contact.Name
	s.printf("converted, attached to %s: contact %s, opportunity %q worth %s; lead status %s",
		conv.Customer.Name, conv.Contact.Name, conv.Opportunity.Name, conv.Opportunity.Amount, conv.Lead.Status)
	_, err = s.crm.Leads.Convert(s.ctx, lead.ConvertRequest{LeadID: s.lead.ID, Actor: s.liWei.ID})
	s.printf("converting it again: refused, already converted: %v", errors.Is(err, crm.ErrFailedPrecondition))

	// 赵磊 claims the other pooled customer, and then never calls.
	if _, err := s.crm.Pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.zhao.ID, CustomerID: s.neglected.ID}); err != nil {
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
	var err error
	if s.schema, err = cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber}); err != nil {
		return err
	}
	spec := &workflow.DefinitionSpec{}
	if err := json.Unmarshal([]byte(chainJSON), spec); err != nil {
		return err
	}
	def, err := workflow.NewDefinition(s.schema, s.org, spec)
	if err != nil {
		return err
	}
	err = s.crm.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return w.ApprovalDefinitions().CreateDefinition(ctx, spec)
	})
	if err != nil {
		return err
	}
	rec := s.schema.NewRecord()
	if err := rec.SetNumber("discount_percent", decimal.RequireFromString("15")); err != nil {
		return err
	}
	ref := crm.Ref{Type: crm.TypeOpportunity, ID: s.deal.ID}
	in, err := s.crm.Approvals.Submit(s.ctx, workflow.SubmitRequest{Definition: def, Record: rec, Ref: ref, Submitter: s.liWei.ID})
	if err != nil {
		return err
	}
	step := in.Steps[0]
	s.printf("李伟 submits: step %s waits for %s; the deal is locked: %v", step.Name, s.name(step.Tasks[0].Approver), in.IsLocked())

	// 赵磊 holds no task: the engine refuses him before the policy is asked.
	_, err = s.crm.Approvals.Approve(s.ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: s.zhao.ID})
	s.printf("赵磊 tries to approve: refused, the task is not his (permission denied: %v)", errors.Is(err, crm.ErrPermissionDenied))

	// The manager holds the task, and the permission policy grants him
	// approval of deals in his department tree.
	s.clock.Advance(2 * time.Hour)
	in, err = s.crm.Approvals.Approve(s.ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: s.zhang.ID, Comment: "ok for a reference customer", Version: in.Version})
	if err != nil {
		return err
	}
	s.printf("张敏 approves: %s; locked: %v", in.Status, in.IsLocked())
	return nil
}

func (s *story) recycle() error {
	// 李伟 follows up the next day; the pool recomputes when the customer
	// would fall back.
	s.clock.Advance(24 * time.Hour)
	call := crmtest.Activity(s.ids, crm.Ref{Type: crm.TypeCustomer, ID: s.customer.ID}, s.liWei.ID, func(a *crm.Activity) {
		a.OccurredAt, a.Note = s.clock.Now(), "Scoped the rollout; proposal next week"
	})
	// One call records the follow-up: the activity, the customer's last
	// follow-up and its pool holding's recycling due time, in one unit of
	// work, all recorded as 李伟's.
	followUp, err := s.crm.RecordActivity(s.ctx, crmkit.RecordActivityRequest{Activity: call, Actor: s.liWei.ID})
	if err != nil {
		return err
	}
	falls := "it does not fall back while a deal is open"
	if h := followUp.Holding; h != nil && !h.DueAt.IsZero() {
		falls = "it falls back on " + h.DueAt.In(shanghai).Format("2006-01-02") + " unless followed up"
	}
	s.printf("李伟 calls %s and records it (last follow-up, pool due time and history in one unit of work); %s", s.customer.Name, falls)

	s.clock.Advance(16 * 24 * time.Hour)
	s.printf("16 days later, %s", s.clock.Now().In(shanghai).Format("Monday 2 January"))
	plan, err := s.crm.Pools.Plan(s.ctx, s.clock.Now(), 100)
	if err != nil {
		return err
	}
	for _, p := range plan {
		s.printf("the sweep's dry run: %s, owned by %s, falls back (rule %s: %s)", s.name(p.CustomerID), s.name(p.OwnerID), p.RuleID, p.Reason)
	}
	res, err := s.crm.Pools.Sweep(s.ctx, s.clock.Now(), 1000)
	if err != nil {
		return err
	}
	s.printf("the sweep recycles %d customer(s); %s keeps %s (open opportunity)", res.Recycled, s.name(s.liWei.ID), s.customer.Name)
	_, err = s.crm.Pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.zhao.ID, CustomerID: s.neglected.ID})
	var cd *pool.CooldownError
	if errors.As(err, &cd) {
		s.printf("赵磊 tries to claim it back: refused until %s (%s)", cd.Until.In(shanghai).Format(time.DateOnly), cd.Kind)
	}
	if _, err := s.crm.Pools.Claim(s.ctx, pool.ClaimRequest{Actor: s.liWei.ID, CustomerID: s.neglected.ID}); err != nil {
		return err
	}
	s.printf("李伟 claims it instead")
	return nil
}

func (s *story) morning() error {
	// 李伟 planned a follow-up for this morning.
	plan := crmtest.Task(s.ids, crm.Ref{Type: crm.TypeOpportunity, ID: s.deal.ID}, s.liWei.ID, func(t *crm.Task) {
		t.Title, t.DepartmentID, t.DueAt = "Send the revised proposal", s.liWei.DepartmentID, s.clock.Now().Add(2*time.Hour)
	})
	if _, err := s.crm.Tasks.Create(s.ctx, task.CreateRequest{Task: plan, Actor: s.liWei.ID}); err != nil {
		return err
	}
	due, err := s.crm.TasksDue(s.ctx, crmkit.TasksDueRequest{Viewer: s.liWei.ID, Before: s.clock.Now().Add(8 * time.Hour)})
	if err != nil {
		return err
	}
	for _, t := range due.Items {
		s.printf("due today: %s at %s", t.Title, t.DueAt.In(shanghai).Format("15:04"))
	}
	falling, err := s.crm.FallingBack(s.ctx, crmkit.FallingBackRequest{Viewer: s.liWei.ID, Within: 30 * 24 * time.Hour})
	if err != nil {
		return err
	}
	for _, h := range falling.Items {
		s.printf("falls back to the pool on %s unless followed up: %s", h.DueAt.In(shanghai).Format(time.DateOnly), s.name(h.CustomerID))
	}
	inbox, err := s.crm.Inbox(s.ctx, crmkit.InboxRequest{Viewer: s.zhang.ID})
	if err != nil {
		return err
	}
	s.printf("张敏's approval inbox: %d waiting (she approved the discount yesterday)", len(inbox.Items))

	// One read of the customer, masked by the permission policy.
	v, err := s.crm.View(s.ctx, s.liWei.ID, s.customer.ID)
	if err != nil {
		return err
	}
	s.printf("%s in one read: %d opportunity, %d activities, %d open task, %d approval, %d ledger entries",
		v.Customer.Name, len(v.Opportunities.Items), len(v.Activities.Items), len(v.Tasks.Items), len(v.Approvals.Items), len(v.Ledger.Items))
	if v.Ownership != nil && v.Ownership.FallsBackInDays != nil {
		s.printf("standing: %s, falls back in %d days", v.Ownership.Standing.State, *v.Ownership.FallsBackInDays)
	} else if v.Ownership != nil {
		s.printf("standing: %s", v.Ownership.Standing.State)
	}
	for _, o := range v.Omitted {
		s.printf("left out: %s (%s)", o.Section, o.Reason)
	}
	if v.Lead != nil {
		s.printf("it came from lead %s, scored %d time(s)", v.Lead.Lead.Name, len(v.Lead.ScoreHistory))
	}
	for i, e := range v.Timeline.Items {
		if i == 5 {
			s.printf("... %d more on this page", len(v.Timeline.Items)-5)
			break
		}
		s.printf("timeline: %s %s", e.OccurredAt.In(shanghai).Format("01-02 15:04"), e.Type)
	}
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
	if _, err := s.crm.UpdateCustomer(s.ctx, crmkit.UpdateCustomerRequest{Customer: mine, Actor: s.liWei.ID}); err != nil {
		return err
	}
	theirs.Level = "B"
	_, err = s.crm.UpdateCustomer(s.ctx, crmkit.UpdateCustomerRequest{Customer: theirs, Actor: s.zhang.ID})
	s.printf("first edit saved (version %d); the second, made on the old version, is refused: conflict=%v", mine.Version, errors.Is(err, crm.ErrConflict))

	// A unit of work that fails leaves nothing behind.
	err = s.crm.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		mine.Level = "S"
		if _, err := s.crm.UpdateCustomerTx(ctx, tx, crmkit.UpdateCustomerRequest{Customer: mine, Actor: s.liWei.ID}); err != nil {
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
		line := fmt.Sprintf("#%-2d %-28s by %s", e.Seq, e.Type, actor)
		if e.Type.IsChange() {
			// A change event lists the changed fields with old and new
			// values; the field history keeps the same rows.
			p, err := crm.DecodePayload[crm.ChangedPayload](e)
			if err != nil {
				return err
			}
			fields := make([]string, 0, len(p.Changes))
			for _, c := range p.Changes {
				fields = append(fields, c.Field)
			}
			if len(fields) > 4 {
				fields = append(fields[:4], fmt.Sprintf("+%d", len(p.Changes)-4))
			}
			line += fmt.Sprintf(" (%s: %s)", p.Operation, strings.Join(fields, " "))
		}
		s.printf("%s", line)
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
