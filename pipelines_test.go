package crmkit_test

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
	"github.com/crmkit/crmkit/store/memstore"
)

func (w *queueWorld) opportunityPolicy(t *testing.T) *permission.Policy {
	t.Helper()
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "opportunity", "fields": ["name", "stage"]}],
	  "roles": [
	    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "opportunity", "actions": ["view"], "scope": "own"}]},
	    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "opportunity", "actions": ["view"], "scope": "department_tree"}]},
	    {"name": "picky", "rules": [{"id": "picky.own", "record_type": "opportunity", "actions": ["view"], "scope": "own",
	      "when": {"field": "status", "in": ["won"]}}]}]
	}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
	require.NoError(t, err)
	return p
}

func TestPipelineFiguresKeepTheViewerWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	deal := func(u *crm.User, amount string) {
		m, err := crm.ParseMoney(amount)
		require.NoError(t, err)
		o := crmtest.Opportunity(w.ids, w.ids.NewID(), func(o *crm.Opportunity) {
			o.OwnerID, o.DepartmentID, o.Amount, o.Stage, o.Probability = u.ID, u.DepartmentID, m, crm.StageProposal, 50
		})
		require.NoError(t, w.store.Opportunities().Create(w.ctx, o))
	}
	deal(w.rep, "100 CNY")
	deal(w.east1, "200 CNY")
	deal(w.svc1, "400 CNY")
	total := func(c *crmkit.CRM, viewer *crm.User, scope *crm.DataScope) string {
		v, err := c.PipelineValue(w.ctx, crmkit.FigureRequest{Viewer: viewer.ID, ReportRequest: pipeline.ReportRequest{Scope: scope}})
		require.NoError(t, err)
		if len(v.Total) == 0 {
			return ""
		}
		return v.Total[0].Amount.String() + " weighted " + v.Total[0].Weighted.String()
	}

	open := w.crm(t, nil)
	require.Equal(t, "700 CNY weighted 350 CNY", total(open, w.rep, nil), "without permissions every deal counts")
	require.Equal(t, "100 CNY weighted 50 CNY", total(open, w.rep, &crm.DataScope{OwnerIDs: []crm.ID{w.rep.ID}}))

	c := w.crm(t, w.opportunityPolicy(t))
	require.Equal(t, "100 CNY weighted 50 CNY", total(c, w.rep, nil), "a rep sees her own deals")
	require.Equal(t, "300 CNY weighted 150 CNY", total(c, w.manager, nil), "a manager sees her department tree")
	require.Equal(t, "400 CNY weighted 200 CNY", total(c, w.svc1, nil))

	_, err := c.PipelineValue(w.ctx, crmkit.FigureRequest{Viewer: w.rep.ID, ReportRequest: pipeline.ReportRequest{Scope: &crm.DataScope{All: true}}})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "a restricted viewer cannot widen the scope")
	_, err = c.Funnel(w.ctx, crmkit.FigureRequest{})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "the viewer is required")
	_, err = c.Forecast(w.ctx, crmkit.FigureRequest{Viewer: w.ids.NewID()})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "an unknown viewer")
	_, err = c.PipelinePerformance(w.ctx, crmkit.FigureRequest{Viewer: w.picky.ID})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition, "a conditional rule needs a check of each record")
}

// enterprise is a pipeline whose contract stage requires an expected
// close and a budget, and whose lost stage takes two reasons.
const enterprise = `{"key": "enterprise", "stages": [
  {"name": "intake", "order": 1, "kind": "open", "probability": 10},
  {"name": "contract", "order": 2, "kind": "open", "probability": 80, "required": ["expected_close", "fields.budget"]},
  {"name": "signed", "order": 3, "kind": "won", "probability": 100},
  {"name": "dropped", "order": 4, "kind": "lost", "probability": 0, "lost_reasons": ["price", "timing"]}]}`

// moveCRM is a CRM over the world's store with the enterprise pipeline
// and, when perms is set, the policy that lets reps view, create and edit
// their own opportunities, leads those of their department tree, and the
// picky role view and edit its own but create none.
func (w *queueWorld) moveCRM(t *testing.T, perms bool) *crmkit.CRM {
	t.Helper()
	ent, err := pipeline.Parse([]byte(enterprise))
	require.NoError(t, err)
	set, err := pipeline.NewSet(ent)
	require.NoError(t, err)
	cfg := &crmkit.Config{Clock: w.clock, IDs: w.ids, Pipeline: pipeline.Config{Catalog: pipeline.Tenants{"": set}}}
	if perms {
		p, err := permission.Load([]byte(`{
		  "record_types": [{"name": "opportunity", "fields": ["name", "stage"]}],
		  "roles": [
		    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "opportunity", "actions": ["view", "create", "edit"], "scope": "own"}]},
		    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "opportunity", "actions": ["view", "create", "edit"], "scope": "department_tree"}]},
		    {"name": "picky", "rules": [{"id": "picky.own", "record_type": "opportunity", "actions": ["view", "edit"], "scope": "own"}]}]
		}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
		require.NoError(t, err)
		cfg.Permissions = p
	}
	c, err := crmkit.New(w.store, cfg)
	require.NoError(t, err)
	return c
}

// startDeal starts a deal of owner (in owner's department) in pipeline
// key for customer (a new ID when NilID), edited by edits.
func (w *queueWorld) startDeal(t *testing.T, c *crmkit.CRM, owner *crm.User, key string, customer crm.ID, edits ...func(*crm.Opportunity)) *crm.Opportunity {
	t.Helper()
	if customer == crm.NilID {
		customer = w.ids.NewID()
	}
	o := crmtest.Opportunity(w.ids, customer, func(o *crm.Opportunity) {
		o.OwnerID, o.DepartmentID, o.Pipeline, o.Stage, o.Probability = owner.ID, owner.DepartmentID, key, "", 0
	})
	for _, e := range edits {
		e(o)
	}
	require.NoError(t, c.Pipelines.Start(w.ctx, o, owner.ID))
	return o
}

// requireOneChain checks that hist is one chain of stays ending in o's
// stage: numbered from 1, each left when the next was entered, by the
// one who entered the next, and exactly one (the last) still open.
func requireOneChain(t *testing.T, hist []pipeline.StageEntry, o *crm.Opportunity) {
	t.Helper()
	require.NotEmpty(t, hist)
	open := 0
	for i, e := range hist {
		require.Equal(t, i+1, e.Seq)
		if e.LeftAt == nil {
			open++
			continue
		}
		require.Less(t, i, len(hist)-1, "a stay left with no stay after it")
		require.True(t, e.LeftAt.Equal(hist[i+1].EnteredAt), "stay %d left at %v, stay %d entered at %v", e.Seq, *e.LeftAt, i+2, hist[i+1].EnteredAt)
		require.Equal(t, hist[i+1].EnteredBy, e.LeftBy)
		require.NotEqual(t, e.Stage, hist[i+1].Stage, "a move changes the stage")
	}
	require.Equal(t, 1, open, "exactly one open stay")
	last := hist[len(hist)-1]
	require.Nil(t, last.LeftAt, "the open stay is the last")
	require.Equal(t, o.Stage, last.Stage)
}

func TestMoveOpportunityAsksThePolicyForTheEditGrant(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		perms bool
		owner func(w *queueWorld) *crm.User
		actor func(w *queueWorld) crm.ID
		// want is "" for a move that succeeds, "denied", or the field a
		// validation error names.
		want string
	}{
		{"OwnerMovesHerOwnDeal", true, func(w *queueWorld) *crm.User { return w.rep }, func(w *queueWorld) crm.ID { return w.rep.ID }, ""},
		{"ColleagueInAnotherDepartmentIsDenied", true, func(w *queueWorld) *crm.User { return w.rep }, func(w *queueWorld) crm.ID { return w.svc1.ID }, "denied"},
		{"ColleagueBelowTheOwnersDepartmentIsDenied", true, func(w *queueWorld) *crm.User { return w.rep }, func(w *queueWorld) crm.ID { return w.east1.ID }, "denied"},
		{"ManagerMovesADealOfHerDepartmentTree", true, func(w *queueWorld) *crm.User { return w.east1 }, func(w *queueWorld) crm.ID { return w.manager.ID }, ""},
		{"ManagerOutsideTheTreeIsDenied", true, func(w *queueWorld) *crm.User { return w.svc1 }, func(w *queueWorld) crm.ID { return w.manager.ID }, "denied"},
		{"NoActorWithPermissionsIsAValidationError", true, func(w *queueWorld) *crm.User { return w.rep }, func(*queueWorld) crm.ID { return crm.NilID }, "actor"},
		{"UnknownActorWithPermissionsIsAValidationError", true, func(w *queueWorld) *crm.User { return w.rep }, func(w *queueWorld) crm.ID { return w.ids.NewID() }, "actor"},
		{"AnyoneMovesWithoutPermissions", false, func(w *queueWorld) *crm.User { return w.rep }, func(w *queueWorld) crm.ID { return w.svc1.ID }, ""},
		{"TheSystemMovesWithoutPermissions", false, func(w *queueWorld) *crm.User { return w.rep }, func(*queueWorld) crm.ID { return crm.NilID }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newQueueWorld(t)
			c := w.moveCRM(t, tc.perms)
			deal := w.startDeal(t, c, tc.owner(w), "", crm.NilID)
			before, err := w.store.Opportunities().Get(w.ctx, deal.ID)
			require.NoError(t, err)
			w.clock.Advance(time.Hour)
			actor := tc.actor(w)
			res, err := c.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal, Actor: actor})
			after, gerr := w.store.Opportunities().Get(w.ctx, deal.ID)
			require.NoError(t, gerr)
			hist, herr := c.Pipelines.History(w.ctx, deal.ID)
			require.NoError(t, herr)
			switch tc.want {
			case "":
				require.NoError(t, err)
				require.Equal(t, crm.StageProposal, res.Opportunity.Stage)
				require.Equal(t, 50, res.Opportunity.Probability)
				require.Equal(t, crm.StageProposal, after.Stage)
				require.Len(t, hist, 2)
				require.Equal(t, actor, hist[1].EnteredBy)
				require.Nil(t, res.Holding, "the customer is in no pool")
				requireOneChain(t, hist, after)
				return
			case "denied":
				require.ErrorIs(t, err, crm.ErrPermissionDenied)
				var de *permission.DeniedError
				require.ErrorAs(t, err, &de)
			default:
				requireField(t, err, tc.want)
			}
			require.Nil(t, res)
			require.Equal(t, before.Stage, after.Stage, "the stage is unchanged")
			require.Equal(t, before.Version, after.Version, "nothing was written")
			require.Len(t, hist, 1, "the history is unchanged")
			require.Nil(t, hist[0].LeftAt)
		})
	}
}

func TestMoveOpportunityKeepsThePipelinesRules(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.moveCRM(t, true)
	deal := w.startDeal(t, c, w.rep, "enterprise", crm.NilID)
	move := func(req pipeline.MoveRequest) error {
		req.OpportunityID, req.Actor = deal.ID, w.rep.ID
		_, err := c.MoveOpportunity(w.ctx, req)
		return err
	}
	cases := []struct {
		name  string
		req   pipeline.MoveRequest
		field string
	}{
		{"AStageThatRequiresFieldsNamesEachMissingOne", pipeline.MoveRequest{To: "contract"}, "expected_close"},
		{"AStageThatRequiresFieldsNamesTheCustomField", pipeline.MoveRequest{To: "contract"}, "fields.budget"},
		{"ALostMoveWithoutAReason", pipeline.MoveRequest{To: "dropped"}, "lost_reason"},
		{"ALostMoveWithAReasonNotInTheList", pipeline.MoveRequest{To: "dropped", LostReason: "competitor"}, "lost_reason"},
		{"AReasonOnAMoveThatIsNotLost", pipeline.MoveRequest{To: "signed", LostReason: "price"}, "lost_reason"},
		{"AStageNotInThePipeline", pipeline.MoveRequest{To: crm.StageProposal}, "to"},
		{"TheStageTheDealIsIn", pipeline.MoveRequest{To: "intake"}, "to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireFieldIn(t, move(tc.req), tc.field)
		})
	}
	_, err := c.MoveOpportunity(w.ctx, pipeline.MoveRequest{To: "signed", Actor: w.rep.ID})
	requireField(t, err, "opportunity_id")
	_, err = c.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: w.ids.NewID(), To: "signed", Actor: w.rep.ID})
	require.ErrorIs(t, err, crm.ErrNotFound)
	_, err = c.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: "signed", Actor: w.rep.ID, Version: deal.Version + 5})
	require.ErrorIs(t, err, crm.ErrConflict, "a stale version the caller gives")

	hist, err := c.Pipelines.History(w.ctx, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1, "no refused move wrote a stay")

	require.NoError(t, move(pipeline.MoveRequest{To: "dropped", LostReason: "timing"}))
	got, err := w.store.Opportunities().Get(w.ctx, deal.ID)
	require.NoError(t, err)
	require.Equal(t, crm.OpportunityStage("dropped"), got.Stage)
	require.Equal(t, "timing", got.LostReason)
	require.NotNil(t, got.ClosedAt)
	require.Equal(t, 0, got.Probability)
}

func TestMoveOpportunityTxCommitsWithTheCallersUnitOfWork(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.moveCRM(t, true)
	deal := w.startDeal(t, c, w.rep, "", crm.NilID)
	errLater := errors.New("a later write of the host failed")
	err := c.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		res, err := c.MoveOpportunityTx(ctx, tx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal, Actor: w.rep.ID})
		require.NoError(t, err)
		require.Equal(t, crm.StageProposal, res.Opportunity.Stage)
		return errLater
	})
	require.ErrorIs(t, err, errLater)
	got, err := w.store.Opportunities().Get(w.ctx, deal.ID)
	require.NoError(t, err)
	require.Equal(t, crm.StageQualification, got.Stage, "the move rolled back with the host's unit of work")
	hist, err := c.Pipelines.History(w.ctx, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)

	require.NoError(t, c.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := c.MoveOpportunityTx(ctx, tx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageProposal, Actor: w.rep.ID})
		return err
	}))
	hist, err = c.Pipelines.History(w.ctx, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 2)
}

func TestOpportunityHistoryNeedsTheViewGrant(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.moveCRM(t, true)
	deal := w.startDeal(t, c, w.east1, "", crm.NilID)
	w.clock.Advance(time.Hour)
	_, err := c.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: crm.StageNeedsAnalysis, Actor: w.east1.ID})
	require.NoError(t, err)

	for _, u := range []*crm.User{w.east1, w.manager} {
		hist, err := c.OpportunityHistory(w.ctx, u.ID, deal.ID)
		require.NoError(t, err)
		require.Equal(t, []crm.OpportunityStage{crm.StageQualification, crm.StageNeedsAnalysis}, []crm.OpportunityStage{hist[0].Stage, hist[1].Stage})
	}
	for _, u := range []*crm.User{w.rep, w.svc1} {
		_, err := c.OpportunityHistory(w.ctx, u.ID, deal.ID)
		require.ErrorIs(t, err, crm.ErrPermissionDenied, "%s may not view the deal", u.Name)
	}
	_, err = c.OpportunityHistory(w.ctx, crm.NilID, deal.ID)
	requireField(t, err, "viewer")
	_, err = c.OpportunityHistory(w.ctx, w.ids.NewID(), deal.ID)
	requireField(t, err, "viewer")
	_, err = c.OpportunityHistory(w.ctx, w.rep.ID, crm.NilID)
	requireField(t, err, "opportunity_id")
	_, err = c.OpportunityHistory(w.ctx, w.manager.ID, w.ids.NewID())
	require.ErrorIs(t, err, crm.ErrNotFound)

	open := w.moveCRM(t, false)
	hist, err := open.OpportunityHistory(w.ctx, w.svc1.ID, deal.ID)
	require.NoError(t, err, "without permissions anyone reads it")
	require.Len(t, hist, 2)
}

func TestMoveOpportunityRecomputesTheCustomersPoolHolding(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c, cust := w.claimedInRecyclingPool(t)
	claimed, err := c.Pools.Holding(w.ctx, cust)
	require.NoError(t, err)
	due := claimed.DueAt
	require.False(t, due.IsZero(), "without an open deal the customer falls due")

	deal := w.startDeal(t, c, w.rep, "", cust)
	h, err := c.Pools.Recompute(w.ctx, cust)
	require.NoError(t, err)
	require.True(t, h.OpenOpportunity)
	require.True(t, h.DueAt.IsZero(), "an open deal protects the customer")

	holding := func() *pool.Holding {
		t.Helper()
		h, err := c.Pools.Holding(w.ctx, cust)
		require.NoError(t, err)
		return h
	}
	steps := []struct {
		name     string
		req      pipeline.MoveRequest
		actor    *crm.User
		open     bool
		denied   bool
		dueIsSet bool
	}{
		{"AMoveBetweenOpenStagesKeepsTheProtection", pipeline.MoveRequest{To: crm.StageNegotiation}, w.rep, true, false, false},
		{"ADeniedWinChangesNothing", pipeline.MoveRequest{To: crm.StageWon}, w.svc1, true, true, false},
		{"WinningTheLastOpenDealEndsTheProtection", pipeline.MoveRequest{To: crm.StageWon}, w.rep, false, false, true},
		{"ReopeningRestoresIt", pipeline.MoveRequest{To: crm.StageProposal}, w.rep, true, false, false},
		{"LosingItEndsItAgain", pipeline.MoveRequest{To: crm.StageLost, LostReason: "price"}, w.rep, false, false, true},
	}
	for _, st := range steps {
		w.clock.Advance(24 * time.Hour)
		req := st.req
		req.OpportunityID, req.Actor = deal.ID, st.actor.ID
		res, err := c.MoveOpportunity(w.ctx, req)
		if st.denied {
			require.ErrorIs(t, err, crm.ErrPermissionDenied, st.name)
		} else {
			require.NoError(t, err, st.name)
			require.NotNil(t, res.Holding, st.name)
			require.Equal(t, st.open, res.Holding.OpenOpportunity, st.name)
		}
		got := holding()
		require.Equal(t, st.open, got.OpenOpportunity, st.name)
		require.Equal(t, st.dueIsSet, !got.DueAt.IsZero(), st.name)
		if st.dueIsSet {
			require.Equal(t, due, got.DueAt, "%s: due 30 days from the claim, as before the deal", st.name)
		}
	}
}

func TestConcurrentMovesOfOneOpportunityKeepOneChainOfStays(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.moveCRM(t, true)
	deal := w.startDeal(t, c, w.rep, "", crm.NilID)
	moved := moveConcurrently(t, w.ctx, c, deal.ID, w.rep.ID, 16)
	got, err := w.store.Opportunities().Get(w.ctx, deal.ID)
	require.NoError(t, err)
	hist, err := c.OpportunityHistory(w.ctx, w.rep.ID, deal.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1+moved, "one stay per move that committed")
	requireOneChain(t, hist, got)
}

// moveConcurrently moves the deal from n goroutines at once, to stages in
// turn, and returns how many moves committed; a move may lose to another
// (crm.ErrConflict) or find the deal already in its stage.
func moveConcurrently(t *testing.T, ctx context.Context, c *crmkit.CRM, deal, actor crm.ID, n int) int {
	t.Helper()
	stages := []pipeline.MoveRequest{{To: crm.StageNeedsAnalysis}, {To: crm.StageProposal}, {To: crm.StageWon},
		{To: crm.StageNegotiation}, {To: crm.StageLost, LostReason: "price"}, {To: crm.StageQualification}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	moved := 0
	for i := range n {
		wg.Go(func() {
			req := stages[i%len(stages)]
			req.OpportunityID, req.Actor = deal, actor
			_, err := c.MoveOpportunity(ctx, req)
			if err != nil && !errors.Is(err, crm.ErrConflict) && !errors.Is(err, crm.ErrInvalidArgument) {
				t.Errorf("move %d: %v", i, err)
				return
			}
			if err == nil {
				mu.Lock()
				moved++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Positive(t, moved)
	return moved
}

// BenchmarkMoveOpportunity moves b.N deals of one rep, each once, on
// memstore: through the bare pipeline service, through the CRM without
// permissions (the pool holding recompute: none here, the customers are
// in no pool) and through the CRM with the policy's edit check.
func BenchmarkMoveOpportunity(b *testing.B) {
	for _, bc := range []struct {
		name string
		move func(c *crmkit.CRM, req pipeline.MoveRequest) error
		perm bool
	}{
		{"PipelineService", func(c *crmkit.CRM, req pipeline.MoveRequest) error {
			_, err := c.Pipelines.Move(context.Background(), req)
			return err
		}, false},
		{"CRM", func(c *crmkit.CRM, req pipeline.MoveRequest) error {
			_, err := c.MoveOpportunity(context.Background(), req)
			return err
		}, false},
		{"CRMWithPermissions", func(c *crmkit.CRM, req pipeline.MoveRequest) error {
			_, err := c.MoveOpportunity(context.Background(), req)
			return err
		}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			ids := crmtest.NewIDs()
			store := memstore.New(&memstore.Config{Clock: clock})
			dept := crmtest.Department(ids, "Sales", crm.NilID)
			require.NoError(b, store.Departments().Create(ctx, dept))
			rep := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"rep"} })
			require.NoError(b, store.Users().Create(ctx, rep))
			cfg := &crmkit.Config{Clock: clock, IDs: ids}
			if bc.perm {
				p, err := permission.Load([]byte(`{"record_types": [{"name": "opportunity"}],
				  "roles": [{"name": "rep", "rules": [{"record_type": "opportunity", "actions": ["edit"], "scope": "own"}]}]}`),
					[]*crm.Department{dept}, nil)
				require.NoError(b, err)
				cfg.Permissions = p
			}
			c, err := crmkit.New(store, cfg)
			require.NoError(b, err)
			deals := make([]crm.ID, b.N)
			for i := range deals {
				o := crmtest.Opportunity(ids, ids.NewID(), func(o *crm.Opportunity) { o.OwnerID, o.DepartmentID = rep.ID, dept.ID })
				require.NoError(b, c.Pipelines.Start(ctx, o, rep.ID))
				deals[i] = o.ID
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := bc.move(c, pipeline.MoveRequest{OpportunityID: deals[i], To: crm.StageProposal, Actor: rep.ID}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestStartOpportunityAsksThePolicyForTheCreateGrant(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		perms bool
		actor func(w *queueWorld) crm.ID
		// edit shapes the requested deal (a new customer, the built-in
		// pipeline, no owner or department unless it sets them).
		edit func(w *queueWorld, o *crm.Opportunity)
		// want is "" for a start that succeeds, "denied", or a field a
		// validation error names.
		want string
		// owner and dept give the stored deal's owner and department on
		// success.
		owner, dept func(w *queueWorld) crm.ID
	}{
		{name: "OwnerStartsADealForHerOwnCustomer", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			owner: func(w *queueWorld) crm.ID { return w.rep.ID }, dept: func(w *queueWorld) crm.ID { return w.sales.ID }},
		{name: "RepOfAnotherDepartmentIsDenied", perms: true, actor: func(w *queueWorld) crm.ID { return w.svc1.ID },
			edit: func(w *queueWorld, o *crm.Opportunity) { o.OwnerID = w.rep.ID }, want: "denied"},
		{name: "RepBelowTheOwnersDepartmentIsDenied", perms: true, actor: func(w *queueWorld) crm.ID { return w.east1.ID },
			edit: func(w *queueWorld, o *crm.Opportunity) { o.OwnerID, o.DepartmentID = w.rep.ID, w.sales.ID }, want: "denied"},
		{name: "ManagerStartsADealForARepOfHerTree", perms: true, actor: func(w *queueWorld) crm.ID { return w.manager.ID },
			edit:  func(w *queueWorld, o *crm.Opportunity) { o.OwnerID = w.east1.ID },
			owner: func(w *queueWorld) crm.ID { return w.east1.ID }, dept: func(w *queueWorld) crm.ID { return w.east.ID }},
		{name: "ManagerOutsideTheTreeIsDenied", perms: true, actor: func(w *queueWorld) crm.ID { return w.manager.ID },
			edit: func(w *queueWorld, o *crm.Opportunity) { o.OwnerID = w.svc1.ID }, want: "denied"},
		{name: "AUserWhoMayEditButNotCreateIsDenied", perms: true, actor: func(w *queueWorld) crm.ID { return w.picky.ID }, want: "denied"},
		{name: "NoActorWithPermissionsIsAValidationError", perms: true, actor: func(*queueWorld) crm.ID { return crm.NilID }, want: "actor"},
		{name: "UnknownActorWithPermissionsIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.ids.NewID() }, want: "actor"},
		{name: "UnknownOwnerIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.manager.ID },
			edit: func(w *queueWorld, o *crm.Opportunity) { o.OwnerID = w.ids.NewID() }, want: "owner_id"},
		{name: "AnyoneStartsWithoutPermissions", actor: func(w *queueWorld) crm.ID { return w.svc1.ID },
			edit:  func(w *queueWorld, o *crm.Opportunity) { o.OwnerID = w.rep.ID },
			owner: func(w *queueWorld) crm.ID { return w.rep.ID }, dept: func(w *queueWorld) crm.ID { return w.sales.ID }},
		{name: "TheSystemStartsAnUnownedDealWithoutPermissions", actor: func(*queueWorld) crm.ID { return crm.NilID },
			owner: func(*queueWorld) crm.ID { return crm.NilID }, dept: func(*queueWorld) crm.ID { return crm.NilID }},
		{name: "AClosedStageIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			edit: func(_ *queueWorld, o *crm.Opportunity) { o.Stage = crm.StageWon }, want: "stage"},
		{name: "AStageNotInThePipelineIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			edit: func(_ *queueWorld, o *crm.Opportunity) { o.Pipeline, o.Stage = "enterprise", crm.StageProposal }, want: "stage"},
		{name: "AStageThatRequiresAFieldNamesIt", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			edit: func(_ *queueWorld, o *crm.Opportunity) { o.Pipeline, o.Stage = "enterprise", "contract" }, want: "expected_close"},
		{name: "AnUnknownPipelineIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			edit: func(_ *queueWorld, o *crm.Opportunity) { o.Pipeline = "wholesale" }, want: "pipeline"},
		{name: "ANamelessDealIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			edit: func(_ *queueWorld, o *crm.Opportunity) { o.Name = "" }, want: "name"},
		{name: "ADealWithoutACustomerIsAValidationError", perms: true, actor: func(w *queueWorld) crm.ID { return w.rep.ID },
			edit: func(_ *queueWorld, o *crm.Opportunity) { o.CustomerID = crm.NilID }, want: "customer_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newQueueWorld(t)
			c := w.moveCRM(t, tc.perms)
			o := crmtest.Opportunity(w.ids, w.ids.NewID(), func(o *crm.Opportunity) { o.Stage, o.Probability = "", 0 })
			if tc.edit != nil {
				tc.edit(w, o)
			}
			req := o.Clone()
			actor := tc.actor(w)
			res, err := c.StartOpportunity(w.ctx, crmkit.StartOpportunityRequest{Opportunity: req, Actor: actor})
			stored, gerr := w.store.Opportunities().Get(w.ctx, o.ID)
			hist, herr := c.Pipelines.History(w.ctx, o.ID)
			switch tc.want {
			case "":
				require.NoError(t, err)
				require.NoError(t, gerr)
				require.NoError(t, herr)
				require.Equal(t, stored, res.Opportunity, "the result is the stored deal")
				require.Equal(t, stored, req, "the request's deal is updated to the stored one")
				require.Equal(t, crm.StageQualification, stored.Stage, "the pipeline's first open stage")
				require.Equal(t, 10, stored.Probability, "the stage's default probability")
				require.Equal(t, tc.owner(w), stored.OwnerID)
				require.Equal(t, tc.dept(w), stored.DepartmentID)
				require.Len(t, hist, 1)
				require.Equal(t, actor, hist[0].EnteredBy)
				require.True(t, hist[0].EnteredAt.Equal(stored.CreatedAt))
				require.Nil(t, res.Holding, "the customer is in no pool")
				requireOneChain(t, hist, stored)
				return
			case "denied":
				require.ErrorIs(t, err, crm.ErrPermissionDenied)
				var de *permission.DeniedError
				require.ErrorAs(t, err, &de)
			default:
				requireFieldIn(t, err, tc.want)
			}
			require.Nil(t, res)
			require.Equal(t, o, req, "the request's deal is not modified")
			require.ErrorIs(t, gerr, crm.ErrNotFound, "no deal was written")
			require.ErrorIs(t, herr, crm.ErrNotFound, "no stay was written")
		})
	}
}

func TestStartOpportunityGivesADealWithoutAnIDOne(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.moveCRM(t, true)
	o := crmtest.Opportunity(w.ids, w.ids.NewID(), func(o *crm.Opportunity) {
		o.ID, o.Pipeline, o.Stage, o.Probability = crm.NilID, "enterprise", "", 25
	})
	res, err := c.StartOpportunity(w.ctx, crmkit.StartOpportunityRequest{Opportunity: o, Actor: w.rep.ID})
	require.NoError(t, err)
	require.NotEqual(t, crm.NilID, res.Opportunity.ID)
	require.Equal(t, res.Opportunity.ID, o.ID)
	require.Equal(t, crm.OpportunityStage("intake"), res.Opportunity.Stage)
	require.Equal(t, 25, res.Opportunity.Probability, "a probability the deal gives is kept")
	hist, err := c.OpportunityHistory(w.ctx, w.rep.ID, o.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, crm.OpportunityStage("intake"), hist[0].Stage)
}

func TestStartOpportunityTxCommitsWithTheCallersUnitOfWork(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.moveCRM(t, true)
	o := crmtest.Opportunity(w.ids, w.ids.NewID(), func(o *crm.Opportunity) { o.Stage, o.Probability = "", 0 })
	errLater := errors.New("a later write of the host failed")
	err := c.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		res, err := c.StartOpportunityTx(ctx, tx, crmkit.StartOpportunityRequest{Opportunity: o, Actor: w.rep.ID})
		require.NoError(t, err)
		require.Equal(t, crm.StageQualification, res.Opportunity.Stage)
		require.Equal(t, crm.OpportunityStage(""), o.Stage, "the Tx form leaves the request's deal alone")
		return errLater
	})
	require.ErrorIs(t, err, errLater)
	_, err = w.store.Opportunities().Get(w.ctx, o.ID)
	require.ErrorIs(t, err, crm.ErrNotFound, "the start rolled back with the host's unit of work")
	_, err = c.Pipelines.History(w.ctx, o.ID)
	require.ErrorIs(t, err, crm.ErrNotFound)

	require.NoError(t, c.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := c.StartOpportunityTx(ctx, tx, crmkit.StartOpportunityRequest{Opportunity: o, Actor: w.rep.ID})
		return err
	}))
	hist, err := c.Pipelines.History(w.ctx, o.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)
}

func TestStartOpportunityProtectsTheCustomerFromRecyclingAtOnce(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c, cust := w.claimedInRecyclingPool(t)
	claimed, err := c.Pools.Holding(w.ctx, cust)
	require.NoError(t, err)
	require.False(t, claimed.OpenOpportunity)
	require.False(t, claimed.DueAt.IsZero(), "without an open deal the customer falls due")

	w.clock.Advance(24 * time.Hour)
	deal := func() *crm.Opportunity {
		return crmtest.Opportunity(w.ids, cust, func(o *crm.Opportunity) { o.OwnerID, o.Stage, o.Probability = w.rep.ID, "", 0 })
	}
	_, err = c.StartOpportunity(w.ctx, crmkit.StartOpportunityRequest{Opportunity: deal(), Actor: w.svc1.ID})
	require.ErrorIs(t, err, crm.ErrPermissionDenied)
	h, err := c.Pools.Holding(w.ctx, cust)
	require.NoError(t, err)
	require.Equal(t, claimed, h, "a denied start leaves the holding as it was")

	res, err := c.StartOpportunity(w.ctx, crmkit.StartOpportunityRequest{Opportunity: deal(), Actor: w.rep.ID})
	require.NoError(t, err)
	require.NotNil(t, res.Holding)
	require.True(t, res.Holding.OpenOpportunity)
	require.True(t, res.Holding.DueAt.IsZero(), "the new open deal protects the customer at once")
	h, err = c.Pools.Holding(w.ctx, cust)
	require.NoError(t, err)
	require.Equal(t, res.Holding, h, "the result is the stored holding")

	// Winning it ends the protection: the due time is the claim's again.
	w.clock.Advance(24 * time.Hour)
	won, err := c.MoveOpportunity(w.ctx, pipeline.MoveRequest{OpportunityID: res.Opportunity.ID, To: crm.StageWon, Actor: w.rep.ID})
	require.NoError(t, err)
	require.False(t, won.Holding.OpenOpportunity)
	require.Equal(t, claimed.DueAt, won.Holding.DueAt)
}

// claimedInRecyclingPool returns a CRM with permissions and a customer the
// rep claimed (set up without permissions) from a pool that
// recycles after 30 days without a follow-up, except a customer with an
// open opportunity.
func (w *queueWorld) claimedInRecyclingPool(t *testing.T) (*crmkit.CRM, crm.ID) {
	t.Helper()
	setup := w.moveCRM(t, false)
	p := &pool.Pool{ID: w.ids.NewID(), Name: "Public", Members: pool.Members{All: true}, Recycle: []pool.RecycleRule{{
		ID: "v1", EffectiveFrom: w.clock.Now().Add(-time.Hour), Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 30}},
		Exclude: pool.Exclusions{OpenOpportunity: true},
	}}}
	require.NoError(t, setup.Pools.CreatePool(w.ctx, p))
	res, err := setup.CreateCustomer(w.ctx, crmkit.CreateCustomerRequest{Customer: crmtest.Customer(w.ids)})
	require.NoError(t, err)
	cust := res.Customer.ID
	_, err = setup.Pools.Enter(w.ctx, pool.EnterRequest{CustomerID: cust, PoolID: p.ID})
	require.NoError(t, err)
	_, err = setup.Pools.Claim(w.ctx, pool.ClaimRequest{CustomerID: cust, Actor: w.rep.ID})
	require.NoError(t, err)
	return w.moveCRM(t, true), cust
}
