package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// runPoolTenancy checks that a pool ID held by another tenant reveals
// nothing: creating a pool with it is refused as an invalid ID, not as
// "already exists", and the other tenant's pool stays as it was.
func runPoolTenancy(t *testing.T, h Harness) {
	test(t, h, "APoolIDOfAnotherTenantIsRefusedWithoutRevealingIt", func(t *testing.T, e *env) {
		create := func(ctx context.Context, p *pool.Pool) error {
			return e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				pt, ok := tx.(pool.Tx)
				if !ok {
					t.Fatalf("storetest: %T does not implement pool.Tx", tx)
				}
				return pt.Pools().Create(ctx, p)
			})
		}
		id := e.ids.NewID()
		theirs := &pool.Pool{ID: id, Name: "Tenant A's pool", Members: pool.Members{All: true}}
		require.NoError(t, create(e.ctxA, theirs))

		err := create(e.ctxB, &pool.Pool{ID: id, Name: "Tenant B's pool", Members: pool.Members{All: true}})
		requireInvalid(t, err, "id")
		require.NotErrorIs(t, err, crm.ErrAlreadyExists)
		require.NotContains(t, err.Error(), `"a"`)

		err = create(e.ctxA, &pool.Pool{ID: id, Name: "Again", Members: pool.Members{All: true}})
		require.ErrorIs(t, err, crm.ErrAlreadyExists, "a repeated ID in the same tenant")
		err = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			got, err := tx.(pool.Tx).Pools().Get(ctx, id)
			if err == nil {
				require.Equal(t, "Tenant A's pool", got.Name)
			}
			return err
		})
		require.NoError(t, err)
	})
}
