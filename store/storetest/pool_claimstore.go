package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

// runPoolClaimStore checks the optional [pool.ClaimStore] port itself, not
// through the Service: it reads what a claim decides on, stores a claim
// only while the versions read still hold and every counter stays within
// its max, writes the placement it is given, changes nothing when it
// refuses, refuses a repeated idempotency key, names the field of a bad
// write, and lets exactly one of many simultaneous writes of one customer
// win and exactly max of many writes against one counter. RunPool calls it
// when the store implements the port.
func runPoolClaimStore(t *testing.T, h Harness) {
	t.Run("ClaimStateReadsEachPartOrNil", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		c := f.pooled(1)[0]
		u := f.user()
		st, err := f.cs.PoolClaimState(f.ctx, c.ID, u.ID)
		require.NoError(t, err)
		require.NotNil(t, st.Holding)
		require.Equal(t, c.ID, st.Holding.CustomerID)
		require.NotNil(t, st.Customer)
		require.Equal(t, c.ID, st.Customer.ID)
		require.NotNil(t, st.Actor)
		require.Equal(t, u.ID, st.Actor.ID)
		require.NotNil(t, st.Pool)
		require.Equal(t, f.pool.ID, st.Pool.ID)

		st, err = f.cs.PoolClaimState(f.ctx, f.ids.NewID(), f.ids.NewID())
		require.NoError(t, err, "missing parts are nil, not errors")
		require.Nil(t, st.Holding)
		require.Nil(t, st.Customer)
		require.Nil(t, st.Actor)
		require.Nil(t, st.Pool)

		st, err = f.cs.PoolClaimState(crm.WithTenant(f.ctx, "other"), c.ID, u.ID)
		require.NoError(t, err)
		require.True(t, st.Holding == nil && st.Customer == nil && st.Actor == nil && st.Pool == nil, "another tenant reads nothing")
	})
	t.Run("StoresAClaimWithThePlacementAsGiven", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		c := f.pooled(1)[0]
		u := f.user()
		// The customer's department is the write's, not the holding's:
		// the adapter writes final values and derives none.
		dept := crmtest.Department(f.ids, "Claims", crm.NilID)
		require.NoError(t, f.store.Departments().Create(f.ctx, dept))
		w := f.write(c.ID, u, "k1", "k2")
		w.Customer.DepartmentID = dept.ID
		w.Counters[1].Max = 1
		holdingVersion, customerVersion := w.Holding.Version, w.CustomerVersion
		out, err := f.cs.PoolClaim(f.ctx, w)
		require.NoError(t, err)
		require.True(t, out.Stored)
		require.Equal(t, -1, out.Refused)
		require.Equal(t, holdingVersion+1, w.Holding.Version, "the write carries the stored version")
		require.Positive(t, w.Entry.Seq)

		got, err := f.store.Customers().Get(f.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.OwnerID)
		require.Equal(t, dept.ID, got.DepartmentID)
		require.Equal(t, crm.NilID, got.PoolID)
		require.Equal(t, customerVersion+1, got.Version)
		f.requireHolding(c.ID, u.ID, holdingVersion+1)
		require.Equal(t, []int64{1, 1}, f.counters("k1", "k2"))
		es := f.ledgerAll()
		require.Equal(t, w.Entry.ID, es[len(es)-1].ID)
		require.Equal(t, w.Entry.Seq, es[len(es)-1].Seq)
		evs, err := f.store.Outbox().Pending(f.ctx, crm.MaxPageLimit)
		require.NoError(t, err)
		require.Equal(t, w.Entry.ID, evs[len(evs)-1].ID, "the claim's entry is the outbox's latest event")
		requireEntriesAreEvents(t, f.store, es)
		require.NoError(t, f.inTx(func(ctx context.Context, tx pool.Tx) error {
			r, err := tx.PoolRequests().Get(ctx, w.Request.Key)
			require.NoError(t, err)
			require.JSONEq(t, fmt.Sprintf(`{"entry_seq":%d}`, w.Entry.Seq), string(r.Result))
			require.Equal(t, c.ID, r.CustomerID)
			return nil
		}))
	})
	refusals := []struct {
		name  string
		spoil func(f *claimStoreEnv, w *pool.ClaimWrite)
		check func(t *testing.T, out pool.ClaimOutcome)
	}{
		{"RefusesAStaleHoldingVersion", func(_ *claimStoreEnv, w *pool.ClaimWrite) { w.Holding.Version++ }, nil},
		{"RefusesAStaleCustomerVersion", func(_ *claimStoreEnv, w *pool.ClaimWrite) { w.CustomerVersion++ }, nil},
		{"RefusesACounterAtItsMax", func(f *claimStoreEnv, w *pool.ClaimWrite) {
			require.NoError(f.t, f.inTx(func(ctx context.Context, tx pool.Tx) error {
				_, _, err := tx.PoolCounters().Add(ctx, "k2", 3, pool.NoMax)
				return err
			}))
			w.Counters[1].Max = 3
		}, func(t *testing.T, out pool.ClaimOutcome) {
			require.Equal(t, 1, out.Refused, "the index in Counters of the counter at its max")
			require.Equal(t, int64(3), out.Current)
		}},
	}
	for _, tc := range refusals {
		t.Run(tc.name+"AndChangesNothing", func(t *testing.T) {
			t.Parallel()
			f := newClaimStoreEnv(t, h)
			c := f.pooled(1)[0]
			u := f.user()
			w := f.write(c.ID, u, "k1", "k2")
			tc.spoil(f, w)
			before := f.counters("k1", "k2")
			entries, events := len(f.ledgerAll()), f.pending()
			out, err := f.cs.PoolClaim(f.ctx, w)
			require.NoError(t, err, "a refusal is an outcome, not an error")
			require.False(t, out.Stored)
			require.Equal(t, crm.NilID, out.OwnerID, "the customer is still unowned")
			if tc.check != nil {
				tc.check(t, out)
			} else {
				require.Equal(t, -1, out.Refused)
			}
			f.requireHolding(c.ID, crm.NilID, 0)
			got, err := f.store.Customers().Get(f.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, crm.NilID, got.OwnerID)
			require.Equal(t, f.pool.ID, got.PoolID)
			require.Equal(t, before, f.counters("k1", "k2"))
			require.Len(t, f.ledgerAll(), entries)
			require.Equal(t, events, f.pending())
			require.NoError(t, f.inTx(func(ctx context.Context, tx pool.Tx) error {
				_, err := tx.PoolRequests().Get(ctx, w.Request.Key)
				require.ErrorIs(t, err, crm.ErrNotFound, "no idempotency record for a refused claim")
				return nil
			}))
		})
	}
	t.Run("ReportsTheOwnerOfACustomerTakenSinceItWasRead", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		c := f.pooled(1)[0]
		alice, bob := f.user(), f.user()
		first, second := f.write(c.ID, alice, "k1"), f.write(c.ID, bob, "k1")
		out, err := f.cs.PoolClaim(f.ctx, first)
		require.NoError(t, err)
		require.True(t, out.Stored)
		out, err = f.cs.PoolClaim(f.ctx, second)
		require.NoError(t, err)
		require.False(t, out.Stored)
		require.Equal(t, alice.ID, out.OwnerID)
		f.requireHolding(c.ID, alice.ID, first.Holding.Version)
		require.Equal(t, []int64{1}, f.counters("k1"))
	})
	t.Run("RefusesARepeatedRequestKeyAndKeepsNothing", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		cs := f.pooled(2)
		u := f.user()
		first := f.write(cs[0].ID, u, "k1")
		out, err := f.cs.PoolClaim(f.ctx, first)
		require.NoError(t, err)
		require.True(t, out.Stored)
		again := f.write(cs[1].ID, u, "k1")
		again.Request.Key = first.Request.Key
		again.Request.CustomerID = cs[1].ID
		out, err = f.cs.PoolClaim(f.ctx, again)
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		require.False(t, out.Stored)
		f.requireHolding(cs[1].ID, crm.NilID, 0)
		require.Equal(t, []int64{1}, f.counters("k1"), "the second claim's counter change is not kept")
	})
	t.Run("NamesTheFieldOfABadWrite", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		c := f.pooled(1)[0]
		u := f.user()
		for field, spoil := range map[string]func(w *pool.ClaimWrite){
			"claim":           func(w *pool.ClaimWrite) { w.Entry = nil },
			"entry":           func(w *pool.ClaimWrite) { w.Entry.At = time.Time{} },
			"entry.op":        func(w *pool.ClaimWrite) { w.Entry.Op = "teleport" },
			"counters[1]":     func(w *pool.ClaimWrite) { w.Counters = append(w.Counters, w.Counters[0]) },
			"customer_id":     func(w *pool.ClaimWrite) { w.Holding.CustomerID, w.Entry.CustomerID = crm.NilID, crm.NilID },
			"entry.tenant_id": func(w *pool.ClaimWrite) { w.Entry.TenantID = "other" },
			"claim.request":   func(w *pool.ClaimWrite) { w.Request.Key = "" },
		} {
			w := f.write(c.ID, u, "k1")
			spoil(w)
			out, err := f.cs.PoolClaim(f.ctx, w)
			requireInvalid(t, err, field)
			require.False(t, out.Stored)
		}
		unowned := f.write(c.ID, u, "k1")
		unowned.Holding.OwnerID = crm.NilID
		_, err := f.cs.PoolClaim(f.ctx, unowned)
		requireInvalid(t, err, "claim")
		f.requireHolding(c.ID, crm.NilID, 0)
	})
	t.Run("SixteenSimultaneousWritesOfOneCustomerHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		c := f.pooled(1)[0]
		const n = 16
		ws := make([]*pool.ClaimWrite, n)
		for i := range ws {
			ws[i] = f.write(c.ID, f.user(), "k1")
		}
		var won atomic.Int32
		poolParallel(n, func(i int) {
			out, err := f.cs.PoolClaim(f.ctx, ws[i])
			switch {
			case errors.Is(err, crm.ErrConflict):
				// A serialisation failure: the port may report it so.
			case err != nil:
				t.Errorf("write %d: %v", i, err)
			case out.Stored:
				won.Add(1)
			case out.OwnerID == crm.NilID:
				t.Errorf("write %d: refused without naming the owner", i)
			}
		})
		require.Equal(t, int32(1), won.Load())
		require.Equal(t, []int64{1}, f.counters("k1"))
		var claims int
		for _, e := range f.ledgerAll() {
			if e.CustomerID == c.ID && e.Op == pool.OpClaim {
				claims++
			}
		}
		require.Equal(t, 1, claims)
	})
	t.Run("SimultaneousWritesAgainstOneCounterStopAtItsMax", func(t *testing.T) {
		t.Parallel()
		f := newClaimStoreEnv(t, h)
		const n, max = 12, 5
		cs := f.pooled(n)
		u := f.user()
		ws := make([]*pool.ClaimWrite, n)
		for i := range ws {
			ws[i] = f.write(cs[i].ID, u, "k0", "quota")
			ws[i].Counters[1].Max = max
		}
		var stored, refused atomic.Int32
		poolParallel(n, func(i int) {
			out, err := f.cs.PoolClaim(f.ctx, ws[i])
			switch {
			case errors.Is(err, crm.ErrConflict):
				refused.Add(1) // a serialisation failure stores nothing either
			case err != nil:
				t.Errorf("write %d: %v", i, err)
			case out.Stored:
				stored.Add(1)
			case out.Refused == 1:
				refused.Add(1)
			default:
				t.Errorf("write %d: refused for no reason: %+v", i, out)
			}
		})
		require.Equal(t, int32(max), stored.Load())
		require.Equal(t, []int64{max, max}, f.counters("k0", "quota"))
		require.Equal(t, int32(n-max), refused.Load())
	})
}

// claimStoreEnv is a pool env over a store that implements
// [pool.ClaimStore].
type claimStoreEnv struct {
	*poolEnv
	cs pool.ClaimStore
}

func newClaimStoreEnv(t *testing.T, h Harness) *claimStoreEnv {
	t.Helper()
	e := newPoolEnv(t, h, nil)
	cs, ok := e.store.(pool.ClaimStore)
	require.True(t, ok, "%T does not implement pool.ClaimStore", e.store)
	return &claimStoreEnv{poolEnv: e, cs: cs}
}

// write reads the customer's claim state and builds the write of a claim
// by u, adding one to each of counters within pool.NoMax, as the Service
// would: the holding owned by u, the customer owned by u in no pool, a
// ledger entry (which the store keeps as its event too) and an idempotency
// record whose result carries the entry's Seq.
func (f *claimStoreEnv) write(customer crm.ID, u *crm.User, counters ...string) *pool.ClaimWrite {
	f.t.Helper()
	st, err := f.cs.PoolClaimState(f.ctx, customer, u.ID)
	require.NoError(f.t, err)
	require.NotNil(f.t, st.Holding)
	require.NotNil(f.t, st.Customer)
	now := crm.StorageTime(f.clock.Now())
	h := *st.Holding
	h.OwnerID, h.OwnerDepartmentID, h.OwnedSince = u.ID, u.DepartmentID, now
	entry := &pool.Entry{ID: f.ids.NewID(), CustomerID: customer, Op: pool.OpClaim, ToOwner: u.ID, FromPool: h.PoolID, ActorID: u.ID, At: now}
	w := &pool.ClaimWrite{
		Holding:         &h,
		CustomerVersion: st.Customer.Version,
		Customer:        pool.CustomerPlacement{OwnerID: u.ID, DepartmentID: u.DepartmentID},
		Entry:           entry,
		Request:         &pool.Request{Key: "claim-" + f.ids.NewID().String(), Op: pool.OpClaim, CustomerID: customer, ActorID: u.ID},
		RequestHead:     []byte(`{"entry_seq":`), RequestTail: []byte(`}`),
	}
	for _, k := range counters {
		w.Counters = append(w.Counters, pool.CounterCheck{Key: k, Max: pool.NoMax})
	}
	return w
}

// requireHolding checks the customer's holding's owner and, unless
// version is 0, its version.
func (f *claimStoreEnv) requireHolding(customer, owner crm.ID, version int64) {
	f.t.Helper()
	require.NoError(f.t, f.inTx(func(ctx context.Context, tx pool.Tx) error {
		h, err := tx.PoolHoldings().Get(ctx, customer)
		require.NoError(f.t, err)
		require.Equal(f.t, owner, h.OwnerID)
		if version != 0 {
			require.Equal(f.t, version, h.Version)
		}
		return nil
	}))
}

// counters reads the named counters.
func (f *claimStoreEnv) counters(keys ...string) []int64 {
	f.t.Helper()
	out := make([]int64, len(keys))
	require.NoError(f.t, f.inTx(func(ctx context.Context, tx pool.Tx) error {
		for i, k := range keys {
			v, err := tx.PoolCounters().Get(ctx, k)
			if err != nil {
				return err
			}
			out[i] = v
		}
		return nil
	}))
	return out
}

// pending counts the outbox's pending events.
func (f *claimStoreEnv) pending() int {
	f.t.Helper()
	evs, err := f.store.Outbox().Pending(f.ctx, crm.MaxPageLimit)
	require.NoError(f.t, err)
	return len(evs)
}
