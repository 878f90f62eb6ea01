package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/segment"
)

// This file serves package segment's port ([segment.Store]): RFM scores
// computed in Go from the won opportunities (segment.RankScores ranks
// them), kept per tenant, and segment candidates read in customer ID
// order and matched with segment.Filter.Match.

var _ segment.Store = tx{}

// segmentState holds the stored RFM scores by tenant and customer.
type segmentState struct {
	scores map[string]map[crm.ID]*segment.Score
}

func (t tx) segments() *segmentState {
	return extension(t.s, "segment", func() *segmentState {
		return &segmentState{scores: make(map[string]map[crm.ID]*segment.Score)}
	})
}

// WonCurrencies implements [segment.Store].
func (t tx) WonCurrencies(ctx context.Context) ([]string, error) {
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: won currencies: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	var out []string
	for _, o := range t.s.opportunities.rows {
		if o.TenantID == tenant && o.Stage == crm.StageWon && !o.Amount.IsZero() && !slices.Contains(out, o.Amount.Currency()) {
			out = append(out, o.Amount.Currency())
		}
	}
	slices.Sort(out)
	return out, nil
}

// ComputeRFM implements [segment.Store].
func (t tx) ComputeRFM(ctx context.Context, q segment.ComputeQuery) (int, error) {
	unlock, err := t.begin(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("memstore: compute rfm: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	byCustomer := make(map[crm.ID]*segment.Score)
	sums := make(map[crm.ID]decimal.Decimal)
	for _, o := range t.s.opportunities.rows {
		if o.TenantID != tenant || o.Stage != crm.StageWon {
			continue
		}
		if c, ok := t.s.customers.rows[o.CustomerID]; !ok || c.TenantID != tenant {
			continue
		}
		amount, err := q.Convert(o.Amount)
		if err != nil {
			return 0, fmt.Errorf("memstore: compute rfm: %w", err)
		}
		at := o.UpdatedAt
		if o.ClosedAt != nil {
			at = *o.ClosedAt
		}
		s := byCustomer[o.CustomerID]
		if s == nil {
			s = &segment.Score{CustomerID: o.CustomerID, LastWonAt: at}
			byCustomer[o.CustomerID] = s
		}
		s.Frequency++
		if at.After(s.LastWonAt) {
			s.LastWonAt = at
		}
		sums[o.CustomerID] = sums[o.CustomerID].Add(amount)
	}
	scores := make([]*segment.Score, 0, len(byCustomer))
	stored := make(map[crm.ID]*segment.Score, len(byCustomer))
	for id, s := range byCustomer {
		m, err := crm.NewMoney(sums[id], q.Currency)
		if err != nil {
			return 0, fmt.Errorf("memstore: compute rfm: %w", err)
		}
		s.Monetary, s.ComputedAt = m, q.Now
		scores = append(scores, s)
		stored[id] = s
	}
	segment.RankScores(scores)
	st := t.segments()
	old, had := st.scores[tenant]
	st.scores[tenant] = stored
	t.onUndo(func() {
		if had {
			st.scores[tenant] = old
		} else {
			delete(st.scores, tenant)
		}
	})
	return len(scores), nil
}

// RFMScores implements [segment.Store].
func (t tx) RFMScores(ctx context.Context, customerIDs []crm.ID) (map[crm.ID]*segment.Score, error) {
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: rfm scores: %w", err)
	}
	defer unlock()
	scores := t.segments().scores[crm.TenantFrom(ctx)]
	out := make(map[crm.ID]*segment.Score)
	for _, id := range customerIDs {
		if s, ok := scores[id]; ok {
			c := *s
			out[id] = &c
		}
	}
	return out, nil
}

// SegmentCandidates implements [segment.Store].
func (t tx) SegmentCandidates(ctx context.Context, f *segment.Filter, after crm.ID, limit int) ([]segment.Member, error) {
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: segment candidates: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	inTree := t.s.inTree(tenant)
	scores := t.segments().scores[tenant]
	order := t.s.customers.order
	start := 0
	if after != crm.NilID {
		i, found := slices.BinarySearchFunc(order, after, compareID)
		if found {
			i++
		}
		start = i
	}
	var out []segment.Member
	for _, id := range order[start:] {
		if len(out) == limit {
			break
		}
		c := t.s.customers.rows[id]
		if c.TenantID != tenant {
			continue
		}
		s := scores[id]
		if !f.Match(c, s, inTree) {
			continue
		}
		m := segment.Member{Customer: c.Clone()}
		if s != nil {
			sc := *s
			m.Score = &sc
		}
		out = append(out, m)
	}
	return out, nil
}
