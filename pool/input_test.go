package pool_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// Strings the package stores as text must be valid UTF-8 without NUL or
// other control characters: PostgreSQL refuses NUL and invalid UTF-8, so
// the package refuses them first and every adapter answers alike.
func TestStoredStringsRefuseNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	field := func(t *testing.T, err error) string {
		t.Helper()
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve), "got %v", err)
		return ve.Field
	}
	t.Run("ARecycleRuleID", func(t *testing.T) {
		f := newFixture(t, nil)
		for _, id := range []string{"r\x00", "r\xff", "r\n"} {
			p := f.pool.Clone()
			p.Recycle[0].ID = id
			require.Equal(t, "recycle[0].id", field(t, p.Validate()))
		}
	})
	t.Run("AReleaseReason", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		require.NoError(t, err)
		for _, reason := range []string{"no\x00budget", "no\xffbudget"} {
			_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: c.ID, Reason: reason})
			require.Equal(t, "reason", field(t, err))
		}
	})
	t.Run("AnIdempotencyKey", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		for _, key := range []string{"k\x00", "k\xc3", "k\u0085", pool.ReservedKeyPrefix + "x"} {
			_, err := f.svc.Claim(f.ctx, pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID, IdempotencyKey: key})
			require.Equal(t, "idempotency_key", field(t, err))
		}
		h, err := f.svc.Holding(f.ctx, c.ID)
		require.NoError(t, err)
		require.True(t, h.Pooled())
	})
}
