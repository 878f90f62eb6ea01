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

func TestStartTxCommitsOrRollsBackWithTheCallersUnitOfWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := pipeline.New(store, &pipeline.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	seller := ids.NewID()
	deal := crmtest.Opportunity(ids, ids.NewID(), func(o *crm.Opportunity) { o.Stage, o.Probability = "", 0 })

	errLater := errors.New("a later write failed")
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		require.NoError(t, svc.StartTx(ctx, tx, deal.Clone(), seller))
		hist, err := svc.HistoryTx(ctx, tx, deal.ID)
		require.NoError(t, err)
		require.Len(t, hist, 1, "the caller's unit of work sees its own start")
		return errLater
	})
	require.ErrorIs(t, err, errLater)
	_, err = store.Opportunities().Get(ctx, deal.ID)
	require.ErrorIs(t, err, crm.ErrNotFound, "the start rolled back")
	_, err = svc.History(ctx, deal.ID)
	require.ErrorIs(t, err, crm.ErrNotFound)

	require.NoError(t, store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return svc.StartTx(ctx, tx, deal, seller)
	}))
	require.Equal(t, crm.StageQualification, deal.Stage, "the deal is updated as stored")
	require.Equal(t, 10, deal.Probability)
	hist, err := svc.History(ctx, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, seller, hist[0].EnteredBy)
	require.True(t, hist[0].EnteredAt.Equal(deal.CreatedAt))
}

func TestPrepareDefaultsAndChecksTheFirstStageWritingNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	svc, err := pipeline.New(store, nil)
	require.NoError(t, err)
	cases := []struct {
		name   string
		edit   func(*crm.Opportunity)
		stage  crm.OpportunityStage
		prob   int
		fields []string
	}{
		{"AnEmptyStageIsTheFirstOpenStage", func(o *crm.Opportunity) { o.Stage, o.Probability = "", 0 }, crm.StageQualification, 10, nil},
		{"AGivenOpenStageAndProbabilityAreKept", func(o *crm.Opportunity) { o.Stage, o.Probability = crm.StageProposal, 35 }, crm.StageProposal, 35, nil},
		{"AZeroProbabilityIsTheStagesDefault", func(o *crm.Opportunity) { o.Stage, o.Probability = crm.StageProposal, 0 }, crm.StageProposal, 50, nil},
		{"AWonStageIsRefused", func(o *crm.Opportunity) { o.Stage = crm.StageWon }, "", 0, []string{"stage"}},
		{"AnUnknownStageIsRefused", func(o *crm.Opportunity) { o.Stage = "signed" }, "", 0, []string{"stage"}},
		{"AnUnknownPipelineIsRefused", func(o *crm.Opportunity) { o.Pipeline = "wholesale" }, "", 0, []string{"pipeline"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := crmtest.Opportunity(ids, ids.NewID(), tc.edit)
			err := svc.Prepare(ctx, o)
			if tc.fields != nil {
				require.Equal(t, tc.fields, fields(t, err))
				require.ErrorIs(t, svc.Start(ctx, o, crm.NilID), crm.ErrInvalidArgument, "Start refuses it too")
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.stage, o.Stage)
				require.Equal(t, tc.prob, o.Probability)
			}
			_, err = store.Opportunities().Get(ctx, o.ID)
			require.ErrorIs(t, err, crm.ErrNotFound, "Prepare writes nothing")
		})
	}
}
