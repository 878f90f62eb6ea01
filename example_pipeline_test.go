package crmkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// A salesperson moves her own deal on and wins it; a colleague of
// another department may not move it, and the refused move writes
// nothing. The deal's stays read back in order.
func ExampleCRM_MoveOpportunity() {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	service := crmtest.Department(ids, "Service", crm.NilID)
	for _, d := range []*crm.Department{sales, service} {
		if err := store.Departments().Create(ctx, d); err != nil {
			fmt.Println(err)
			return
		}
	}
	li := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID, u.Roles = "李伟", sales.ID, []string{"rep"} })
	wang := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID, u.Roles = "王芳", service.ID, []string{"rep"} })
	for _, u := range []*crm.User{li, wang} {
		if err := store.Users().Create(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
	}
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "opportunity"}],
	  "roles": [{"name": "rep", "rules": [{"record_type": "opportunity", "actions": ["view", "edit"], "scope": "own"}]}]
	}`), []*crm.Department{sales, service}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids, Permissions: policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	deal := crmtest.Opportunity(ids, ids.NewID(), func(o *crm.Opportunity) { o.OwnerID, o.DepartmentID = li.ID, sales.ID })
	if err := c.Pipelines.Start(ctx, deal, li.ID); err != nil {
		fmt.Println(err)
		return
	}

	clock.Advance(48 * time.Hour)
	res, err := c.MoveOpportunity(ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal, Actor: li.ID})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s moved it to %s (%d%%)\n", li.Name, res.Opportunity.Stage, res.Opportunity.Probability)

	_, err = c.MoveOpportunity(ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageLost, LostReason: "price", Actor: wang.ID})
	fmt.Printf("%s may not: %v\n", wang.Name, errors.Is(err, crm.ErrPermissionDenied))

	clock.Advance(72 * time.Hour)
	if _, err := c.MoveOpportunity(ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageWon, Actor: li.ID}); err != nil {
		fmt.Println(err)
		return
	}
	stays, err := c.OpportunityHistory(ctx, li.ID, deal.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stays {
		left := "now"
		if s.LeftAt != nil {
			left = s.LeftAt.Format("Jan 2")
		}
		fmt.Printf("%d %-13s %s to %s\n", s.Seq, s.Stage, s.EnteredAt.Format("Jan 2"), left)
	}
	// Output:
	// 李伟 moved it to proposal (50%)
	// 王芳 may not: true
	// 1 qualification Mar 2 to Mar 4
	// 2 proposal      Mar 4 to Mar 7
	// 3 won           Mar 7 to now
}

// A salesperson starts a deal for a customer she claimed from the public
// pool, which recycles a customer after 30 days without a follow-up
// unless a deal is open: the new deal protects the customer at once. A
// colleague of another department may not start a deal in her name, and
// the refused start writes nothing.
func ExampleCRM_StartOpportunity() {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	service := crmtest.Department(ids, "Service", crm.NilID)
	for _, d := range []*crm.Department{sales, service} {
		if err := store.Departments().Create(ctx, d); err != nil {
			fmt.Println(err)
			return
		}
	}
	li := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID, u.Roles = "李伟", sales.ID, []string{"rep"} })
	wang := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID, u.Roles = "王芳", service.ID, []string{"rep"} })
	for _, u := range []*crm.User{li, wang} {
		if err := store.Users().Create(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
	}
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "customer"}, {"name": "opportunity"}],
	  "roles": [{"name": "rep", "rules": [
	    {"record_type": "customer", "actions": ["view", "claim"], "scope": "all"},
	    {"record_type": "opportunity", "actions": ["view", "create", "edit"], "scope": "own"}]}]
	}`), []*crm.Department{sales, service}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids, Permissions: policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	public := &pool.Pool{ID: ids.NewID(), Name: "Public", Members: pool.Members{All: true}, Recycle: []pool.RecycleRule{{
		ID: "v1", EffectiveFrom: clock.Now(), Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 30}},
		Exclude: pool.Exclusions{OpenOpportunity: true},
	}}}
	if err := c.Pools.CreatePool(ctx, public); err != nil {
		fmt.Println(err)
		return
	}
	created, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: crmtest.Customer(ids)})
	if err != nil {
		fmt.Println(err)
		return
	}
	cust := created.Customer.ID
	if _, err := c.Pools.Enter(ctx, pool.EnterRequest{CustomerID: cust, PoolID: public.ID}); err != nil {
		fmt.Println(err)
		return
	}
	claimed, err := c.Pools.Claim(ctx, pool.ClaimRequest{CustomerID: cust, Actor: li.ID})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s claimed the customer: recycled on %s\n", li.Name, claimed.Holding.DueAt.Format("Jan 2"))

	deal := &crm.Opportunity{CustomerID: cust, Name: "ERP rollout", OwnerID: li.ID}
	_, err = c.StartOpportunity(ctx, crmkit.StartOpportunityRequest{Opportunity: deal, Actor: wang.ID})
	fmt.Printf("%s may not start it for her: %v\n", wang.Name, errors.Is(err, crm.ErrPermissionDenied))

	clock.Advance(24 * time.Hour)
	res, err := c.StartOpportunity(ctx, crmkit.StartOpportunityRequest{Opportunity: deal, Actor: li.ID})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s started %q in %s (%d%%)\n", li.Name, res.Opportunity.Name, res.Opportunity.Stage, res.Opportunity.Probability)
	fmt.Printf("open deal: %v, recycled: %v\n", res.Holding.OpenOpportunity, !res.Holding.DueAt.IsZero())
	// Output:
	// 李伟 claimed the customer: recycled on Apr 1
	// 王芳 may not start it for her: true
	// 李伟 started "ERP rollout" in qualification (10%)
	// open deal: true, recycled: false
}
