package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// goroutines is how many goroutines race in each concurrency check.
const goroutines = 32

// race runs fn(i) on n goroutines released at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// countOutcomes counts nil errors and errors matching want, and fails on
// any other error.
func countOutcomes(t *testing.T, errs []error, want error) (ok, matched int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			require.NoError(t, err, "unexpected error")
		}
	}
	return ok, matched
}

func runConcurrency(t *testing.T, h Harness) {
	ck := customerKind()
	test(t, h, "OnlyOneOfManyUpdatesOfTheSameVersionWins", func(t *testing.T, e *env) {
		c := ck.create(t, e.ctx, e.store, ck.full(e, e.ctx))
		errs := race(goroutines, func(i int) error {
			v := ck.stored(c)
			v.Level = fmt.Sprintf("L%d", i)
			return e.store.Customers().Update(e.ctx, v)
		})
		ok, conflicts := countOutcomes(t, errs, crm.ErrConflict)
		require.Equal(t, 1, ok, "exactly one update succeeds")
		require.Equal(t, goroutines-1, conflicts)
		got := ck.get(t, e.ctx, e.store, c.ID)
		require.EqualValues(t, 2, got.Version)
		for i, err := range errs {
			if err == nil {
				require.Equal(t, fmt.Sprintf("L%d", i), got.Level, "the winner's write is stored")
			}
		}
	})
	test(t, h, "OnlyOneOfManyDeletesOfTheSameVersionWins", func(t *testing.T, e *env) {
		c := ck.create(t, e.ctx, e.store, ck.full(e, e.ctx))
		errs := race(goroutines, func(int) error { return e.store.Customers().Delete(e.ctx, c.ID, 1) })
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.True(t, errors.Is(err, crm.ErrNotFound) || errors.Is(err, crm.ErrConflict), "unexpected error %v", err)
		}
		require.Equal(t, 1, ok, "exactly one delete succeeds")
		ck.requireMissing(t, e.ctx, e.store, c.ID)
	})
	test(t, h, "ConcurrentCreatesOfDistinctRecordsAllSucceed", func(t *testing.T, e *env) {
		const each = 8
		errs := race(goroutines, func(i int) error {
			ctx := e.ctxA
			if i%2 == 1 {
				ctx = e.ctxB
			}
			for range each {
				if err := e.store.Customers().Create(ctx, ck.minimal(e, ctx)); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, errors.Join(errs...))
		for _, ctx := range []context.Context{e.ctxA, e.ctxB} {
			all := listAll[crm.Customer, crm.CustomerFilter, *crm.Customer](t, ctx, e.store.Customers(), crm.CustomerFilter{}, 0)
			require.Len(t, all, goroutines/2*each)
		}
	})
	test(t, h, "OnlyOneOfManyUsersWithTheSameEmailIsCreated", func(t *testing.T, e *env) {
		errs := race(goroutines, func(i int) error {
			u := &crm.User{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Li Wei", Email: "LI.wei@example.com"}
			if i%3 == 0 {
				u.Email = "li.wei@EXAMPLE.com"
			}
			return e.store.Users().Create(e.ctxA, u)
		})
		ok, dups := countOutcomes(t, errs, crm.ErrAlreadyExists)
		require.Equal(t, 1, ok, "exactly one user is created")
		require.Equal(t, goroutines-1, dups)
	})
	test(t, h, "ConcurrentTransfersKeepTheSumInvariant", func(t *testing.T, e *env) {
		const workers, transfers = 8, 6
		balance := func(n int64) crm.Fields { return crm.Fields{"balance": crm.Number(decimal.NewFromInt(n))} }
		a := ck.create(t, e.ctx, e.store, ck.minimal(e, e.ctx))
		b := ck.create(t, e.ctx, e.store, ck.minimal(e, e.ctx))
		for _, c := range []*crm.Customer{a, b} {
			c.Fields = balance(1000)
			require.NoError(t, e.store.Customers().Update(e.ctx, c))
		}
		// transfer moves one unit from one customer to the other in a unit of
		// work, retrying the whole unit when a version is stale.
		transfer := func(from, to crm.ID) error {
			for {
				err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
					src, err := tx.Customers().Get(ctx, from)
					if err != nil {
						return err
					}
					dst, err := tx.Customers().Get(ctx, to)
					if err != nil {
						return err
					}
					s, _ := src.Fields["balance"].Num()
					d, _ := dst.Fields["balance"].Num()
					src.Fields["balance"] = crm.Number(s.Sub(decimal.NewFromInt(1)))
					dst.Fields["balance"] = crm.Number(d.Add(decimal.NewFromInt(1)))
					// Write in ID order whatever the direction, as domain
					// code does to keep database adapters free of deadlocks.
					first, second := src, dst
					if compareIDs(first.ID, second.ID) > 0 {
						first, second = second, first
					}
					if err := tx.Customers().Update(ctx, first); err != nil {
						return err
					}
					return tx.Customers().Update(ctx, second)
				})
				if !errors.Is(err, crm.ErrConflict) {
					return err
				}
			}
		}
		errs := race(workers, func(i int) error {
			for range transfers {
				// Every third worker moves the other way.
				from, to := a.ID, b.ID
				if i%3 == 0 {
					from, to = b.ID, a.ID
				}
				if err := transfer(from, to); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, errors.Join(errs...))
		ga, gb := ck.get(t, e.ctx, e.store, a.ID), ck.get(t, e.ctx, e.store, b.ID)
		na, _ := ga.Fields["balance"].Num()
		nb, _ := gb.Fields["balance"].Num()
		net := int64(transfers * (workers - 2*((workers+2)/3)))
		require.True(t, na.Add(nb).Equal(decimal.NewFromInt(2000)), "sum %s + %s", na, nb)
		require.True(t, na.Equal(decimal.NewFromInt(1000-net)), "no lost update: a holds %s, want %d", na, 1000-net)
		require.EqualValues(t, 2+workers*transfers, ga.Version, "every transfer bumped the version once")
	})
}
