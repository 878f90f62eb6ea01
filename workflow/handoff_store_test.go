package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func TestMoveTxRefusesBadInputNamingIt(t *testing.T) {
	t.Parallel()
	s := handoffSchema(t)
	m, err := workflow.ParseMachine(s, handoffTree(t), []byte(pipeline))
	require.NoError(t, err)
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	err = store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		require.NoError(t, err)
		mv := &workflow.Move{Record: s.NewRecord(), To: "sales_follow_up", Actor: ids.NewID(), ActorDepartment: marketing, At: at}
		for field, call := range map[string]func() error{
			"tx":        func() error { _, err := m.MoveTx(ctx, nil, ids, ids.NewID(), mv); return err },
			"record_id": func() error { _, err := m.MoveTx(ctx, w, ids, crm.NilID, mv); return err },
			"move":      func() error { _, err := m.MoveTx(ctx, w, ids, ids.NewID(), nil); return err },
		} {
			err := call()
			require.ErrorIs(t, err, crm.ErrInvalidArgument, field)
			require.Contains(t, err.Error(), field)
		}
		// The guard (score >= 60) refuses; nothing is stored.
		id := ids.NewID()
		_, err = m.MoveTx(ctx, w, ids, id, mv)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
		_, err = w.Handoffs().GetHandoff(ctx, "lead_to_service", crm.Ref{Type: crm.TypeLead, ID: id})
		require.ErrorIs(t, err, crm.ErrNotFound)
		return nil
	})
	require.NoError(t, err)
}

func TestHandoffStateCloneIsDeep(t *testing.T) {
	t.Parallel()
	st := &workflow.HandoffState{Machine: "m", Stage: "a", History: []workflow.Handoff{{From: "x", To: "a"}}}
	c := st.Clone()
	c.History[0].Note = "changed"
	require.Empty(t, st.History[0].Note)
}
