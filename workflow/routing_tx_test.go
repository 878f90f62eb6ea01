package workflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func TestRouteTxStoresTheDecisionWithItsEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := router(t, teamRules("round_robin"), roster(t, 2))
	store := memstore.New(&memstore.Config{Clock: crmtest.NewClock(monday10)})
	ids := crmtest.NewIDs()
	routeTx := func(region string, record crm.ID) (workflow.Decision, error) {
		var d workflow.Decision
		err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			d, err = r.RouteTx(ctx, w, ids, record, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: region}), Now: monday10})
			return err
		})
		return d, err
	}

	first, second := uid(900), uid(901)
	d, err := routeTx("cn-east", first)
	require.NoError(t, err)
	require.Equal(t, uid(1), d.UserID)
	d, err = routeTx("us-west", second)
	require.NoError(t, err)
	require.Equal(t, "unassigned", d.Queue)

	events, err := store.Outbox().Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, events, 2, "a queue decision is a change of the record too")
	require.Equal(t, workflow.EventLeadRouted, events[0].Type)
	require.Equal(t, crm.Ref{Type: crm.TypeLead, ID: first}, events[0].Subject)
	require.Equal(t, monday10, events[0].OccurredAt.UTC())
	require.JSONEq(t, `{"rule_set":"leads","rule":"east","user_id":"`+uid(1).String()+`"}`, string(events[0].Payload))
	require.JSONEq(t, `{"rule_set":"leads","queue":"unassigned","fallback":true}`, string(events[1].Payload))

	t.Run("a unit of work that fails keeps neither the cursor nor the event", func(t *testing.T) {
		boom := errors.New("assignment failed")
		err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			if _, err := r.RouteTx(ctx, w, ids, uid(902), &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		events, err := store.Outbox().Pending(ctx, 10)
		require.NoError(t, err)
		require.Len(t, events, 2)
		d, err := routeTx("cn-east", uid(903))
		require.NoError(t, err)
		require.Equal(t, uid(2), d.UserID, "the rotation continues from the last committed decision")
	})
	t.Run("bad input is refused before anything is written", func(t *testing.T) {
		err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			req := &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10}
			_, err = r.RouteTx(ctx, w, ids, crm.NilID, req)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			_, err = r.RouteTx(ctx, w, nil, uid(904), req)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			_, err = r.RouteTx(ctx, nil, ids, uid(904), req)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			_, err = r.RouteTx(ctx, w, ids, uid(904), nil)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return nil
		})
		require.NoError(t, err)
		events, err := store.Outbox().Pending(ctx, 10)
		require.NoError(t, err)
		require.Len(t, events, 3)
	})
}

func TestRoutingEventRefusesAnIncompleteDecision(t *testing.T) {
	t.Parallel()
	r := router(t, teamRules("round_robin"), roster(t, 1))
	ids := crmtest.NewIDs()
	for name, d := range map[string]*workflow.Decision{
		"no decision":            nil,
		"neither user nor queue": {Rule: "east"},
		"both user and queue":    {UserID: uid(1), Queue: "unassigned"},
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			_, err := r.Event(ids, uid(900), d, monday10)
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "decision", ve.Field)
		})
	}
}
