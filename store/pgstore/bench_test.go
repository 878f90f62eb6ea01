package pgstore_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

// The benchmarks measure one autocommit call against the database in
// CRMKIT_TEST_DATABASE_URL, round trip included.

func BenchmarkCustomerCreate(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, nil)
	ids := crmtest.NewIDs()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Customers().Create(ctx, crmtest.Customer(ids)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCustomerGet(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, nil)
	ids := crmtest.NewIDs()
	c := crmtest.Customer(ids, func(c *crm.Customer) { c.Fields = crm.Fields{"vip": crm.Bool(true)} })
	if err := s.Customers().Create(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Customers().Get(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCustomerUpdate(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, nil)
	ids := crmtest.NewIDs()
	c := crmtest.Customer(ids)
	if err := s.Customers().Create(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Customers().Update(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCustomerList(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, nil)
	ids := crmtest.NewIDs()
	for range 200 {
		if err := s.Customers().Create(ctx, crmtest.Customer(ids, func(c *crm.Customer) { c.Level = "A" })); err != nil {
			b.Fatal(err)
		}
	}
	f := crm.CustomerFilter{Levels: []string{"A"}, Scope: &crm.DataScope{All: true}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Customers().List(ctx, f, crm.PageRequest{Limit: 50}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistoryAppend appends the history of one update that changed
// ten fields of a record: ten entries in one unit of work (InTx: BEGIN,
// the insert, COMMIT).
func BenchmarkHistoryAppend(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, nil)
	ids := crmtest.NewIDs()
	entries := make([]*crm.HistoryEntry, 10)
	record, actor, at := crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}, ids.NewID(), time.Now()
	for i := range entries {
		entries[i] = &crm.HistoryEntry{Record: record, ActorID: actor, Operation: "update", At: at,
			Change: crm.Change{Field: "fields.f" + strconv.Itoa(i), Old: json.RawMessage(`"before"`), New: json.RawMessage(`{"amount":"1234.50","currency":"CNY"}`)}}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range entries {
			e.ID, e.Seq, e.TenantID = ids.NewID(), 0, ""
		}
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			return tx.(crm.HistoryTx).History().Append(ctx, entries...)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
