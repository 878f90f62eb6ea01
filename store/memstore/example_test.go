package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func Example() {
	ctx := context.Background()
	clock := fixedClock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	ids := crm.UUIDv7{Clock: clock}
	store := memstore.New(&memstore.Config{Clock: clock})

	c := &crm.Customer{Meta: crm.Meta{ID: ids.NewID()}, Name: "北京华腾科技有限公司", Level: "A"}
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := tx.Customers().Create(ctx, c); err != nil {
			return err
		}
		ev, err := crm.NewEvent(ids, clock, crm.EventCustomerCreated, crm.Ref{Type: crm.TypeCustomer, ID: c.ID}, crm.NilID, nil)
		if err != nil {
			return err
		}
		return tx.Events().Append(ctx, &ev)
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("created", c.Name, "version", c.Version)

	// Two people edit the same version: the second update is refused.
	a, _ := store.Customers().Get(ctx, c.ID)
	b, _ := store.Customers().Get(ctx, c.ID)
	a.Level = "B"
	b.Level = "C"
	fmt.Println("first update:", store.Customers().Update(ctx, a))
	err = store.Customers().Update(ctx, b)
	fmt.Println("second update conflicts:", errors.Is(err, crm.ErrConflict))

	pending, _ := store.Outbox().Pending(ctx, 10)
	fmt.Println("events:", pending[0].Type)
	// Output:
	// created 北京华腾科技有限公司 version 1
	// first update: <nil>
	// second update conflicts: true
	// events: customer.created
}
