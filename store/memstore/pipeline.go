package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
)

// This file implements the ports of package pipeline: the stage history
// (pipeline.Tx) and the figures (pipeline.AnalyticsTx), computed by
// walking the stays and the opportunities under the read lock with the
// arithmetic pgstore's SQL aggregates do.

var (
	_ pipeline.Tx          = tx{}
	_ pipeline.AnalyticsTx = tx{}
)

// pipelineState holds the stage history by opportunity, and the
// funnel's index of it: per tenant and pipeline, one compact row per stay
// (its place in rows kept by pos), so the funnel scans flat memory;
// guarded by Store.mu.
type pipelineState struct {
	stays  map[crm.ID][]pipeline.StageEntry
	funnel map[funnelKey]*funnelRows
	pos    map[stayKey]int
}

// funnelKey names the funnel index of one tenant's pipeline.
type funnelKey struct{ tenant, pipeline string }

// stayKey names a stay.
type stayKey struct {
	opp crm.ID
	seq int
}

// funnelRows is the funnel index of one pipeline: rows in any order,
// stage names interned.
type funnelRows struct {
	key    funnelKey
	rows   []funnelRow
	stages []crm.OpportunityStage
}

// funnelRow is one stay: entered at (UnixMicro), its length in
// microseconds (-1 while not left), its stage's index in stages.
type funnelRow struct {
	opp     crm.ID
	seq     int
	entered int64
	stay    int64
	stage   int32
	first   bool
}

func (t tx) pipelineState() *pipelineState {
	return extension(t.s, "pipeline", func() *pipelineState {
		return &pipelineState{stays: make(map[crm.ID][]pipeline.StageEntry), funnel: make(map[funnelKey]*funnelRows),
			pos: make(map[stayKey]int)}
	})
}

// index adds the stay e to the funnel index.
func (st *pipelineState) index(e *pipeline.StageEntry) {
	k := funnelKey{e.TenantID, e.Pipeline}
	f := st.funnel[k]
	if f == nil {
		f = &funnelRows{key: k}
		st.funnel[k] = f
	}
	stage := int32(slices.Index(f.stages, e.Stage))
	if stage < 0 {
		stage = int32(len(f.stages))
		f.stages = append(f.stages, e.Stage)
	}
	row := funnelRow{opp: e.OpportunityID, seq: e.Seq, entered: e.EnteredAt.UnixMicro(), stay: -1, stage: stage, first: e.First}
	if e.LeftAt != nil {
		row.stay = e.LeftAt.Sub(e.EnteredAt).Microseconds()
	}
	st.pos[stayKey{e.OpportunityID, e.Seq}] = len(f.rows)
	f.rows = append(f.rows, row)
}

// unindex removes the stay e from the funnel index.
func (st *pipelineState) unindex(e *pipeline.StageEntry) {
	f := st.funnel[funnelKey{e.TenantID, e.Pipeline}]
	k := stayKey{e.OpportunityID, e.Seq}
	i, ok := st.pos[k]
	if f == nil || !ok {
		return
	}
	last := len(f.rows) - 1
	f.rows[i] = f.rows[last]
	st.pos[stayKey{f.rows[i].opp, f.rows[i].seq}] = i
	f.rows = f.rows[:last]
	delete(st.pos, k)
}

// StageHistory implements [pipeline.Tx].
func (t tx) StageHistory() pipeline.StageHistory { return stageRepo{t} }

// StageHistory returns the autocommit stage history port.
func (s *Store) StageHistory() pipeline.StageHistory { return tx{s: s}.StageHistory() }

// PipelineAnalytics implements [pipeline.AnalyticsTx].
func (t tx) PipelineAnalytics() pipeline.Analytics { return analyticsRepo{t} }

// PipelineAnalytics returns the autocommit analytics port.
func (s *Store) PipelineAnalytics() pipeline.Analytics { return tx{s: s}.PipelineAnalytics() }

type stageRepo struct{ tx tx }

func (r stageRepo) Append(ctx context.Context, e *pipeline.StageEntry) error {
	if err := crm.ApplyTenant(ctx, &crm.Meta{TenantID: e.TenantID}); err != nil {
		return fmt.Errorf("memstore: append stage: %w", err)
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: append stage: %w", err)
	}
	defer unlock()
	st := r.tx.pipelineState()
	c := *e
	c.TenantID = crm.TenantFrom(ctx)
	c.EnteredAt = crm.StorageTime(c.EnteredAt)
	if c.LeftAt != nil {
		l := crm.StorageTime(*c.LeftAt)
		c.LeftAt = &l
	}
	old := st.stays[c.OpportunityID]
	for _, s := range old {
		if s.Seq == c.Seq {
			return fmt.Errorf("memstore: append stage %d of %s: %w", c.Seq, c.OpportunityID, crm.ErrAlreadyExists)
		}
	}
	next := append(slices.Clip(old), c)
	slices.SortFunc(next, func(a, b pipeline.StageEntry) int { return a.Seq - b.Seq })
	st.stays[c.OpportunityID] = next
	st.index(&c)
	r.tx.onUndo(func() {
		st.unindex(&c)
		restoreStays(st, c.OpportunityID, old)
	})
	return nil
}

func restoreStays(st *pipelineState, id crm.ID, old []pipeline.StageEntry) {
	if old == nil {
		delete(st.stays, id)
		return
	}
	st.stays[id] = old
}

func (r stageRepo) Leave(ctx context.Context, id crm.ID, at time.Time, by crm.ID) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: leave stage: %w", err)
	}
	defer unlock()
	st, tenant := r.tx.pipelineState(), crm.TenantFrom(ctx)
	old := st.stays[id]
	for i, s := range old {
		if s.LeftAt == nil && s.TenantID == tenant {
			next := slices.Clone(old)
			l := crm.StorageTime(at)
			next[i].LeftAt, next[i].LeftBy = &l, by
			st.stays[id] = next
			st.unindex(&old[i])
			st.index(&next[i])
			r.tx.onUndo(func() {
				st.unindex(&next[i])
				st.index(&old[i])
				restoreStays(st, id, old)
			})
			break
		}
	}
	return nil
}

func (r stageRepo) List(ctx context.Context, id crm.ID) ([]pipeline.StageEntry, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: list stages: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	var out []pipeline.StageEntry
	for _, s := range r.tx.pipelineState().stays[id] {
		if s.TenantID == tenant {
			if s.LeftAt != nil {
				l := *s.LeftAt
				s.LeftAt = &l
			}
			out = append(out, s)
		}
	}
	return out, nil
}

type analyticsRepo struct{ tx tx }

// read validates q and runs fn under the read lock with the scope test
// of the context's tenant: in reports whether an opportunity is the
// tenant's, in q's pipeline and in q's scope.
func (r analyticsRepo) read(ctx context.Context, op string, q pipeline.Query, needPeriod bool,
	fn func(tenant string, in func(o *crm.Opportunity) bool) error) error {
	if err := q.Validate(needPeriod); err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	inTree := r.tx.s.inTree(tenant)
	return fn(tenant, func(o *crm.Opportunity) bool {
		return o.TenantID == tenant && o.Pipeline == q.Pipeline && q.Scope.Match(o.OwnerID, o.DepartmentID, crm.NilID, inTree)
	})
}

func (r analyticsRepo) StageStats(ctx context.Context, q pipeline.Query) ([]pipeline.StageStat, error) {
	var out []pipeline.StageStat
	scoped := q.Scope != nil && !q.Scope.All
	err := r.read(ctx, "stage stats", q, true, func(tenant string, _ func(*crm.Opportunity) bool) error {
		f := r.tx.pipelineState().funnel[funnelKey{tenant, q.Pipeline}]
		if f == nil {
			return nil
		}
		opps, inTree := r.tx.s.opportunities.rows, r.tx.s.inTree(tenant)
		from, to := ceilMicro(q.Period.From).UnixMicro(), ceilMicro(q.Period.To).UnixMicro()
		seen := make([]bool, len(f.stages))
		entered := make([]int64, len(f.stages))
		times := make([][]int64, len(f.stages))
		for i := range f.rows {
			row := &f.rows[i]
			if row.entered < from || row.entered >= to {
				continue
			}
			if scoped {
				o, ok := opps[row.opp]
				if !ok || !q.Scope.Match(o.OwnerID, o.DepartmentID, crm.NilID, inTree) {
					continue
				}
			}
			seen[row.stage] = true
			if row.first {
				entered[row.stage]++
			}
			if row.stay >= 0 {
				times[row.stage] = append(times[row.stage], row.stay)
			}
		}
		for i, stage := range f.stages {
			if seen[i] {
				out = append(out, pipeline.StageStat{Stage: stage, Entered: entered[i], Timed: int64(len(times[i])), MedianTime: medianMicros(times[i])})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b pipeline.StageStat) int { return strings.Compare(string(a.Stage), string(b.Stage)) })
	return out, nil
}

// ceilMicro rounds t up to the next microsecond: a stored time (whole
// microseconds) is at or after t exactly when it is at or after
// ceilMicro(t).
func ceilMicro(t time.Time) time.Time {
	if tr := t.Truncate(time.Microsecond); !tr.Equal(t) {
		return tr.Add(time.Microsecond)
	}
	return t
}

// medianMicros returns the median of microsecond lengths as a Duration:
// the middle one, or the mean of the two middle ones (percentile_cont).
// It reorders v.
func medianMicros(v []int64) time.Duration {
	n := len(v)
	if n == 0 {
		return 0
	}
	hi := nth(v, n/2)
	if n%2 == 1 {
		return time.Duration(hi) * time.Microsecond
	}
	lo := slices.Max(v[:n/2]) // nth left the smaller half before n/2
	return time.Duration(lo+hi) * (time.Microsecond / 2)
}

// nth reorders v so that v[k] is the value sorted order puts there, with
// no greater value before it and no smaller one after, and returns it
// (quickselect with a median-of-three pivot).
func nth(v []int64, k int) int64 {
	lo, hi := 0, len(v)-1
	for hi-lo > 16 {
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	slices.Sort(v[lo : hi+1])
	return v[k]
}

func (r analyticsRepo) ClosedStats(ctx context.Context, q pipeline.Query) (pipeline.ClosedStat, error) {
	var out pipeline.ClosedStat
	sums := map[string]*pipeline.Sum{}
	var cycles []int64
	err := r.read(ctx, "closed stats", q, true, func(_ string, in func(*crm.Opportunity) bool) error {
		for _, o := range r.tx.s.opportunities.rows {
			if o.ClosedAt == nil || !q.Period.Contains(*o.ClosedAt) || !in(o) {
				continue
			}
			switch {
			case slices.Contains(q.Lost, o.Stage):
				out.Lost++
			case slices.Contains(q.Won, o.Stage):
				out.Won++
				addSum(sums, o, false)
				cycles = append(cycles, o.ClosedAt.Sub(o.CreatedAt).Microseconds())
			}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	out.WonAmounts = sortedSums(sums)
	if n := len(cycles); n > 0 {
		total := decimal.Zero
		for _, c := range cycles {
			total = total.Add(decimal.NewFromInt(c))
		}
		out.CycleMean = time.Duration(total.DivRound(decimal.NewFromInt(int64(n)), 0).IntPart()) * time.Microsecond
		out.CycleMedian = medianMicros(cycles)
	}
	return out, nil
}

// addSum adds o's amount (and, when weighted, amount × probability) to
// the sum of its currency.
func addSum(sums map[string]*pipeline.Sum, o *crm.Opportunity, weighted bool) {
	c := o.Amount.Currency()
	s := sums[c]
	if s == nil {
		s = &pipeline.Sum{Currency: c}
		sums[c] = s
	}
	s.Count++
	if c == "" {
		return
	}
	s.Amount = s.Amount.Add(o.Amount.Amount())
	if weighted {
		s.Weighted = s.Weighted.Add(o.Amount.Amount().Mul(decimal.NewFromInt(int64(o.Probability))).Shift(-2))
	}
}

func sortedSums(sums map[string]*pipeline.Sum) []pipeline.Sum {
	out := make([]pipeline.Sum, 0, len(sums))
	for _, s := range sums {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b pipeline.Sum) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}

// open reports whether o counts as an open deal of q.
func open(q pipeline.Query, o *crm.Opportunity) bool {
	return o.ClosedAt == nil && !slices.Contains(q.Won, o.Stage) && !slices.Contains(q.Lost, o.Stage)
}

func (r analyticsRepo) OpenStats(ctx context.Context, q pipeline.Query) ([]pipeline.OpenStat, error) {
	by := map[crm.OpportunityStage]map[string]*pipeline.Sum{}
	err := r.read(ctx, "open stats", q, false, func(_ string, in func(*crm.Opportunity) bool) error {
		for _, o := range r.tx.s.opportunities.rows {
			if !open(q, o) || !in(o) {
				continue
			}
			m := by[o.Stage]
			if m == nil {
				m = map[string]*pipeline.Sum{}
				by[o.Stage] = m
			}
			addSum(m, o, true)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []pipeline.OpenStat
	for stage, m := range by {
		for _, s := range sortedSums(m) {
			out = append(out, pipeline.OpenStat{Stage: stage, Sum: s})
		}
	}
	slices.SortStableFunc(out, func(a, b pipeline.OpenStat) int { return strings.Compare(string(a.Stage), string(b.Stage)) })
	return out, nil
}

func (r analyticsRepo) ForecastStats(ctx context.Context, q pipeline.Query) ([]pipeline.ForecastStat, error) {
	type key struct {
		bucket int64
		owner  crm.ID
	}
	by := map[key]map[string]*pipeline.Sum{}
	starts := map[int64]time.Time{}
	err := r.read(ctx, "forecast stats", q, true, func(_ string, in func(*crm.Opportunity) bool) error {
		for _, o := range r.tx.s.opportunities.rows {
			if o.ExpectedClose == nil || !q.Period.Contains(*o.ExpectedClose) || !open(q, o) || !in(o) {
				continue
			}
			b := q.Period.Start(*o.ExpectedClose)
			k := key{b.UnixMicro(), o.OwnerID}
			starts[k.bucket] = b
			m := by[k]
			if m == nil {
				m = map[string]*pipeline.Sum{}
				by[k] = m
			}
			addSum(m, o, true)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	keys := make([]key, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.bucket != b.bucket {
			return cmp.Compare(a.bucket, b.bucket)
		}
		return bytes.Compare(a.owner[:], b.owner[:])
	})
	var out []pipeline.ForecastStat
	for _, k := range keys {
		for _, s := range sortedSums(by[k]) {
			out = append(out, pipeline.ForecastStat{Bucket: starts[k.bucket].UTC(), OwnerID: k.owner, Sum: s})
		}
	}
	return out, nil
}
