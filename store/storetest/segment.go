package storetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/segment"
)

// RunSegments checks package segment's port ([segment.Store]) through
// [segment.Service]: RFM scores equal an independent computation on random
// data, a second computation replaces the first, a won amount without a
// rate is refused with nothing written, and segment members listed page
// by page are exactly the customers the rule holds for, within a data
// scope. [Run] runs it with Features.Segments.
func RunSegments(t *testing.T, h Harness) {
	probe := newEnv(t, h)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[segment.Store](tx)
		return nil
	}))
	if !has {
		require.False(t, h.Features.Segments, "Features.Segments is declared, but the adapter's Tx does not implement segment.Store")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			svc, err := segment.New(probe.store, nil)
			require.NoError(t, err)
			_, err = svc.Compute(probe.ctx, segment.ComputeRequest{Currency: "CNY"})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}
	for seed := range uint64(3) {
		test(t, h, fmt.Sprintf("RFMEqualsAnIndependentComputation/seed%d", seed), func(t *testing.T, e *env) {
			w := newSegmentWorld(t, e, seed)
			svc := w.service()
			n, err := svc.Compute(e.ctxA, w.request())
			require.NoError(t, err)
			want := w.expectedScores()
			require.Equal(t, len(want), n)
			got, err := svc.Scores(e.ctxA, w.customerIDs())
			require.NoError(t, err)
			require.Len(t, got, len(want))
			for id, ws := range want {
				gs := got[id]
				require.NotNil(t, gs, "customer %s has no score", id)
				require.True(t, ws.LastWonAt.Equal(gs.LastWonAt), "last won at of %s: want %v, got %v", id, ws.LastWonAt, gs.LastWonAt)
				require.Equal(t, ws.Frequency, gs.Frequency, "frequency of %s", id)
				require.Equal(t, "CNY", gs.Monetary.Currency())
				require.True(t, ws.Monetary.Amount().Equal(gs.Monetary.Amount()), "monetary of %s: want %s, got %s", id, ws.Monetary.Amount(), gs.Monetary.Amount())
				require.Equal(t, [3]int{ws.R, ws.F, ws.M}, [3]int{gs.R, gs.F, gs.M}, "scores of %s", id)
				require.Equal(t, ws.Segment, gs.Segment, "segment of %s", id)
				require.True(t, e.now().Equal(gs.ComputedAt))
			}
			other, err := svc.Scores(e.ctxB, w.customerIDs())
			require.NoError(t, err)
			require.Empty(t, other, "another tenant sees no scores")
		})
	}
	test(t, h, "ComputingAgainReplacesTheScores", func(t *testing.T, e *env) {
		w := newSegmentWorld(t, e, 7)
		svc := w.service()
		_, err := svc.Compute(e.ctxA, w.request())
		require.NoError(t, err)
		// A customer without deals wins one; one with deals loses them all.
		fresh := w.customers[len(w.customers)-1]
		for _, c := range w.customers {
			if w.wonCount(c.ID) == 0 {
				fresh = c
				break
			}
		}
		w.won(fresh.ID, "500", "CNY", ptr(e.now()))
		gone := w.firstScored()
		w.loseAll(gone)
		n, err := svc.Compute(e.ctxA, w.request())
		require.NoError(t, err)
		want := w.expectedScores()
		require.Equal(t, len(want), n)
		got, err := svc.Scores(e.ctxA, w.customerIDs())
		require.NoError(t, err)
		require.Len(t, got, len(want))
		require.Contains(t, got, fresh.ID)
		require.NotContains(t, got, gone)
		again, err := svc.Compute(e.ctxA, w.request())
		require.NoError(t, err)
		require.Equal(t, n, again, "a second run on the same data scores the same customers")
	})
	test(t, h, "AWonAmountWithoutARateIsRefusedWithNothingWritten", func(t *testing.T, e *env) {
		w := newSegmentWorld(t, e, 11)
		svc := w.service()
		before, err := svc.Compute(e.ctxA, w.request())
		require.NoError(t, err)
		w.won(w.customers[0].ID, "10", "EUR", nil)
		_, err = svc.Compute(e.ctxA, w.request())
		requireInvalid(t, err, "rates.EUR")
		got, err := svc.Scores(e.ctxA, w.customerIDs())
		require.NoError(t, err)
		require.Len(t, got, before, "the earlier scores stay")
		_, err = svc.Compute(e.ctxA, segment.ComputeRequest{Currency: "CNY", Rates: segment.Rates{"USD": decimal.NewFromInt(-1)}})
		requireInvalid(t, err, "rates.USD")
	})
	for i, rule := range segmentRules {
		test(t, h, fmt.Sprintf("MembersArePagedExactly/rule%d", i), func(t *testing.T, e *env) {
			w := newSegmentWorld(t, e, uint64(20+i))
			svc := w.service()
			_, err := svc.Compute(e.ctxA, w.request())
			require.NoError(t, err)
			seg, err := segment.Parse([]byte(rule))
			require.NoError(t, err)
			for _, scope := range []*crm.DataScope{nil, {OwnerIDs: w.owners[:1]}} {
				want := w.expectedMembers(seg, scope)
				var got []crm.ID
				page := crm.PageRequest{Limit: 3}
				for range 200 {
					p, err := svc.Members(e.ctxA, segment.MembersRequest{Segment: seg, Scope: scope, Page: page})
					require.NoError(t, err)
					require.LessOrEqual(t, len(p.Items), 3)
					for _, m := range p.Items {
						got = append(got, m.Customer.ID)
						if m.Score != nil {
							require.Equal(t, m.Customer.ID, m.Score.CustomerID)
						}
					}
					if p.NextCursor == "" {
						break
					}
					page.Cursor = p.NextCursor
				}
				require.Equal(t, want, got, "members of %s within %+v (plan %+v)", rule, scope, seg.Plan())
			}
		})
	}
}

// segmentRules mix parts storage answers (tags, status, owner, RFM) with
// parts tested per row (region, custom fields, activity counts).
var segmentRules = []string{
	`{"id": "vip", "when": {"field": "tags", "equals": "vip"}}`,
	`{"id": "best", "when": {"field": "rfm_segment", "in": ["champions", "loyal", "potential_loyalists"]}}`,
	`{"id": "recent_big", "when": {"all": [{"field": "rfm_r", "range": {"gte": 4}}, {"field": "rfm_m", "range": {"gt": 2}},
	   {"field": "status", "in": ["dealt", "potential"]}]}}`,
	`{"id": "mixed", "when": {"all": [{"field": "tags", "in": ["vip", "expo"]}, {"field": "tags", "equals": "east"},
	   {"any": [{"field": "region", "equals": "CN-EAST"}, {"field": "fields.budget", "range": {"gte": 500}}]}]}}`,
	`{"id": "active", "when": {"all": [{"event": {"kind": "call", "min_count": 2, "within_days": 30}},
	   {"not": {"field": "rfm_segment", "equals": "lost"}}]}}`,
	`{"id": "unscored_or_old", "when": {"any": [{"field": "rfm_r", "exists": false}, {"field": "recency_days", "range": {"gt": 60}}]}}`,
}

// segmentWorld is a random tenant "a" of customers with won, lost and open
// deals in CNY and USD (some unestimated, some without a close time,
// amounts and days repeating so scores tie), tags, regions, a custom
// field and calls; tenant "b" has deals of its own.
type segmentWorld struct {
	t         *testing.T
	e         *env
	r         *rand.Rand
	owners    []crm.ID
	customers []*crm.Customer
	opps      []*crm.Opportunity
	acts      []crm.Activity
}

func newSegmentWorld(t *testing.T, e *env, seed uint64) *segmentWorld {
	w := &segmentWorld{t: t, e: e, r: rand.New(rand.NewPCG(seed, 19))}
	w.owners = []crm.ID{e.ids.NewID(), e.ids.NewID(), e.ids.NewID()}
	tags := []string{"vip", "expo", "east", "new"}
	regions := []string{"cn-east", "cn-north", "CN-East", ""}
	base := e.now()
	for range 40 + w.r.IntN(20) {
		c := crmtest.Customer(e.ids, func(c *crm.Customer) {
			c.OwnerID = w.owners[w.r.IntN(len(w.owners))]
			c.Region = regions[w.r.IntN(len(regions))]
			c.Status = []crm.CustomerStatus{crm.CustomerPotential, crm.CustomerDealt, crm.CustomerLost}[w.r.IntN(3)]
			for _, tag := range tags {
				if w.r.IntN(3) == 0 {
					c.Tags = append(c.Tags, tag)
				}
			}
			if w.r.IntN(2) == 0 {
				c.Fields = crm.Fields{"budget": crm.Number(decimal.NewFromInt(int64(100 * w.r.IntN(10))))}
			}
		})
		require.NoError(t, e.store.Customers().Create(e.ctxA, c))
		w.customers = append(w.customers, c)
		for range w.r.IntN(5) {
			stage := []crm.OpportunityStage{crm.StageWon, crm.StageWon, crm.StageWon, crm.StageLost, crm.StageProposal}[w.r.IntN(5)]
			var closed *time.Time
			if w.r.IntN(6) > 0 {
				closed = ptr(base.Add(-time.Duration(w.r.IntN(12)) * 7 * 24 * time.Hour))
			}
			amount := []string{"0", "100", "250.5", "1000", "99.99"}[w.r.IntN(5)]
			currency := []string{"CNY", "CNY", "USD"}[w.r.IntN(3)]
			w.opp(c.ID, stage, amount, currency, closed)
		}
		for range w.r.IntN(4) {
			a := crmtest.Activity(e.ids, crm.Ref{Type: crm.TypeCustomer, ID: c.ID}, w.owners[0], func(a *crm.Activity) {
				a.Kind = []crm.ActivityKind{crm.ActivityCall, crm.ActivityCall, crm.ActivityVisit}[w.r.IntN(3)]
				a.OccurredAt = base.Add(-time.Duration(w.r.IntN(60)) * 24 * time.Hour)
			})
			require.NoError(t, e.store.Activities().Create(e.ctxA, a))
			w.acts = append(w.acts, *a)
		}
	}
	// Tenant b's deals must not count.
	other := crmtest.Customer(e.ids)
	require.NoError(t, e.store.Customers().Create(e.ctxB, other))
	o := crmtest.Opportunity(e.ids, other.ID, func(o *crm.Opportunity) { o.Stage = crm.StageWon })
	require.NoError(t, e.store.Opportunities().Create(e.ctxB, o))
	return w
}

func (w *segmentWorld) service() *segment.Service {
	svc, err := segment.New(w.e.store, &segment.Config{Clock: w.e.clock, ScanBudget: 7})
	require.NoError(w.t, err)
	return svc
}

func (w *segmentWorld) request() segment.ComputeRequest {
	return segment.ComputeRequest{Currency: "CNY", Rates: segment.Rates{"USD": decimal.RequireFromString("7.1234")}}
}

func (w *segmentWorld) opp(customer crm.ID, stage crm.OpportunityStage, amount, currency string, closed *time.Time) {
	o := crmtest.Opportunity(w.e.ids, customer, func(o *crm.Opportunity) {
		o.Stage, o.ClosedAt = stage, closed
		o.Amount = crm.Money{}
		if amount != "0" {
			o.Amount = w.money(decimal.RequireFromString(amount), currency)
		}
	})
	require.NoError(w.t, w.e.store.Opportunities().Create(w.e.ctxA, o))
	w.opps = append(w.opps, o)
}

func (w *segmentWorld) won(customer crm.ID, amount, currency string, closed *time.Time) {
	w.opp(customer, crm.StageWon, amount, currency, closed)
}

func (w *segmentWorld) wonCount(customer crm.ID) int {
	n := 0
	for _, o := range w.opps {
		if o.CustomerID == customer && o.Stage == crm.StageWon {
			n++
		}
	}
	return n
}

func (w *segmentWorld) firstScored() crm.ID {
	for _, c := range w.customers {
		if w.wonCount(c.ID) > 0 {
			return c.ID
		}
	}
	w.t.Fatal("no customer has won deals")
	return crm.NilID
}

// loseAll moves every won deal of customer to lost.
func (w *segmentWorld) loseAll(customer crm.ID) {
	for _, o := range w.opps {
		if o.CustomerID == customer && o.Stage == crm.StageWon {
			o.Stage = crm.StageLost
			require.NoError(w.t, w.e.store.Opportunities().Update(w.e.ctxA, o))
		}
	}
}

func (w *segmentWorld) customerIDs() []crm.ID {
	ids := make([]crm.ID, len(w.customers))
	for i, c := range w.customers {
		ids[i] = c.ID
	}
	return ids
}

// expectedScores computes the scores from the world's own records, by
// counting for every customer the customers strictly worse on each axis.
func (w *segmentWorld) expectedScores() map[crm.ID]*segment.Score {
	rate := map[string]decimal.Decimal{"CNY": decimal.NewFromInt(1), "USD": decimal.RequireFromString("7.1234")}
	out := map[crm.ID]*segment.Score{}
	for _, o := range w.opps {
		if o.Stage != crm.StageWon {
			continue
		}
		at := o.UpdatedAt
		if o.ClosedAt != nil {
			at = *o.ClosedAt
		}
		s := out[o.CustomerID]
		if s == nil {
			s = &segment.Score{CustomerID: o.CustomerID, LastWonAt: at, Monetary: w.money(decimal.Zero, "CNY")}
			out[o.CustomerID] = s
		}
		s.Frequency++
		if at.After(s.LastWonAt) {
			s.LastWonAt = at
		}
		if !o.Amount.IsZero() {
			s.Monetary = w.money(s.Monetary.Amount().Add(o.Amount.Amount().Mul(rate[o.Amount.Currency()])), "CNY")
		}
	}
	n := len(out)
	for _, s := range out {
		var r, f, m int
		for _, o := range out {
			if o.LastWonAt.Before(s.LastWonAt) {
				r++
			}
			if o.Frequency < s.Frequency {
				f++
			}
			if o.Monetary.Amount().LessThan(s.Monetary.Amount()) {
				m++
			}
		}
		s.R, s.F, s.M = 1+5*r/n, 1+5*f/n, 1+5*m/n
		s.Segment = segment.Classify(s.R, s.F, s.M)
	}
	return out
}

// expectedMembers tests every customer of the world with the rule, in ID
// order, within scope.
func (w *segmentWorld) expectedMembers(seg *segment.Segment, scope *crm.DataScope) []crm.ID {
	scores := w.expectedScores()
	for _, s := range scores {
		s.ComputedAt = w.e.now()
	}
	var out []crm.ID
	for _, c := range w.customers {
		if scope != nil && !slices.Contains(scope.OwnerIDs, c.OwnerID) {
			continue
		}
		ok, err := seg.Contains(segment.Member{Customer: c, Score: scores[c.ID]}, w.acts, w.e.clock.Now())
		require.NoError(w.t, err)
		if ok {
			out = append(out, c.ID)
		}
	}
	slices.SortFunc(out, func(a, b crm.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

func (w *segmentWorld) money(amount decimal.Decimal, currency string) crm.Money {
	m, err := crm.NewMoney(amount, currency)
	require.NoError(w.t, err)
	return m
}
