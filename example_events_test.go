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

// A relay reads the outbox and decodes each event's payload into its
// type's struct: with crm.DecodePayload when it knows the type, or with
// crmkit.DecodeEvent and a type switch when it handles many.
func ExampleDecodeEvent() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	pools, _ := pool.New(store, &pool.Config{Clock: clock, IDs: ids})
	public := &pool.Pool{ID: ids.NewID(), Name: "Public", Members: pool.Members{All: true}}
	_ = pools.CreatePool(ctx, public)
	liWei := crmtest.User(ids)
	_ = store.Users().Create(ctx, liWei)
	huateng := crmtest.Customer(ids)
	_ = store.Customers().Create(ctx, huateng)
	_, _ = pools.Enter(ctx, pool.EnterRequest{CustomerID: huateng.ID, PoolID: public.ID})
	_, _ = pools.Claim(ctx, pool.ClaimRequest{Actor: liWei.ID, CustomerID: huateng.ID})

	events, _ := store.Outbox().Pending(ctx, 100)
	for _, e := range events {
		v, err := crmkit.DecodeEvent(e)
		if err != nil {
			fmt.Println(err)
			return
		}
		switch p := v.(type) {
		case *pool.EntryPayload: // every pool event: ClaimedPayload, PooledPayload, ...
			fmt.Printf("%s: op %s, owner is Li Wei: %t\n", e.Type, p.Op, p.ToOwner == liWei.ID)
		default:
			fmt.Printf("%s: %T\n", e.Type, p)
		}
	}
	last := events[len(events)-1]
	claimed, err := crm.DecodePayload[pool.ClaimedPayload](last)
	fmt.Println(last.Type == pool.EventClaimed, claimed.CustomerID == huateng.ID, err)
	// Output:
	// customer.pooled: op enter, owner is Li Wei: false
	// customer.claimed: op claim, owner is Li Wei: true
	// true true <nil>
}
