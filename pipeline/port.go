package pipeline

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// StageEntry is one stay of an opportunity in a stage: entered at
// EnteredAt by EnteredBy, left at LeftAt by LeftBy (nil while the deal is
// still there).
type StageEntry struct {
	TenantID      string `json:"tenant_id,omitempty"`
	OpportunityID crm.ID `json:"opportunity_id"`
	// Seq numbers the stays of one opportunity from 1, in order.
	Seq       int                  `json:"seq"`
	Pipeline  string               `json:"pipeline,omitempty"`
	Stage     crm.OpportunityStage `json:"stage"`
	EnteredAt time.Time            `json:"entered_at"`
	// EnteredBy is the user who moved the deal in; NilID for the system
	// (and for the first stay of a deal moved before it had a history).
	EnteredBy crm.ID     `json:"entered_by,omitzero"`
	LeftAt    *time.Time `json:"left_at,omitempty"`
	LeftBy    crm.ID     `json:"left_by,omitzero"`
	// First marks the opportunity's first stay in the stage (a deal
	// moved back to a stage it was in before has a stay with First
	// unset); the funnel counts first stays.
	First bool `json:"first"`
}

// StageHistory stores the stage history of opportunities. The service
// decides what is written; the adapter stores and reads.
type StageHistory interface {
	// Append stores a new stay, the tenant from the context. A repeated
	// (opportunity, Seq) is [crm.ErrAlreadyExists].
	Append(ctx context.Context, e *StageEntry) error
	// Leave sets LeftAt and LeftBy of the opportunity's stay that has no
	// LeftAt; without one it changes nothing.
	Leave(ctx context.Context, opportunityID crm.ID, at time.Time, by crm.ID) error
	// List returns the opportunity's stays in Seq order (none for an
	// opportunity of another tenant).
	List(ctx context.Context, opportunityID crm.ID) ([]StageEntry, error)
}

// Tx is the port an adapter's unit of work implements to support the
// package: found with [crm.As]; without it [Service.Move] reports
// [crm.ErrUnsupported].
type Tx interface {
	StageHistory() StageHistory
}

// AnalyticsTx is the optional port of the store's figures, on the unit of
// work (and on the store's autocommit view): found with [crm.As]; without
// it the service's figures report [crm.ErrUnsupported].
type AnalyticsTx interface {
	PipelineAnalytics() Analytics
}

// Query selects the opportunities a figure is computed over: the
// context's tenant, one pipeline, a data scope (nil or All: every deal;
// matched on the deal's current owner and department, with department
// trees, as [crm.DataScope.Match]), and, for the figures over time, a
// period [From, To). Won and Lost name the pipeline's won and lost
// stages; the service fills them from the pipeline.
type Query struct {
	Pipeline string
	Scope    *crm.DataScope
	Period   crm.Period
	Won      []crm.OpportunityStage
	Lost     []crm.OpportunityStage
}

// Validate reports a bad query, naming the field ("period.to",
// "period.location": not a named IANA zone, which SQL adapters pass by
// name; "scope.owner_ids", "won").
func (q *Query) Validate(needPeriod bool) error {
	var v crm.Problems
	if q.Pipeline != "" && !crm.IsIdentifier(q.Pipeline) {
		v.Add("pipeline", "must be a lower-case identifier, got %q", clip(q.Pipeline))
	}
	if needPeriod {
		v.MergeAt("period", q.Period.Validate())
		if loc := q.Period.Location; loc != nil && loc != time.UTC {
			if name := loc.String(); name == "Local" || !validZone(name) {
				v.Add("period.location", "must be an IANA time zone such as Asia/Shanghai (stores bucket by its name), got %q", clip(name))
			}
		}
	}
	if len(q.Won) == 0 {
		v.Add("won", "is required")
	}
	if len(q.Lost) == 0 {
		v.Add("lost", "is required")
	}
	if q.Scope != nil {
		f := crm.OpportunityFilter{Scope: q.Scope}
		v.Merge(f.Validate())
	}
	return v.Err()
}

// validZone reports whether name loads as a time zone of the IANA
// database.
func validZone(name string) bool {
	_, err := time.LoadLocation(name)
	return err == nil
}

// StageStat is what the store counts of one stage over a period.
type StageStat struct {
	Stage crm.OpportunityStage
	// Entered counts the opportunities whose first stay in the stage
	// ([StageEntry.First]) began in the period: a deal moved back into a
	// stage is not counted again.
	Entered int64
	// Timed counts the stays entered in the period and since left;
	// MedianTime is the median of their lengths (LeftAt - EnteredAt), the
	// mean of the two middle ones for an even count (stays are measured
	// in whole microseconds, so the median is a whole or half
	// microsecond); 0 when Timed is 0.
	Timed      int64
	MedianTime time.Duration
}

// Sum is a total of deal amounts in one currency. Currency "" gathers
// the deals without an amount (Count only).
type Sum struct {
	Currency string
	Count    int64
	// Amount is the sum of the amounts; Weighted the sum of amount ×
	// probability / 100, exact.
	Amount, Weighted decimal.Decimal
}

// ClosedStat is what the store counts of the deals closed in a period:
// ClosedAt in [From, To) and the stage one of Won or Lost.
type ClosedStat struct {
	Won, Lost int64
	// WonAmounts sums the amounts of the won deals, per currency, in
	// currency order ("" first).
	WonAmounts []Sum
	// CycleMean and CycleMedian are the mean and median of ClosedAt -
	// CreatedAt over the won deals, rounded to the microsecond (half away
	// from zero) for the mean.
	CycleMean, CycleMedian time.Duration
}

// OpenStat is the open deals of one stage and currency: ClosedAt unset and
// the stage neither won nor lost.
type OpenStat struct {
	Stage crm.OpportunityStage
	Sum
}

// ForecastStat is the open deals expected to close in one bucket of the
// period (ExpectedClose in [From, To), bucketed in the period's time
// zone), of one owner and currency.
type ForecastStat struct {
	Bucket  time.Time
	OwnerID crm.ID
	Sum
}

// Analytics computes the pipeline's figures where the data lives: SQL
// aggregates in pgstore, the same arithmetic in memory in memstore. Every
// method validates q ([Query.Validate]) and returns rows in a fixed order,
// so two adapters' answers compare equal.
type Analytics interface {
	// StageStats counts each stage's entries over q.Period, in stage name
	// order; stages nobody entered are left out.
	StageStats(ctx context.Context, q Query) ([]StageStat, error)
	// ClosedStats counts the deals closed over q.Period.
	ClosedStats(ctx context.Context, q Query) (ClosedStat, error)
	// OpenStats sums the open deals now, by stage then currency; q.Period
	// is not used.
	OpenStats(ctx context.Context, q Query) ([]OpenStat, error)
	// ForecastStats sums the open deals expected to close in q.Period, by
	// bucket, owner (NilID first, then by ID bytes) and currency.
	ForecastStats(ctx context.Context, q Query) ([]ForecastStat, error)
}
