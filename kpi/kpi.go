package kpi

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Scopes are the data scopes of a report, one per kind of record it
// counts: a nil scope counts every record of the tenant, a non-nil empty
// scope none (see [crm.DataScope]).
type Scopes struct {
	// Leads places a lead by its owner and department.
	Leads *crm.DataScope
	// Customers places a customer by its owner, department and pool; the
	// customer and pool figures count the customers it matches. A pool
	// ledger entry is placed by the user who held the customer (the
	// claimant of a claim, the previous owner of a release or recycle),
	// the customer's current department and the entry's pool.
	Customers *crm.DataScope
	// Tickets places a ticket by its assignee and department.
	Tickets *crm.DataScope
}

// Same returns the Scopes that apply s to every kind of record.
func Same(s *crm.DataScope) Scopes { return Scopes{Leads: s, Customers: s, Tickets: s} }

// Request asks for the figures of one period.
type Request struct {
	// Period is the reported range and its buckets. Required; its
	// Location, the tenant's time zone (nil for UTC), must be a zone of
	// the IANA database under its own name (as time.LoadLocation returns
	// it), so that the store can cut buckets in it.
	Period crm.Period
	// Scope restricts what is counted; the zero value counts everything.
	Scope Scopes
}

// Validate reports what is wrong with r, naming the field:
// "period.from", "period.to", "period.bucket" (see [crm.Period.Validate])
// or "period.location".
func (r *Request) Validate() error {
	var v crm.Problems
	v.MergeAt("period", r.Period.Validate())
	if _, err := zoneName(&r.Period); err != nil {
		v.MergeAt("period", err)
	}
	return v.Err()
}

// zoneName returns the IANA name of the period's time zone, checking that
// the name stands for the same zone at every bucket start.
func zoneName(p *crm.Period) (string, error) {
	loc := p.Location
	if loc == nil {
		return "UTC", nil
	}
	name := loc.String()
	if name == "Local" || name == "" {
		return "", crm.Invalid("location", "must be a named time zone such as Asia/Shanghai, not the process's local zone")
	}
	named, err := time.LoadLocation(name)
	if err != nil {
		return "", crm.Invalid("location", "%q is not a time zone of the IANA database", name)
	}
	if p.From.IsZero() || !p.To.After(p.From) || !p.Bucket.Valid() {
		return name, nil
	}
	for _, s := range p.Buckets() {
		for _, t := range []time.Time{s, s.Add(12 * time.Hour)} {
			_, a := t.In(loc).Zone()
			_, b := t.In(named).Zone()
			if a != b {
				return "", crm.Invalid("location", "zone %q differs from the IANA zone of that name", name)
			}
		}
	}
	return name, nil
}

// Query is what the store receives: a validated request with the time
// zone's name.
type Query struct {
	// Period is valid ([crm.Period.Validate]); bucket starts are
	// [crm.Period.Start] of the counted times.
	Period crm.Period
	// Zone is the IANA name of Period's location ("UTC" for nil), for the
	// store's own date arithmetic.
	Zone  string
	Scope Scopes
}

// Store is the optional port of a unit of work that computes the figures
// where the data lives: memstore and pgstore have it; [Service] finds it
// with [crm.As] and reports [crm.ErrUnsupported] without it. Each method
// returns the non-empty rows of one figure in any order, counting only the
// context's tenant; the definitions are in the package documentation.
// Bucket starts are instants (any location). Methods return ctx.Err()
// (wrapped) when ctx is done; they only read.
type Store interface {
	KPILeads(ctx context.Context, q Query) ([]LeadRow, error)
	KPICustomers(ctx context.Context, q Query) ([]CustomerRow, error)
	KPITickets(ctx context.Context, q Query) ([]TicketRow, error)
	KPIPools(ctx context.Context, q Query) ([]PoolRow, error)
}

// LeadRow holds the lead figures of one bucket and source: the leads
// created in the bucket (Created), those of them converted by now
// (Converted), and those of them with a follow-up activity (FollowedUp)
// with the sum of the times from creation to the first one, in
// milliseconds (FollowUpMillis, each truncated toward zero).
type LeadRow struct {
	Bucket         time.Time
	Source         string
	Created        int64
	Converted      int64
	FollowedUp     int64
	FollowUpMillis int64
}

// ConversionRate is Converted over Created, 0 when nothing was created.
func (r LeadRow) ConversionRate() float64 { return ratio(r.Converted, r.Created) }

// MeanFirstFollowUp is the mean time from a lead's creation to its first
// follow-up, over the followed-up leads; 0 when none.
func (r LeadRow) MeanFirstFollowUp() time.Duration { return meanMillis(r.FollowUpMillis, r.FollowedUp) }

// CustomerRow holds the customer figures of one bucket; see the package
// documentation for their definitions.
type CustomerRow struct {
	Bucket   time.Time
	Active   int64
	New      int64
	Retained int64
	Churned  int64
	Lost     int64
}

// RetentionRate is Retained over the customers active in the bucket
// before (Retained + Churned), 0 when there were none.
func (r CustomerRow) RetentionRate() float64 { return ratio(r.Retained, r.Retained+r.Churned) }

// TicketRow holds the service figures of one bucket. Tickets created in
// the bucket: Created, of which Responded have a first response, with the
// sum of the response times in ResponseMillis. Tickets resolved in the
// bucket: Resolved, with the sum of their resolution times in
// ResolvedMillis; WithSLA of them have a stored SLA timer, SLAMet of those
// a timer that never breached. Tickets closed in the bucket with a
// satisfaction score: Rated, of which Satisfied scored 4 or 5, with the sum
// of the scores in ScoreSum. Milliseconds are truncated toward zero per
// ticket.
type TicketRow struct {
	Bucket         time.Time
	Created        int64
	Responded      int64
	ResponseMillis int64
	Resolved       int64
	ResolvedMillis int64
	WithSLA        int64
	SLAMet         int64
	Rated          int64
	Satisfied      int64
	ScoreSum       int64
}

// MeanFirstResponse is the mean time to a ticket's first response over the
// responded tickets, 0 when none.
func (r TicketRow) MeanFirstResponse() time.Duration {
	return meanMillis(r.ResponseMillis, r.Responded)
}

// MeanResolution is the mean time from creation to resolution, 0 when
// none was resolved.
func (r TicketRow) MeanResolution() time.Duration { return meanMillis(r.ResolvedMillis, r.Resolved) }

// SLACompliance is SLAMet over WithSLA, 0 when no resolved ticket had an
// SLA.
func (r TicketRow) SLACompliance() float64 { return ratio(r.SLAMet, r.WithSLA) }

// CSAT is the share of satisfied scores (4 or 5) among the rated tickets,
// 0 when none was rated.
func (r TicketRow) CSAT() float64 { return ratio(r.Satisfied, r.Rated) }

// MeanSatisfaction is the mean score of the rated tickets, 0 when none.
func (r TicketRow) MeanSatisfaction() float64 { return ratio(r.ScoreSum, r.Rated) }

// PoolRow counts the ownership operations of one pool in one bucket:
// claims out of it, releases and recycles into it.
type PoolRow struct {
	Bucket   time.Time
	PoolID   crm.ID
	Claims   int64
	Releases int64
	Recycles int64
}

// SatisfiedScore is the lowest satisfaction score counted as satisfied.
const SatisfiedScore = 4

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func meanMillis(sum, n int64) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(sum/n) * time.Millisecond
}

// Report holds every figure of a period, each list in bucket order (then
// source or pool ID). Bucket starts are in the period's location.
type Report struct {
	Period    crm.Period
	Leads     []LeadRow
	Customers []CustomerRow
	Tickets   []TicketRow
	Pools     []PoolRow
}

// Service computes the figures through the store's [Store] port. Safe for
// concurrent use.
type Service struct {
	store crm.Store
}

// New returns a Service over store.
func New(store crm.Store) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("kpi: %w", crm.Invalid("store", "is required"))
	}
	return &Service{store: store}, nil
}

// Report computes every figure of req in one unit of work. Errors: a
// [*crm.ValidationError] naming the field (see [Request.Validate]);
// [crm.ErrUnsupported] when the store lacks the [Store] port; the store's
// errors.
func (s *Service) Report(ctx context.Context, req Request) (*Report, error) {
	var out *Report
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		var err error
		out, err = ReportTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReportTx is [Service.Report] in an open unit of work.
func ReportTx(ctx context.Context, tx crm.Tx, req Request) (*Report, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("kpi: %w", err)
	}
	st, ok := crm.As[Store](tx)
	if !ok {
		return nil, fmt.Errorf("kpi: the store does not compute figures: %w", crm.ErrUnsupported)
	}
	zone, _ := zoneName(&req.Period)
	q := Query{Period: req.Period, Zone: zone, Scope: req.Scope}
	out := &Report{Period: req.Period}
	var err error
	if out.Leads, err = st.KPILeads(ctx, q); err != nil {
		return nil, fmt.Errorf("kpi: leads: %w", err)
	}
	if out.Customers, err = st.KPICustomers(ctx, q); err != nil {
		return nil, fmt.Errorf("kpi: customers: %w", err)
	}
	if out.Tickets, err = st.KPITickets(ctx, q); err != nil {
		return nil, fmt.Errorf("kpi: tickets: %w", err)
	}
	if out.Pools, err = st.KPIPools(ctx, q); err != nil {
		return nil, fmt.Errorf("kpi: pools: %w", err)
	}
	out.normalise()
	return out, nil
}

// normalise puts bucket starts in the period's location and sorts rows.
func (r *Report) normalise() {
	loc := r.Period.Location
	if loc == nil {
		loc = time.UTC
	}
	for i := range r.Leads {
		r.Leads[i].Bucket = r.Leads[i].Bucket.In(loc)
	}
	for i := range r.Customers {
		r.Customers[i].Bucket = r.Customers[i].Bucket.In(loc)
	}
	for i := range r.Tickets {
		r.Tickets[i].Bucket = r.Tickets[i].Bucket.In(loc)
	}
	for i := range r.Pools {
		r.Pools[i].Bucket = r.Pools[i].Bucket.In(loc)
	}
	slices.SortFunc(r.Leads, func(a, b LeadRow) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), cmp.Compare(a.Source, b.Source))
	})
	slices.SortFunc(r.Customers, func(a, b CustomerRow) int { return a.Bucket.Compare(b.Bucket) })
	slices.SortFunc(r.Tickets, func(a, b TicketRow) int { return a.Bucket.Compare(b.Bucket) })
	slices.SortFunc(r.Pools, func(a, b PoolRow) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), bytes.Compare(a.PoolID[:], b.PoolID[:]))
	})
}

// Previous returns the start of the bucket before the one starting at
// start: the bucket whose customers [CustomerRow.Retained] and
// [CustomerRow.Churned] look back to.
func Previous(p *crm.Period, start time.Time) time.Time {
	return p.Start(start.Add(-time.Nanosecond))
}
