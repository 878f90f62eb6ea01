// Package crmtest helps host applications test code built on crmkit: a fake
// [Clock] that moves only when told, deterministic sequential [IDs], and
// factories that return valid records with sensible defaults, so a test sets
// only the fields it cares about.
//
// # Use
//
//	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
//	ids := crmtest.NewIDs()
//	store := memstore.New(&memstore.Config{Clock: clock})
//	c := crmtest.Customer(ids, func(c *crm.Customer) { c.Level = "A" })
//	err := store.Customers().Create(ctx, c)
package crmtest
