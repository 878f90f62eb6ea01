package memstore_test

import (
	"context"
	"testing"

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
