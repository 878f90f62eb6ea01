package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Config configures a [Service]. nil means defaults.
type Config struct {
	// Clock stamps computations and is the "now" of recency and activity
	// windows. Defaults to crm.SystemClock.
	Clock crm.Clock
	// ScanBudget is the most candidates one page of a rule tested per row
	// reads before it returns what it found with a cursor to go on from.
	// Defaults to 5000.
	ScanBudget int
}

func (c *Config) withDefaults() Config {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.Clock == nil {
		out.Clock = crm.SystemClock{}
	}
	if out.ScanBudget == 0 {
		out.ScanBudget = 5000
	}
	return out
}

func (c *Config) validate() error {
	if c.ScanBudget < 1 {
		return crm.Invalid("scan_budget", "must be positive, got %d", c.ScanBudget)
	}
	return nil
}

// Service computes RFM scores and lists segment members. Safe for
// concurrent use.
type Service struct {
	store crm.Store
	cfg   Config
}

// New returns a service over store.
func New(store crm.Store, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, crm.Invalid("store", "is required")
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: c}, nil
}

func port(tx crm.Tx) (Store, error) {
	p, ok := crm.As[Store](tx)
	if !ok {
		return nil, fmt.Errorf("segment: the store has no segment port: %w", crm.ErrUnsupported)
	}
	return p, nil
}

// Compute recomputes the context tenant's RFM scores from its won
// opportunities and stores them, replacing the previous ones, in one unit
// of work; running it again on the same data stores the same scores. It
// returns how many customers were scored. A bad request, or won deals in a
// currency the request gives no rate for, is a [*crm.ValidationError]
// naming the field ("rates.USD"), with nothing written.
func (s *Service) Compute(ctx context.Context, req ComputeRequest) (int, error) {
	var n int
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		n, err = s.ComputeTx(ctx, tx, req)
		return err
	})
	return n, err
}

// ComputeTx is [Service.Compute] inside the caller's unit of work.
func (s *Service) ComputeTx(ctx context.Context, tx crm.Tx, req ComputeRequest) (int, error) {
	fail := func(err error) (int, error) { return 0, fmt.Errorf("segment: compute: %w", err) }
	if err := req.validate(); err != nil {
		return fail(err)
	}
	p, err := port(tx)
	if err != nil {
		return 0, err
	}
	currencies, err := p.WonCurrencies(ctx)
	if err != nil {
		return fail(err)
	}
	q, err := req.query(currencies, s.cfg.Clock.Now())
	if err != nil {
		return fail(err)
	}
	n, err := p.ComputeRFM(ctx, q)
	if err != nil {
		return fail(err)
	}
	return n, nil
}

// Scores returns the stored scores of the listed customers that have one.
func (s *Service) Scores(ctx context.Context, customerIDs []crm.ID) (map[crm.ID]*Score, error) {
	if len(customerIDs) > crm.MaxPageLimit {
		return nil, crm.Invalid("customer_ids", "has more than %d values", crm.MaxPageLimit)
	}
	var out map[crm.ID]*Score
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		p, err := port(tx)
		if err != nil {
			return err
		}
		out, err = p.RFMScores(ctx, customerIDs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("segment: scores: %w", err)
	}
	return out, nil
}

// MembersRequest asks for a page of a segment's members.
type MembersRequest struct {
	// Segment is the compiled rule. Required.
	Segment *Segment
	// Scope is the viewer's data scope (permission.Policy.ListFilter);
	// nil lists every customer of the tenant.
	Scope *crm.DataScope
	Page  crm.PageRequest
}

// Members returns one page of the segment's members within the scope, in
// customer ID order. Storage finds the candidates from its indexes
// ([Plan]); when the rule has parts it cannot answer, each candidate is
// tested with the whole rule (with its score and, when the rule counts
// activities, its activities in the rule's window). Such a page reads at
// most [Config.ScanBudget] candidates, so it may hold fewer than
// Page.Limit members and still carry a NextCursor; an empty NextCursor
// means there are no more.
func (s *Service) Members(ctx context.Context, req MembersRequest) (crm.Page[Member], error) {
	fail := func(err error) (crm.Page[Member], error) {
		return crm.Page[Member]{}, fmt.Errorf("segment: members: %w", err)
	}
	if req.Segment == nil {
		return fail(crm.Invalid("segment", "is required"))
	}
	limit, after, err := req.Page.Resolve()
	if err != nil {
		return fail(err)
	}
	plan := req.Segment.plan
	f := plan.Filter
	f.Customers.Scope = req.Scope
	if err := f.Validate(); err != nil {
		return fail(err)
	}
	now := s.cfg.Clock.Now()
	var page crm.Page[Member]
	err = s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		p, err := port(tx)
		if err != nil {
			return err
		}
		page, err = s.members(ctx, tx, p, req.Segment, &f, after, limit, now)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}

func (s *Service) members(ctx context.Context, tx crm.Tx, p Store, seg *Segment, f *Filter, after crm.ID, limit int, now time.Time) (crm.Page[Member], error) {
	var page crm.Page[Member]
	if !seg.plan.PerRow {
		cands, err := p.SegmentCandidates(ctx, f, after, limit+1)
		if err != nil {
			return page, err
		}
		if len(cands) > limit {
			cands = cands[:limit]
			page.NextCursor = crm.CursorAfter(cands[limit-1].Customer.ID)
		}
		page.Items = make([]*Member, len(cands))
		for i := range cands {
			page.Items[i] = &cands[i]
		}
		return page, nil
	}
	r := schema.NewRecord()
	batch := min(max(2*limit, 200), crm.MaxPageLimit)
	scanned := 0
	for {
		n := min(batch, s.cfg.ScanBudget-scanned)
		cands, err := p.SegmentCandidates(ctx, f, after, n)
		if err != nil {
			return page, err
		}
		events, err := activityEvents(ctx, tx, seg.plan, cands, now)
		if err != nil {
			return page, err
		}
		if !f.NeedsScores() {
			// Candidates of a filter that does not read scores may come
			// without them; the rule may still test them.
			if err := addScores(ctx, p, cands); err != nil {
				return page, err
			}
		}
		for i := range cands {
			c := &cands[i]
			after = c.Customer.ID
			scanned++
			if err := fill(r, c, events[c.Customer.ID], now); err != nil {
				return page, err
			}
			if !seg.pred.Match(r) {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = crm.CursorAfter(page.Items[limit-1].Customer.ID)
				return page, nil
			}
			page.Items = append(page.Items, c)
		}
		if len(cands) < n {
			return page, nil
		}
		if scanned >= s.cfg.ScanBudget {
			page.NextCursor = crm.CursorAfter(after)
			return page, nil
		}
	}
}

func addScores(ctx context.Context, p Store, cands []Member) error {
	var ids []crm.ID
	for _, c := range cands {
		if c.Score == nil {
			ids = append(ids, c.Customer.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	scores, err := p.RFMScores(ctx, ids)
	if err != nil {
		return err
	}
	for i := range cands {
		if sc, ok := scores[cands[i].Customer.ID]; ok {
			cands[i].Score = sc
		}
	}
	return nil
}

// activityEvents returns the activities of the candidates' customers in
// the plan's window, as events by customer, when the rule counts them.
func activityEvents(ctx context.Context, tx crm.Tx, plan Plan, cands []Member, now time.Time) (map[crm.ID][]cond.Event, error) {
	if !plan.Events || len(cands) == 0 {
		return nil, nil
	}
	f := crm.ActivityFilter{SubjectIDs: make([]crm.ID, len(cands))}
	for i, c := range cands {
		f.SubjectIDs[i] = c.Customer.ID
	}
	if plan.EventWindow > 0 {
		from := now.Add(-plan.EventWindow)
		f.OccurredFrom = &from
	}
	out := make(map[crm.ID][]cond.Event, len(cands))
	req := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		acts, err := tx.Activities().List(ctx, f, req)
		if err != nil {
			return nil, err
		}
		for _, a := range acts.Items {
			if a.Subject.Type != crm.TypeCustomer {
				continue
			}
			out[a.Subject.ID] = append(out[a.Subject.ID], cond.Event{Kind: string(a.Kind), At: a.OccurredAt})
		}
		if acts.NextCursor == "" {
			return out, nil
		}
		req.Cursor = acts.NextCursor
	}
}
