package storetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
)

// testPipelines is a tenant's configuration: the pipeline "hardware",
// whose proposal stage requires an amount, an expected close and the
// custom field "budget", and whose demo stage requires an owner.
const testPipelines = `{"pipelines": [{"key": "hardware", "name": "Hardware", "stages": [
  {"name": "lead", "order": 1, "kind": "open", "probability": 10},
  {"name": "demo", "order": 2, "kind": "open", "probability": 30, "required": ["owner_id"]},
  {"name": "proposal", "order": 3, "kind": "open", "probability": 60, "required": ["amount", "expected_close", "fields.budget"]},
  {"name": "won", "order": 4, "kind": "won", "probability": 100},
  {"name": "lost", "order": 5, "kind": "lost", "probability": 0, "lost_reasons": ["price", "competitor"]}]}]}`

func testPipelineSet(t *testing.T) *pipeline.Set {
	t.Helper()
	set, err := pipeline.Load(strings.NewReader(testPipelines))
	require.NoError(t, err)
	return set
}

// RunPipelines checks the ports of package pipeline: the stage history
// that [pipeline.Service.Move] writes, and the figures of
// pipeline.Analytics, which must equal on random data what this suite
// computes on its own from the records it stored (so two adapters that
// pass agree with each other). Without the ports (Features.Pipelines
// unset) it checks that the service reports crm.ErrUnsupported.
func RunPipelines(t *testing.T, h Harness) {
	probe := newEnv(t, h)
	var hasTx, hasAnalytics bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, hasTx = crm.As[pipeline.Tx](tx)
		return nil
	}))
	_, hasAnalytics = crm.As[pipeline.AnalyticsTx](probe.store)
	if !hasTx || !hasAnalytics {
		require.False(t, h.Features.Pipelines, "Features.Pipelines is declared, but the adapter lacks pipeline.Tx (%v) or pipeline.AnalyticsTx (%v)", hasTx, hasAnalytics)
		t.Run("ReportsErrUnsupportedWithoutThePorts", func(t *testing.T) {
			svc, err := pipeline.New(probe.store, nil)
			require.NoError(t, err)
			o := &crm.Opportunity{Meta: crm.Meta{ID: probe.ids.NewID()}, CustomerID: probe.ids.NewID(), Name: "Deal"}
			require.NoError(t, probe.store.Opportunities().Create(probe.ctx, o))
			if !hasTx {
				_, err = svc.Move(probe.ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: crm.StageProposal})
				require.ErrorIs(t, err, crm.ErrUnsupported)
			}
			if !hasAnalytics {
				_, err = svc.Value(probe.ctx, pipeline.ReportRequest{})
				require.ErrorIs(t, err, crm.ErrUnsupported)
			}
		})
		return
	}
	test(t, h, "MoveChecksTheStageAndRecordsHistory", testPipelineMoves)
	test(t, h, "MoveIsAllOrNothing", testPipelineMoveAtomic)
	test(t, h, "HistoryStaysInItsTenant", testPipelineTenants)
	for seed := range uint64(3) {
		test(t, h, fmt.Sprintf("FiguresEqualAnIndependentComputation/%d", seed), func(t *testing.T, e *env) {
			testPipelineFigures(t, e, seed)
		})
	}
	test(t, h, "FiguresRefuseBadPeriods", testPipelineBadPeriods)
}

func pipelineService(t *testing.T, e *env) *pipeline.Service {
	t.Helper()
	svc, err := pipeline.New(e.store, &pipeline.Config{Catalog: pipeline.Tenants{"": testPipelineSet(t), "a": testPipelineSet(t)},
		Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	return svc
}

func testPipelineMoves(t *testing.T, e *env) {
	svc := pipelineService(t, e)
	ctx := e.ctx
	seller, boss := e.ids.NewID(), e.ids.NewID()
	o := &crm.Opportunity{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Servers", Pipeline: "hardware"}
	require.NoError(t, svc.Start(ctx, o, seller))
	require.Equal(t, crm.OpportunityStage("lead"), o.Stage, "a deal starts in the first open stage")
	require.Equal(t, 10, o.Probability)
	started := o.CreatedAt

	// Demo requires an owner; proposal an amount, an expected close and
	// the budget field: each missing one is named.
	e.tick()
	_, err := svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "demo", Actor: seller})
	requireInvalid(t, err, "owner_id")
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "proposal", Actor: seller})
	for _, f := range []string{"amount", "expected_close", "fields.budget"} {
		requireInvalid(t, err, f)
	}
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "nowhere", Actor: seller})
	requireInvalid(t, err, "to")
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "lead", Actor: seller})
	requireInvalid(t, err, "to")

	got, err := e.store.Opportunities().Get(ctx, o.ID)
	require.NoError(t, err)
	got.OwnerID = seller
	require.NoError(t, e.store.Opportunities().Update(ctx, got))
	at1 := e.tick()
	moved, err := svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "demo", Actor: seller, Probability: ptr(45)})
	require.NoError(t, err)
	require.Equal(t, crm.OpportunityStage("demo"), moved.Stage)
	require.Equal(t, 45, moved.Probability, "the caller's probability overrides the stage's")
	require.Nil(t, moved.ClosedAt)

	// Lost needs a reason from the stage's list.
	at2 := e.tick()
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "lost", Actor: boss})
	requireInvalid(t, err, "lost_reason")
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "lost", Actor: boss, LostReason: "weather"})
	requireInvalid(t, err, "lost_reason")
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "lost", Actor: boss, LostReason: "price", Probability: ptr(5)})
	requireInvalid(t, err, "probability")
	lost, err := svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "lost", Actor: boss, LostReason: "price"})
	require.NoError(t, err)
	require.Equal(t, "price", lost.LostReason)
	require.Equal(t, 0, lost.Probability)
	require.NotNil(t, lost.ClosedAt, "reaching a lost stage closes the deal")
	require.Equal(t, at2, *lost.ClosedAt)

	// Reopening clears the close and the reason.
	at3 := e.tick()
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "demo", Actor: seller, LostReason: "price"})
	requireInvalid(t, err, "lost_reason")
	reopened, err := svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "demo", Actor: seller, Version: lost.Version})
	require.NoError(t, err)
	require.Nil(t, reopened.ClosedAt)
	require.Empty(t, reopened.LostReason)
	require.Equal(t, 30, reopened.Probability, "the stage's default")
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: "won", Version: lost.Version})
	require.ErrorIs(t, err, crm.ErrConflict, "a stale version")

	stored, err := e.store.Opportunities().Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, reopened.Version, stored.Version)
	require.Equal(t, crm.OpportunityStage("demo"), stored.Stage)

	hist, err := svc.History(ctx, o.ID)
	require.NoError(t, err)
	want := []pipeline.StageEntry{
		{OpportunityID: o.ID, Seq: 1, Pipeline: "hardware", Stage: "lead", EnteredAt: started, EnteredBy: seller, LeftAt: &at1, LeftBy: seller, First: true},
		{OpportunityID: o.ID, Seq: 2, Pipeline: "hardware", Stage: "demo", EnteredAt: at1, EnteredBy: seller, LeftAt: &at2, LeftBy: boss, First: true},
		{OpportunityID: o.ID, Seq: 3, Pipeline: "hardware", Stage: "lost", EnteredAt: at2, EnteredBy: boss, LeftAt: &at3, LeftBy: seller, First: true},
		{OpportunityID: o.ID, Seq: 4, Pipeline: "hardware", Stage: "demo", EnteredAt: at3, EnteredBy: seller, First: false},
	}
	requireSame(t, want, hist)

	evs, err := e.store.Outbox().Pending(ctx, 100)
	require.NoError(t, err)
	var moves []pipeline.StageChangedPayload
	for _, ev := range evs {
		if ev.Type == pipeline.EventStageChanged {
			p, err := crm.DecodePayload[pipeline.StageChangedPayload](ev)
			require.NoError(t, err)
			require.Equal(t, o.ID, ev.Subject.ID)
			p.ClosedAt = nil
			moves = append(moves, p)
		}
	}
	require.Equal(t, []pipeline.StageChangedPayload{
		{Pipeline: "hardware", From: "lead", To: "demo", Kind: pipeline.KindOpen, Probability: 45},
		{Pipeline: "hardware", From: "demo", To: "lost", Kind: pipeline.KindLost, LostReason: "price"},
		{Pipeline: "hardware", From: "lost", To: "demo", Kind: pipeline.KindOpen, Probability: 30},
	}, moves)

	// A deal of the built-in pipeline without history gets its first stay
	// from its creation.
	d := &crm.Opportunity{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Deal"}
	require.NoError(t, e.store.Opportunities().Create(ctx, d))
	at4 := e.tick()
	won, err := svc.Move(ctx, pipeline.MoveRequest{OpportunityID: d.ID, To: crm.StageWon, Actor: boss})
	require.NoError(t, err)
	require.Equal(t, 100, won.Probability)
	require.Equal(t, at4, *won.ClosedAt)
	hist, err = svc.History(ctx, d.ID)
	require.NoError(t, err)
	requireSame(t, []pipeline.StageEntry{
		{OpportunityID: d.ID, Seq: 1, Stage: crm.StageQualification, EnteredAt: d.CreatedAt, LeftAt: &at4, LeftBy: boss, First: true},
		{OpportunityID: d.ID, Seq: 2, Stage: crm.StageWon, EnteredAt: at4, EnteredBy: boss, First: true},
	}, hist)
}

func testPipelineMoveAtomic(t *testing.T, e *env) {
	ctx := e.ctx
	o := &crm.Opportunity{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Deal"}
	require.NoError(t, e.store.Opportunities().Create(ctx, o))
	svc := pipelineService(t, e)
	require.NoError(t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return mustStageHistory(t, tx).Append(ctx, &pipeline.StageEntry{OpportunityID: o.ID, Seq: 1, Stage: crm.StageQualification, EnteredAt: e.now()})
	}))
	err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return mustStageHistory(t, tx).Append(ctx, &pipeline.StageEntry{OpportunityID: o.ID, Seq: 1, Stage: crm.StageProposal, EnteredAt: e.now()})
	})
	require.ErrorIs(t, err, crm.ErrAlreadyExists, "a repeated Seq")

	// A move its checks refuse writes nothing.
	e.tick()
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: o.ID, To: crm.StageLost, LostReason: "nope"})
	requireInvalid(t, err, "lost_reason")
	got, err := e.store.Opportunities().Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, o.Version, got.Version)
	hist, err := svc.History(ctx, o.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Nil(t, hist[0].LeftAt)

	// A unit of work that fails after leaving and entering stays keeps
	// none of it.
	boom := fmt.Errorf("boom")
	err = e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		h := mustStageHistory(t, tx)
		require.NoError(t, h.Leave(ctx, o.ID, e.now(), crm.NilID))
		require.NoError(t, h.Append(ctx, &pipeline.StageEntry{OpportunityID: o.ID, Seq: 2, Stage: crm.StageWon, EnteredAt: e.now()}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	hist2, err := svc.History(ctx, o.ID)
	require.NoError(t, err)
	requireSame(t, hist, hist2)
}

func mustStageHistory(t *testing.T, tx crm.Tx) pipeline.StageHistory {
	t.Helper()
	ptx, ok := crm.As[pipeline.Tx](tx)
	require.True(t, ok)
	return ptx.StageHistory()
}

func testPipelineTenants(t *testing.T, e *env) {
	svc := pipelineService(t, e)
	o := &crm.Opportunity{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Deal", Pipeline: "hardware"}
	require.NoError(t, svc.Start(e.ctxA, o, crm.NilID))
	_, err := svc.Move(e.ctxB, pipeline.MoveRequest{OpportunityID: o.ID, To: "lost", LostReason: "price"})
	require.ErrorIs(t, err, crm.ErrNotFound)
	_, err = svc.History(e.ctxB, o.ID)
	require.ErrorIs(t, err, crm.ErrNotFound)
	require.NoError(t, e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error {
		h := mustStageHistory(t, tx)
		got, err := h.List(ctx, o.ID)
		require.NoError(t, err)
		require.Empty(t, got, "another tenant's stays")
		require.NoError(t, h.Leave(ctx, o.ID, e.now(), crm.NilID))
		return nil
	}))
	hist, err := svc.History(e.ctxA, o.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Nil(t, hist[0].LeftAt, "another tenant cannot end a stay")
	// Tenant "b" has only the built-in pipeline.
	_, err = svc.Funnel(e.ctxB, pipeline.ReportRequest{Pipeline: "hardware", Period: crm.Period{From: e.now(), To: e.now().Add(time.Hour), Bucket: crm.BucketDay}})
	requireInvalid(t, err, "pipeline")
}

func testPipelineBadPeriods(t *testing.T, e *env) {
	svc := pipelineService(t, e)
	now := e.now()
	_, err := svc.Funnel(e.ctx, pipeline.ReportRequest{Period: crm.Period{From: now, To: now.Add(-time.Hour), Bucket: crm.BucketDay}})
	requireInvalid(t, err, "period.to")
	_, err = svc.Forecast(e.ctx, pipeline.ReportRequest{Period: crm.Period{From: now, To: now.AddDate(20, 0, 0), Bucket: crm.BucketDay}})
	requireInvalid(t, err, "period.bucket")
	_, err = svc.Performance(e.ctx, pipeline.ReportRequest{Period: crm.Period{From: now, To: now.Add(time.Hour), Bucket: "year"}})
	requireInvalid(t, err, "period.bucket")
	_, err = svc.Forecast(e.ctx, pipeline.ReportRequest{Period: crm.Period{From: now, To: now.Add(time.Hour), Bucket: crm.BucketDay,
		Location: time.FixedZone("UTC+8", 8*3600)}})
	requireInvalid(t, err, "period.location")
	_, err = svc.Value(e.ctx, pipeline.ReportRequest{Scope: &crm.DataScope{OwnerIDs: make([]crm.ID, 1001)}})
	requireInvalid(t, err, "scope.owner_ids")
	_, err = svc.Value(e.ctx, pipeline.ReportRequest{Pipeline: "Hardware"})
	requireInvalid(t, err, "pipeline")
}

// figureWorld is the random data of one figures test.
type figureWorld struct {
	opps  []*crm.Opportunity
	stays []pipeline.StageEntry
	// tree maps a department to its parent.
	tree map[crm.ID]crm.ID
}

func (w *figureWorld) inTree(root, dept crm.ID) bool {
	for i := 0; dept != crm.NilID && i < 10; i++ {
		if dept == root {
			return true
		}
		dept = w.tree[dept]
	}
	return false
}

func testPipelineFigures(t *testing.T, e *env, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 19))
	set := testPipelineSet(t)
	svc := pipelineService(t, e)
	ctx := e.ctxA
	w := &figureWorld{tree: map[crm.ID]crm.ID{}}
	root := crmtest.Department(e.ids, "Sales", crm.NilID)
	child := crmtest.Department(e.ids, "Sales East", root.ID)
	other := crmtest.Department(e.ids, "Service", crm.NilID)
	for _, d := range []*crm.Department{root, child, other} {
		require.NoError(t, e.store.Departments().Create(ctx, d))
		w.tree[d.ID] = d.ParentID
	}
	owners := []crm.ID{crm.NilID, e.ids.NewID(), e.ids.NewID(), e.ids.NewID(), e.ids.NewID()}
	depts := []crm.ID{crm.NilID, root.ID, child.ID, other.ID}
	base := time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC)
	span := int64(15 * 30 * 24 * time.Hour / time.Microsecond)
	randTime := func() time.Time { return base.Add(time.Duration(r.Int64N(span)) * time.Microsecond) }
	keys := []string{"", "hardware"}
	const n = 160
	for i := range n {
		p, _ := set.Pipeline(keys[r.IntN(2)])
		st := p.Stages[r.IntN(len(p.Stages))]
		created := randTime()
		e.clock.Set(created)
		o := &crm.Opportunity{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Deal", Pipeline: p.Key,
			Stage: st.Name, Probability: r.IntN(101), OwnerID: owners[r.IntN(len(owners))], DepartmentID: depts[r.IntN(len(depts))]}
		switch r.IntN(5) {
		case 0:
		case 1, 2:
			o.Amount = money(fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100)), "CNY")
		default:
			o.Amount = money(fmt.Sprintf("%d.%d", r.IntN(5000), r.IntN(10)), "USD")
		}
		if r.IntN(5) > 0 {
			o.ExpectedClose = ptr(randTime())
		}
		if st.Kind.Closed() && r.IntN(6) > 0 || r.IntN(20) == 0 {
			o.ClosedAt = ptr(created.Add(time.Duration(r.Int64N(int64(200*24*time.Hour/time.Microsecond))) * time.Microsecond))
		}
		tctx := ctx
		if i%10 == 9 {
			tctx = e.ctxB // another tenant's deals count nowhere
			o.DepartmentID = crm.NilID
		}
		require.NoError(t, e.store.Opportunities().Create(tctx, o))
		at := o.CreatedAt
		var stays []pipeline.StageEntry
		for seq := 1; seq <= 1+r.IntN(4); seq++ {
			s := pipeline.StageEntry{OpportunityID: o.ID, Seq: seq, Pipeline: p.Key, Stage: p.Stages[r.IntN(len(p.Stages))].Name,
				EnteredAt: at, EnteredBy: owners[r.IntN(len(owners))]}
			s.First = !slices.ContainsFunc(stays, func(x pipeline.StageEntry) bool { return x.Stage == s.Stage })
			if seq > 1 {
				left := at
				stays[len(stays)-1].LeftAt, stays[len(stays)-1].LeftBy = &left, s.EnteredBy
			}
			stays = append(stays, s)
			at = crm.StorageTime(at.Add(time.Duration(r.Int64N(int64(40*24*time.Hour/time.Microsecond))) * time.Microsecond))
		}
		if r.IntN(3) == 0 {
			stays[len(stays)-1].LeftAt = &at
		}
		require.NoError(t, e.store.InTx(tctx, func(ctx context.Context, tx crm.Tx) error {
			h := mustStageHistory(t, tx)
			for i := range stays {
				if err := h.Append(ctx, &stays[i]); err != nil {
					return err
				}
			}
			return nil
		}))
		if tctx == ctx {
			w.opps = append(w.opps, o)
			w.stays = append(w.stays, stays...)
		}
	}

	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	periods := []crm.Period{
		{From: time.Date(2025, 1, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai), Bucket: crm.BucketMonth, Location: shanghai},
		{From: time.Date(2025, 3, 5, 7, 0, 0, 1, time.UTC), To: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC), Bucket: crm.BucketWeek},
		{From: base, To: base.AddDate(2, 0, 0), Bucket: crm.BucketQuarter, Location: shanghai},
	}
	scopes := []*crm.DataScope{nil, {All: true}, {}, {OwnerIDs: owners[1:3]}, {DepartmentTrees: []crm.ID{root.ID}},
		{DepartmentIDs: []crm.ID{other.ID}, OwnerIDs: owners[4:]}}
	for _, key := range keys {
		p, _ := set.Pipeline(key)
		for si, sc := range scopes {
			for pi, per := range periods {
				name := fmt.Sprintf("pipeline %q scope %d period %d", key, si, pi)
				req := pipeline.ReportRequest{Pipeline: key, Scope: sc, Period: per}
				q := pipeline.Query{Pipeline: key, Scope: sc, Period: per, Won: p.StagesOf(pipeline.KindWon), Lost: p.StagesOf(pipeline.KindLost)}
				f, err := svc.Funnel(ctx, req)
				require.NoError(t, err, name)
				require.Equal(t, pipeline.BuildFunnel(p, w.stageStats(q)), f, name)
				perf, err := svc.Performance(ctx, req)
				require.NoError(t, err, name)
				wantPerf, err := pipeline.BuildPerformance(w.closedStats(q))
				require.NoError(t, err)
				require.Equal(t, canon(wantPerf), canon(perf), name)
				fc, err := svc.Forecast(ctx, req)
				require.NoError(t, err, name)
				if sc == nil && pi == 2 { // the whole data: the figures are not empty
					require.NotZero(t, f.Stages[0].Entered, name)
					require.NotZero(t, f.Stages[0].Timed, name)
					require.NotZero(t, perf.Won+perf.Lost, name)
					require.NotEmpty(t, perf.Revenue, name)
					require.NotEmpty(t, fc, name)
				}
				require.Equal(t, canon(w.forecast(q)), canon(fc), name)
			}
			q := pipeline.Query{Pipeline: key, Scope: sc, Won: p.StagesOf(pipeline.KindWon), Lost: p.StagesOf(pipeline.KindLost)}
			v, err := svc.Value(ctx, pipeline.ReportRequest{Pipeline: key, Scope: sc})
			require.NoError(t, err)
			wantV, err := pipeline.BuildValue(p, w.openStats(q))
			require.NoError(t, err)
			require.Equal(t, canon(wantV), canon(v), "pipeline %q scope %d", key, si)
		}
	}
}

// canon prints v with every amount in its shortest form ("12.30 CNY"
// prints "12.3 CNY"), so figures that differ only in an amount's scale
// print alike.
func canon(v any) string {
	return trailingZeros.ReplaceAllStringFunc(fmt.Sprintf("%+v", v), func(m string) string {
		num, cur, _ := strings.Cut(m, " ")
		return decimal.RequireFromString(num).String() + " " + cur
	})
}

var trailingZeros = regexp.MustCompile(`-?[0-9]+\.[0-9]+ [A-Z]{3}\b`)

func (w *figureWorld) in(q pipeline.Query, o *crm.Opportunity) bool {
	return o.Pipeline == q.Pipeline && q.Scope.Match(o.OwnerID, o.DepartmentID, crm.NilID, w.inTree)
}

func (w *figureWorld) opp(id crm.ID) *crm.Opportunity {
	for _, o := range w.opps {
		if o.ID == id {
			return o
		}
	}
	return nil
}

// median is percentile_cont(0.5) of microsecond lengths.
func median(v []int64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return time.Duration(v[m]) * time.Microsecond
	}
	return time.Duration(float64(v[m-1]+v[m]) / 2 * 1000)
}

// stageStats counts, per stage, the deals whose earliest stay in it
// began in the period (found here by Seq, not from StageEntry.First).
func (w *figureWorld) stageStats(q pipeline.Query) []pipeline.StageStat {
	entered := map[crm.OpportunityStage]map[crm.ID]bool{}
	times := map[crm.OpportunityStage][]int64{}
	earliest := map[string]int{}
	for _, s := range w.stays {
		k := s.OpportunityID.String() + string(s.Stage)
		if seq, ok := earliest[k]; !ok || s.Seq < seq {
			earliest[k] = s.Seq
		}
	}
	for _, s := range w.stays {
		o := w.opp(s.OpportunityID)
		if s.Pipeline != q.Pipeline || !q.Period.Contains(s.EnteredAt) || !q.Scope.Match(o.OwnerID, o.DepartmentID, crm.NilID, w.inTree) {
			continue
		}
		if entered[s.Stage] == nil {
			entered[s.Stage] = map[crm.ID]bool{}
		}
		if earliest[s.OpportunityID.String()+string(s.Stage)] == s.Seq {
			entered[s.Stage][s.OpportunityID] = true
		}
		if s.LeftAt != nil {
			times[s.Stage] = append(times[s.Stage], int64(s.LeftAt.Sub(s.EnteredAt)/time.Microsecond))
		}
	}
	var out []pipeline.StageStat
	for stage, ids := range entered {
		out = append(out, pipeline.StageStat{Stage: stage, Entered: int64(len(ids)), Timed: int64(len(times[stage])), MedianTime: median(times[stage])})
	}
	slices.SortFunc(out, func(a, b pipeline.StageStat) int { return cmp.Compare(a.Stage, b.Stage) })
	return out
}

func (w *figureWorld) closedStats(q pipeline.Query) pipeline.ClosedStat {
	var out pipeline.ClosedStat
	sums := map[string]*pipeline.Sum{}
	var cycles []int64
	for _, o := range w.opps {
		if !w.in(q, o) || o.ClosedAt == nil || !q.Period.Contains(*o.ClosedAt) {
			continue
		}
		if slices.Contains(q.Lost, o.Stage) {
			out.Lost++
		} else if slices.Contains(q.Won, o.Stage) {
			out.Won++
			add(sums, o, false)
			cycles = append(cycles, int64(o.ClosedAt.Sub(o.CreatedAt)/time.Microsecond))
		}
	}
	out.WonAmounts = sorted(sums)
	if len(cycles) > 0 {
		var total int64
		for _, c := range cycles {
			total += c
		}
		mean := decimal.NewFromInt(total).DivRound(decimal.NewFromInt(int64(len(cycles))), 0)
		out.CycleMean = time.Duration(mean.IntPart()) * time.Microsecond
		out.CycleMedian = median(cycles)
	}
	return out
}

func add(sums map[string]*pipeline.Sum, o *crm.Opportunity, weighted bool) {
	c := o.Amount.Currency()
	if sums[c] == nil {
		sums[c] = &pipeline.Sum{Currency: c}
	}
	s := sums[c]
	s.Count++
	if c != "" {
		s.Amount = s.Amount.Add(o.Amount.Amount())
		if weighted {
			s.Weighted = s.Weighted.Add(o.Amount.Amount().Mul(decimal.NewFromInt(int64(o.Probability))).Div(decimal.NewFromInt(100)))
		}
	}
}

func sorted(sums map[string]*pipeline.Sum) []pipeline.Sum {
	var out []pipeline.Sum
	for _, s := range sums {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b pipeline.Sum) int { return cmp.Compare(a.Currency, b.Currency) })
	return out
}

func isOpen(q pipeline.Query, o *crm.Opportunity) bool {
	return o.ClosedAt == nil && !slices.Contains(q.Won, o.Stage) && !slices.Contains(q.Lost, o.Stage)
}

func (w *figureWorld) openStats(q pipeline.Query) []pipeline.OpenStat {
	by := map[crm.OpportunityStage]map[string]*pipeline.Sum{}
	for _, o := range w.opps {
		if !w.in(q, o) || !isOpen(q, o) {
			continue
		}
		if by[o.Stage] == nil {
			by[o.Stage] = map[string]*pipeline.Sum{}
		}
		add(by[o.Stage], o, true)
	}
	var out []pipeline.OpenStat
	for stage, m := range by {
		for _, s := range sorted(m) {
			out = append(out, pipeline.OpenStat{Stage: stage, Sum: s})
		}
	}
	slices.SortStableFunc(out, func(a, b pipeline.OpenStat) int { return cmp.Compare(a.Stage, b.Stage) })
	return out
}

func (w *figureWorld) forecast(q pipeline.Query) []pipeline.ForecastRow {
	type key struct {
		bucket time.Time
		owner  crm.ID
	}
	by := map[key]map[string]*pipeline.Sum{}
	for _, o := range w.opps {
		if !w.in(q, o) || !isOpen(q, o) || o.ExpectedClose == nil || !q.Period.Contains(*o.ExpectedClose) {
			continue
		}
		k := key{q.Period.Start(*o.ExpectedClose).UTC(), o.OwnerID}
		if by[k] == nil {
			by[k] = map[string]*pipeline.Sum{}
		}
		add(by[k], o, true)
	}
	var ks []key
	for k := range by {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b key) int {
		if c := a.bucket.Compare(b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.owner[:], b.owner[:])
	})
	var out []pipeline.ForecastRow
	for _, k := range ks {
		for _, s := range sorted(by[k]) {
			v := pipeline.Value{Currency: s.Currency, Count: s.Count}
			if s.Currency != "" {
				v.Amount = money(s.Amount.String(), s.Currency)
				v.Weighted = money(s.Weighted.String(), s.Currency)
			}
			out = append(out, pipeline.ForecastRow{Bucket: k.bucket, OwnerID: k.owner, Value: v})
		}
	}
	return out
}
