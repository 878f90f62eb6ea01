package pool_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// BenchmarkClaimMemstore measures one claim on memstore: lock, checks,
// limit counters, customer and holding updates, ledger entry (its event),
// through the one-write claim port and through a unit of work.
func BenchmarkClaimMemstore(b *testing.B) {
	b.Run("one-write", func(b *testing.B) { benchmarkClaimMemstore(b, false) })
	b.Run("unit-of-work", func(b *testing.B) { benchmarkClaimMemstore(b, true) })
}

func benchmarkClaimMemstore(b *testing.B, inUnit bool) {
	ctx := context.Background()
	clock := crmtest.NewClock(crmtest.Epoch())
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := pool.New(store, &pool.Config{Clock: clock, IDs: ids, ClaimInUnitOfWork: inUnit,
		Limits: []pool.Limit{{Kind: pool.OwnedCustomers, Max: 1 << 30}}})
	require.NoError(b, err)
	p := &pool.Pool{ID: ids.NewID(), Name: "bench", Members: pool.Members{All: true},
		Limits: []pool.Limit{{Kind: pool.DailyClaims, Max: 1 << 30}},
		Recycle: []pool.RecycleRule{{ID: "r", EffectiveFrom: crmtest.Epoch().Add(-time.Hour),
			Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 15}}}}}
	require.NoError(b, svc.CreatePool(ctx, p))
	u := crmtest.User(ids)
	require.NoError(b, store.Users().Create(ctx, u))
	var batch []crm.ID
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if len(batch) == 0 {
			// Refill outside the timer, rarely, so timer calls do not
			// dominate the measurement.
			b.StopTimer()
			batch = pooledBatch(b, ctx, store, ids, p.ID, 10_000)
			b.StartTimer()
		}
		id := batch[len(batch)-1]
		batch = batch[:len(batch)-1]
		if _, err := svc.Claim(ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: id}); err != nil {
			b.Fatal(err)
		}
	}
}

// pooledBatch creates n customers sitting in pool p.
func pooledBatch(b *testing.B, ctx context.Context, store *memstore.Store, ids crm.IDGenerator, p crm.ID, n int) []crm.ID {
	out := make([]crm.ID, n)
	err := store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx := t.(pool.Tx)
		for i := range out {
			c := crmtest.Customer(ids, func(c *crm.Customer) { c.PoolID = p })
			if err := tx.Customers().Create(ctx, c); err != nil {
				return err
			}
			if err := tx.PoolHoldings().Create(ctx, &pool.Holding{CustomerID: c.ID, PoolID: p}); err != nil {
				return err
			}
			out[i] = c.ID
		}
		return nil
	})
	require.NoError(b, err)
	return out
}

// BenchmarkSweepMemstore sweeps 1,000,000 tracked customers on memstore
// of which a realistic share is due (1% and 10%: a daily sweep recycles
// the customers that fell due since the day before), and 100,000 all due;
// each recycled customer gets its checks and ledger entry (its event). Run with
// -benchtime=1x; ns/op is one whole sweep, "ns/recycled" the cost per
// recycled customer. BenchmarkSweepMemstore1M has all 1,000,000 due.
func BenchmarkSweepMemstore(b *testing.B) {
	for _, size := range []struct{ tracked, due int }{
		{1_000_000, 10_000},
		{1_000_000, 100_000},
		{100_000, 100_000},
	} {
		b.Run(fmt.Sprintf("tracked=%d/due=%d", size.tracked, size.due), func(b *testing.B) {
			benchmarkSweep(b, size.tracked, size.due)
		})
	}
}

// BenchmarkSweepMemstore1M recycles 1,000,000 due customers on memstore.
// Run with -benchtime=1x; setting up the customers takes longer than the
// sweep.
func BenchmarkSweepMemstore1M(b *testing.B) {
	benchmarkSweep(b, 1_000_000, 1_000_000)
}

func benchmarkSweep(b *testing.B, tracked, due int) {
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		clock := crmtest.NewClock(crmtest.Epoch())
		ids := crmtest.NewIDs()
		store := memstore.New(&memstore.Config{Clock: clock})
		svc, err := pool.New(store, &pool.Config{Clock: clock, IDs: ids, SweepBatch: 1000})
		require.NoError(b, err)
		p := &pool.Pool{ID: ids.NewID(), Name: "bench", Members: pool.Members{All: true},
			Recycle: []pool.RecycleRule{{ID: "r", EffectiveFrom: crmtest.Epoch().Add(-time.Hour),
				Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 15}}}}}
		require.NoError(b, svc.CreatePool(ctx, p))
		owner := crmtest.User(ids)
		require.NoError(b, store.Users().Create(ctx, owner))
		now := crm.StorageTime(clock.Now())
		err = store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
			tx := t.(pool.Tx)
			for i := range tracked {
				c := crmtest.Customer(ids, func(c *crm.Customer) { c.OwnerID = owner.ID })
				if err := tx.Customers().Create(ctx, c); err != nil {
					return err
				}
				// The first due customers were claimed 20 days ago, the
				// rest today.
				since := now
				if i < due {
					since = now.Add(-20 * 24 * time.Hour)
				}
				h := &pool.Holding{CustomerID: c.ID, PoolID: p.ID, OwnerID: owner.ID, OwnedSince: since,
					DueAt: since.Add(15 * 24 * time.Hour), DueReason: pool.NoFollowUp, DueRuleID: "r"}
				if err := tx.PoolHoldings().Create(ctx, h); err != nil {
					return err
				}
			}
			_, _, err := tx.PoolCounters().Add(ctx, "pool/owned/"+owner.ID.String(), int64(tracked), pool.NoMax)
			return err
		})
		require.NoError(b, err)
		// Collect the setup's garbage now, so the sweep pays only for the
		// collections its own allocations cause.
		runtime.GC()
		b.StartTimer()
		res, err := svc.Sweep(ctx, now, tracked)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, due, res.Recycled)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*due), "ns/recycled")
}
