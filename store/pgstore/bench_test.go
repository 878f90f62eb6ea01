package pgstore_test

import (
	"context"
	"testing"

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
