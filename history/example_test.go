package history_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/store/memstore"
)

// A change of a customer is stored with its history and its change event
// in one unit of work; the history reads back newest first.
func Example() {
	ctx := context.Background()
	clock := crmtest.NewClock(t0)
	store := memstore.New(&memstore.Config{Clock: clock})
	rec, _ := history.New(&history.Config{Clock: clock, IDs: crmtest.NewIDs()})
	manager := crmtest.SequentialID(500)

	c := &crm.Customer{Meta: crm.Meta{ID: crmtest.SequentialID(1000)}, Name: "Huateng Machinery", Level: "B"}
	_ = store.Customers().Create(ctx, c)
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		old, err := tx.Customers().Get(ctx, c.ID)
		if err != nil {
			return err
		}
		next := old.Clone()
		next.Level, next.Phone = "A", "+8613800138000"
		if err := tx.Customers().Update(ctx, next); err != nil {
			return err
		}
		_, err = rec.Record(ctx, tx, history.Change{Record: crm.Ref{Type: crm.TypeCustomer, ID: c.ID}, Old: old, New: next, Actor: manager})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	page, _ := history.NewReader(nil).ForRecord(ctx, store, manager, crm.Ref{Type: crm.TypeCustomer, ID: c.ID}, crm.PageRequest{})
	for _, e := range page.Items {
		fmt.Printf("%s %s: %s -> %s by %s\n", e.Operation, e.Field, orUnset(e.Old), orUnset(e.New), e.ActorID)
	}
	events, _ := store.Outbox().Pending(ctx, 10)
	fmt.Println(events[0].Type, string(events[0].Payload))
	// Output:
	// update phone: unset -> "+8613800138000" by 00000000-0000-7000-8000-0000000001f4
	// update level: "B" -> "A" by 00000000-0000-7000-8000-0000000001f4
	// customer.updated {"operation":"update","changes":[{"field":"level","old":"B","new":"A"},{"field":"phone","new":"+8613800138000"}]}
}

func orUnset(raw []byte) string {
	if raw == nil {
		return "unset"
	}
	return string(raw)
}

// Wrapping a unit of work records every write made through it, as made by
// the actor the context names.
func ExampleRecorder_Wrap() {
	ctx := context.Background()
	clock := crmtest.NewClock(t0)
	store := memstore.New(&memstore.Config{Clock: clock})
	rec, _ := history.New(&history.Config{Clock: clock, IDs: crmtest.NewIDs()})
	rep := crmtest.SequentialID(501)
	id := crmtest.SequentialID(2000)

	ctx = crm.WithActor(ctx, rep, "")
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		tx = rec.Wrap(tx)
		if err := tx.Customers().Create(ctx, &crm.Customer{Meta: crm.Meta{ID: id}, Name: "Mingda Machinery"}); err != nil {
			return err
		}
		c, err := tx.Customers().Get(ctx, id)
		if err != nil {
			return err
		}
		c.Industry = "manufacturing"
		return tx.Customers().Update(ctx, c)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	page, _ := history.NewReader(nil).ForRecord(ctx, store, rep, crm.Ref{Type: crm.TypeCustomer, ID: id}, crm.PageRequest{Limit: 1})
	e := page.Items[0]
	fmt.Println(e.Operation, e.Field, string(e.New))
	// Output:
	// update industry "manufacturing"
}
