package crmkit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// Every edit through the CRM keeps one history row per changed field, as
// made by its actor in its operation, and appends its change event.
func ExampleCRM_History() {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	rep := crmtest.User(ids)
	if err := store.Users().Create(ctx, rep); err != nil {
		fmt.Println(err)
		return
	}
	c, err := crmkit.New(store, &crmkit.Config{IDs: ids})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Actor: rep.ID,
		Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Level: "B"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	cust := res.Customer
	cust.Level = "A"
	if _, err := c.UpdateCustomer(ctx, crmkit.UpdateCustomerRequest{Customer: cust, Actor: rep.ID}); err != nil {
		fmt.Println(err)
		return
	}
	page, err := c.History.ForRecord(ctx, c.Store(), rep.ID, crm.Ref{Type: crm.TypeCustomer, ID: cust.ID}, crm.PageRequest{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range page.Items {
		fmt.Printf("%s %s: %s -> %s\n", e.Operation, e.Field, orNone(e.Old), orNone(e.New))
	}
	// Output:
	// update level: "B" -> "A"
	// create status: - -> "potential"
	// create name: - -> "北京华腾科技有限公司"
	// create level: - -> "B"
	// create kind: - -> "company"
	// create created_by: - -> "00000000-0000-7000-8000-000000000001"
}

func orNone(b []byte) string {
	if b == nil {
		return "-"
	}
	return string(b)
}

// A follow-up recorded through the CRM sets the customer's last follow-up
// and moves the day it falls back into its pool, in one unit of work; the
// owner's queue of customers falling back lists it by that day.
func ExampleCRM_RecordActivity() {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	rep := crmtest.User(ids)
	if err := store.Users().Create(ctx, rep); err != nil {
		fmt.Println(err)
		return
	}
	c, err := crmkit.New(store, &crmkit.Config{IDs: ids, Clock: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := &pool.Pool{ID: ids.NewID(), Name: "East", Members: pool.Members{All: true}, Admins: []crm.ID{rep.ID},
		Recycle: []pool.RecycleRule{{ID: "neglect", EffectiveFrom: clock.Now().Add(-time.Hour),
			Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 15}}}}}
	if err := c.Pools.CreatePool(ctx, p); err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Actor: rep.ID, Own: true,
		Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "上海明达机械有限公司"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Pools.Move(ctx, pool.MoveRequest{Actor: rep.ID, CustomerID: res.Customer.ID, PoolID: p.ID}); err != nil {
		fmt.Println(err)
		return
	}
	clock.Advance(10 * 24 * time.Hour)
	call := crmtest.Activity(ids, crm.Ref{Type: crm.TypeCustomer, ID: res.Customer.ID}, rep.ID, func(a *crm.Activity) { a.OccurredAt = clock.Now() })
	done, err := c.RecordActivity(ctx, crmkit.RecordActivityRequest{Activity: call, Actor: rep.ID})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("falls back on", done.Holding.DueAt.Format("2006-01-02"))
	queue, err := c.FallingBack(ctx, crmkit.FallingBackRequest{Viewer: rep.ID, Within: 30 * 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range queue.Items {
		fmt.Println("in the queue, due", h.DueAt.Format("2006-01-02"))
	}
	// Output:
	// falls back on 2026-03-27
	// in the queue, due 2026-03-27
}
