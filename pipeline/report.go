package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// ReportRequest asks for a figure of one pipeline: Pipeline is its key
// ("" the built-in one), Scope the viewer's data scope (nil: every deal
// of the tenant), Period the time range and buckets (not used by
// [Service.Value]).
type ReportRequest struct {
	Pipeline string
	Scope    *crm.DataScope
	Period   crm.Period
}

// FunnelStage is one row of a [Funnel].
type FunnelStage struct {
	Stage crm.OpportunityStage
	Kind  Kind
	// Entered counts the deals that entered the stage in the period.
	Entered int64
	// Conversion is Entered of the next stage of the chain (the open
	// stages then the won ones, in order; lost stages are not in the
	// chain) divided by this stage's Entered: the stage-to-stage
	// conversion. 0 for the last stage of the chain, for lost stages and
	// when Entered is 0.
	Conversion float64
	// MedianTime is the median time in the stage of the stays entered in
	// the period and left since (Timed of them).
	MedianTime time.Duration
	Timed      int64
}

// Funnel is the stages of a pipeline with what entered each over a
// period, in the pipeline's order (every stage, entered or not).
type Funnel struct {
	Pipeline string
	Stages   []FunnelStage
}

// analytics runs fn with the store's analytics port.
func (s *Service) analytics(ctx context.Context, req ReportRequest, needPeriod bool, fn func(Analytics, Query, *Pipeline) error) error {
	p, err := s.Pipeline(ctx, req.Pipeline)
	if err != nil {
		return err
	}
	q := Query{Pipeline: p.Key, Scope: req.Scope, Period: req.Period, Won: p.StagesOf(KindWon), Lost: p.StagesOf(KindLost)}
	if err := q.Validate(needPeriod); err != nil {
		return err
	}
	a, ok := crm.As[AnalyticsTx](s.store)
	if !ok {
		return fmt.Errorf("%w: %w", errNoAnalytics, crm.ErrUnsupported)
	}
	return fn(a.PipelineAnalytics(), q, p)
}

// Funnel counts, over req.Period, the deals that entered each stage of
// the pipeline, the stage-to-stage conversion and the median time in
// each stage, within req.Scope. A bad period is a [*crm.ValidationError]
// on "period.to" or "period.bucket".
func (s *Service) Funnel(ctx context.Context, req ReportRequest) (*Funnel, error) {
	var out *Funnel
	err := s.analytics(ctx, req, true, func(a Analytics, q Query, p *Pipeline) error {
		stats, err := a.StageStats(ctx, q)
		if err != nil {
			return err
		}
		out = BuildFunnel(p, stats)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: funnel: %w", err)
	}
	return out, nil
}

// BuildFunnel lays the store's stage figures out along p's stages and
// computes the conversions; stages of stats not in p are left out.
func BuildFunnel(p *Pipeline, stats []StageStat) *Funnel {
	by := map[crm.OpportunityStage]StageStat{}
	for _, st := range stats {
		by[st.Stage] = st
	}
	f := &Funnel{Pipeline: p.Key}
	chain := []int{}
	for _, st := range p.Stages {
		x := by[st.Name]
		f.Stages = append(f.Stages, FunnelStage{Stage: st.Name, Kind: st.Kind, Entered: x.Entered, MedianTime: x.MedianTime, Timed: x.Timed})
		if st.Kind != KindLost {
			chain = append(chain, len(f.Stages)-1)
		}
	}
	for i := 0; i+1 < len(chain); i++ {
		this, next := &f.Stages[chain[i]], f.Stages[chain[i+1]]
		if this.Entered > 0 {
			this.Conversion = float64(next.Entered) / float64(this.Entered)
		}
	}
	return f
}

// Performance is how a pipeline's deals closed over a period.
type Performance struct {
	Won, Lost int64
	// WinRate is Won / (Won + Lost); 0 when none closed.
	WinRate float64
	// Revenue is the sum of the won amounts, AverageDeal their mean
	// (rounded to 10 decimals, trailing zeros dropped), one per currency,
	// in currency order;
	// WonWithoutAmount counts won deals without an amount.
	Revenue, AverageDeal []crm.Money
	WonWithoutAmount     int64
	// CycleMean and CycleMedian are the sales cycle of the won deals:
	// from CreatedAt to ClosedAt.
	CycleMean, CycleMedian time.Duration
}

// Performance computes win rate, revenue and average deal size per
// currency, and the sales cycle, of the deals closed in req.Period
// within req.Scope.
func (s *Service) Performance(ctx context.Context, req ReportRequest) (*Performance, error) {
	var out *Performance
	err := s.analytics(ctx, req, true, func(a Analytics, q Query, _ *Pipeline) error {
		st, err := a.ClosedStats(ctx, q)
		if err != nil {
			return err
		}
		out, err = BuildPerformance(st)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: performance: %w", err)
	}
	return out, nil
}

// BuildPerformance derives the rates and means from the store's counts.
func BuildPerformance(st ClosedStat) (*Performance, error) {
	p := &Performance{Won: st.Won, Lost: st.Lost, CycleMean: st.CycleMean, CycleMedian: st.CycleMedian}
	if n := st.Won + st.Lost; n > 0 {
		p.WinRate = float64(st.Won) / float64(n)
	}
	for _, sum := range st.WonAmounts {
		if sum.Currency == "" {
			p.WonWithoutAmount += sum.Count
			continue
		}
		total, err := crm.NewMoney(sum.Amount, sum.Currency)
		if err != nil {
			return nil, err
		}
		avg, err := crm.NewMoney(trim(sum.Amount.DivRound(decimal.NewFromInt(sum.Count), 10)), sum.Currency)
		if err != nil {
			return nil, err
		}
		p.Revenue, p.AverageDeal = append(p.Revenue, total), append(p.AverageDeal, avg)
	}
	return p, nil
}

// Value is the open deals of one currency: how many, their amount and
// their weighted amount (amount × probability / 100, rounded to 10
// decimals, trailing zeros of its fraction dropped). The zero Currency
// counts the deals without an amount.
type Value struct {
	Currency         string
	Count            int64
	Amount, Weighted crm.Money
}

// StageValue is the open deals of one stage.
type StageValue struct {
	Stage  crm.OpportunityStage
	Values []Value
}

// PipelineValue is the pipeline's open deals now, by stage (in the
// pipeline's order, open stages only) and in total, per currency.
type PipelineValue struct {
	Pipeline string
	Stages   []StageValue
	Total    []Value
}

// Value sums the open deals of the pipeline within req.Scope: the
// pipeline value and the weighted pipeline, per stage and currency.
func (s *Service) Value(ctx context.Context, req ReportRequest) (*PipelineValue, error) {
	var out *PipelineValue
	err := s.analytics(ctx, req, false, func(a Analytics, q Query, p *Pipeline) error {
		stats, err := a.OpenStats(ctx, q)
		if err != nil {
			return err
		}
		out, err = BuildValue(p, stats)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: value: %w", err)
	}
	return out, nil
}

// BuildValue lays the store's sums out along p's open stages, with
// totals per currency. Deals in a stage p does not have (a stage removed
// from the configuration) count in the totals only.
func BuildValue(p *Pipeline, stats []OpenStat) (*PipelineValue, error) {
	out := &PipelineValue{Pipeline: p.Key}
	by := map[crm.OpportunityStage][]Sum{}
	total := map[string]Sum{}
	var currencies []string
	for _, st := range stats {
		by[st.Stage] = append(by[st.Stage], st.Sum)
		t, seen := total[st.Currency]
		if !seen {
			currencies = append(currencies, st.Currency)
		}
		t.Currency, t.Count = st.Currency, t.Count+st.Count
		t.Amount, t.Weighted = t.Amount.Add(st.Amount), t.Weighted.Add(st.Weighted)
		total[st.Currency] = t
	}
	for _, st := range p.Stages {
		if st.Kind != KindOpen {
			continue
		}
		vs, err := values(by[st.Name])
		if err != nil {
			return nil, err
		}
		out.Stages = append(out.Stages, StageValue{Stage: st.Name, Values: vs})
	}
	slices.Sort(currencies)
	sums := make([]Sum, 0, len(currencies))
	for _, c := range currencies {
		sums = append(sums, total[c])
	}
	var err error
	out.Total, err = values(sums)
	return out, err
}

func values(sums []Sum) ([]Value, error) {
	out := make([]Value, 0, len(sums))
	for _, s := range sums {
		v, err := value(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func value(s Sum) (Value, error) {
	v := Value{Currency: s.Currency, Count: s.Count}
	if s.Currency == "" {
		return v, nil
	}
	var err error
	if v.Amount, err = crm.NewMoney(s.Amount, s.Currency); err != nil {
		return v, err
	}
	v.Weighted, err = crm.NewMoney(trim(s.Weighted), s.Currency)
	return v, err
}

// trim rounds d to 10 decimals (what Money holds) and drops the
// trailing zeros of its fraction: 30000.00 is 30000.
func trim(d decimal.Decimal) decimal.Decimal {
	if d.Exponent() < -10 {
		d = d.Round(10)
	}
	t, err := decimal.NewFromString(d.String())
	if err != nil {
		return d
	}
	return t
}

// ForecastRow is the open deals of one owner expected to close in one
// bucket, in one currency.
type ForecastRow struct {
	Bucket  time.Time
	OwnerID crm.ID
	Value
}

// Forecast sums the open deals of the pipeline expected to close in
// req.Period, by bucket of req.Period.Bucket (in its time zone), owner
// and currency, within req.Scope (a manager's department tree).
func (s *Service) Forecast(ctx context.Context, req ReportRequest) ([]ForecastRow, error) {
	var out []ForecastRow
	err := s.analytics(ctx, req, true, func(a Analytics, q Query, _ *Pipeline) error {
		stats, err := a.ForecastStats(ctx, q)
		if err != nil {
			return err
		}
		for _, st := range stats {
			v, err := value(st.Sum)
			if err != nil {
				return err
			}
			out = append(out, ForecastRow{Bucket: st.Bucket, OwnerID: st.OwnerID, Value: v})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: forecast: %w", err)
	}
	return out, nil
}

// Rates converts currencies: Rates["USD"] is how many units of the
// target currency one USD is worth. crmkit never converts on its own;
// the host gives the rates.
type Rates map[string]decimal.Decimal

// Convert sums amounts in currency to, converting each other currency
// with rates. A currency without a rate is a [*crm.ValidationError] on
// "rates.<CODE>"; nothing is guessed.
func Convert(amounts []crm.Money, to string, rates Rates) (crm.Money, error) {
	total, err := crm.NewMoney(decimal.Zero, to)
	if err != nil {
		return crm.Money{}, err
	}
	var v crm.Problems
	for _, m := range amounts {
		if m.IsZero() {
			continue
		}
		a := m.Amount()
		if m.Currency() != total.Currency() {
			r, ok := rates[m.Currency()]
			if !ok || r.IsNegative() || r.IsZero() {
				v.Add("rates."+m.Currency(), "no positive rate to convert %s into %s", m.Currency(), total.Currency())
				continue
			}
			if a = a.Mul(r); a.Exponent() < -10 {
				a = a.Round(10)
			}
		}
		c, err := crm.NewMoney(a, total.Currency())
		if err != nil {
			return crm.Money{}, err
		}
		if total, err = total.Add(c); err != nil {
			return crm.Money{}, err
		}
	}
	if err := v.Err(); err != nil {
		return crm.Money{}, err
	}
	return total, nil
}
