package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// The due index drops stale entries lazily and rebuilds itself when they
// pile up; whatever happened, Due must answer from the holdings as stored.
func TestPoolDueIndexFollowsChurnAndRollbacks(t *testing.T) {
	ctx := context.Background()
	clock := crmtest.NewClock(crmtest.Epoch())
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	t0 := crm.StorageTime(clock.Now())
	owner := ids.NewID()
	const n = 50
	cust := make([]crm.ID, n)
	inTx := func(fn func(tx pool.Tx) error) error {
		return s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(tx.(pool.Tx)) })
	}
	require.NoError(t, inTx(func(tx pool.Tx) error {
		for i := range cust {
			cust[i] = ids.NewID()
			h := &pool.Holding{CustomerID: cust[i], OwnerID: owner, DueAt: t0.Add(time.Duration(i) * time.Hour)}
			if err := tx.PoolHoldings().Create(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}))
	// Churn: move every due time many times, enough to force rebuilds.
	for round := range 60 {
		require.NoError(t, inTx(func(tx pool.Tx) error {
			for i, id := range cust {
				h, err := tx.PoolHoldings().Get(ctx, id)
				if err != nil {
					return err
				}
				h.DueAt = t0.Add(time.Duration((i*7+round)%n) * time.Hour)
				if err := tx.PoolHoldings().Update(ctx, h); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	// A rolled-back unit of work that cleared every due time and read the
	// index must leave the index as it was.
	boom := errors.New("boom")
	err := inTx(func(tx pool.Tx) error {
		for _, id := range cust {
			h, err := tx.PoolHoldings().Get(ctx, id)
			if err != nil {
				return err
			}
			h.DueAt = time.Time{}
			if err := tx.PoolHoldings().Update(ctx, h); err != nil {
				return err
			}
		}
		due, err := tx.PoolHoldings().Due(ctx, t0.Add(1000*time.Hour), 100)
		require.NoError(t, err)
		require.Empty(t, due)
		return boom
	})
	require.ErrorIs(t, err, boom)

	require.NoError(t, inTx(func(tx pool.Tx) error {
		due, err := tx.PoolHoldings().Due(ctx, t0.Add(1000*time.Hour), 100)
		require.NoError(t, err)
		require.Len(t, due, n, "every holding is due exactly once")
		for i := 1; i < len(due); i++ {
			a, b := due[i-1], due[i]
			require.False(t, b.DueAt.Before(a.DueAt), "earliest first")
		}
		again, err := tx.PoolHoldings().Due(ctx, t0.Add(1000*time.Hour), 100)
		require.NoError(t, err)
		require.Len(t, again, n, "Due does not consume the index")
		return nil
	}))
}

// The set-based sweep ports write straight into the tables with one undo
// step per batch; a failed unit of work must leave holdings, customers,
// ledger and outbox as they were, and a stale batch must change nothing.
func TestPoolRecycleBatchRollsBackWhole(t *testing.T) {
	ctx := context.Background()
	clock := crmtest.NewClock(crmtest.Epoch())
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	owner, poolID := ids.NewID(), ids.NewID()
	now := crm.StorageTime(clock.Now())
	const n = 5
	cust := make([]*crm.Customer, n)
	for i := range cust {
		cust[i] = crmtest.Customer(ids, func(c *crm.Customer) { c.OwnerID = owner })
		require.NoError(t, s.Customers().Create(ctx, cust[i]))
	}
	inTx := func(fn func(tx pool.BatchTx) error) error {
		return s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(tx.(pool.BatchTx)) })
	}
	require.NoError(t, inTx(func(tx pool.BatchTx) error {
		for _, c := range cust {
			if err := tx.PoolHoldings().Create(ctx, &pool.Holding{CustomerID: c.ID, PoolID: poolID, OwnerID: owner, DueAt: now}); err != nil {
				return err
			}
		}
		return nil
	}))
	batch := func(tx pool.BatchTx) ([]pool.Recycled, error) {
		hs, err := tx.PoolHoldings().Due(ctx, now, n)
		if err != nil {
			return nil, err
		}
		cs, err := tx.PoolCustomers(ctx, holdingIDsOf(hs))
		if err != nil {
			return nil, err
		}
		require.Len(t, cs, n)
		rs := make([]pool.Recycled, n)
		for i, h := range hs {
			h.OwnerID, h.DueAt, h.EnteredAt = crm.NilID, time.Time{}, now
			rs[i] = pool.Recycled{Holding: h, CustomerVersion: 1, Customer: pool.CustomerPlacement{PoolID: poolID},
				Entry: &pool.Entry{ID: ids.NewID(), CustomerID: h.CustomerID, Op: pool.OpRecycle, FromOwner: owner, At: now, Rule: []byte(`{"id":"r"}`)}}
		}
		return rs, nil
	}
	boom := errors.New("boom")
	err := inTx(func(tx pool.BatchTx) error {
		rs, err := batch(tx)
		require.NoError(t, err)
		require.NoError(t, tx.PoolRecycleBatch(ctx, rs))
		require.Positive(t, rs[n-1].Entry.Seq)
		return boom
	})
	require.ErrorIs(t, err, boom)
	check := func(wantOwner crm.ID, wantEntries, wantEvents int) {
		t.Helper()
		for _, c := range cust {
			got, err := s.Customers().Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, wantOwner, got.OwnerID)
		}
		require.NoError(t, inTx(func(tx pool.BatchTx) error {
			for _, c := range cust {
				h, err := tx.PoolHoldings().Get(ctx, c.ID)
				require.NoError(t, err)
				require.Equal(t, wantOwner, h.OwnerID)
			}
			es, err := tx.PoolLedger().List(ctx, crm.NilID, 0, 100)
			require.NoError(t, err)
			require.Len(t, es, wantEntries)
			return nil
		}))
		pending, err := s.Pending(ctx, 100)
		require.NoError(t, err)
		require.Len(t, pending, wantEvents)
	}
	check(owner, 0, 0)

	err = inTx(func(tx pool.BatchTx) error {
		rs, err := batch(tx)
		require.NoError(t, err)
		rs[n-1].CustomerVersion = 7
		return tx.PoolRecycleBatch(ctx, rs)
	})
	require.ErrorIs(t, err, crm.ErrConflict, "a stale customer fails the whole batch")
	check(owner, 0, 0)

	require.NoError(t, inTx(func(tx pool.BatchTx) error {
		rs, err := batch(tx)
		require.NoError(t, err)
		return tx.PoolRecycleBatch(ctx, rs)
	}))
	check(crm.NilID, n, n) // each entry is its event
}

func holdingIDsOf(hs []*pool.Holding) []crm.ID {
	out := make([]crm.ID, len(hs))
	for i, h := range hs {
		out[i] = h.CustomerID
	}
	return out
}
