package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func TestApprovalsInAUnitOfWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rep, manager := uid(1), uid(2)
	org, err := workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: rep}, Name: "Li Wei", Active: true},
		{Meta: crm.Meta{ID: manager}, Name: "Liu Yang", Roles: []string{"manager"}, Active: true},
	}, nil, nil)
	require.NoError(t, err)
	schema, err := cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	require.NoError(t, err)
	def, err := workflow.ParseDefinition(schema, org, []byte(`{"key": "discount", "version": 1, "record_type": "opportunity",
		"steps": [{"name": "manager", "approvers": [{"role": "manager"}]}]}`))
	require.NoError(t, err)
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	approvals, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: crmtest.NewIDs(), Clock: clock})
	require.NoError(t, err)
	store := memstore.New(&memstore.Config{Clock: clock})
	rec := schema.NewRecord()
	require.NoError(t, rec.SetNumber("discount_percent", decimal.NewFromInt(15)))
	opp := crm.Ref{Type: crm.TypeOpportunity, ID: uid(100)}
	inTx := func(fn func(ctx context.Context, w workflow.Tx) error) error {
		return store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			return fn(ctx, w)
		})
	}

	var in *workflow.Instance
	require.NoError(t, inTx(func(ctx context.Context, w workflow.Tx) error {
		in, err = approvals.SubmitTx(ctx, w, def, rec, opp, rep)
		return err
	}))
	require.Equal(t, int64(1), in.Version)
	t.Run("ALockedRecordRefusesASecondSubmission", func(t *testing.T) {
		err := inTx(func(ctx context.Context, w workflow.Tx) error {
			_, err := approvals.SubmitTx(ctx, w, def, rec, opp, rep)
			return err
		})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	})
	t.Run("SaveTxStoresTheChangeAndItsEvents", func(t *testing.T) {
		stale := in.Clone()
		events, err := approvals.Approve(in, manager, "fine")
		require.NoError(t, err)
		require.NoError(t, inTx(func(ctx context.Context, w workflow.Tx) error { return workflow.SaveTx(ctx, w, in, events) }))
		require.Equal(t, int64(2), in.Version)
		require.NoError(t, inTx(func(ctx context.Context, w workflow.Tx) error {
			return workflow.CheckUnlocked(ctx, w.ApprovalInstances(), opp)
		}), "an approved request unlocks the record")
		_, err = approvals.Recall(stale, rep, "")
		require.NoError(t, err)
		err = inTx(func(ctx context.Context, w workflow.Tx) error { return workflow.SaveTx(ctx, w, stale, nil) })
		require.ErrorIs(t, err, crm.ErrConflict, "a change from a stale read is refused")
		pending, err := store.Outbox().Pending(ctx, 10)
		require.NoError(t, err)
		types := make([]crm.EventType, len(pending))
		for i, e := range pending {
			types[i] = e.Type
		}
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, workflow.EventApprovalStepApproved, workflow.EventApprovalApproved}, types)
	})
	t.Run("WithoutWorkflowPortsTheHelpersAreRefused", func(t *testing.T) {
		_, err := workflow.TxOf(nil)
		require.ErrorIs(t, err, crm.ErrUnsupported)
		require.ErrorIs(t, workflow.SaveTx(ctx, nil, in, nil), crm.ErrInvalidArgument)
	})
}
