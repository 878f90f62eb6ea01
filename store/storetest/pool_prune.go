package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// runPoolPrune checks pool.Service.PruneRequests on an adapter whose
// request store prunes: old records of the tenant go, newer ones and other
// tenants' stay, and the limit holds.
func runPoolPrune(t *testing.T, h Harness) {
	t.Run("PruneRequestsRemovesOldRecordsOfTheTenantOnly", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		put := func(ctx context.Context, key string) {
			err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				return tx.(pool.Tx).PoolRequests().Put(ctx, &pool.Request{Key: key, Op: pool.OpClaim, CustomerID: e.ids.NewID(), Result: []byte(`{}`)})
			})
			require.NoError(t, err)
		}
		other := crm.WithTenant(e.ctx, "other")
		put(e.ctx, "old-1")
		put(e.ctx, "old-2")
		put(e.ctx, "old-3")
		put(other, "old-of-another-tenant")
		cut := e.clock.Advance(time.Hour)
		put(e.ctx, "new-1")

		n, err := e.svc.PruneRequests(e.ctx, cut, 2)
		if errors.Is(err, crm.ErrUnsupported) {
			// Optional: the adapter's request store cannot prune, and
			// PruneRequests says so.
			require.False(t, h.Features.RequestPruning, "Features.RequestPruning is declared, but the request store does not implement pool.RequestPruner")
			return
		}
		require.NoError(t, err)
		require.Equal(t, 2, n, "the limit holds")
		n, err = e.svc.PruneRequests(e.ctx, cut, 100)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		exists := func(ctx context.Context, key string) bool {
			var found bool
			err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				_, err := tx.(pool.Tx).PoolRequests().Get(ctx, key)
				found = err == nil
				if errors.Is(err, crm.ErrNotFound) {
					return nil
				}
				return err
			})
			require.NoError(t, err)
			return found
		}
		require.False(t, exists(e.ctx, "old-1"))
		require.True(t, exists(e.ctx, "new-1"), "a newer record was pruned")
		require.True(t, exists(other, "old-of-another-tenant"), "another tenant's record was pruned")
		_, err = e.svc.PruneRequests(e.ctx, cut, 0)
		requireInvalid(t, err, "limit")
	})
}
