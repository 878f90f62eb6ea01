package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

var errRollback = errors.New("storetest: roll back")

// runKindTx checks that the type's repository takes part in units of work.
func runKindTx[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF]) {
	test(t, h, "ReadsInsideAUnitOfWorkSeeItsOwnWrites", func(t *testing.T, e *env) {
		// Records are built before InTx: building a department stores its
		// parent, which must not happen inside the unit of work.
		v := k.full(e, e.ctxA)
		changed := PT(v).Clone()
		k.change(e, e.ctxA, changed)
		var id crm.ID
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			repo := k.repo(tx)
			v := PT(v).Clone()
			if err := repo.Create(ctx, v); err != nil {
				return err
			}
			id = k.meta(v).ID
			got, err := repo.Get(ctx, id)
			if err != nil {
				return fmt.Errorf("get after create: %w", err)
			}
			if d := Diff(k.stored(v), got); d != nil {
				return fmt.Errorf("get after create differs: %v", d)
			}
			page, err := repo.List(ctx, *new(F), crm.PageRequest{Limit: crm.MaxPageLimit})
			if err != nil {
				return err
			}
			if !containsID[T, PT](page.Items, id) {
				return errors.New("list inside the unit of work misses the new record")
			}
			v = PT(changed).Clone()
			k.meta(v).Version = 1
			if err := repo.Update(ctx, v); err != nil {
				return err
			}
			if got, err = repo.Get(ctx, id); err != nil {
				return err
			}
			if PT(got).GetMeta().Version != 2 {
				return fmt.Errorf("version after update inside the unit of work is %d, want 2", PT(got).GetMeta().Version)
			}
			if d := Diff(k.stored(v), got); d != nil {
				return fmt.Errorf("get after update differs: %v", d)
			}
			return nil
		})
		require.NoError(t, err)
		require.EqualValues(t, 2, k.meta(k.get(t, e.ctxA, e.store, id)).Version)
	})
	test(t, h, "UnitOfWorkRollsBackCreateUpdateAndDelete", func(t *testing.T, e *env) {
		kept := k.create(t, e.ctx, e.store, k.full(e, e.ctx))
		doomed := k.create(t, e.ctx, e.store, k.minimal(e, e.ctx))
		wantKept, wantDoomed := k.stored(kept), k.stored(doomed)
		fresh := k.full(e, e.ctx)
		changed := PT(kept).Clone()
		k.change(e, e.ctx, changed)
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			repo := k.repo(tx)
			if err := repo.Create(ctx, PT(fresh).Clone()); err != nil {
				return err
			}
			if err := repo.Update(ctx, PT(changed).Clone()); err != nil {
				return err
			}
			if err := repo.Delete(ctx, k.meta(doomed).ID, k.meta(doomed).Version); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		k.requireMissing(t, e.ctx, e.store, k.meta(fresh).ID)
		requireSame(t, wantKept, k.get(t, e.ctx, e.store, k.meta(kept).ID))
		requireSame(t, wantDoomed, k.get(t, e.ctx, e.store, k.meta(doomed).ID))
		// The rolled-back writes leave no trace: the same changes succeed now.
		require.NoError(t, k.repo(e.store).Create(e.ctx, fresh))
		require.NoError(t, k.repo(e.store).Delete(e.ctx, k.meta(doomed).ID, 1))
	})
}

func containsID[T any, PT record[T]](items []*T, id crm.ID) bool {
	for _, v := range items {
		if PT(v).GetMeta().ID == id {
			return true
		}
	}
	return false
}

// runUnitOfWork checks InTx across record types and the outbox.
func runUnitOfWork(t *testing.T, h Harness) {
	lk, ck := leadKind(), customerKind()
	// write stores a lead, a customer and an event through tx.
	write := func(e *env, ctx context.Context, tx crm.Tx) (lead *crm.Lead, cust *crm.Customer, ev *crm.Event, err error) {
		lead, cust, ev = lk.full(e, ctx), ck.full(e, ctx), newEvent(e, "customer.created")
		if err = tx.Leads().Create(ctx, lead); err != nil {
			return
		}
		if err = tx.Customers().Create(ctx, cust); err != nil {
			return
		}
		err = tx.Events().Append(ctx, ev)
		return
	}
	requireNothing := func(t *testing.T, e *env, ctx context.Context, lead *crm.Lead, cust *crm.Customer) {
		t.Helper()
		lk.requireMissing(t, ctx, e.store, lead.ID)
		ck.requireMissing(t, ctx, e.store, cust.ID)
		pending, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
		require.NoError(t, err)
		require.Empty(t, pending, "events of a failed unit of work were stored")
	}

	test(t, h, "CommitsEveryWriteWhenFnReturnsNil", func(t *testing.T, e *env) {
		var lead *crm.Lead
		var cust *crm.Customer
		var ev *crm.Event
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) (err error) {
			lead, cust, ev, err = write(e, ctx, tx)
			return err
		})
		require.NoError(t, err)
		requireSame(t, lk.stored(lead), lk.get(t, e.ctxA, e.store, lead.ID))
		requireSame(t, ck.stored(cust), ck.get(t, e.ctxA, e.store, cust.ID))
		pending, err := e.store.Outbox().Pending(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		require.Equal(t, ev.ID, pending[0].ID)
		require.Equal(t, "a", pending[0].TenantID)
	})
	test(t, h, "RollsBackEveryWriteAndReturnsTheErrorOfFn", func(t *testing.T, e *env) {
		var lead *crm.Lead
		var cust *crm.Customer
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			var err error
			if lead, cust, _, err = write(e, ctx, tx); err != nil {
				return err
			}
			return fmt.Errorf("host rule refused: %w", errRollback)
		})
		require.ErrorIs(t, err, errRollback)
		requireNothing(t, e, e.ctxA, lead, cust)
	})
	test(t, h, "RollsBackAndPanicsAgainWhenFnPanics", func(t *testing.T, e *env) {
		var lead *crm.Lead
		var cust *crm.Customer
		type boom struct{ msg string }
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			_ = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
				var err error
				if lead, cust, _, err = write(e, ctx, tx); err != nil {
					return err
				}
				panic(boom{"host code panicked"})
			})
		}()
		require.Equal(t, boom{"host code panicked"}, recovered, "InTx must re-panic with fn's value")
		requireNothing(t, e, e.ctxA, lead, cust)
		// The store is still usable: the panic released whatever InTx held.
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			return tx.Leads().Create(ctx, lk.minimal(e, ctx))
		})
		require.NoError(t, err)
	})
	test(t, h, "RollsBackWhenTheContextEndsBeforeCommit", func(t *testing.T, e *env) {
		var lead *crm.Lead
		var cust *crm.Customer
		ctx, cancel := context.WithCancel(e.ctxA)
		defer cancel()
		err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			var err error
			if lead, cust, _, err = write(e, ctx, tx); err != nil {
				return err
			}
			cancel()
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		requireNothing(t, e, e.ctxA, lead, cust)
	})
	test(t, h, "RefusesToStartWithACancelledContext", func(t *testing.T, e *env) {
		lead := lk.full(e, e.ctx)
		err := e.store.InTx(cancelled(e.ctx), func(ctx context.Context, tx crm.Tx) error {
			return tx.Leads().Create(ctx, lk.stored(lead))
		})
		require.ErrorIs(t, err, context.Canceled)
		lk.requireMissing(t, e.ctx, e.store, lead.ID)
	})
	test(t, h, "RefusesANestedUnitOfWork", func(t *testing.T, e *env) {
		lead := lk.full(e, e.ctx)
		var nested error
		called := false
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Leads().Create(ctx, lk.stored(lead)); err != nil {
				return err
			}
			nested = e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				called = true
				return nil
			})
			return nil
		})
		require.NoError(t, err)
		require.ErrorIs(t, nested, crm.ErrFailedPrecondition)
		require.False(t, called, "the nested fn must not run")
		lk.get(t, e.ctx, e.store, lead.ID)
	})
	test(t, h, "ReadsInsideAUnitOfWorkSeeWritesOfEveryType", func(t *testing.T, e *env) {
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			lead, cust, _, err := write(e, ctx, tx)
			if err != nil {
				return err
			}
			if _, err := tx.Leads().Get(ctx, lead.ID); err != nil {
				return err
			}
			page, err := tx.Customers().List(ctx, crm.CustomerFilter{Levels: []string{cust.Level}}, crm.PageRequest{})
			if err != nil {
				return err
			}
			if len(page.Items) != 1 || page.Items[0].ID != cust.ID {
				return fmt.Errorf("list inside the unit of work returned %d customers", len(page.Items))
			}
			if err := tx.Customers().Delete(ctx, cust.ID, 1); err != nil {
				return err
			}
			if _, err := tx.Customers().Get(ctx, cust.ID); !errors.Is(err, crm.ErrNotFound) {
				return fmt.Errorf("get after delete inside the unit of work: %v", err)
			}
			return nil
		})
		require.NoError(t, err)
	})
}
