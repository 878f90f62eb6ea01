package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

// requireOwnership checks, over every customer of the store, that the
// customer and its holding agree on the owner, the ledger replays to it,
// an owned customer's department is its owner's, and the owned, open and
// locked counters of users equal their holdings.
func (e *poolEnv) requireOwnership(users []*crm.User) {
	e.t.Helper()
	replayed := map[crm.ID]pool.Placement{}
	pool.Replay(e.ledgerAll(), replayed)
	want := map[string]int64{}
	for _, u := range users {
		for _, k := range []string{"pool/owned/", "pool/owned_open/", "pool/locked/"} {
			want[k+u.ID.String()] = 0
		}
	}
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := e.store.Customers().List(e.ctx, crm.CustomerFilter{}, page)
		require.NoError(e.t, err)
		for _, c := range got.Items {
			h, err := e.svc.Holding(e.ctx, c.ID)
			if errors.Is(err, crm.ErrNotFound) {
				continue
			}
			require.NoError(e.t, err)
			require.Equal(e.t, h.OwnerID, c.OwnerID, "customer %s: customer and holding disagree", c.ID)
			require.Equal(e.t, replayed[c.ID].OwnerID, h.OwnerID, "customer %s: ledger replay disagrees", c.ID)
			require.Equal(e.t, replayed[c.ID].Locked, h.Locked, "customer %s: ledger replay of the lock", c.ID)
			if !h.Owned() {
				require.Equal(e.t, h.PoolID, c.PoolID, "customer %s: pool", c.ID)
				require.Equal(e.t, crm.NilID, c.DepartmentID, "customer %s: an unowned customer has no department", c.ID)
				continue
			}
			owner, err := e.store.Users().Get(e.ctx, h.OwnerID)
			require.NoError(e.t, err)
			require.Equal(e.t, owner.DepartmentID, c.DepartmentID, "customer %s: its owner's department", c.ID)
			want["pool/owned/"+h.OwnerID.String()]++
			if !h.Dealt {
				want["pool/owned_open/"+h.OwnerID.String()]++
			}
			if h.Locked {
				want["pool/locked/"+h.OwnerID.String()]++
			}
		}
		if got.NextCursor == "" {
			break
		}
		page.Cursor = got.NextCursor
	}
	have := map[string]int64{}
	require.NoError(e.t, e.inTx(func(ctx context.Context, tx pool.Tx) error {
		for k := range want {
			v, err := tx.PoolCounters().Get(ctx, k)
			if err != nil {
				return err
			}
			have[k] = v
		}
		return nil
	}))
	require.Equal(e.t, want, have, "counters equal holdings")
}

// deptUser creates a user in dept.
func (e *poolEnv) deptUser(dept crm.ID) *crm.User {
	e.t.Helper()
	u := crmtest.User(e.ids, func(u *crm.User) { u.DepartmentID = dept })
	require.NoError(e.t, e.store.Users().Create(e.ctx, u))
	return u
}

// markMerged marks c merged into survivor inside tx, as a dedupe merge
// does before the settlement.
func markMerged(ctx context.Context, tx crm.Tx, c, survivor crm.ID) error {
	got, err := tx.Customers().Get(ctx, c)
	if err != nil {
		return err
	}
	if got.Fields == nil {
		got.Fields = crm.Fields{}
	}
	got.Fields[crm.MergedIntoField] = crm.String(survivor.String())
	return tx.Customers().Update(ctx, got)
}

func runPoolMerge(t *testing.T, h Harness) {
	t.Run("SettlementAndUndoKeepEveryOwnershipInvariant", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		dept := crmtest.Department(e.ids, "Sales", crm.NilID)
		require.NoError(t, e.store.Departments().Create(e.ctx, dept))
		alice, bob := e.deptUser(dept.ID), e.deptUser(crm.NilID)
		users := []*crm.User{alice, bob}
		cs := e.pooled(4)
		survivor, pooled, byBob, byAlice := cs[0], cs[1], cs[2], cs[3]
		for _, c := range []struct {
			u *crm.User
			c *crm.Customer
		}{{bob, byBob}, {alice, byAlice}} {
			_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: c.u.ID, CustomerID: c.c.ID})
			require.NoError(t, err)
		}
		_, err := e.svc.Lock(e.ctx, pool.LockRequest{Actor: alice.ID, CustomerID: byAlice.ID})
		require.NoError(t, err)
		e.requireOwnership(users)

		losers := []crm.ID{pooled.ID, byAlice.ID, byBob.ID}
		var m *pool.MergeOwnership
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			for _, id := range losers {
				if err := markMerged(ctx, tx, id, survivor.ID); err != nil {
					return err
				}
			}
			m, err = e.svc.SettleMergeTx(ctx, tx, pool.MergeOwnershipRequest{SurvivorID: survivor.ID, LoserIDs: losers})
			return err
		}))
		require.Equal(t, alice.ID, m.OwnerID, "the first owned loser's owner")
		got, err := e.store.Customers().Get(e.ctx, survivor.ID)
		require.NoError(t, err)
		require.Equal(t, alice.ID, got.OwnerID)
		require.Equal(t, dept.ID, got.DepartmentID)
		e.requireOwnership(users)
		for _, id := range losers {
			_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: bob.ID, CustomerID: id})
			require.ErrorIs(t, err, pool.ErrMerged, "claim of a merged loser")
			_, err = e.svc.Enter(e.ctx, pool.EnterRequest{CustomerID: id, PoolID: e.pool.ID})
			require.ErrorIs(t, err, pool.ErrMerged, "entry of a merged loser")
		}
		_, err = e.svc.Release(e.ctx, pool.ReleaseRequest{Actor: bob.ID, CustomerID: byBob.ID, Reason: "x", PoolID: e.pool.ID})
		require.ErrorIs(t, err, pool.ErrMerged, "release of a merged loser")

		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			return e.svc.UndoMergeTx(ctx, tx, m, crm.NilID)
		}))
		e.requireOwnership(users)
		for _, c := range []struct {
			owner crm.ID
			c     *crm.Customer
		}{{crm.NilID, survivor}, {crm.NilID, pooled}, {bob.ID, byBob}, {alice.ID, byAlice}} {
			got, err := e.store.Customers().Get(e.ctx, c.c.ID)
			require.NoError(t, err)
			require.Equal(t, c.owner, got.OwnerID, "customer %s owned as before the merge", c.c.ID)
		}
		hd, err := e.svc.Holding(e.ctx, byAlice.ID)
		require.NoError(t, err)
		require.True(t, hd.Locked, "the lock is back")
	})
	t.Run("UndoRefusesAHoldingChangedSinceTheSettlement", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		u := e.user()
		cs := e.pooled(2)
		_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: cs[1].ID})
		require.NoError(t, err)
		var m *pool.MergeOwnership
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			if err := markMerged(ctx, tx, cs[1].ID, cs[0].ID); err != nil {
				return err
			}
			m, err = e.svc.SettleMergeTx(ctx, tx, pool.MergeOwnershipRequest{SurvivorID: cs[0].ID, LoserIDs: []crm.ID{cs[1].ID}})
			return err
		}))
		_, err = e.svc.Release(e.ctx, pool.ReleaseRequest{Actor: u.ID, CustomerID: cs[0].ID, Reason: "lost"})
		require.NoError(t, err)
		err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			return e.svc.UndoMergeTx(ctx, tx, m, crm.NilID)
		})
		require.ErrorIs(t, err, crm.ErrConflict)
		e.requireOwnership([]*crm.User{u})
	})
}

func runPoolOrg(t *testing.T, h Harness) {
	t.Run("DepartmentScopedListsFollowAMovedUser", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		east := crmtest.Department(e.ids, "East", crm.NilID)
		west := crmtest.Department(e.ids, "West", crm.NilID)
		for _, d := range []*crm.Department{east, west} {
			require.NoError(t, e.store.Departments().Create(e.ctx, d))
		}
		mover, stayer := e.deptUser(east.ID), e.deptUser(east.ID)
		moved := e.claimedBy(mover, 3)
		stayed := e.claimedBy(stayer, 2)
		e.pooled(2)
		res, err := e.svc.MoveUser(e.ctx, pool.MoveUserRequest{UserID: mover.ID, DepartmentID: west.ID})
		require.NoError(t, err)
		require.Equal(t, 3, res.Customers)
		listed := func(dept *crm.Department) []crm.ID {
			var ids []crm.ID
			for _, scope := range []*crm.DataScope{{DepartmentIDs: []crm.ID{dept.ID}}, {DepartmentTrees: []crm.ID{dept.ID}}} {
				var these []crm.ID
				got, err := e.store.Customers().List(e.ctx, crm.CustomerFilter{Scope: scope}, crm.PageRequest{Limit: 100})
				require.NoError(t, err)
				for _, c := range got.Items {
					these = append(these, c.ID)
				}
				if ids == nil {
					ids = these
				}
				require.ElementsMatch(t, ids, these, "department and tree scopes agree")
			}
			return ids
		}
		require.ElementsMatch(t, customerIDs(moved), listed(west), "the new department lists what its people own")
		require.ElementsMatch(t, customerIDs(stayed), listed(east), "the old one no longer lists the mover's")
		e.requireOwnership([]*crm.User{mover, stayer})
	})
}

func customerIDs(cs []*crm.Customer) []crm.ID {
	out := make([]crm.ID, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
