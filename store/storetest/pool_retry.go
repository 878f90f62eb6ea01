package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// runPoolRetry checks that a claim repeated without an idempotency key by
// its actor returns the first result, as long as nothing changed the
// customer since, on every adapter and path: what a caller does after
// [crm.ErrOutcomeUnknown].
func runPoolRetry(t *testing.T, h Harness) {
	t.Run("AKeylessClaimRepeatedByItsActorReturnsTheFirstResult", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		alice, bob := e.user(), e.user()
		c := e.pooled(1)[0]
		first, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: alice.ID, CustomerID: c.ID})
		require.NoError(t, err)
		require.False(t, first.Replayed)
		again, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: alice.ID, CustomerID: c.ID})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.Entry.ID, again.Entry.ID)
		require.Equal(t, first.Entry.Seq, again.Entry.Seq)
		require.Equal(t, first.Holding.Version, again.Holding.Version)
		require.Equal(t, alice.ID, again.Holding.OwnerID)
		_, err = e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: bob.ID, CustomerID: c.ID})
		require.ErrorIs(t, err, pool.ErrTaken, "another user's claim is not a retry")
		claims := 0
		for _, en := range e.ledgerAll() {
			if en.Op == pool.OpClaim {
				claims++
				require.Empty(t, en.IdempotencyKey, "the internal key stays out of the ledger")
			}
		}
		require.Equal(t, 1, claims)
		e.requireConsistent([]*crm.Customer{c})
	})
	t.Run("AKeylessClaimAfterTheCustomerChangedIsDecidedAfresh", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		alice := e.user()
		c := e.claimedBy(alice, 1)[0]
		// Locking changes the holding: a claim now is no retry of the
		// first one.
		_, err := e.svc.Lock(e.ctx, pool.LockRequest{Actor: alice.ID, CustomerID: c.ID})
		require.NoError(t, err)
		_, err = e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: alice.ID, CustomerID: c.ID})
		require.ErrorIs(t, err, pool.ErrTaken)
		_, err = e.svc.Unlock(e.ctx, pool.LockRequest{Actor: alice.ID, CustomerID: c.ID})
		require.NoError(t, err)
		// Released and claimed again (after the cooldown): a new claim.
		_, err = e.svc.Release(e.ctx, pool.ReleaseRequest{Actor: alice.ID, CustomerID: c.ID, Reason: "no_budget"})
		require.NoError(t, err)
		e.clock.Advance(24 * time.Hour * 400)
		res, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: alice.ID, CustomerID: c.ID})
		require.NoError(t, err)
		require.False(t, res.Replayed)
		claims := 0
		for _, en := range e.ledgerAll() {
			if en.Op == pool.OpClaim {
				claims++
			}
		}
		require.Equal(t, 2, claims)
		e.requireConsistent([]*crm.Customer{c})
	})
}
