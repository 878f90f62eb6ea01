package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// runKind runs the checks every record type shares.
func runKind[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF]) {
	test(t, h, "CreateThenGetRoundTripsEveryField", func(t *testing.T, e *env) {
		v := k.full(e, e.ctx)
		want := k.stored(v)
		k.create(t, e.ctx, e.store, v)
		m := k.meta(want)
		m.Version, m.CreatedAt, m.UpdatedAt = 1, e.now(), e.now()
		requireSame(t, want, k.get(t, e.ctx, e.store, m.ID))
	})
	test(t, h, "CreateThenGetRoundTripsAMinimalRecord", func(t *testing.T, e *env) {
		v := k.minimal(e, e.ctx)
		k.create(t, e.ctx, e.store, v)
		requireSame(t, k.stored(v), k.get(t, e.ctx, e.store, k.meta(v).ID))
	})
	test(t, h, "CreateSetsVersionAndTimesAndWritesThemBack", func(t *testing.T, e *env) {
		v := k.full(e, e.ctx)
		m := k.meta(v)
		m.Version = 0
		k.create(t, e.ctx, e.store, v)
		require.EqualValues(t, 1, m.Version)
		requireSame(t, e.now(), m.CreatedAt, "CreatedAt written back")
		requireSame(t, e.now(), m.UpdatedAt, "UpdatedAt written back")
		require.Empty(t, m.TenantID, "the default tenant is empty")
	})
	test(t, h, "CreateAndUpdateRefuseANilRecord", func(t *testing.T, e *env) {
		requireInvalid(t, k.repo(e.store).Create(e.ctx, nil), "record")
		requireInvalid(t, k.repo(e.store).Update(e.ctx, nil), "record")
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			requireInvalid(t, k.repo(tx).Create(ctx, nil), "record")
			return k.repo(tx).Update(ctx, nil)
		})
		requireInvalid(t, err, "record")
	})
	test(t, h, "CreateRefusesADuplicateID", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		want := k.stored(v)
		dup := k.minimal(e, e.ctx)
		k.meta(dup).ID = k.meta(v).ID
		require.ErrorIs(t, k.repo(e.store).Create(e.ctx, dup), crm.ErrAlreadyExists)
		requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(v).ID))
	})
	test(t, h, "CreateDoesNotKeepTheCallersMemory", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		want := k.stored(v)
		k.scribble(v)
		requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(v).ID))
	})
	test(t, h, "GetReturnsACopyTheCallerOwns", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		want := k.stored(v)
		k.scribble(k.get(t, e.ctx, e.store, k.meta(v).ID))
		requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(v).ID))
		page, err := k.repo(e.store).List(e.ctx, *new(F), crm.PageRequest{})
		require.NoError(t, err)
		require.NotEmpty(t, page.Items)
		for _, item := range page.Items {
			if k.meta(item).ID == k.meta(v).ID {
				k.scribble(item)
			}
		}
		requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(v).ID))
	})
	test(t, h, "GetReturnsErrNotFoundForAMissingRecord", func(t *testing.T, e *env) {
		_, err := k.repo(e.store).Get(e.ctx, e.ids.NewID())
		require.ErrorIs(t, err, crm.ErrNotFound)
	})
	invalid := slices.Concat(commonInvalid(k.meta, k.fields), k.invalid)
	// The invalid cases share one store per test: a refused write leaves
	// nothing behind, so later cases see the same state as the first.
	test(t, h, "CreateRefusesInvalidRecords", func(t *testing.T, e *env) {
		for _, c := range invalid {
			t.Run(c.name, func(t *testing.T) {
				v := k.full(e, e.ctx)
				c.edit(v)
				id := k.meta(v).ID
				requireInvalid(t, k.repo(e.store).Create(e.ctx, v), c.field)
				if id != crm.NilID {
					k.requireMissing(t, e.ctx, e.store, id)
				}
			})
		}
		// Only the parents that full departments refer to may be stored.
		for _, item := range listAll[T, F, PT](t, e.ctx, k.repo(e.store), *new(F), 0) {
			require.Equal(t, "department", k.name, "a refused record was stored: %v", k.meta(item).ID)
		}
	})
	test(t, h, "UpdateRefusesInvalidRecords", func(t *testing.T, e *env) {
		for _, c := range invalid {
			if c.field == "id" {
				continue // the record would not be found
			}
			t.Run(c.name, func(t *testing.T) {
				v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
				want := k.stored(v)
				c.edit(v)
				requireInvalid(t, k.repo(e.store).Update(e.ctx, v), c.field)
				requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(want).ID))
			})
		}
	})
	test(t, h, "UpdateIncrementsVersionKeepsCreatedAtAndMovesUpdatedAt", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		created := k.meta(v).CreatedAt
		k.change(e, e.ctx, v)
		later := e.tick()
		require.NoError(t, k.repo(e.store).Update(e.ctx, v))
		m := k.meta(v)
		require.EqualValues(t, 2, m.Version, "Version written back")
		requireSame(t, created, m.CreatedAt, "CreatedAt written back")
		requireSame(t, later, m.UpdatedAt, "UpdatedAt written back")
		requireSame(t, k.stored(v), k.get(t, e.ctx, e.store, m.ID))

		again := e.tick()
		require.NoError(t, k.repo(e.store).Update(e.ctx, v))
		require.EqualValues(t, 3, m.Version)
		requireSame(t, again, k.meta(k.get(t, e.ctx, e.store, m.ID)).UpdatedAt)
	})
	test(t, h, "UpdateFromFullToMinimalClearsOptionalFields", func(t *testing.T, e *env) {
		full := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		min := k.minimal(e, e.ctx)
		m := k.meta(min)
		m.ID, m.Version = k.meta(full).ID, k.meta(full).Version
		require.NoError(t, k.repo(e.store).Update(e.ctx, min))
		requireSame(t, k.stored(min), k.get(t, e.ctx, e.store, m.ID))

		back := k.full(e, e.ctx)
		bm := k.meta(back)
		bm.ID, bm.Version = m.ID, m.Version
		require.NoError(t, k.repo(e.store).Update(e.ctx, back))
		requireSame(t, k.stored(back), k.get(t, e.ctx, e.store, m.ID))
	})
	test(t, h, "UpdateDoesNotKeepTheCallersMemory", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.minimal(e, e.ctx))
		full := k.full(e, e.ctx)
		fm := k.meta(full)
		fm.ID, fm.Version = k.meta(v).ID, k.meta(v).Version
		require.NoError(t, k.repo(e.store).Update(e.ctx, full))
		want := k.stored(full)
		k.scribble(full)
		requireSame(t, want, k.get(t, e.ctx, e.store, fm.ID))
	})
	test(t, h, "UpdateReturnsErrConflictOnStaleVersion", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		stale := PT(v).Clone()
		k.change(e, e.ctx, v)
		require.NoError(t, k.repo(e.store).Update(e.ctx, v))
		want := k.stored(v)
		for _, version := range []int64{1, 0, 3, 99} {
			k.meta(stale).Version = version
			require.ErrorIs(t, k.repo(e.store).Update(e.ctx, stale), crm.ErrConflict, "version %d", version)
			requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(v).ID))
		}
	})
	test(t, h, "UpdateReturnsErrNotFoundForAMissingRecord", func(t *testing.T, e *env) {
		v := k.full(e, e.ctx)
		k.meta(v).Version = 1
		require.ErrorIs(t, k.repo(e.store).Update(e.ctx, v), crm.ErrNotFound)
		k.requireMissing(t, e.ctx, e.store, k.meta(v).ID)
	})
	test(t, h, "DeleteRemovesTheRecord", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		other := k.create(t, e.ctx, e.store, k.minimal(e, e.ctx))
		require.NoError(t, k.repo(e.store).Delete(e.ctx, k.meta(v).ID, 1))
		k.requireMissing(t, e.ctx, e.store, k.meta(v).ID)
		require.ErrorIs(t, k.repo(e.store).Delete(e.ctx, k.meta(v).ID, 1), crm.ErrNotFound)
		require.ErrorIs(t, k.repo(e.store).Update(e.ctx, v), crm.ErrNotFound)
		requireSame(t, k.stored(other), k.get(t, e.ctx, e.store, k.meta(other).ID))
		for _, item := range listAll[T, F, PT](t, e.ctx, k.repo(e.store), *new(F), 0) {
			require.NotEqual(t, k.meta(v).ID, k.meta(item).ID, "deleted record still listed")
		}
	})
	test(t, h, "DeleteReturnsErrConflictOnStaleVersion", func(t *testing.T, e *env) {
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		require.NoError(t, k.repo(e.store).Update(e.ctx, v))
		want := k.stored(v)
		for _, version := range []int64{1, 0, 3} {
			require.ErrorIs(t, k.repo(e.store).Delete(e.ctx, k.meta(v).ID, version), crm.ErrConflict, "version %d", version)
		}
		requireSame(t, want, k.get(t, e.ctx, e.store, k.meta(v).ID))
	})
	test(t, h, "DeleteReturnsErrNotFoundForAMissingRecord", func(t *testing.T, e *env) {
		require.ErrorIs(t, k.repo(e.store).Delete(e.ctx, e.ids.NewID(), 1), crm.ErrNotFound)
	})
	runTenancy(t, h, k)
	runCancelled(t, h, k)
	runKindList(t, h, k)
	runKindTx(t, h, k)
}

func runTenancy[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF]) {
	test(t, h, "CreateTakesTheTenantFromTheContext", func(t *testing.T, e *env) {
		v := k.create(t, e.ctxA, e.store, k.full(e, e.ctxA))
		require.Equal(t, "a", k.meta(v).TenantID, "TenantID written back")
		got := k.get(t, e.ctxA, e.store, k.meta(v).ID)
		require.Equal(t, "a", PT(got).GetMeta().TenantID)
		requireSame(t, k.stored(v), got)
	})
	test(t, h, "HidesRecordsFromOtherTenants", func(t *testing.T, e *env) {
		v := k.create(t, e.ctxA, e.store, k.full(e, e.ctxA))
		want := k.stored(v)
		id := k.meta(v).ID
		for name, ctx := range map[string]context.Context{"b": e.ctxB, "default": e.ctx} {
			_, err := k.repo(e.store).Get(ctx, id)
			require.ErrorIs(t, err, crm.ErrNotFound, "get from tenant %s", name)
			for _, item := range listAll[T, F, PT](t, ctx, k.repo(e.store), *new(F), 0) {
				require.NotEqual(t, id, k.meta(item).ID, "listed in tenant %s", name)
			}
			foreign := PT(v).Clone()
			k.meta(foreign).TenantID = ""
			require.ErrorIs(t, k.repo(e.store).Update(ctx, foreign), crm.ErrNotFound, "update from tenant %s", name)
			require.ErrorIs(t, k.repo(e.store).Delete(ctx, id, 1), crm.ErrNotFound, "delete from tenant %s", name)
			// A value still naming tenant "a" must not get through either.
			err = k.repo(e.store).Update(ctx, PT(v).Clone())
			require.True(t, errors.Is(err, crm.ErrNotFound) || errors.Is(err, crm.ErrInvalidArgument),
				"update of a tenant-a value from tenant %s: want not found or invalid, got %v", name, err)
		}
		requireSame(t, want, k.get(t, e.ctxA, e.store, id))
	})
	test(t, h, "CreateRefusesARecordOfAnotherTenant", func(t *testing.T, e *env) {
		v := k.full(e, e.ctxB)
		k.meta(v).TenantID = "a"
		requireInvalid(t, k.repo(e.store).Create(e.ctxB, v), "tenant_id")
		k.requireMissing(t, e.ctxA, e.store, k.meta(v).ID)
		k.requireMissing(t, e.ctxB, e.store, k.meta(v).ID)
	})
	test(t, h, "CreateRefusesAnOverlongTenant", func(t *testing.T, e *env) {
		ctx := crm.WithTenant(e.ctx, string(make([]byte, 65)))
		v := k.minimal(e, ctx)
		err := k.repo(e.store).Create(ctx, v)
		requireInvalid(t, err, "tenant_id")
	})
}

// runCancelled checks that every method refuses a context that is already
// done, with an error matching context.Canceled, and writes nothing.
func runCancelled[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF]) {
	test(t, h, "MethodsReturnContextCanceledAndWriteNothing", func(t *testing.T, e *env) {
		done := cancelled(e.ctx)
		repo := k.repo(e.store)
		v := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		want := k.stored(v)
		id := k.meta(v).ID

		_, err := repo.Get(done, id)
		require.ErrorIs(t, err, context.Canceled, "get")
		fresh := k.full(e, e.ctx)
		require.ErrorIs(t, repo.Create(done, fresh), context.Canceled, "create")
		k.requireMissing(t, e.ctx, e.store, k.meta(fresh).ID)
		changed := PT(v).Clone()
		k.change(e, e.ctx, changed)
		require.ErrorIs(t, repo.Update(done, changed), context.Canceled, "update")
		require.ErrorIs(t, repo.Delete(done, id, 1), context.Canceled, "delete")
		_, err = repo.List(done, *new(F), crm.PageRequest{})
		require.ErrorIs(t, err, context.Canceled, "list")
		requireSame(t, want, k.get(t, e.ctx, e.store, id))
	})
}
