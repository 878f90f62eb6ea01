package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/store/memstore"
)

func TestMoveTxCommitsOrRollsBackWithTheCallersUnitOfWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := pipeline.New(store, &pipeline.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	seller := ids.NewID()
	deal := crmtest.Opportunity(ids, ids.NewID())
	require.NoError(t, svc.Start(ctx, deal, seller))

	errLater := errors.New("a later write failed")
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		o, err := svc.MoveTx(ctx, tx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal, Actor: seller})
		require.NoError(t, err)
		require.Equal(t, crm.StageProposal, o.Stage)
		hist, err := svc.HistoryTx(ctx, tx, deal.ID)
		require.NoError(t, err)
		require.Len(t, hist, 2, "the caller's unit of work sees its own move")
		return errLater
	})
	require.ErrorIs(t, err, errLater)
	hist, err := svc.History(ctx, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1, "the move rolled back")
	got, err := store.Opportunities().Get(ctx, deal.ID)
	require.NoError(t, err)
	require.Equal(t, crm.StageQualification, got.Stage)

	require.NoError(t, store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := svc.MoveTx(ctx, tx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal, Actor: seller})
		return err
	}))
	hist, err = svc.History(ctx, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, seller, hist[1].EnteredBy)

	_, err = svc.History(ctx, ids.NewID())
	require.ErrorIs(t, err, crm.ErrNotFound)
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := svc.MoveTx(ctx, tx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal})
		return err
	})
	require.Equal(t, []string{"to"}, fields(t, err), "the deal is already there")
}
