package memstore_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
)

func BenchmarkCustomerCreate(b *testing.B) {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	s := memstore.New(nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Customers().Create(ctx, crmtest.Customer(ids)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCustomerGet(b *testing.B) {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	s := memstore.New(nil)
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
	ids := crmtest.NewIDs()
	s := memstore.New(nil)
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

func BenchmarkCustomerUpdateParallel(b *testing.B) {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	s := memstore.New(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := crmtest.Customer(ids)
		if err := s.Customers().Create(ctx, c); err != nil {
			b.Fatal(err)
		}
		for pb.Next() {
			if err := s.Customers().Update(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHistoryAppend appends the history of one update that changed
// ten fields of a record: ten entries in one unit of work.
func BenchmarkHistoryAppend(b *testing.B) {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	s := memstore.New(nil)
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
