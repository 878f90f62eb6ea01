package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// newEvent returns a valid event with every field set and a time that must
// come back as UTC microseconds.
func newEvent(e *env, typ crm.EventType) *crm.Event {
	e.rawEvents = true
	return &crm.Event{
		ID: e.ids.NewID(), Type: typ, Subject: crm.Ref{Type: crm.TypeCustomer, ID: e.ids.NewID()},
		ActorID: e.ids.NewID(), OccurredAt: nanoTime(12, 345678912),
		Payload: json.RawMessage(`{ "level": "A", "amount": "1234.5678", "tags": ["展会", "hot"], "nested": {"n": 1} }`),
	}
}

// storedEvent is what Pending must return for e after Append wrote Seq and
// TenantID back.
func storedEvent(e *crm.Event) crm.Event {
	c := *e
	c.OccurredAt = crm.StorageTime(c.OccurredAt)
	return c
}

func appendInTx(t *testing.T, e *env, ctx context.Context, events ...*crm.Event) {
	t.Helper()
	err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return tx.Events().Append(ctx, events...)
	})
	require.NoError(t, err)
}

func pendingAll(t *testing.T, e *env) []crm.Event {
	t.Helper()
	pending, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	return pending
}

func runOutbox(t *testing.T, h Harness) {
	test(t, h, "AppendAssignsIncreasingSeqAndTheContextTenant", func(t *testing.T, e *env) {
		first := []*crm.Event{newEvent(e, "customer.created"), newEvent(e, "customer.updated")}
		appendInTx(t, e, e.ctxA, first...)
		second := newEvent(e, "lead.converted")
		appendInTx(t, e, e.ctxB, second)
		third := newEvent(e, "ticket.created")
		require.NoError(t, e.store.Events().Append(e.ctx, third), "autocommit append")

		all := append(first, second, third)
		for i, ev := range all {
			require.Positive(t, ev.Seq, "Seq written back into event %d", i)
			if i > 0 {
				require.Greater(t, ev.Seq, all[i-1].Seq, "Seq increases")
			}
		}
		require.Equal(t, "a", first[0].TenantID, "TenantID written back")
		require.Equal(t, "b", second.TenantID)
		require.Empty(t, third.TenantID)

		pending := pendingAll(t, e)
		require.Len(t, pending, len(all))
		for i, ev := range all {
			requireSame(t, storedEvent(ev), pending[i], "event %d", i)
		}
	})
	test(t, h, "PendingReturnsLowestSeqFirstAcrossTenantsUpToLimit", func(t *testing.T, e *env) {
		var all []*crm.Event
		for i := range 7 {
			ctx := e.ctxA
			if i%2 == 1 {
				ctx = e.ctxB
			}
			ev := newEvent(e, "customer.updated")
			appendInTx(t, e, ctx, ev)
			all = append(all, ev)
		}
		// Pending spans tenants, whichever tenant the relay's context names.
		for _, ctx := range []context.Context{e.ctx, e.ctxA, e.ctxB} {
			pending, err := e.store.Outbox().Pending(ctx, 3)
			require.NoError(t, err)
			require.Len(t, pending, 3)
			for i := range pending {
				require.Equal(t, all[i].ID, pending[i].ID)
			}
		}
	})
	test(t, h, "AckHidesEventsAndIgnoresUnknownIDs", func(t *testing.T, e *env) {
		var all []*crm.Event
		for range 5 {
			ev := newEvent(e, "customer.updated")
			appendInTx(t, e, e.ctxA, ev)
			all = append(all, ev)
		}
		require.NoError(t, e.store.Outbox().Ack(e.ctx, all[0].ID, all[2].ID, e.ids.NewID()))
		require.NoError(t, e.store.Outbox().Ack(e.ctx, all[0].ID), "acking twice is fine")
		require.NoError(t, e.store.Outbox().Ack(e.ctx), "acking nothing is fine")
		pending := pendingAll(t, e)
		require.Equal(t, []crm.ID{all[1].ID, all[3].ID, all[4].ID}, eventIDs(pending))

		require.NoError(t, e.store.Outbox().Ack(e.ctxB, all[1].ID, all[3].ID, all[4].ID), "ack spans tenants")
		require.Empty(t, pendingAll(t, e))
	})
	test(t, h, "EventsOfFailedUnitsOfWorkNeverAppear", func(t *testing.T, e *env) {
		kept := newEvent(e, "customer.created")
		appendInTx(t, e, e.ctxA, kept)
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Events().Append(ctx, newEvent(e, "customer.updated")); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		later := newEvent(e, "customer.updated")
		appendInTx(t, e, e.ctxA, later)
		require.Equal(t, []crm.ID{kept.ID, later.ID}, eventIDs(pendingAll(t, e)))
	})
	test(t, h, "AppendRefusesInvalidEventsAndWritesNone", func(t *testing.T, e *env) {
		for _, c := range []struct {
			name  string
			field string
			edit  func(*crm.Event)
		}{
			{"MissingID", "id", func(ev *crm.Event) { ev.ID = crm.NilID }},
			{"BadType", "type", func(ev *crm.Event) { ev.Type = "Customer Created" }},
			{"MissingSubject", "subject.id", func(ev *crm.Event) { ev.Subject.ID = crm.NilID }},
			{"MissingTime", "occurred_at", func(ev *crm.Event) { ev.OccurredAt = time.Time{} }},
			{"PayloadNotJSON", "payload", func(ev *crm.Event) { ev.Payload = json.RawMessage(`{"a":`) }},
			{"OtherTenant", "tenant_id", func(ev *crm.Event) { ev.TenantID = "b" }},
		} {
			t.Run(c.name, func(t *testing.T) {
				good, bad := newEvent(e, "customer.created"), newEvent(e, "customer.created")
				c.edit(bad)
				requireInvalid(t, e.store.Events().Append(e.ctxA, good, bad), c.field)
				err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
					return tx.Events().Append(ctx, newEvent(e, "customer.created"), bad)
				})
				requireInvalid(t, err, c.field)
				require.Empty(t, pendingAll(t, e))
			})
		}
	})
	test(t, h, "AppendRefusesARepeatedEventID", func(t *testing.T, e *env) {
		ev := newEvent(e, "customer.created")
		appendInTx(t, e, e.ctxA, ev)
		again := newEvent(e, "customer.updated")
		again.ID = ev.ID
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			return tx.Events().Append(ctx, again)
		})
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		require.Equal(t, []crm.ID{ev.ID}, eventIDs(pendingAll(t, e)))
	})
	test(t, h, "MethodsReturnContextCanceledAndWriteNothing", func(t *testing.T, e *env) {
		ev := newEvent(e, "customer.created")
		appendInTx(t, e, e.ctx, ev)
		done := cancelled(e.ctx)
		require.ErrorIs(t, e.store.Events().Append(done, newEvent(e, "customer.updated")), context.Canceled)
		_, err := e.store.Outbox().Pending(done, 10)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, e.store.Outbox().Ack(done, ev.ID), context.Canceled)
		require.Equal(t, []crm.ID{ev.ID}, eventIDs(pendingAll(t, e)), "nothing appended or acknowledged")
	})
}

func eventIDs(events []crm.Event) []crm.ID {
	out := make([]crm.ID, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}
