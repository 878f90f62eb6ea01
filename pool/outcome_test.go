package pool_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// lostAnswer commits every unit of work and then reports the commit's
// answer lost, as pgstore does when the connection breaks during COMMIT.
type lostAnswer struct{ crm.Store }

func (s lostAnswer) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	if err := s.Store.InTx(ctx, fn); err != nil {
		return err
	}
	return crm.ErrOutcomeUnknown
}

// A claim whose commit answer was lost says so with crm.ErrOutcomeUnknown,
// and the same keyless claim retried returns the first result.
func TestAClaimWithAnUnknownOutcomeIsSettledByItsRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.pooled()
	lost, err := pool.New(lostAnswer{f.store}, &pool.Config{Clock: f.clock, IDs: f.ids})
	require.NoError(t, err)
	req := pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID}
	_, err = lost.Claim(f.ctx, req)
	require.ErrorIs(t, err, crm.ErrOutcomeUnknown)
	require.False(t, errors.Is(err, context.Canceled) || errors.Is(err, crm.ErrUnavailable))

	res, err := f.svc.Claim(f.ctx, req)
	require.NoError(t, err)
	require.True(t, res.Replayed, "the retry finds the stored claim")
	require.Equal(t, f.alice.ID, res.Holding.OwnerID)
	require.Len(t, f.ledger(c.ID), 2, "enter and one claim")
	// A colleague is still refused.
	_, err = f.svc.Claim(f.ctx, pool.ClaimRequest{Actor: f.bob.ID, CustomerID: c.ID})
	require.ErrorIs(t, err, pool.ErrTaken)
}
