package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/pgstore"
)

func main() {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, os.Getenv("CRMKIT_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	schema := os.Getenv("CRMKIT_SCHEMA")
	if schema == "" {
		schema = "crm"
	}
	store, err := pgstore.New(db, &pgstore.Config{Schema: schema})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil { // embedded, versioned, idempotent
		log.Fatal(err)
	}
	c, err := crmkit.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	ids := crm.UUIDv7{}
	rep := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "李伟", Email: "li.wei@example.com", Active: true}
	public := &pool.Pool{ID: ids.NewID(), Name: "Public", Members: pool.Members{All: true}}
	acme := &crm.Customer{Name: "北京华腾科技有限公司", Phone: "010-62345678"}
	if err := store.Users().Create(ctx, rep); err != nil {
		log.Fatal(err)
	}
	if err := c.Pools.CreatePool(ctx, public); err != nil {
		log.Fatal(err)
	}
	if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: acme}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Pools.Enter(ctx, pool.EnterRequest{CustomerID: acme.ID, PoolID: public.ID}); err != nil {
		log.Fatal(err)
	}
	// The claim joins the host's own transaction: it commits with the
	// host's writes, or neither does.
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// ... the host's own writes on tx ...
		_, err := c.Pools.ClaimTx(ctx, store.WithTx(tx), pool.ClaimRequest{Actor: rep.ID, CustomerID: acme.ID})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("claimed in the host's transaction")
}
