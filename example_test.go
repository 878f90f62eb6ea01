package crmkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// New wires every capability over one store: a customer entered once is
// found again by a conversion and by anti-collision (防撞单), with no glue
// of the host's own.
func ExampleNew() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids})
	if err != nil {
		fmt.Println(err)
		return
	}
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	liWei := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "李伟", sales.ID })
	zhao := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "赵磊", sales.ID })
	_ = store.Departments().Create(ctx, sales)
	_ = store.Users().Create(ctx, liWei)
	_ = store.Users().Create(ctx, zhao)
	public := &pool.Pool{ID: ids.NewID(), Name: "Public", Members: pool.Members{All: true}}
	_ = c.Pools.CreatePool(ctx, public)

	// 李伟 enters a customer as his own: checked, stored with its match keys.
	huateng := &crm.Customer{Name: "北京华腾科技有限公司", Phone: "010-62345678"}
	if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: huateng, Actor: liWei.ID, Own: true}); err != nil {
		fmt.Println(err)
		return
	}
	// 赵磊 types the same company in, written differently: refused.
	again := &crm.Customer{Name: "华腾科技（北京）有限公司", Phone: "+86 10 6234 5678"}
	_, err = c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: again, Actor: zhao.ID, Own: true})
	fmt.Println("赵磊's copy refused as a collision:", errors.Is(err, pool.ErrCollision))

	// A lead of the same company finds it at conversion.
	l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "王芳", Company: "华腾科技(北京)有限公司", Phone: "010 6234 5678", OwnerID: zhao.ID}
	_ = store.Leads().Create(ctx, l)
	_, err = c.Leads.Convert(ctx, lead.ConvertRequest{LeadID: l.ID, Actor: zhao.ID})
	var dup *lead.DuplicateError
	fmt.Println("the conversion finds the stored customer:", errors.As(err, &dup) && dup.Match.CustomerID == huateng.ID)
	// Output:
	// 赵磊's copy refused as a collision: true
	// the conversion finds the stored customer: true
}
