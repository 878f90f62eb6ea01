package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	ctx := context.Background()
	c, err := crmkit.New(memstore.New(nil), nil) // nil: default rules, no policy
	if err != nil {
		log.Fatal(err)
	}
	ids := crm.UUIDv7{}
	rep := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "李伟", Email: "li.wei@example.com", Active: true}
	if err := c.Store().Users().Create(ctx, rep); err != nil {
		log.Fatal(err)
	}
	public := &pool.Pool{ID: ids.NewID(), Name: "Public", Members: pool.Members{All: true}}
	if err := c.Pools.CreatePool(ctx, public); err != nil {
		log.Fatal(err)
	}
	// An import enters a customer (checked for duplicates, match keys kept)
	// and puts it in the public pool; a rep claims it.
	acme := &crm.Customer{Name: "北京华腾科技有限公司", Phone: "010-62345678"}
	if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: acme}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Pools.Enter(ctx, pool.EnterRequest{CustomerID: acme.ID, PoolID: public.ID}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Pools.Claim(ctx, pool.ClaimRequest{Actor: rep.ID, CustomerID: acme.ID}); err != nil {
		log.Fatal(err)
	}
	// The same company typed in again is refused, naming the one stored.
	again := &crm.Customer{Name: "华腾科技（北京）有限公司", Phone: "+86 10 6234 5678"}
	_, err = c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: again})
	fmt.Println("claimed; copy refused:", errors.Is(err, crm.ErrAlreadyExists))
}
