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
