package crmtest_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/stretchr/testify/require"
)

func TestIDsAreUniqueIncreasingAndSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	ids := crmtest.NewIDs()
	var mu sync.Mutex
	seen := map[crm.ID]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				id := ids.NewID()
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, 4000)
	a, b := crmtest.SequentialID(9), crmtest.SequentialID(10)
	require.Negative(t, bytes.Compare(a[:], b[:]))
	require.Equal(t, "00000000-0000-7000-8000-000000000001", crmtest.SequentialID(1).String())
	require.EqualValues(t, 7, a.Version())
}

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	c := crmtest.NewClock(t0)
	require.Equal(t, t0, c.Now())
	require.Equal(t, t0.Add(time.Hour), c.Advance(time.Hour))
	c.Set(t0)
	require.Equal(t, t0, c.Now())
}

func TestFactoriesReturnValidRecords(t *testing.T) {
	t.Parallel()
	ids := crmtest.NewIDs()
	cust := crmtest.Customer(ids)
	user := crmtest.User(ids)
	records := []crm.Entity{
		crmtest.Lead(ids), cust, crmtest.Contact(ids, cust.ID), crmtest.Opportunity(ids, cust.ID),
		crmtest.Activity(ids, crm.Ref{Type: crm.TypeCustomer, ID: cust.ID}, user.ID),
		crmtest.Ticket(ids), user, crmtest.Department(ids, "Sales", crm.NilID),
		crmtest.Team(ids, "Inside sales", []crm.ID{user.ID}),
	}
	for _, r := range records {
		require.NoError(t, r.Validate(), "%s", r.RecordType())
	}
	edited := crmtest.Customer(ids, func(c *crm.Customer) { c.Level = "A" })
	require.Equal(t, "A", edited.Level)
}

func ExampleCustomer() {
	ctx := context.Background()
	clock := crmtest.NewClock(crmtest.Epoch())
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})

	c := crmtest.Customer(ids, func(c *crm.Customer) { c.Name = "Acme"; c.Level = "A" })
	if err := store.Customers().Create(ctx, c); err != nil {
		panic(err)
	}
	clock.Advance(24 * time.Hour)
	c.Level = "B"
	if err := store.Customers().Update(ctx, c); err != nil {
		panic(err)
	}
	fmt.Println(c.ID, c.Name, c.Level, c.Version, c.UpdatedAt.Sub(c.CreatedAt))
	// Output: 00000000-0000-7000-8000-000000000001 Acme B 2 24h0m0s
}
