package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/pool"
)

// moveWorld is a crmWorld whose first rep owns a customer (claimed from
// the public pool, which recycles after 30 days without a follow-up
// unless an opportunity is open) and a deal of it, with a CRM (perms)
// under a policy that lets reps view, create and edit their own
// opportunities.
type moveWorld struct {
	*crmWorld
	perms *crmkit.CRM
	cust  crm.ID
	deal  *crm.Opportunity
}

func newMoveWorld(t *testing.T) *moveWorld {
	t.Helper()
	w := &moveWorld{crmWorld: newCRMWorld(t, nil)}
	w.pool.Recycle = []pool.RecycleRule{{ID: "v1", EffectiveFrom: w.clock.Now().Add(-time.Hour),
		Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 30}}, Exclude: pool.Exclusions{OpenOpportunity: true}}}
	require.NoError(t, w.crm.Pools.UpdatePool(w.ctx, w.pool))
	c := w.pooled("北京华腾科技有限公司", "010-8888 6666")
	w.cust = c.ID
	_, err := w.crm.Pools.Claim(w.ctx, pool.ClaimRequest{CustomerID: c.ID, Actor: w.reps[0].ID})
	require.NoError(t, err)
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "opportunity"}],
	  "roles": [{"name": "sales_rep", "rules": [{"record_type": "opportunity", "actions": ["view", "create", "edit"], "scope": "own"}]}]
	}`), w.departments(t), nil)
	require.NoError(t, err)
	w.perms, err = crmkit.New(w.store, &crmkit.Config{Clock: w.clock, IDs: w.ids, Permissions: policy})
	require.NoError(t, err)
	w.deal = crmtest.Opportunity(w.ids, c.ID, func(o *crm.Opportunity) {
		o.OwnerID, o.DepartmentID, o.Stage, o.Probability = w.reps[0].ID, w.sales.ID, "", 0
	})
	require.NoError(t, w.crm.Pipelines.Start(w.ctx, w.deal, w.reps[0].ID))
	_, err = w.crm.Pools.Recompute(w.ctx, c.ID)
	require.NoError(t, err)
	return w
}

func (w *moveWorld) departments(t *testing.T) []*crm.Department {
	t.Helper()
	got, err := w.store.Departments().List(w.ctx, crm.DepartmentFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return got.Items
}

// state returns the deal as stored, its stays and its customer's holding.
func (w *moveWorld) state(t *testing.T) (*crm.Opportunity, []pipeline.StageEntry, *pool.Holding) {
	t.Helper()
	o, err := w.store.Opportunities().Get(w.ctx, w.deal.ID)
	require.NoError(t, err)
	hist, err := w.crm.Pipelines.History(w.ctx, w.deal.ID)
	require.NoError(t, err)
	h, err := w.crm.Pools.Holding(w.ctx, w.cust)
	require.NoError(t, err)
	return o, hist, h
}

func TestCRMMoveOpportunityOnPostgres(t *testing.T) {
	t.Parallel()
	t.Run("ADeniedMoveWritesNothing", func(t *testing.T) {
		t.Parallel()
		w := newMoveWorld(t)
		before, hist, h := w.state(t)
		require.True(t, h.OpenOpportunity)
		_, err := w.perms.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: w.deal.ID, To: crm.StageWon, Actor: w.reps[1].ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		after, hist2, h2 := w.state(t)
		require.Equal(t, before.Version, after.Version)
		require.Equal(t, hist, hist2)
		require.Equal(t, h.Version, h2.Version)
	})
	t.Run("WinningTheDealRecomputesTheHoldingInTheSameTransaction", func(t *testing.T) {
		t.Parallel()
		w := newMoveWorld(t)
		_, _, h := w.state(t)
		require.True(t, h.DueAt.IsZero(), "the open deal protects the customer")
		res, err := w.perms.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: w.deal.ID, To: crm.StageWon, Actor: w.reps[0].ID})
		require.NoError(t, err)
		_, _, h = w.state(t)
		require.False(t, h.OpenOpportunity)
		require.False(t, h.DueAt.IsZero(), "a won deal no longer protects it")
		require.Equal(t, h.DueAt, res.Holding.DueAt)
	})
	t.Run("SixteenConcurrentMovesKeepOneChainOfStays", func(t *testing.T) {
		t.Parallel()
		w := newMoveWorld(t)
		stages := []pipeline.MoveRequest{{To: crm.StageNeedsAnalysis}, {To: crm.StageProposal}, {To: crm.StageWon},
			{To: crm.StageNegotiation}, {To: crm.StageLost, LostReason: "price"}, {To: crm.StageQualification}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		moved, conflicts := 0, 0
		for i := range 16 {
			wg.Go(func() {
				req := stages[i%len(stages)]
				req.OpportunityID, req.Actor = w.deal.ID, w.reps[0].ID
				_, err := w.perms.MoveOpportunity(w.ctx, req)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					moved++
				case errors.Is(err, crm.ErrConflict):
					conflicts++
				case !errors.Is(err, crm.ErrInvalidArgument): // already in the stage
					t.Errorf("move %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		t.Logf("%d moves committed, %d lost to a conflict", moved, conflicts)
		require.Positive(t, moved)
		o, hist, h := w.state(t)
		require.Len(t, hist, 1+moved, "one stay per committed move (%d lost to a conflict)", conflicts)
		open := 0
		for i, e := range hist {
			require.Equal(t, i+1, e.Seq)
			if e.LeftAt == nil {
				open++
				continue
			}
			require.Less(t, i, len(hist)-1)
			require.True(t, e.LeftAt.Equal(hist[i+1].EnteredAt), "stay %d left at %v, the next entered at %v", e.Seq, *e.LeftAt, hist[i+1].EnteredAt)
			require.NotEqual(t, e.Stage, hist[i+1].Stage)
		}
		require.Equal(t, 1, open, "exactly one open stay")
		require.Nil(t, hist[len(hist)-1].LeftAt)
		require.Equal(t, o.Stage, hist[len(hist)-1].Stage)
		require.Equal(t, o.IsOpen(), h.OpenOpportunity, "the holding follows the last committed move")
	})
}

func TestCRMStartOpportunityOnPostgres(t *testing.T) {
	t.Parallel()
	// claimedCustomer is a customer reps[0] claimed from the public pool,
	// without a deal: it falls due 30 days after the claim.
	claimedCustomer := func(t *testing.T, w *moveWorld) (crm.ID, *pool.Holding) {
		t.Helper()
		c := w.pooled("上海明远贸易有限公司", "021-6666 8888")
		_, err := w.crm.Pools.Claim(w.ctx, pool.ClaimRequest{CustomerID: c.ID, Actor: w.reps[0].ID})
		require.NoError(t, err)
		h, err := w.crm.Pools.Holding(w.ctx, c.ID)
		require.NoError(t, err)
		require.False(t, h.OpenOpportunity)
		require.False(t, h.DueAt.IsZero())
		return c.ID, h
	}
	deal := func(w *moveWorld, cust crm.ID) *crm.Opportunity {
		return crmtest.Opportunity(w.ids, cust, func(o *crm.Opportunity) { o.OwnerID, o.Stage, o.Probability = w.reps[0].ID, "", 0 })
	}
	nothingWritten := func(t *testing.T, w *moveWorld, o *crm.Opportunity, cust crm.ID, before *pool.Holding) {
		t.Helper()
		_, err := w.store.Opportunities().Get(w.ctx, o.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "no deal was written")
		_, err = w.crm.Pipelines.History(w.ctx, o.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "no stay was written")
		h, err := w.crm.Pools.Holding(w.ctx, cust)
		require.NoError(t, err)
		require.Equal(t, before.Version, h.Version, "the holding is as it was")
		require.False(t, h.OpenOpportunity)
	}
	t.Run("ADeniedStartWritesNothing", func(t *testing.T) {
		t.Parallel()
		w := newMoveWorld(t)
		cust, before := claimedCustomer(t, w)
		o := deal(w, cust)
		_, err := w.perms.StartOpportunity(w.ctx, crmkit.StartOpportunityRequest{Opportunity: o, Actor: w.reps[1].ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		nothingWritten(t, w, o, cust, before)
	})
	t.Run("AStartRolledBackWithTheHostsTransactionWritesNothing", func(t *testing.T) {
		t.Parallel()
		w := newMoveWorld(t)
		cust, before := claimedCustomer(t, w)
		o := deal(w, cust)
		errLater := errors.New("a later write of the host failed")
		err := w.perms.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
			res, err := w.perms.StartOpportunityTx(ctx, tx, crmkit.StartOpportunityRequest{Opportunity: o, Actor: w.reps[0].ID})
			require.NoError(t, err)
			require.True(t, res.Holding.OpenOpportunity)
			return errLater
		})
		require.ErrorIs(t, err, errLater)
		nothingWritten(t, w, o, cust, before)
	})
	t.Run("TheNewOpenDealProtectsTheCustomerInTheSameTransaction", func(t *testing.T) {
		t.Parallel()
		w := newMoveWorld(t)
		cust, _ := claimedCustomer(t, w)
		o := deal(w, cust)
		res, err := w.perms.StartOpportunity(w.ctx, crmkit.StartOpportunityRequest{Opportunity: o, Actor: w.reps[0].ID})
		require.NoError(t, err)
		require.Equal(t, crm.StageQualification, res.Opportunity.Stage)
		require.Equal(t, w.sales.ID, res.Opportunity.DepartmentID, "the owner's department")
		stored, err := w.store.Opportunities().Get(w.ctx, o.ID)
		require.NoError(t, err)
		require.Equal(t, stored, res.Opportunity)
		hist, err := w.crm.Pipelines.History(w.ctx, o.ID)
		require.NoError(t, err)
		require.Len(t, hist, 1)
		require.Equal(t, w.reps[0].ID, hist[0].EnteredBy)
		h, err := w.crm.Pools.Holding(w.ctx, cust)
		require.NoError(t, err)
		require.True(t, h.OpenOpportunity)
		require.True(t, h.DueAt.IsZero(), "the open deal protects the customer at once")
		require.Equal(t, h.Version, res.Holding.Version)
	})
}
