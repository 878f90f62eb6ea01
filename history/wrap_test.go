package history_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/history"
)

// fieldsOf reads a record's history, oldest first, as "operation field".
func (f *fixture) fieldsOf(t *testing.T, ref crm.Ref) []string {
	t.Helper()
	p, err := history.NewReader(nil).ForRecord(context.Background(), f.store, alice, ref, crm.PageRequest{Limit: 100})
	require.NoError(t, err)
	var out []string
	for i := len(p.Items) - 1; i >= 0; i-- {
		out = append(out, p.Items[i].Operation+" "+p.Items[i].Field)
	}
	return out
}

// Every write through a wrapped unit of work is recorded, with the actor
// and operation of its context; an update records against the version
// the unit of work read, and reads it first when it read none.
func TestWrapRecordsEveryWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := crm.WithActor(context.Background(), bob, "")
	c := &crm.Customer{Meta: crm.Meta{ID: f.ids.NewID()}, Name: "Huateng", Level: "B", OwnerID: bob}
	ref := crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
	require.NoError(t, f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		tx = f.rec.Wrap(tx)
		if err := tx.Customers().Create(ctx, c); err != nil {
			return err
		}
		got, err := tx.Customers().Get(ctx, c.ID)
		if err != nil {
			return err
		}
		got.Level = "A"
		return tx.Customers().Update(ctx, got)
	}))
	require.Equal(t, []string{"create kind", "create level", "create name", "create status", "update level"}, f.fieldsOf(t, ref),
		"the defaults the store filled in are recorded; the owner is the pool ledger's")

	// An update of a version this unit of work never read reads it first.
	stale, err := f.store.Customers().Get(context.Background(), c.ID)
	require.NoError(t, err)
	stale.Phone = "+8613800138000"
	merge := crm.WithActor(context.Background(), alice, "merge")
	require.NoError(t, f.store.InTx(merge, func(ctx context.Context, tx crm.Tx) error {
		return f.rec.Wrap(tx).Customers().Update(ctx, stale)
	}))
	p, err := history.NewReader(nil).ForRecord(context.Background(), f.store, alice, ref, crm.PageRequest{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, "phone", p.Items[0].Field)
	require.Equal(t, "merge", p.Items[0].Operation)
	require.Equal(t, alice, p.Items[0].ActorID)

	// A failed write records nothing, and a rolled-back unit of work keeps
	// nothing.
	err = f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		old := c.Clone() // version 1: stale
		old.Name = "Other"
		return f.rec.Wrap(tx).Customers().Update(ctx, old)
	})
	require.ErrorIs(t, err, crm.ErrConflict)
	require.NoError(t, f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return f.rec.Wrap(tx).Customers().Delete(ctx, c.ID, 3)
	}))
	require.Equal(t, []string{"create kind", "create level", "create name", "create status", "update level", "merge phone",
		"delete kind", "delete level", "delete name", "delete phone", "delete status"}, f.fieldsOf(t, ref))

	events, err := f.store.Outbox().Pending(context.Background(), 10)
	require.NoError(t, err)
	var types []crm.EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	require.Equal(t, []crm.EventType{"customer.created", "customer.updated", "customer.updated", "customer.deleted"}, types)
}

// Ports of the wrapped unit of work stay reachable through crm.As.
func TestWrapKeepsThePortsOfTheUnitOfWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		w := f.rec.Wrap(tx)
		_, ok := crm.As[crm.HistoryTx](w)
		require.True(t, ok)
		return nil
	}))
}

func TestWrapRefusesANilRecordWithoutPanicking(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	err := f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		return f.rec.Wrap(tx).Customers().Update(ctx, nil)
	})
	require.Error(t, err)
}
