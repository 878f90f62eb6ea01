package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// runPoolInput checks that caller strings bound for storage keys get the
// same answer from every adapter (a [*crm.ValidationError] naming the
// field, nothing stored).
func runPoolInput(t *testing.T, h Harness) {
	badKeys := map[string]string{
		"NUL":              "retry\x00-1",
		"InvalidUTF8":      "retry-\xff\xfe",
		"ControlCharacter": "retry\t1",
		"TooLong":          strings.Repeat("k", pool.MaxIdempotencyKeyLen+1),
		"Reserved":         pool.ReservedKeyPrefix + "claim:x",
	}
	requireKeyRefused := func(t *testing.T, err error) {
		t.Helper()
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve), "got %v", err)
		require.Equal(t, "idempotency_key", ve.Field)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	}
	t.Run("IdempotencyKeysWithNULInvalidUTF8ControlsOrTooManyBytesAreValidationErrors", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		alice, bob := e.user(), e.user()
		pooled := e.pooled(1)[0]
		owned := e.claimedBy(alice, 1)[0]
		fresh := e.pooled(1)[0]
		for name, key := range badKeys {
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: bob.ID, CustomerID: pooled.ID, IdempotencyKey: key})
				requireKeyRefused(t, err)
				_, err = e.svc.Assign(e.ctx, pool.AssignRequest{Actor: alice.ID, CustomerID: pooled.ID, To: bob.ID, IdempotencyKey: key})
				requireKeyRefused(t, err)
				_, err = e.svc.Release(e.ctx, pool.ReleaseRequest{Actor: alice.ID, CustomerID: owned.ID, Reason: "no_budget", IdempotencyKey: key})
				requireKeyRefused(t, err)
				_, err = e.svc.Transfer(e.ctx, pool.AssignRequest{Actor: alice.ID, CustomerID: owned.ID, To: bob.ID, IdempotencyKey: key})
				requireKeyRefused(t, err)
				_, err = e.svc.Lock(e.ctx, pool.LockRequest{Actor: alice.ID, CustomerID: owned.ID, IdempotencyKey: key})
				requireKeyRefused(t, err)
				_, err = e.svc.Enter(e.ctx, pool.EnterRequest{CustomerID: fresh.ID, PoolID: e.pool.ID, IdempotencyKey: key})
				requireKeyRefused(t, err)
				err = e.inTx(func(ctx context.Context, tx pool.Tx) error {
					_, err := e.svc.ClaimTx(ctx, tx, pool.ClaimRequest{Actor: bob.ID, CustomerID: pooled.ID, IdempotencyKey: key})
					return err
				})
				requireKeyRefused(t, err)
			})
		}
		// Nothing of the refused calls was stored.
		hp, err := e.svc.Holding(e.ctx, pooled.ID)
		require.NoError(t, err)
		require.True(t, hp.Pooled())
		ho, err := e.svc.Holding(e.ctx, owned.ID)
		require.NoError(t, err)
		require.Equal(t, alice.ID, ho.OwnerID)
		require.False(t, ho.Locked)
		e.requireConsistent([]*crm.Customer{pooled, owned, fresh})
	})
	t.Run("AKeyOfMaxLengthInAnyScriptIsAcceptedAndReplayed", func(t *testing.T) {
		t.Parallel()
		e := newPoolEnv(t, h, nil)
		alice := e.user()
		cs := e.pooled(2)
		for i, key := range []string{strings.Repeat("k", pool.MaxIdempotencyKeyLen), "领取-" + strings.Repeat("客", 60)} {
			first, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: alice.ID, CustomerID: cs[i].ID, IdempotencyKey: key})
			require.NoError(t, err)
			again, err := e.svc.Claim(e.ctx, pool.ClaimRequest{Actor: alice.ID, CustomerID: cs[i].ID, IdempotencyKey: key})
			require.NoError(t, err)
			require.True(t, again.Replayed)
			require.Equal(t, first.Entry.ID, again.Entry.ID)
		}
	})
}
