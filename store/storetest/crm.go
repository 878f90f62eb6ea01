package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/workflow"
)

// RunCRM runs the "CRM" group: the composition root ([crmkit.New]) over
// the adapter, with every domain wired through its seams. It needs every
// domain port (pool, lead, dedupe, workflow) and checks the promises that
// only hold when the domains work together: one customer per company
// whatever the entry point, conversions that leave nothing when they fail,
// units of work spanning domains, anti-collision and policy denials on
// claims.
func RunCRM(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	crmTest(t, h, "ConcurrentEntriesOfOneCompanyStoreOneCustomer", testCRMConcurrentEntries)
	crmTest(t, h, "FailedConversionAfterRoutingLeavesNothing", testCRMFailedConversion)
	crmTest(t, h, "HostUnitOfWorkSpansDomains", testCRMHostUnitOfWork)
	crmTest(t, h, "ClaimOfADuplicateOfAColleaguesCustomerIsRefused", testCRMClaimDuplicate)
	crmTest(t, h, "PolicyDenyRefusesAClaimAndNamesTheRule", testCRMPolicyDeny)
	crmTest(t, h, "CustomerEditsKeepMatchKeys", testCRMCustomerEdits)
	crmTest(t, h, "DuplicateErrorsShowTheOwnerOnlyToThoseWhoMaySee", testCRMDuplicateErrorsShowTheOwnerOnlyToThoseWhoMaySee)
	crmTest(t, h, "APolicyRegistryFollowsDepartmentsMovedInTheStore", testCRMPolicyFollowsDepartmentsMovedInTheStore)
	t.Run("Capture", func(t *testing.T) {
		t.Parallel()
		runCRMCapture(t, h)
	})
	t.Run("ConversionsRespectTheOwnersCap", func(t *testing.T) {
		t.Parallel()
		testCRMConversionsRespectTheOwnersCap(t, h)
	})
	t.Run("MergesAndDepartmentMovesKeepThePoolInvariants", func(t *testing.T) {
		t.Parallel()
		testCRMMergesAndMovesKeepPoolInvariants(t, h)
	})
}

// crmEnv is one CRM subtest's world: a fresh store, an organisation of
// two departments (sales under the root), a pool every user may claim
// from, and a round-robin router over the sales team.
type crmEnv struct {
	t      *testing.T
	ctx    context.Context
	clock  *crmtest.Clock
	ids    *crmtest.IDs
	store  crm.Store
	crm    *crmkit.CRM
	pool   *pool.Pool
	root   *crm.Department
	sales  *crm.Department
	admin  *crm.User
	reps   []*crm.User
	router *workflow.Router
	rules  string
}

// crmTest runs fn as a parallel subtest with a fresh CRM; edit, when set,
// changes the configuration before New.
func crmTest(t *testing.T, h Harness, name string, fn func(t *testing.T, e *crmEnv)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		fn(t, newCRMEnv(t, h, nil))
	})
}

const crmRulesJSON = `{
  "name": "inbound", "record_type": "lead", "fallback_queue": "unassigned", "time_zone": "Asia/Shanghai",
  "rules": [{"name": "east", "when": {"field": "region", "in": ["cn-east"]}, "target": {"team": "%s"}, "strategy": "round_robin"}]
}`

func newCRMEnv(t *testing.T, h Harness, edit func(e *crmEnv, cfg *crmkit.Config)) *crmEnv {
	t.Helper()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	e := &crmEnv{t: t, ctx: context.Background(), clock: clock, ids: crmtest.NewIDs()}
	e.store = h.NewStore(t, clock)
	require.NotNil(t, e.store, "storetest: Harness.NewStore returned nil")
	var raw bool
	requireEventsDecode(t, e.store, &raw, h.seen)
	e.root = crmtest.Department(e.ids, "Huateng", crm.NilID)
	require.NoError(t, e.store.Departments().Create(e.ctx, e.root))
	e.sales = crmtest.Department(e.ids, "Sales", e.root.ID)
	require.NoError(t, e.store.Departments().Create(e.ctx, e.sales))
	e.admin = e.user(e.root, "admin")
	for range 4 {
		e.reps = append(e.reps, e.user(e.sales, "sales_rep"))
	}
	team := crmtest.Team(e.ids, "East", []crm.ID{e.reps[0].ID, e.reps[1].ID})
	require.NoError(t, e.store.Teams().Create(e.ctx, team))
	schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)
	rules, err := workflow.ParseRuleSet(fmt.Appendf(nil, crmRulesJSON, team.ID))
	require.NoError(t, err)
	e.rules = rules.Name
	members := []workflow.Member{workflow.MemberFromUser(e.reps[0]), workflow.MemberFromUser(e.reps[1])}
	e.router, err = workflow.NewRouter(schema, rules, members, []workflow.Team{workflow.TeamFromCRM(team)})
	require.NoError(t, err)
	cfg := &crmkit.Config{Clock: clock, IDs: e.ids, Router: e.router}
	if edit != nil {
		edit(e, cfg)
	}
	e.crm, err = crmkit.New(e.store, cfg)
	require.NoError(t, err)
	e.pool = &pool.Pool{ID: e.ids.NewID(), Name: "Public", Members: pool.Members{All: true}, Admins: []crm.ID{e.admin.ID}}
	require.NoError(t, e.crm.Pools.CreatePool(e.ctx, e.pool))
	return e
}

func (e *crmEnv) user(dept *crm.Department, roles ...string) *crm.User {
	e.t.Helper()
	u := crmtest.User(e.ids, func(u *crm.User) { u.DepartmentID, u.Roles, u.Regions = dept.ID, roles, []string{"cn-east"} })
	require.NoError(e.t, e.store.Users().Create(e.ctx, u))
	return u
}

// lead stores a new lead of company, owned by nobody yet, so a conversion
// routes it.
func (e *crmEnv) lead(company, phone string) *crm.Lead {
	e.t.Helper()
	l := crmtest.Lead(e.ids, func(l *crm.Lead) {
		l.Company, l.Name, l.Phone, l.Region, l.OwnerID, l.DepartmentID = company, "王芳", phone, "cn-east", crm.NilID, e.sales.ID
	})
	require.NoError(e.t, e.store.Leads().Create(e.ctx, l))
	return l
}

// company returns an unsaved company customer.
func (e *crmEnv) company(name, phone string) *crm.Customer {
	return crmtest.Customer(e.ids, func(c *crm.Customer) {
		c.Kind, c.Name, c.Phone, c.OwnerID, c.PoolID, c.DepartmentID = crm.CustomerCompany, name, phone, crm.NilID, crm.NilID, crm.NilID
	})
}

// customersNamed counts the stored customers named name.
func (e *crmEnv) customersNamed(name string) int {
	e.t.Helper()
	n := 0
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := e.store.Customers().List(e.ctx, crm.CustomerFilter{}, page)
		require.NoError(e.t, err)
		for _, c := range got.Items {
			if c.Name == name {
				n++
			}
		}
		if got.NextCursor == "" {
			return n
		}
		page.Cursor = got.NextCursor
	}
}

// pending counts the unacknowledged events (the subtests acknowledge
// none, and store fewer than a page).
func (e *crmEnv) pending() int {
	e.t.Helper()
	got, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
	require.NoError(e.t, err)
	require.Less(e.t, len(got), crm.MaxPageLimit)
	return len(got)
}

// keysOf returns the stored match keys of a customer, nil when none.
func (e *crmEnv) keysOf(id crm.ID) *dedupe.RecordKeys {
	e.t.Helper()
	var out *dedupe.RecordKeys
	err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
		dt, err := dedupe.TxOf(tx)
		if err != nil {
			return err
		}
		k, err := dt.DedupeKeys().Get(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			return nil
		}
		out = k
		return err
	})
	require.NoError(e.t, err)
	return out
}

// routingCursor returns the stored round-robin cursor of the "east" rule.
func (e *crmEnv) routingCursor() workflow.Cursor {
	e.t.Helper()
	st := e.router.NewState()
	err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
		wt, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return wt.Routing().LoadRouting(ctx, e.rules, e.router.Day(e.clock.Now()), st)
	})
	require.NoError(e.t, err)
	return st.Cursor("east")
}

func testCRMConcurrentEntries(t *testing.T, e *crmEnv) {
	const name, phone = "北京华腾科技有限公司", "010-62345678"
	const n = 16
	leads := make([]*crm.Lead, n)
	for i := range leads {
		if i%3 == 1 {
			leads[i] = e.lead(name, phone)
		}
	}
	var stored atomic.Int32
	errs := make([]error, n)
	poolParallel(n, func(i int) {
		var err error
		switch i % 3 {
		case 0: // a rep creates it as their own, through the pool
			_, err = e.crm.Pools.Create(e.ctx, pool.CreateRequest{Actor: e.reps[i%4].ID, Customer: e.company(name, phone)})
		case 1: // a conversion creates it
			_, err = e.crm.Leads.Convert(e.ctx, lead.ConvertRequest{LeadID: leads[i].ID, Actor: e.reps[2].ID})
		case 2: // the root package enters it unowned
			_, err = e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: e.company(name, phone), Actor: e.reps[i%4].ID})
		}
		errs[i] = err
		if err == nil {
			stored.Add(1)
		}
	})
	require.Equal(t, int32(1), stored.Load(), "entries that succeeded; errors: %v", errs)
	require.Equal(t, 1, e.customersNamed(name))
	for i, err := range errs {
		if err == nil {
			continue
		}
		dup := errors.Is(err, crm.ErrAlreadyExists) || errors.Is(err, pool.ErrCollision)
		require.True(t, dup, "entry %d failed with something other than a duplicate error: %v", i, err)
	}
}

func testCRMFailedConversion(t *testing.T, e *crmEnv) {
	l := e.lead("上海明远贸易有限公司", "021-55501234")
	cursor, events := e.routingCursor(), e.pending()
	_, err := e.crm.Leads.Convert(e.ctx, lead.ConvertRequest{
		LeadID: l.ID, Actor: e.reps[2].ID,
		Opportunity: &lead.OpportunityDraft{Name: "明远 order", Probability: 250}, // invalid: above 100
	})
	require.Error(t, err)
	require.Equal(t, cursor, e.routingCursor(), "routing cursor moved by a failed conversion")
	require.Equal(t, events, e.pending(), "events stored by a failed conversion")
	require.Equal(t, 0, e.customersNamed("上海明远贸易有限公司"))
	got, err := e.store.Leads().Get(e.ctx, l.ID)
	require.NoError(t, err)
	require.Equal(t, crm.LeadNew, got.Status)

	// The same conversion without the bad opportunity routes, converts
	// and keeps the keys, all together.
	conv, err := e.crm.Leads.Convert(e.ctx, lead.ConvertRequest{LeadID: l.ID, Actor: e.reps[2].ID})
	require.NoError(t, err)
	require.Contains(t, []crm.ID{e.reps[0].ID, e.reps[1].ID}, conv.Customer.OwnerID, "routed to the east team")
	require.NotEqual(t, cursor, e.routingCursor())
	require.NotNil(t, e.keysOf(conv.Customer.ID), "the converted customer has no match keys")
	// The routed owner owns it through the pools: holding, ledger and
	// counter agree.
	e.requirePoolInvariants([]*crm.Customer{conv.Customer})
	h, err := e.crm.Pools.Holding(e.ctx, conv.Customer.ID)
	require.NoError(t, err)
	require.Equal(t, conv.Customer.OwnerID, h.OwnerID)
}

func testCRMConversionsRespectTheOwnersCap(t *testing.T, h Harness) {
	e := newCRMEnv(t, h, func(e *crmEnv, cfg *crmkit.Config) {
		cfg.Pool.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 1}}
	})
	// The lead is owned already, so the conversion keeps its owner, who
	// owns as many customers as the cap allows.
	full := e.reps[3]
	_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: e.company("福州金桥纺织有限公司", "0591-87651234"), Actor: full.ID, Own: true})
	require.NoError(t, err)
	l := e.lead("厦门瑞丰食品有限公司", "0592-55551234")
	l.OwnerID = full.ID
	require.NoError(t, e.store.Leads().Update(e.ctx, l))
	events := e.pending()
	_, err = e.crm.Leads.Convert(e.ctx, lead.ConvertRequest{LeadID: l.ID, Actor: full.ID})
	require.ErrorIs(t, err, crm.ErrLimitExceeded)
	require.Equal(t, 0, e.customersNamed("厦门瑞丰食品有限公司"), "a conversion past the owner's cap stored a customer")
	require.Equal(t, events, e.pending())
}

func testCRMHostUnitOfWork(t *testing.T, e *crmEnv) {
	pooled := e.company("杭州云帆网络有限公司", "0571-88881234")
	_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: pooled})
	require.NoError(t, err)
	_, err = e.crm.Pools.Enter(e.ctx, pool.EnterRequest{CustomerID: pooled.ID, PoolID: e.pool.ID})
	require.NoError(t, err)
	l := e.lead("南京东升物流有限公司", "025-66661234")
	before := e.pending()

	work := func(ctx context.Context, tx crm.Tx) error {
		// The host's own unit of work joins the CRM's, so the domain
		// services' writes through it are recorded.
		tx = e.crm.Join(tx)
		if _, err := e.crm.Pools.ClaimTx(ctx, tx, pool.ClaimRequest{Actor: e.reps[3].ID, CustomerID: pooled.ID}); err != nil {
			return err
		}
		_, err := e.crm.Leads.ConvertTx(ctx, tx, lead.ConvertRequest{LeadID: l.ID, Actor: e.reps[2].ID})
		return err
	}
	errRollback := errors.New("the host's own write failed")
	err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := work(ctx, tx); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Equal(t, before, e.pending(), "a rolled-back unit of work kept events")
	got, err := e.store.Customers().Get(e.ctx, pooled.ID)
	require.NoError(t, err)
	require.Equal(t, crm.NilID, got.OwnerID, "a rolled-back claim kept its owner")
	require.Equal(t, 0, e.customersNamed("南京东升物流有限公司"))

	require.NoError(t, e.store.InTx(e.ctx, work))
	got, err = e.store.Customers().Get(e.ctx, pooled.ID)
	require.NoError(t, err)
	require.Equal(t, e.reps[3].ID, got.OwnerID)
	require.Equal(t, 1, e.customersNamed("南京东升物流有限公司"))
	// customer.claimed; lead.routed, customer.created, customer.acquired,
	// contact.created, lead.updated (routed and converted), lead.converted:
	// the same events as the two plain calls.
	require.Equal(t, before+7, e.pending())
}

func testCRMClaimDuplicate(t *testing.T, e *crmEnv) {
	// A colleague owns 李伟; a copy of him (same e-mail and address, no
	// phone, so no shared strong key) sits in the pool from a legacy
	// import.
	mine := crmtest.Customer(e.ids, func(c *crm.Customer) {
		c.Kind, c.Name, c.Email, c.Address, c.Phone = crm.CustomerPerson, "李伟", "li.wei@huateng.example", "北京市海淀区中关村大街1号", ""
		c.OwnerID, c.PoolID, c.DepartmentID = crm.NilID, crm.NilID, crm.NilID
	})
	_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: mine, Actor: e.reps[0].ID, Own: true})
	require.NoError(t, err)
	copyOf := mine.Clone()
	copyOf.ID, copyOf.Version, copyOf.OwnerID, copyOf.DepartmentID, copyOf.CreatedBy = e.ids.NewID(), 0, crm.NilID, crm.NilID, crm.NilID
	require.NoError(t, e.store.Customers().Create(e.ctx, copyOf))
	_, err = e.crm.Pools.Enter(e.ctx, pool.EnterRequest{CustomerID: copyOf.ID, PoolID: e.pool.ID})
	require.NoError(t, err)

	_, err = e.crm.Pools.Claim(e.ctx, pool.ClaimRequest{Actor: e.reps[1].ID, CustomerID: copyOf.ID})
	require.ErrorIs(t, err, pool.ErrCollision)
	var ce *pool.CollisionError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Collisions, 1)
	require.Equal(t, mine.ID, ce.Collisions[0].CustomerID)
	got, err := e.store.Customers().Get(e.ctx, copyOf.ID)
	require.NoError(t, err)
	require.Equal(t, crm.NilID, got.OwnerID, "a refused claim changed the owner")
}

const crmPolicyJSON = `{
  "record_types": [{"name": "customer", "fields": ["name", "phone"]}, {"name": "lead", "fields": ["name"]}],
  "roles": [
    {"name": "sales_rep", "rules": [
      {"record_type": "customer", "actions": ["view", "edit", "claim", "create"], "scope": "all"},
      {"id": "no_claims_from_vip_pool", "effect": "deny", "record_type": "customer", "actions": ["claim"], "scope": "all",
       "when": {"field": "pool_id", "in": ["%s"]}},
      {"record_type": "lead", "actions": ["view", "edit"], "scope": "all"}
    ]},
    {"name": "admin", "rules": [{"record_type": "customer", "actions": ["view", "edit", "claim", "create", "assign"], "scope": "all"}]}
  ]
}`

func testCRMPolicyDeny(t *testing.T, e *crmEnv) {
	vip := &pool.Pool{ID: e.ids.NewID(), Name: "VIP", Members: pool.Members{All: true}, Admins: []crm.ID{e.admin.ID}}
	depts := []*crm.Department{e.root, e.sales}
	policy, err := permission.Load(fmt.Appendf(nil, crmPolicyJSON, vip.ID), depts, nil)
	require.NoError(t, err)
	// The same store, now with a policy.
	c, err := crmkit.New(e.store, &crmkit.Config{Clock: e.clock, IDs: e.ids, Permissions: policy})
	require.NoError(t, err)
	require.NoError(t, c.Pools.CreatePool(e.ctx, vip))
	inVIP, inPublic := e.company("深圳星河电子有限公司", "0755-81234567"), e.company("广州南方化工有限公司", "020-81234567")
	for _, x := range []struct {
		c *crm.Customer
		p *pool.Pool
	}{{inVIP, vip}, {inPublic, e.pool}} {
		_, err := c.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: x.c})
		require.NoError(t, err)
		_, err = c.Pools.Enter(e.ctx, pool.EnterRequest{CustomerID: x.c.ID, PoolID: x.p.ID})
		require.NoError(t, err)
	}
	_, err = c.Pools.Claim(e.ctx, pool.ClaimRequest{Actor: e.reps[0].ID, CustomerID: inVIP.ID})
	require.ErrorIs(t, err, crm.ErrPermissionDenied)
	d, denied := permission.IsDenied(err)
	require.True(t, denied)
	require.Equal(t, "no_claims_from_vip_pool", d.Rule(), "the refusal names the deciding rule")
	require.Contains(t, err.Error(), "no_claims_from_vip_pool")
	_, err = c.Pools.Claim(e.ctx, pool.ClaimRequest{Actor: e.reps[0].ID, CustomerID: inPublic.ID})
	require.NoError(t, err)
}

func testCRMCustomerEdits(t *testing.T, e *crmEnv) {
	a, b := e.company("成都天府软件有限公司", "028-61234567"), e.company("重庆山城机械有限公司", "023-61234567")
	for _, c := range []*crm.Customer{a, b} {
		_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: c, Actor: e.reps[0].ID})
		require.NoError(t, err)
	}
	// Renaming b to a's name would make two customers share a strong key.
	clash := b.Clone()
	clash.Name = a.Name
	_, err := e.crm.UpdateCustomer(e.ctx, crmkit.UpdateCustomerRequest{Customer: clash, Actor: e.reps[0].ID})
	require.ErrorIs(t, err, crm.ErrAlreadyExists)
	got, err := e.store.Customers().Get(e.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, b.Name, got.Name, "a refused edit was stored")

	// Ownership changes only through the pools.
	owned := b.Clone()
	owned.OwnerID = e.reps[1].ID
	_, err = e.crm.UpdateCustomer(e.ctx, crmkit.UpdateCustomerRequest{Customer: owned})
	requireInvalid(t, err, "owner_id")

	// A new phone is found by the next check.
	moved := b.Clone()
	moved.Phone = "023-69999999"
	_, err = e.crm.UpdateCustomer(e.ctx, crmkit.UpdateCustomerRequest{Customer: moved, Actor: e.reps[0].ID})
	require.NoError(t, err)
	cands, err := e.crm.Dedupe.Check(e.ctx, &crm.Customer{Kind: crm.CustomerCompany, Name: "山城机械", Phone: "023-69999999"})
	require.NoError(t, err)
	require.NotEmpty(t, cands)
	require.Equal(t, b.ID, cands[0].CustomerID)
}

func testCRMMergesAndMovesKeepPoolInvariants(t *testing.T, h Harness) {
	e := newCRMEnv(t, h, func(e *crmEnv, cfg *crmkit.Config) {
		cfg.Pool.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 1}}
	})
	north := crmtest.Department(e.ids, "Sales North", e.sales.ID)
	require.NoError(t, e.store.Departments().Create(e.ctx, north))
	u := e.reps[0]
	// u holds the loser L (a cap of 1: u can own nothing more); the
	// survivor S, the same company entered again by another source, sits in
	// the pool.
	loser := e.company("天津海港物流有限公司", "022-25551234")
	_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: loser, Actor: u.ID, Own: true})
	require.NoError(t, err)
	survivor := crmtest.Customer(e.ids, func(c *crm.Customer) {
		c.Kind, c.Name, c.Phone, c.Email = crm.CustomerCompany, "海港物流公司", "", "info@haigang.example"
		c.OwnerID, c.PoolID, c.DepartmentID = crm.NilID, crm.NilID, crm.NilID
	})
	_, err = e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: survivor, Policy: &dedupe.Policy{}})
	require.NoError(t, err)
	_, err = e.crm.Pools.Enter(e.ctx, pool.EnterRequest{CustomerID: survivor.ID, PoolID: e.pool.ID})
	require.NoError(t, err)
	other := e.company("大连北方重工有限公司", "0411-85551234")
	_, err = e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: other, Actor: e.reps[1].ID, Own: true})
	require.NoError(t, err)
	all := []*crm.Customer{loser, survivor, other}
	e.requirePoolInvariants(all)

	m, err := e.crm.Dedupe.Merge(e.ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}, ActorID: e.admin.ID})
	require.NoError(t, err)
	got := e.customer(survivor.ID)
	require.Equal(t, u.ID, got.OwnerID, "the survivor takes the loser's owner")
	require.Equal(t, crm.NilID, got.PoolID)
	require.Equal(t, e.sales.ID, got.DepartmentID, "the survivor takes its owner's department")
	gotLoser := e.customer(loser.ID)
	require.Equal(t, crm.NilID, gotLoser.OwnerID, "a merged loser keeps no owner")
	require.Equal(t, crm.NilID, gotLoser.DepartmentID)
	e.requirePoolInvariants(all)
	for name, op := range map[string]func() error{
		"claim": func() error {
			_, err := e.crm.Pools.Claim(e.ctx, pool.ClaimRequest{Actor: e.reps[2].ID, CustomerID: loser.ID})
			return err
		},
		"release": func() error {
			_, err := e.crm.Pools.Release(e.ctx, pool.ReleaseRequest{Actor: u.ID, CustomerID: loser.ID, Reason: "no_budget"})
			return err
		},
		"enter": func() error {
			_, err := e.crm.Pools.Enter(e.ctx, pool.EnterRequest{CustomerID: loser.ID, PoolID: e.pool.ID})
			return err
		},
	} {
		require.ErrorIs(t, op(), pool.ErrMerged, "%s of a merged customer", name)
	}

	// Undo puts everything back where the merge found it: u owns the loser
	// again, the survivor sits in the pool.
	require.NoError(t, e.crm.Dedupe.Undo(e.ctx, m, e.admin.ID))
	require.Equal(t, crm.NilID, e.customer(survivor.ID).OwnerID)
	require.Equal(t, e.pool.ID, e.customer(survivor.ID).PoolID)
	require.Equal(t, u.ID, e.customer(loser.ID).OwnerID)
	require.Equal(t, e.sales.ID, e.customer(loser.ID).DepartmentID)
	e.requirePoolInvariants(all)

	// Merged again, then u moves to Sales North: the survivor follows, and
	// department scopes list exactly what each department's people own.
	m, err = e.crm.Dedupe.Merge(e.ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}, ActorID: e.admin.ID})
	require.NoError(t, err)
	_, err = e.crm.Pools.MoveUser(e.ctx, pool.MoveUserRequest{UserID: u.ID, DepartmentID: north.ID, Actor: e.admin.ID})
	require.NoError(t, err)
	require.Equal(t, north.ID, e.customer(survivor.ID).DepartmentID)
	e.requirePoolInvariants(all)
	// The survivor changed since the merge: undo refuses and changes
	// nothing.
	require.ErrorIs(t, e.crm.Dedupe.Undo(e.ctx, m, e.admin.ID), crm.ErrConflict)
	require.Equal(t, u.ID, e.customer(survivor.ID).OwnerID)
	e.requirePoolInvariants(all)

	// u releases the survivor; a colleague claims it.
	_, err = e.crm.Pools.Release(e.ctx, pool.ReleaseRequest{Actor: u.ID, CustomerID: survivor.ID, Reason: "no_budget"})
	require.NoError(t, err)
	_, err = e.crm.Pools.Claim(e.ctx, pool.ClaimRequest{Actor: e.reps[2].ID, CustomerID: survivor.ID})
	require.NoError(t, err)
	e.requirePoolInvariants(all)
}

func (e *crmEnv) customer(id crm.ID) *crm.Customer {
	e.t.Helper()
	c, err := e.store.Customers().Get(e.ctx, id)
	require.NoError(e.t, err)
	return c
}

// requirePoolInvariants checks the pool's invariants over customers: the
// customer's owner equals its holding's, the ledger replays to the owners,
// each user's owned counter equals the holdings they own, a customer's
// department is its owner's current one, and each department's scope lists
// exactly the customers its people own.
func (e *crmEnv) requirePoolInvariants(customers []*crm.Customer) {
	e.t.Helper()
	var entries []*pool.Entry
	var after int64
	for {
		got, err := e.crm.Pools.Ledger(e.ctx, crm.NilID, after, crm.MaxPageLimit)
		require.NoError(e.t, err)
		entries = append(entries, got...)
		if len(got) < crm.MaxPageLimit {
			break
		}
		after = got[len(got)-1].Seq
	}
	replayed := map[crm.ID]pool.Placement{}
	pool.Replay(entries, replayed)
	owned := map[crm.ID]int64{}
	byDept := map[crm.ID][]crm.ID{}
	for _, c := range customers {
		got := e.customer(c.ID)
		h, err := e.crm.Pools.Holding(e.ctx, c.ID)
		if errors.Is(err, pool.ErrNotInPool) || errors.Is(err, crm.ErrNotFound) {
			require.Equal(e.t, crm.NilID, got.OwnerID, "customer %s: owned without a holding", c.ID)
			continue
		}
		require.NoError(e.t, err)
		require.Equal(e.t, h.OwnerID, got.OwnerID, "customer %s: holding and customer disagree", c.ID)
		require.Equal(e.t, replayed[c.ID].OwnerID, got.OwnerID, "customer %s: the ledger replays to another owner", c.ID)
		if got.OwnerID == crm.NilID {
			require.Equal(e.t, crm.NilID, got.DepartmentID, "customer %s: unowned with a department", c.ID)
			continue
		}
		owner, err := e.store.Users().Get(e.ctx, got.OwnerID)
		require.NoError(e.t, err)
		require.Equal(e.t, owner.DepartmentID, got.DepartmentID, "customer %s: not in its owner's department", c.ID)
		owned[got.OwnerID]++
		byDept[got.DepartmentID] = append(byDept[got.DepartmentID], c.ID)
	}
	for user, n := range owned {
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			v, err := tx.(pool.Tx).PoolCounters().Get(ctx, "pool/owned/"+user.String())
			require.Equal(e.t, n, v, "owned counter of %s", user)
			return err
		})
		require.NoError(e.t, err)
	}
	for dept, want := range byDept {
		page, err := e.store.Customers().List(e.ctx, crm.CustomerFilter{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{dept}}}, crm.PageRequest{Limit: crm.MaxPageLimit})
		require.NoError(e.t, err)
		var listed []crm.ID
		for _, c := range page.Items {
			listed = append(listed, c.ID)
		}
		require.ElementsMatch(e.t, want, listed, "department %s lists other customers than its people own", dept)
	}
}

func testCRMDuplicateErrorsShowTheOwnerOnlyToThoseWhoMaySee(t *testing.T, e *crmEnv) {
	sales, err := e.store.Departments().Get(e.ctx, e.sales.ID)
	require.NoError(t, err)
	sales.ManagerID = e.admin.ID
	require.NoError(t, e.store.Departments().Update(e.ctx, sales))
	owned := e.company("苏州恒通材料有限公司", "0512-65551234")
	_, err = e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: owned, Actor: e.reps[0].ID, Own: true})
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		actor   crm.ID
		seesWho crm.ID
	}{
		{"AColleagueLearnsThatSomeoneOwnsIt", e.reps[1].ID, crm.NilID},
		{"TheOwnersManagerLearnsWho", e.admin.ID, e.reps[0].ID},
		{"TheOwnerSeesThemselves", e.reps[0].ID, e.reps[0].ID},
		{"TheSystemSeesEverything", crm.NilID, e.reps[0].ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: e.company("苏州恒通材料有限公司", "0512-65551234"), Actor: tc.actor})
			require.ErrorIs(t, err, crm.ErrAlreadyExists)
			var be *dedupe.BlockedError
			require.ErrorAs(t, err, &be)
			require.Equal(t, owned.ID, be.Existing.ID, "the error names the stored customer")
			require.Equal(t, owned.ID, be.Best.CustomerID)
			require.Equal(t, tc.seesWho, be.Existing.OwnerID)
			require.Equal(t, tc.seesWho, be.Best.OwnerID)
			for _, c := range be.Candidates {
				if c.CustomerID == owned.ID {
					require.Equal(t, tc.seesWho, c.OwnerID)
				}
			}
			if tc.seesWho == crm.NilID {
				require.Equal(t, crm.NilID, be.Existing.DepartmentID, "the department would tell whose it is")
			}
		})
	}
}

const crmDriftPolicyJSON = `{
  "record_types": [{"name": "customer", "fields": ["name", "level"]}],
  "roles": [{"name": "admin", "rules": [
    {"record_type": "customer", "actions": ["view", "edit", "create", "claim", "assign"], "scope": "all"},
    {"id": "hands_off_hr", "effect": "deny", "record_type": "customer", "actions": ["edit"], "scope": "all", "when": {"field": "department_id", "under": ["%s"]}}
  ]}]
}`

func testCRMPolicyFollowsDepartmentsMovedInTheStore(t *testing.T, e *crmEnv) {
	hr := crmtest.Department(e.ids, "HR", e.root.ID)
	require.NoError(t, e.store.Departments().Create(e.ctx, hr))
	team := crmtest.Department(e.ids, "Recruiting", e.sales.ID)
	require.NoError(t, e.store.Departments().Create(e.ctx, team))
	owner := e.user(team, "admin")
	depts, err := e.store.Departments().List(e.ctx, crm.DepartmentFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	doc, err := permission.ParseDocument(fmt.Appendf(nil, crmDriftPolicyJSON, hr.ID))
	require.NoError(t, err)
	reg, err := permission.NewRegistry(e.ctx, e.admin.ID, doc, depts.Items, nil)
	require.NoError(t, err)
	c, err := crmkit.New(e.store, &crmkit.Config{Clock: e.clock, IDs: e.ids, Permissions: reg})
	require.NoError(t, err)

	cust := e.company("武汉远景科技有限公司", "027-85551234")
	_, err = c.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: cust, Actor: owner.ID, Own: true})
	require.NoError(t, err)
	edit := func(level string) error {
		got := e.customer(cust.ID)
		got.Level = level
		_, err := c.UpdateCustomer(e.ctx, crmkit.UpdateCustomerRequest{Customer: got, Actor: e.admin.ID})
		return err
	}
	require.NoError(t, edit("A"), "Recruiting sits in Sales")

	// Recruiting moves below HR in the store, after the policy compiled.
	team.ParentID = hr.ID
	require.NoError(t, e.store.Departments().Update(e.ctx, team))
	err = edit("B")
	d, denied := permission.IsDenied(err)
	require.True(t, denied, "a customer of a department moved into HR is still editable: %v", err)
	require.Equal(t, "hands_off_hr", d.Rule())
	require.Equal(t, "A", e.customer(cust.ID).Level)
}
