package pool_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// counterOrder wraps a store and records, per unit of work, the keys of
// the counters it adds to, in call order: the order in which a database
// adapter locks them.
type counterOrder struct {
	crm.Store
	mu    sync.Mutex
	units [][]string
}

func (s *counterOrder) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	var keys []string
	err := s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return fn(ctx, orderTx{BatchTx: tx.(pool.BatchTx), keys: &keys})
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.units = append(s.units, keys)
	return err
}

type orderTx struct {
	pool.BatchTx
	keys *[]string
}

func (t orderTx) PoolCounters() pool.Counters { return orderCounters{t.BatchTx.PoolCounters(), t.keys} }

type orderCounters struct {
	pool.Counters
	keys *[]string
}

func (c orderCounters) Add(ctx context.Context, key string, delta, max int64) (int64, bool, error) {
	*c.keys = append(*c.keys, key)
	return c.Counters.Add(ctx, key, delta, max)
}

// Every operation must take its counters in key order: the same global
// order in every unit of work is what keeps two of them from waiting on
// each other's counter rows in a cycle (a deadlock on PostgreSQL).
func TestEveryOperationAddsToCountersInKeyOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
		// A cascade sends sweeps down the one-customer-at-a-time path.
		cfg.Cascade.OnRelease.Contacts = pool.CascadeFollow
	})
	rec := &counterOrder{Store: f.store}
	svc, err := pool.New(rec, &pool.Config{Clock: f.clock, IDs: f.ids, Cascade: pool.Cascade{OnRelease: pool.CascadeRule{Contacts: pool.CascadeFollow}}})
	require.NoError(t, err)
	claim := func(u *crm.User, c *crm.Customer) {
		_, err := svc.Claim(f.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: c.ID})
		require.NoError(t, err)
	}
	var cs []*crm.Customer
	for i := range 6 {
		c := f.pooled()
		claim([]*crm.User{f.alice, f.bob}[i%2], c)
		cs = append(cs, c)
	}
	// Transfers both ways between two users.
	for i, c := range cs[:2] {
		to := []*crm.User{f.bob, f.alice}[i]
		_, err := svc.Transfer(f.ctx, pool.AssignRequest{Actor: f.admin.ID, CustomerID: c.ID, To: to.ID})
		require.NoError(t, err)
	}
	// A merge whose losers belong to both users, and its undo.
	survivor := f.pooled()
	f.markMerged(cs[2], survivor.ID)
	f.markMerged(cs[3], survivor.ID)
	var m *pool.MergeOwnership
	require.NoError(t, rec.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		m, err = svc.SettleMergeTx(ctx, tx, pool.MergeOwnershipRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{cs[3].ID, cs[2].ID}, Actor: f.admin.ID})
		return err
	}))
	require.NoError(t, rec.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		return svc.UndoMergeTx(ctx, tx, m, f.admin.ID)
	}))
	// A sweep recycling customers of both users in one batch.
	f.clock.Advance(30 * 24 * time.Hour)
	res, err := svc.Sweep(f.ctx, f.clock.Now(), 100)
	require.NoError(t, err)
	require.Positive(t, res.Recycled)

	twoUsers := 0
	for _, keys := range rec.units {
		require.True(t, slices.IsSorted(keys), "counters taken out of key order: %v", keys)
		users := map[string]bool{}
		for _, k := range keys {
			users[k[strings.LastIndexByte(k, '/')+1:]] = true
		}
		if len(users) > 1 {
			twoUsers++
		}
	}
	require.GreaterOrEqual(t, twoUsers, 4, "transfers, merge, undo and sweep each touch two users' counters")
}
