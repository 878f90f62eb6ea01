package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

// requireOwnership checks the ownership invariants over every stored
// customer: customer and holding agree, the ledger replays to the owners
// (and locks), every owner's counters equal their holdings, and an owned
// customer's department is its owner's.
func (f *fixture) requireOwnership() {
	f.t.Helper()
	replayed := map[crm.ID]pool.Placement{}
	pool.Replay(f.ledger(crm.NilID), replayed)
	want := map[string]int64{}
	for _, u := range []*crm.User{f.alice, f.bob, f.carol} {
		for _, k := range []string{"pool/owned/", "pool/owned_open/", "pool/locked/"} {
			want[k+u.ID.String()] = 0
		}
	}
	page, err := f.store.Customers().List(f.ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(f.t, err)
	for _, c := range page.Items {
		h, err := f.svc.Holding(f.ctx, c.ID)
		if errors.Is(err, crm.ErrNotFound) {
			continue
		}
		require.NoError(f.t, err)
		require.Equal(f.t, h.OwnerID, c.OwnerID, "customer %s: customer and holding disagree on the owner", c.ID)
		require.Equal(f.t, replayed[c.ID].OwnerID, h.OwnerID, "customer %s: the ledger replays to another owner", c.ID)
		require.Equal(f.t, replayed[c.ID].Locked, h.Locked, "customer %s: the ledger replays to another lock", c.ID)
		if !h.Owned() {
			require.Equal(f.t, h.PoolID, c.PoolID, "customer %s: pooled customer's pool", c.ID)
			require.Equal(f.t, h.PoolID, replayed[c.ID].PoolID, "customer %s: the ledger replays to another pool", c.ID)
			require.Equal(f.t, crm.NilID, c.DepartmentID, "customer %s: an unowned customer has no department", c.ID)
			continue
		}
		require.Equal(f.t, crm.NilID, c.PoolID)
		owner, err := f.store.Users().Get(f.ctx, h.OwnerID)
		require.NoError(f.t, err)
		require.Equal(f.t, owner.DepartmentID, c.DepartmentID, "customer %s: department of its owner", c.ID)
		require.Equal(f.t, owner.DepartmentID, h.OwnerDepartmentID, "customer %s: holding's owner department", c.ID)
		want["pool/owned/"+h.OwnerID.String()]++
		if !h.Dealt {
			want["pool/owned_open/"+h.OwnerID.String()]++
		}
		if h.Locked {
			want["pool/locked/"+h.OwnerID.String()]++
		}
	}
	require.Equal(f.t, want, f.state().Counters, "counters equal holdings")
}

func (f *fixture) settle(req pool.MergeOwnershipRequest) (*pool.MergeOwnership, error) {
	var m *pool.MergeOwnership
	err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		m, err = f.svc.SettleMergeTx(ctx, tx, req)
		return err
	})
	return m, err
}

func (f *fixture) undo(m *pool.MergeOwnership) error {
	return f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		return f.svc.UndoMergeTx(ctx, tx, m, f.admin.ID)
	})
}

// merge marks losers merged into survivor and settles.
func (f *fixture) merge(survivor *crm.Customer, losers ...*crm.Customer) *pool.MergeOwnership {
	f.t.Helper()
	ids := make([]crm.ID, len(losers))
	for i, l := range losers {
		f.markMerged(l, survivor.ID)
		ids[i] = l.ID
	}
	m, err := f.settle(pool.MergeOwnershipRequest{SurvivorID: survivor.ID, LoserIDs: ids, Actor: f.admin.ID})
	require.NoError(f.t, err)
	return m
}

// ownershipOf returns the customers' holdings and ownership fields, with
// versions and times that any write changes left out.
func (f *fixture) ownershipOf(cs ...*crm.Customer) []any {
	f.t.Helper()
	var out []any
	for _, c := range cs {
		got := f.customer(c.ID)
		out = append(out, [3]crm.ID{got.OwnerID, got.PoolID, got.DepartmentID})
		h, err := f.svc.Holding(f.ctx, c.ID)
		if errors.Is(err, crm.ErrNotFound) {
			out = append(out, nil)
			continue
		}
		require.NoError(f.t, err)
		h.Version, h.UpdatedAt = 0, h.CreatedAt
		out = append(out, *h)
	}
	return out
}

func TestSettleMerge(t *testing.T) {
	t.Parallel()
	t.Run("APooledSurvivorTakesTheFirstOwnedLosersOwnerAndUndoRestoresAll", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor, pooled, byBob, byAlice := f.pooled(), f.pooled(), f.pooled(), f.pooled()
		_, err := f.claim(f.bob, byBob)
		require.NoError(t, err)
		_, err = f.claim(f.alice, byAlice)
		require.NoError(t, err)
		_, err = f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: byAlice.ID})
		require.NoError(t, err)
		all := []*crm.Customer{survivor, pooled, byBob, byAlice}
		before := f.ownershipOf(all...)
		counters := f.state().Counters
		entries := len(f.ledger(crm.NilID))

		m := f.merge(survivor, pooled, byBob, byAlice)
		require.Equal(t, f.bob.ID, m.OwnerID)
		require.Equal(t, byBob.ID, m.OwnerFrom, "the first owned loser in order")
		require.Len(t, m.Entries, 4, "three losers and the survivor changed")
		require.Len(t, m.Changes, 4)
		got := f.customer(survivor.ID)
		require.Equal(t, f.bob.ID, got.OwnerID)
		require.Equal(t, f.dept.ID, got.DepartmentID)
		require.Equal(t, crm.NilID, got.PoolID)
		require.Equal(t, f.pool.ID, f.holding(survivor.ID).PoolID, "its pool still recycles it")
		for _, l := range []*crm.Customer{pooled, byBob, byAlice} {
			h, c := f.holding(l.ID), f.customer(l.ID)
			require.False(t, h.Owned())
			require.Equal(t, crm.NilID, h.PoolID, "a loser sits in no pool")
			require.Equal(t, [3]crm.ID{}, [3]crm.ID{c.OwnerID, c.PoolID, c.DepartmentID})
		}
		st := f.state().Counters
		require.EqualValues(t, 1, st["pool/owned/"+f.bob.ID.String()], "bob's count moved from the loser to the survivor")
		require.EqualValues(t, 0, st["pool/owned/"+f.alice.ID.String()])
		require.EqualValues(t, 0, st["pool/locked/"+f.alice.ID.String()])
		es := f.ledger(crm.NilID)[entries:]
		require.Len(t, es, 4)
		for i, e := range es {
			require.Equal(t, pool.OpMerge, e.Op)
			require.Equal(t, f.admin.ID, e.ActorID)
			require.Equal(t, m.Entries[i].Seq, e.Seq)
		}
		evs, err := f.store.Outbox().Pending(f.ctx, 1000)
		require.NoError(t, err)
		require.Equal(t, pool.EventOwnershipMerged, evs[len(evs)-1].Type)
		require.Equal(t, survivor.ID, evs[len(evs)-1].Subject.ID)
		f.requireOwnership()

		// A merged loser takes part in nothing.
		_, err = f.claim(f.carol, pooled)
		require.ErrorIs(t, err, pool.ErrMerged)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.admin.ID, CustomerID: byBob.ID, Reason: "x", PoolID: f.pool.ID})
		require.ErrorIs(t, err, pool.ErrMerged)
		_, err = f.svc.Enter(f.ctx, pool.EnterRequest{CustomerID: byAlice.ID, PoolID: f.pool.ID})
		require.ErrorIs(t, err, pool.ErrMerged)

		require.NoError(t, f.undo(m))
		require.Equal(t, before, f.ownershipOf(all...), "holdings and customers as they were")
		require.Equal(t, counters, f.state().Counters, "counters as they were")
		es = f.ledger(crm.NilID)[entries+4:]
		require.Len(t, es, 4)
		for _, e := range es {
			require.Equal(t, pool.OpUnmerge, e.Op)
		}
		f.requireOwnership()
		require.True(t, f.holding(byAlice.ID).Locked)
	})
	t.Run("AnOwnedSurvivorKeepsItsOwner", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor, loser := f.pooled(), f.pooled()
		_, err := f.claim(f.alice, survivor)
		require.NoError(t, err)
		_, err = f.claim(f.bob, loser)
		require.NoError(t, err)
		m := f.merge(survivor, loser)
		require.Equal(t, f.alice.ID, m.OwnerID)
		require.Equal(t, crm.NilID, m.OwnerFrom)
		require.Len(t, m.Entries, 1, "only the loser's holding changed")
		require.Equal(t, f.alice.ID, f.customer(survivor.ID).OwnerID)
		require.EqualValues(t, 0, f.state().Counters["pool/owned/"+f.bob.ID.String()])
		f.requireOwnership()
		require.NoError(t, f.undo(m))
		require.Equal(t, f.bob.ID, f.customer(loser.ID).OwnerID)
		f.requireOwnership()
	})
	t.Run("TheOwnedCountMovesWithoutALimitCheck", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 1}}
		})
		survivor, loser, other := f.pooled(), f.pooled(), f.pooled()
		_, err := f.claim(f.alice, loser)
		require.NoError(t, err)
		m := f.merge(survivor, loser)
		require.Equal(t, f.alice.ID, f.customer(survivor.ID).OwnerID)
		_, err = f.claim(f.alice, other)
		require.ErrorIs(t, err, crm.ErrLimitExceeded, "alice still owns one customer, at her cap")
		f.requireOwnership()
		require.NoError(t, f.undo(m))
		_, err = f.claim(f.alice, other)
		require.ErrorIs(t, err, crm.ErrLimitExceeded, "and after the undo too")
		f.requireOwnership()
	})
	t.Run("ASurvivorWithoutAHoldingGetsOneWhenItTakesAnOwner", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, survivor))
		outsider := crmtest.Customer(f.ids) // never in a pool: nothing to settle
		require.NoError(t, f.store.Customers().Create(f.ctx, outsider))
		loser := f.pooled()
		_, err := f.claim(f.carol, loser)
		require.NoError(t, err)
		// The merge copied the loser's department onto the survivor.
		s := f.customer(survivor.ID)
		s.DepartmentID = f.dept.ID
		require.NoError(t, f.store.Customers().Update(f.ctx, s))
		before := f.ownershipOf(survivor, outsider, loser)
		m := f.merge(survivor, outsider, loser)
		require.Equal(t, f.carol.ID, m.OwnerID)
		require.Equal(t, loser.ID, m.OwnerFrom)
		h := f.holding(survivor.ID)
		require.Equal(t, f.carol.ID, h.OwnerID)
		require.Equal(t, f.pool.ID, h.PoolID, "the loser's pool recycles it")
		require.False(t, h.DueAt.IsZero())
		f.requireOwnership()
		require.NoError(t, f.undo(m))
		after := f.ownershipOf(survivor, outsider, loser)
		require.Equal(t, before[0], after[0], "the survivor's fields as they were")
		require.Equal(t, before[2:], after[2:], "the outsider and the loser as they were")
		h = f.holding(survivor.ID)
		require.False(t, h.Owned())
		require.False(t, h.Pooled(), "the created holding stands as no holding does")
	})
	t.Run("AnUnownedSurvivorWithoutOwnedLosersStaysInItsPool", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor, loser := f.pooled(), f.pooled()
		m := f.merge(survivor, loser)
		require.Equal(t, crm.NilID, m.OwnerID)
		require.Equal(t, f.pool.ID, f.customer(survivor.ID).PoolID)
		require.Len(t, m.Entries, 1)
		f.requireOwnership()
		_, err := f.claim(f.alice, survivor)
		require.NoError(t, err, "the survivor is claimable")
	})
	t.Run("UndoRefusesAHoldingChangedSinceTheSettlement", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor, loser := f.pooled(), f.pooled()
		_, err := f.claim(f.alice, loser)
		require.NoError(t, err)
		m := f.merge(survivor, loser)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: survivor.ID, Reason: "lost"})
		require.NoError(t, err)
		snapshot := f.state()
		require.ErrorIs(t, f.undo(m), crm.ErrConflict)
		require.Equal(t, snapshot, f.state())
	})
	t.Run("SettlementsRoundTripThroughJSON", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor, loser := f.pooled(), f.pooled()
		_, err := f.claim(f.alice, loser)
		require.NoError(t, err)
		m := f.merge(survivor, loser)
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		var back pool.MergeOwnership
		require.NoError(t, json.Unmarshal(raw, &back))
		require.NoError(t, f.undo(&back))
		f.requireOwnership()
		require.Equal(t, f.alice.ID, f.customer(loser.ID).OwnerID)
	})
	t.Run("RefusesBadRequests", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		survivor, loser := f.pooled(), f.pooled()
		_, err := f.settle(pool.MergeOwnershipRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition, "a loser not marked merged")
		_, err = f.settle(pool.MergeOwnershipRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{survivor.ID}})
		requireField(t, err, "loser_ids[0]")
		_, err = f.settle(pool.MergeOwnershipRequest{SurvivorID: survivor.ID})
		requireField(t, err, "loser_ids")
		f.markMerged(survivor, loser.ID)
		f.markMerged(loser, survivor.ID)
		_, err = f.settle(pool.MergeOwnershipRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}})
		require.ErrorIs(t, err, pool.ErrMerged, "a merged survivor")
		require.ErrorIs(t, f.undo(nil), crm.ErrInvalidArgument)
	})
}
