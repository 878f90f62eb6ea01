package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

// RunPool checks an adapter's implementation of the pool package's storage
// ports ([pool.Tx]): the ports' own contract ("Ports") and, through
// [pool.Service], the invariants that must hold under concurrency
// ("Invariants"): one winner among 32 simultaneous claims, exact owned and
// daily limits under contention, each due customer recycled exactly once by
// concurrent sweeps, a claim racing a recycle leaving one consistent owner,
// and a ledger whose replay gives every customer's owner; then merge
// settlements and their undo ("Merge") and users moving departments
// ("Org") keeping every ownership invariant; and caller strings bound for
// storage keys refused alike on every adapter ("Input"); and keyless
// claims repeated by their actor returning the first result ("Retry");
// then, when the store implements the optional [pool.ClaimStore] (or
// [Features] declares OneWriteClaims), the port itself ("ClaimStore").
// Run calls it; an adapter without pool ports fails it.
func RunPool(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	t.Run("Ports", func(t *testing.T) { runPoolPorts(t, h) })
	t.Run("Invariants", func(t *testing.T) { runPoolInvariants(t, h) })
	t.Run("Merge", func(t *testing.T) { runPoolMerge(t, h) })
	t.Run("Org", func(t *testing.T) { runPoolOrg(t, h) })
	t.Run("Input", func(t *testing.T) { runPoolInput(t, h) })
	t.Run("Retry", func(t *testing.T) { runPoolRetry(t, h) })
	t.Run("Tenancy", func(t *testing.T) { runPoolTenancy(t, h) })
	t.Run("Prune", func(t *testing.T) { runPoolPrune(t, h) })
	// An optional port: checked when the store has it or declares it
	// (declared and missing fails in the group).
	if _, ok := h.NewStore(t, crmtest.NewClock(clockStart())).(pool.ClaimStore); ok || h.Features.OneWriteClaims {
		t.Run("ClaimStore", func(t *testing.T) { runPoolClaimStore(t, h) })
	}
}

// poolEnv is one pool subtest's world: a fresh store, a service over it, a
// pool everyone may claim from, and users.
type poolEnv struct {
	t     *testing.T
	ctx   context.Context
	clock *crmtest.Clock
	ids   *crmtest.IDs
	store crm.Store
	svc   *pool.Service
	pool  *pool.Pool
	// rawEvents: see env.
	rawEvents bool
}

func newPoolEnv(t *testing.T, h Harness, edit func(*pool.Pool, *pool.Config)) *poolEnv {
	t.Helper()
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	e := &poolEnv{t: t, ctx: context.Background(), clock: clock, ids: crmtest.NewIDs()}
	e.store = h.NewStore(t, clock)
	require.NotNil(t, e.store, "storetest: Harness.NewStore returned nil")
	requireEventsDecode(t, e.store, &e.rawEvents, h.seen)
	e.pool = &pool.Pool{
		ID: e.ids.NewID(), Name: "Conformance", TimeZone: "Asia/Shanghai", Members: pool.Members{All: true},
		Recycle: []pool.RecycleRule{{
			ID: "neglect", EffectiveFrom: clock.Now().Add(-24 * time.Hour), Combine: pool.Any,
			Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 10}},
		}},
	}
	cfg := &pool.Config{Clock: clock, IDs: e.ids}
	if edit != nil {
		edit(e.pool, cfg)
	}
	svc, err := pool.New(e.store, cfg)
	require.NoError(t, err)
	e.svc = svc
	require.NoError(t, e.svc.CreatePool(e.ctx, e.pool))
	return e
}

func (e *poolEnv) user() *crm.User {
	e.t.Helper()
	u := crmtest.User(e.ids)
	require.NoError(e.t, e.store.Users().Create(e.ctx, u))
	return u
}

// pooled creates n customers in the pool.
func (e *poolEnv) pooled(n int) []*crm.Customer {
	e.t.Helper()
	out := make([]*crm.Customer, n)
	for i := range out {
		c := crmtest.Customer(e.ids)
		require.NoError(e.t, e.store.Customers().Create(e.ctx, c))
		_, err := e.svc.Enter(e.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: e.pool.ID})
		require.NoError(e.t, err)
		out[i] = c
	}
	return out
}

// inTx runs fn with the adapter's pool ports.
func (e *poolEnv) inTx(fn func(ctx context.Context, tx pool.Tx) error) error {
	return e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
		ptx, ok := tx.(pool.Tx)
		if !ok {
			return fmt.Errorf("storetest: %T does not implement pool.Tx: %w", tx, crm.ErrUnsupported)
		}
		return fn(ctx, ptx)
	})
}

// poolParallel runs fn(i) for i in [0, n) at once and waits.
func poolParallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// ledgerAll reads every ledger entry.
func (e *poolEnv) ledgerAll() []*pool.Entry {
	e.t.Helper()
	var all []*pool.Entry
	var after int64
	for {
		got, err := e.svc.Ledger(e.ctx, crm.NilID, after, crm.MaxPageLimit)
		require.NoError(e.t, err)
		all = append(all, got...)
		if len(got) < crm.MaxPageLimit {
			return all
		}
		after = got[len(got)-1].Seq
	}
}

// claimedBy puts n new customers in the pool and has u claim them.
func (e *poolEnv) claimedBy(u *crm.User, n int) []*crm.Customer {
	e.t.Helper()
	cs := e.pooled(n)
	for _, c := range cs {
		_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: c.ID})
		require.NoError(e.t, err)
	}
	return cs
}

// sweepConcurrently runs n sweeps at once and returns how many customers
// they recycled in all.
func (e *poolEnv) sweepConcurrently(n int, now time.Time) int {
	var recycled atomic.Int32
	poolParallel(n, func(int) {
		res, err := e.svc.Sweep(e.ctx, now, 1000)
		if err != nil {
			e.t.Errorf("sweep: %v", err)
		}
		recycled.Add(int32(res.Recycled))
	})
	return int(recycled.Load())
}

// requireRecycledOnce checks that the ledger records exactly one recycle
// of each customer and none of any other.
func (e *poolEnv) requireRecycledOnce(customers []*crm.Customer) {
	e.t.Helper()
	per := map[crm.ID]int{}
	for _, en := range e.ledgerAll() {
		if en.Op == pool.OpRecycle {
			per[en.CustomerID]++
		}
	}
	require.Len(e.t, per, len(customers))
	for _, c := range customers {
		require.Equal(e.t, 1, per[c.ID], "customer %s recycled %d times", c.ID, per[c.ID])
	}
}

// requireConsistent checks that every customer's stored owner and pool, its
// holding and the replayed ledger agree, and that each user's owned counter
// matches the customers they own.
func (e *poolEnv) requireConsistent(customers []*crm.Customer) {
	e.t.Helper()
	entries := e.ledgerAll()
	for i := 1; i < len(entries); i++ {
		require.Greater(e.t, entries[i].Seq, entries[i-1].Seq, "ledger in Seq order")
	}
	replayed := map[crm.ID]pool.Placement{}
	pool.Replay(entries, replayed)
	owned := map[crm.ID]int64{}
	for _, c := range customers {
		got, err := e.store.Customers().Get(e.ctx, c.ID)
		require.NoError(e.t, err)
		h, err := e.svc.Holding(e.ctx, c.ID)
		require.NoError(e.t, err)
		require.Equal(e.t, got.OwnerID, h.OwnerID, "customer %s: holding and customer disagree", c.ID)
		require.Equal(e.t, replayed[c.ID].OwnerID, got.OwnerID, "customer %s: ledger replay disagrees", c.ID)
		if got.OwnerID == crm.NilID {
			require.Equal(e.t, h.PoolID, got.PoolID, "customer %s: pooled customer's pool", c.ID)
		} else {
			require.Equal(e.t, crm.NilID, got.PoolID)
			owned[got.OwnerID]++
		}
	}
	for user, n := range owned {
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			v, err := tx.PoolCounters().Get(ctx, "pool/owned/"+user.String())
			require.Equal(e.t, n, v, "owned counter of %s", user)
			return err
		})
		require.NoError(e.t, err)
	}
}

func runPoolPorts(t *testing.T, h Harness) {
	t.Run("PoolsRefuseStaleVersionsAndUnknownIDs", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			p, err := tx.Pools().Get(ctx, e.pool.ID)
			require.NoError(t, err)
			require.EqualValues(t, 1, p.Version)
			require.Equal(t, e.pool.Recycle[0].ID, p.Recycle[0].ID)
			p.Name = "Renamed"
			require.NoError(t, tx.Pools().Update(ctx, p))
			require.EqualValues(t, 2, p.Version)
			p.Version = 1
			require.ErrorIs(t, tx.Pools().Update(ctx, p), crm.ErrConflict)
			_, err = tx.Pools().Get(ctx, e.ids.NewID())
			require.ErrorIs(t, err, crm.ErrNotFound)
			dup := e.pool.Clone()
			require.ErrorIs(t, tx.Pools().Create(ctx, dup), crm.ErrAlreadyExists)
			ps, err := tx.Pools().List(ctx, crm.NilID, 10)
			require.NoError(t, err)
			require.Len(t, ps, 1)
			return nil
		})
		require.NoError(t, err)
		_, err = e.svc.GetPool(crm.WithTenant(e.ctx, "other"), e.pool.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "another tenant's pool is invisible")
	})
	t.Run("HoldingsKeepVersionsAndIndexDueTimes", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		now := crm.StorageTime(e.clock.Now())
		a, b, c, locked := e.ids.NewID(), e.ids.NewID(), e.ids.NewID(), e.ids.NewID()
		owner := e.ids.NewID()
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			hs := tx.PoolHoldings()
			for i, id := range []crm.ID{a, b, c} {
				hd := &pool.Holding{CustomerID: id, PoolID: e.pool.ID, OwnerID: owner, DueAt: now.Add(time.Duration(3-i) * time.Hour)}
				require.NoError(t, hs.Create(ctx, hd))
				require.EqualValues(t, 1, hd.Version)
			}
			require.NoError(t, hs.Create(ctx, &pool.Holding{CustomerID: locked, OwnerID: owner, Locked: true, DueAt: now}))
			require.ErrorIs(t, hs.Create(ctx, &pool.Holding{CustomerID: a}), crm.ErrAlreadyExists)
			due, err := hs.Due(ctx, now.Add(150*time.Minute), 10)
			require.NoError(t, err)
			require.Equal(t, []crm.ID{c, b}, holdingIDs(due), "earliest first; locked and later ones left out")
			due, err = hs.Due(ctx, now.Add(4*time.Hour), 1)
			require.NoError(t, err)
			require.Equal(t, []crm.ID{c}, holdingIDs(due), "limit holds")

			got, err := hs.Get(ctx, c)
			require.NoError(t, err)
			got.DueAt = time.Time{}
			require.NoError(t, hs.Update(ctx, got))
			require.EqualValues(t, 2, got.Version)
			got.Version = 1
			require.ErrorIs(t, hs.Update(ctx, got), crm.ErrConflict)
			due, err = hs.Due(ctx, now.Add(4*time.Hour), 10)
			require.NoError(t, err)
			require.Equal(t, []crm.ID{b, a}, holdingIDs(due), "a cleared due time leaves the index")
			_, err = hs.Get(ctx, e.ids.NewID())
			require.ErrorIs(t, err, crm.ErrNotFound)
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("CountersAddWithinMaxAndNeverGoBelowZero", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			cs := tx.PoolCounters()
			v, ok, err := cs.Add(ctx, "k", 1, 2)
			require.NoError(t, err)
			require.True(t, ok)
			require.EqualValues(t, 1, v)
			_, ok, _ = cs.Add(ctx, "k", 1, 2)
			require.True(t, ok)
			v, ok, err = cs.Add(ctx, "k", 1, 2)
			require.NoError(t, err)
			require.False(t, ok)
			require.EqualValues(t, 2, v, "a refused add reports the current value")
			v, ok, _ = cs.Add(ctx, "k", -5, pool.NoMax)
			require.True(t, ok)
			require.EqualValues(t, 0, v)
			v, err = cs.Get(ctx, "missing")
			require.NoError(t, err)
			require.EqualValues(t, 0, v)
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("LedgerAssignsIncreasingSeqsAndListsPerCustomer", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		a, b := e.ids.NewID(), e.ids.NewID()
		at := e.clock.Now()
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			for _, id := range []crm.ID{a, b, a} {
				en := &pool.Entry{ID: e.ids.NewID(), CustomerID: id, Op: pool.OpEnter, ToPool: e.pool.ID, At: at, Rule: []byte(`{"id": "r"}`)}
				require.NoError(t, tx.PoolLedger().Append(ctx, en))
				require.Positive(t, en.Seq)
			}
			got, err := tx.PoolLedger().List(ctx, a, 0, 10)
			require.NoError(t, err)
			require.Len(t, got, 2)
			require.Less(t, got[0].Seq, got[1].Seq)
			require.JSONEq(t, `{"id":"r"}`, string(got[0].Rule))
			require.True(t, got[0].At.Equal(crm.StorageTime(at)))
			all, err := tx.PoolLedger().List(ctx, crm.NilID, got[0].Seq, 10)
			require.NoError(t, err)
			require.Len(t, all, 2, "after the first entry")
			later, err := tx.PoolLedger().List(ctx, a, got[0].Seq, 10)
			require.NoError(t, err)
			require.Len(t, later, 1, "a's entries after its first")
			require.Equal(t, got[1].Seq, later[0].Seq)
			first, err := tx.PoolLedger().List(ctx, a, 0, 1)
			require.NoError(t, err)
			require.Len(t, first, 1)
			require.Equal(t, got[0].Seq, first[0].Seq, "the limit keeps the oldest")
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("RequestsRefuseARepeatedKey", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			r := &pool.Request{Key: "k1", Op: pool.OpClaim, CustomerID: e.ids.NewID(), Result: []byte(`{"a":1}`)}
			require.NoError(t, tx.PoolRequests().Put(ctx, r))
			require.ErrorIs(t, tx.PoolRequests().Put(ctx, r), crm.ErrAlreadyExists)
			got, err := tx.PoolRequests().Get(ctx, "k1")
			require.NoError(t, err)
			require.Equal(t, r.CustomerID, got.CustomerID)
			require.JSONEq(t, `{"a":1}`, string(got.Result))
			_, err = tx.PoolRequests().Get(ctx, "k2")
			require.ErrorIs(t, err, crm.ErrNotFound)
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("AFailedOperationLeavesNothing", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		c := e.pooled(1)[0]
		boom := errors.New("boom")
		err := e.inTx(func(ctx context.Context, tx pool.Tx) error {
			_, _, err := tx.PoolCounters().Add(ctx, "k", 1, pool.NoMax)
			require.NoError(t, err)
			hd, err := tx.PoolHoldings().Get(ctx, c.ID)
			require.NoError(t, err)
			hd.OwnerID = e.ids.NewID()
			require.NoError(t, tx.PoolHoldings().Update(ctx, hd))
			require.NoError(t, tx.PoolLedger().Append(ctx, &pool.Entry{ID: e.ids.NewID(), CustomerID: c.ID, Op: pool.OpClaim, At: e.clock.Now()}))
			require.NoError(t, tx.PoolRequests().Put(ctx, &pool.Request{Key: "k", Op: pool.OpClaim, CustomerID: c.ID, Result: []byte(`{}`)}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		err = e.inTx(func(ctx context.Context, tx pool.Tx) error {
			v, err := tx.PoolCounters().Get(ctx, "k")
			require.NoError(t, err)
			require.Zero(t, v)
			hd, err := tx.PoolHoldings().Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, crm.NilID, hd.OwnerID)
			es, err := tx.PoolLedger().List(ctx, c.ID, 0, 10)
			require.NoError(t, err)
			require.Len(t, es, 1, "only the entry of Enter")
			_, err = tx.PoolRequests().Get(ctx, "k")
			require.ErrorIs(t, err, crm.ErrNotFound)
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("RecycleBatchesAreAllOrNothing", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		owner := e.user()
		const n = 5
		now := crm.StorageTime(e.clock.Now())
		cust := make([]*crm.Customer, n)
		for i := range cust {
			cust[i] = crmtest.Customer(e.ids, func(c *crm.Customer) { c.OwnerID = owner.ID })
			require.NoError(t, e.store.Customers().Create(e.ctx, cust[i]))
		}
		// Odd customers go back to a second pool: one batch, two pools.
		other := &pool.Pool{ID: e.ids.NewID(), Name: "Other", Members: pool.Members{All: true}}
		require.NoError(t, e.svc.CreatePool(e.ctx, other))
		poolOf := func(i int) crm.ID {
			if i%2 == 1 {
				return other.ID
			}
			return e.pool.ID
		}
		var batchTx bool
		require.NoError(t, e.inTx(func(ctx context.Context, tx pool.Tx) error {
			_, batchTx = tx.(pool.BatchTx)
			for _, c := range cust {
				if err := tx.PoolHoldings().Create(ctx, &pool.Holding{CustomerID: c.ID, PoolID: e.pool.ID, OwnerID: owner.ID, DueAt: now}); err != nil {
					return err
				}
			}
			return nil
		}))
		// An optional port is checked whenever the adapter has it; declared
		// and missing is a failure.
		if !batchTx {
			require.False(t, h.Features.BatchSweeps, "Features.BatchSweeps is declared, but the adapter's Tx does not implement pool.BatchTx")
			return // sweeps use the one-at-a-time path, checked by the other sweep tests
		}
		// batch reads the due batch and recycles it, spoiling one row's
		// version with stale when set.
		batch := func(ctx context.Context, tx pool.BatchTx, stale func([]pool.Recycled)) error {
			hs, err := tx.PoolHoldings().Due(ctx, now, n)
			if err != nil {
				return err
			}
			cs, err := tx.PoolCustomers(ctx, holdingIDs(hs))
			if err != nil {
				return err
			}
			require.Len(t, cs, n)
			byID := make(map[crm.ID]*crm.Customer, n)
			for i, c := range cust {
				byID[c.ID] = cust[i]
			}
			rs := make([]pool.Recycled, n)
			for i, h := range hs {
				to := poolOf(slices.Index(cust, byID[h.CustomerID]))
				h.OwnerID, h.PoolID, h.DueAt, h.EnteredAt = crm.NilID, to, time.Time{}, now
				rule := []byte(`{"id":"r1"}`)
				if i%2 == 1 {
					rule = []byte(`{"id":"r2"}`)
				}
				rs[i] = pool.Recycled{Holding: h, CustomerVersion: 1, Customer: pool.CustomerPlacement{PoolID: to},
					Entry: &pool.Entry{ID: e.ids.NewID(), CustomerID: h.CustomerID, Op: pool.OpRecycle, FromOwner: owner.ID, FromPool: h.PoolID, ToPool: to, At: now, Rule: rule}}
			}
			if stale != nil {
				stale(rs)
			}
			if err := tx.PoolRecycleBatch(ctx, rs); err != nil {
				return err
			}
			for i := 1; i < n; i++ {
				require.Greater(t, rs[i].Entry.Seq, rs[i-1].Entry.Seq, "entries get increasing seqs in batch order")
			}
			return nil
		}
		check := func(wantOwner crm.ID, wantEntries int) {
			t.Helper()
			for i, c := range cust {
				got, err := e.store.Customers().Get(e.ctx, c.ID)
				require.NoError(t, err)
				require.Equal(t, wantOwner, got.OwnerID)
				if wantOwner == crm.NilID {
					require.Equal(t, poolOf(i), got.PoolID, "each customer goes to its own pool")
				}
			}
			var es []*pool.Entry
			require.NoError(t, e.inTx(func(ctx context.Context, tx pool.Tx) error {
				for i, c := range cust {
					h, err := tx.PoolHoldings().Get(ctx, c.ID)
					require.NoError(t, err)
					require.Equal(t, wantOwner, h.OwnerID)
					if wantOwner == crm.NilID {
						require.Equal(t, poolOf(i), h.PoolID, "each holding is stored as given")
					}
				}
				var err error
				es, err = tx.PoolLedger().List(ctx, crm.NilID, 0, 100)
				require.NoError(t, err)
				require.Len(t, es, wantEntries)
				for i, en := range es {
					require.JSONEq(t, fmt.Sprintf(`{"id":"r%d"}`, i%2+1), string(en.Rule), "each entry keeps its own rule snapshot")
				}
				return nil
			}))
			requireEntriesAreEvents(t, e.store, es)
		}
		for name, stale := range map[string]func([]pool.Recycled){
			"customer": func(rs []pool.Recycled) { rs[n-1].CustomerVersion = 7 },
			"holding":  func(rs []pool.Recycled) { rs[n-1].Holding.Version = 7 },
		} {
			err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return batch(ctx, tx.(pool.BatchTx), stale) })
			require.ErrorIs(t, err, crm.ErrConflict, "a stale %s fails the whole batch", name)
			check(owner.ID, 0)
		}
		twice := func(rs []pool.Recycled) {
			h := *rs[0].Holding
			rs[n-1].Holding, rs[n-1].Entry.CustomerID = &h, h.CustomerID
		}
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return batch(ctx, tx.(pool.BatchTx), twice) })
		requireInvalid(t, err, fmt.Sprintf("batch[%d]", n-1))
		check(owner.ID, 0)
		noEntry := func(rs []pool.Recycled) { rs[2].Entry.At = time.Time{} }
		err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return batch(ctx, tx.(pool.BatchTx), noEntry) })
		requireInvalid(t, err, "batch[2]")
		check(owner.ID, 0)
		lockedUnowned := func(rs []pool.Recycled) { rs[1].Holding.Locked = true }
		err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return batch(ctx, tx.(pool.BatchTx), lockedUnowned) })
		requireInvalid(t, err, "locked")
		check(owner.ID, 0)
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return batch(ctx, tx.(pool.BatchTx), nil) }))
		check(crm.NilID, n)
	})
}

func holdingIDs(hs []*pool.Holding) []crm.ID {
	out := make([]crm.ID, len(hs))
	for i, h := range hs {
		out[i] = h.CustomerID
	}
	return out
}

func runPoolInvariants(t *testing.T, h Harness) {
	t.Run("ThirtyTwoClaimsOfOneCustomerHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		c := e.pooled(1)[0]
		users := make([]*crm.User, 32)
		for i := range users {
			users[i] = e.user()
		}
		var won atomic.Int32
		errs := make([]error, len(users))
		poolParallel(len(users), func(i int) {
			_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: users[i].ID, CustomerID: c.ID})
			if err == nil {
				won.Add(1)
			}
			errs[i] = err
		})
		require.EqualValues(t, 1, won.Load())
		for _, err := range errs {
			if err != nil {
				require.ErrorIs(t, err, pool.ErrTaken)
			}
		}
		e.requireConsistent([]*crm.Customer{c})
	})
	t.Run("AnOwnedCapOfTenHoldsAgainstSixteenGoroutines", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 10}}
		})
		u := e.user()
		cs := e.pooled(100)
		var won, limited atomic.Int32
		var next atomic.Int32
		poolParallel(16, func(int) {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cs) {
					return
				}
				_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: cs[i].ID})
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, crm.ErrLimitExceeded):
					limited.Add(1)
				default:
					t.Errorf("claim %d: %v", i, err)
				}
			}
		})
		require.EqualValues(t, 10, won.Load())
		require.EqualValues(t, 90, limited.Load())
		e.requireConsistent(cs)
	})
	t.Run("ADailyLimitOfFiveHoldsAgainstClaimReleaseLoops", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, func(p *pool.Pool, _ *pool.Config) {
			p.Limits = []pool.Limit{{Kind: pool.DailyClaims, Max: 5}}
		})
		u := e.user()
		cs := e.pooled(16)
		var claims atomic.Int32
		poolParallel(8, func(g int) {
			for round := range 4 {
				c := cs[(g*2+round)%len(cs)]
				res, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: c.ID})
				if err != nil {
					if !errors.Is(err, crm.ErrLimitExceeded) && !errors.Is(err, pool.ErrTaken) {
						t.Errorf("claim: %v", err)
					}
					continue
				}
				if res.Replayed {
					// Another goroutine's claim of this customer, not yet
					// released: a keyless repeat returns its result, and
					// that goroutine releases it.
					continue
				}
				claims.Add(1)
				if _, err := e.svc.Release(e.ctx, pool.ReleaseRequest{Actor: u.ID, CustomerID: c.ID, Reason: "loop"}); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		})
		require.EqualValues(t, 5, claims.Load())
		var ledgerClaims int
		for _, en := range e.ledgerAll() {
			if en.Op == pool.OpClaim {
				ledgerClaims++
			}
		}
		require.Equal(t, 5, ledgerClaims, "the ledger agrees")
		e.requireConsistent(cs)
	})
	t.Run("CustomerDepartmentFollowsItsOwner", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		dept := crmtest.Department(e.ids, "Sales", crm.NilID)
		require.NoError(t, e.store.Departments().Create(e.ctx, dept))
		u := crmtest.User(e.ids, func(u *crm.User) { u.DepartmentID = dept.ID })
		require.NoError(t, e.store.Users().Create(e.ctx, u))
		c := e.pooled(1)[0]
		_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: c.ID})
		require.NoError(t, err)
		got, err := e.store.Customers().Get(e.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.OwnerID)
		require.Equal(t, dept.ID, got.DepartmentID, "a claim gives the customer its owner's department")
		now := e.clock.Advance(11 * 24 * time.Hour)
		res, err := e.svc.Sweep(e.ctx, now, 10)
		require.NoError(t, err)
		require.Equal(t, 1, res.Recycled)
		got, err = e.store.Customers().Get(e.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, e.pool.ID, got.PoolID)
		require.Equal(t, crm.NilID, got.DepartmentID, "a recycled customer belongs to no department")
	})
	t.Run("FourConcurrentSweepsRecycleEachDueCustomerOnce", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, func(_ *pool.Pool, cfg *pool.Config) { cfg.SweepBatch = 7 })
		u := e.user()
		cs := e.claimedBy(u, 60)
		now := e.clock.Advance(11 * 24 * time.Hour)
		require.Equal(t, len(cs), e.sweepConcurrently(4, now))
		e.requireRecycledOnce(cs)
		e.requireConsistent(cs)
	})
	t.Run("SweepWorkersKeepTheLimitAndRecycleEachDueCustomerOnce", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, func(_ *pool.Pool, cfg *pool.Config) { cfg.SweepBatch, cfg.SweepWorkers = 5, 4 })
		u := e.user()
		cs := e.claimedBy(u, 60)
		now := e.clock.Advance(11 * 24 * time.Hour)
		res, err := e.svc.Sweep(e.ctx, now, 23)
		require.NoError(t, err)
		require.Equal(t, 23, res.Recycled, "four workers stop at the limit together")
		require.Equal(t, len(cs)-res.Recycled, e.sweepConcurrently(2, now), "the rest, by two concurrent sweeps")
		e.requireRecycledOnce(cs)
		e.requireConsistent(cs)
		err = e.inTx(func(ctx context.Context, tx pool.Tx) error {
			v, err := tx.PoolCounters().Get(ctx, "pool/owned/"+u.ID.String())
			require.Zero(t, v, "every recycle uncounted once")
			return err
		})
		require.NoError(t, err)
	})
	t.Run("ClaimsRacingARecycleLeaveOneConsistentOwner", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, func(_ *pool.Pool, cfg *pool.Config) { cfg.SweepBatch = 5 })
		first := e.user()
		others := []*crm.User{e.user(), e.user(), e.user()}
		cs := e.pooled(30)
		for _, c := range cs {
			_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: first.ID, CustomerID: c.ID})
			require.NoError(t, err)
		}
		now := e.clock.Advance(11 * 24 * time.Hour)
		poolParallel(1+len(others), func(g int) {
			if g == 0 {
				if _, err := e.svc.Sweep(e.ctx, now, 1000); err != nil {
					t.Errorf("sweep: %v", err)
				}
				return
			}
			for _, c := range cs {
				_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: others[g-1].ID, CustomerID: c.ID})
				if err != nil && !errors.Is(err, pool.ErrTaken) {
					t.Errorf("claim: %v", err)
				}
			}
		})
		e.requireConsistent(cs)
	})
	t.Run("TheLedgerReplaysToEveryCustomersOwner", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		users := []*crm.User{e.user(), e.user(), e.user(), e.user()}
		admin := e.user()
		e.pool.Admins = []crm.ID{admin.ID}
		p, err := e.svc.GetPool(e.ctx, e.pool.ID)
		require.NoError(t, err)
		p.Admins = []crm.ID{admin.ID}
		require.NoError(t, e.svc.UpdatePool(e.ctx, p))
		cs := e.pooled(20)
		poolParallel(len(users), func(g int) {
			me := users[g]
			for i, c := range cs {
				switch (i + g) % 4 {
				case 0, 1:
					_, _ = e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: me.ID, CustomerID: c.ID})
				case 2:
					_, _ = e.svc.Release(e.ctx, pool.ReleaseRequest{Actor: me.ID, CustomerID: c.ID, Reason: "mix"})
				case 3:
					_, _ = e.svc.Transfer(e.ctx, pool.AssignRequest{Actor: admin.ID, CustomerID: c.ID, To: me.ID})
				}
			}
		})
		e.requireConsistent(cs)
	})
}

// requireEntriesAreEvents checks that each ledger entry is an event of the
// outbox, one record for both: an event with the entry's ID, Seq, tenant,
// actor and time, its operation's type, the customer as subject and the
// entry as payload.
func requireEntriesAreEvents(t *testing.T, store crm.Store, entries []*pool.Entry) {
	t.Helper()
	pending, err := store.Outbox().Pending(context.Background(), crm.MaxPageLimit)
	require.NoError(t, err)
	byID := make(map[crm.ID]crm.Event, len(pending))
	for _, ev := range pending {
		byID[ev.ID] = ev
	}
	for _, en := range entries {
		ev, ok := byID[en.ID]
		require.True(t, ok, "entry %s (%s) is an event of the outbox", en.ID, en.Op)
		want, err := en.Event()
		require.NoError(t, err)
		require.Equal(t, want.Seq, ev.Seq, "the entry's Seq is its event's")
		require.Equal(t, want.Type, ev.Type)
		require.Equal(t, want.Subject, ev.Subject)
		require.Equal(t, want.ActorID, ev.ActorID)
		require.Equal(t, want.TenantID, ev.TenantID)
		require.True(t, want.OccurredAt.Equal(ev.OccurredAt))
		require.JSONEq(t, string(want.Payload), string(ev.Payload), "the payload is the entry's")
		p, err := crm.DecodePayload[pool.EntryPayload](ev)
		require.NoError(t, err)
		require.Equal(t, ev.Seq, p.Seq)
		require.Equal(t, ev.ID, p.EntryID)
	}
}
