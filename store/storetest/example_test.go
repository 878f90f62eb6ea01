package storetest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/store/storetest"
	"github.com/shopspring/decimal"
)

// A host checks its own adapter by calling Run from a test in the adapter's
// package; here the adapter is crmkit's memstore.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		storetest.Run(t, storetest.Harness{
			NewStore: func(t *testing.T, clock crm.Clock) crm.Store {
				return memstore.New(&memstore.Config{Clock: clock})
			},
			// memstore has every domain port and extension but the
			// one-write claim.
			Features: storetest.Features{Pools: true, BatchSweeps: true, Workflow: true, ApprovalDeadlines: true, Leads: true, Dedupe: true},
		})
	}
	_ = testConformance // func TestConformance(t *testing.T) { ... } in a _test.go file
}

// Diff compares records the way the suite does: Money numerically, times
// as instants that must come back in UTC, nil and empty lists alike.
func ExampleDiff() {
	price, _ := crm.NewMoney(decimal.RequireFromString("1234.50"), "CNY")
	closes := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	want := &crm.Opportunity{Name: "Renewal", Amount: price, ExpectedClose: &closes}

	same, _ := crm.NewMoney(decimal.RequireFromString("1234.5"), "CNY")
	got := &crm.Opportunity{Name: "Renewal", Amount: same, ExpectedClose: &closes, Fields: crm.Fields{}}
	fmt.Println("equal:", storetest.Diff(want, got) == nil)

	local := closes.In(time.FixedZone("CST", 8*3600))
	got.ExpectedClose, got.Name = &local, "renewal"
	for _, line := range storetest.Diff(want, got) {
		fmt.Println(line)
	}
	// Output:
	// equal: true
	// Name: want "Renewal", got "renewal"
	// ExpectedClose: want a UTC time, got location CST
}
