package segment

import (
	"context"

	"github.com/crmkit/crmkit/crm"
)

// Store is the segment port of a unit of work: memstore and pgstore have
// it, and [Service] finds it with [crm.As], reporting
// [crm.ErrUnsupported] when the unit of work lacks it. Every method acts
// for the context's tenant, and returns ctx.Err() (wrapped) once the
// context is done.
type Store interface {
	// WonCurrencies returns, sorted, the distinct currencies of the
	// amounts of the tenant's won opportunities (unestimated zero amounts
	// have none).
	WonCurrencies(ctx context.Context) ([]string, error)
	// ComputeRFM replaces the tenant's stored scores with new ones, in one
	// write: one [Score] per customer of the tenant with at least one won
	// opportunity, aggregated (last won at, count, sum of amounts
	// converted with q.Rates) and ranked as [RankScores] does, stamped
	// q.Now. It returns how many customers it scored. A won amount in a
	// currency missing from q.Rates fails it with nothing written.
	ComputeRFM(ctx context.Context, q ComputeQuery) (int, error)
	// RFMScores returns the stored scores of the listed customers that
	// have one, keyed by customer ID; the caller owns them.
	RFMScores(ctx context.Context, customerIDs []crm.ID) (map[crm.ID]*Score, error)
	// SegmentCandidates returns up to limit of the tenant's customers
	// after after (NilID: from the start), in ID order, that f matches
	// ([Filter.Match]), each with its stored score (nil when it has none).
	// The caller owns them. f has been validated.
	SegmentCandidates(ctx context.Context, f *Filter, after crm.ID, limit int) ([]Member, error)
}

// Member is a customer of a segment (or, from [Store.SegmentCandidates],
// a customer a [Filter] matched), with its RFM score (nil when it has
// none).
type Member struct {
	Customer *crm.Customer
	Score    *Score
}

// Bounds limits a 1-5 score: Min and Max inclusive, 0 for no bound.
type Bounds struct {
	Min, Max int
}

func (b Bounds) set() bool { return b.Min > 0 || b.Max > 0 }

func (b Bounds) match(v int) bool {
	return (b.Min == 0 || v >= b.Min) && (b.Max == 0 || v <= b.Max)
}

// Filter is the part of a segment rule storage answers from its indexes
// (see [Rule.Plan]): the customer filter (status, owner, department, pool
// and data scope from their indexes), tags (each set a GIN lookup) and the
// stored RFM scores. Match defines its meaning once; memstore uses it and
// pgstore translates it to SQL.
type Filter struct {
	// Customers is matched as [crm.CustomerFilter.Match].
	Customers crm.CustomerFilter
	// TagSets each hold when the customer has any of the set's tags
	// (normalised, [crm.NormaliseTag]); all must hold.
	TagSets [][]string
	// Scored selects only customers with a stored score; R, F, M and
	// Segments imply it.
	Scored  bool
	R, F, M Bounds
	// Segments selects customers whose stored segment is one of these.
	Segments []Name
}

func (f *Filter) scored() bool {
	return f.Scored || f.R.set() || f.F.set() || f.M.set() || len(f.Segments) > 0
}

// NeedsScores reports whether the filter reads the stored scores.
func (f *Filter) NeedsScores() bool { return f.scored() }

// Match reports whether customer c with stored score s (nil for none)
// passes f.
func (f *Filter) Match(c *crm.Customer, s *Score, inTree crm.InTree) bool {
	if !f.Customers.Match(c, inTree) {
		return false
	}
	for _, set := range f.TagSets {
		if !crm.AnyTag(c.Tags, set) {
			return false
		}
	}
	if !f.scored() {
		return true
	}
	if s == nil {
		return false
	}
	return f.R.match(s.R) && f.F.match(s.F) && f.M.match(s.M) && (len(f.Segments) == 0 || contains(f.Segments, s.Segment))
}

func contains[S comparable](set []S, v S) bool {
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}

// Validate reports bad filter values.
func (f *Filter) Validate() error {
	var v crm.Problems
	v.Merge(f.Customers.Validate())
	for i, set := range f.TagSets {
		tf := crm.CustomerFilter{Tags: set}
		v.Prefix = "tag_sets[" + itoa(i) + "]."
		v.Merge(tf.Validate())
	}
	v.Prefix = ""
	for _, b := range []struct {
		name string
		b    Bounds
	}{{"r", f.R}, {"f", f.F}, {"m", f.M}} {
		if b.b.Min < 0 || b.b.Min > 5 || b.b.Max < 0 || b.b.Max > 5 {
			v.Add(b.name, "bounds must be 0 (none) or 1 to 5")
		}
	}
	for i, n := range f.Segments {
		if !n.Valid() {
			v.Add("segments["+itoa(i)+"]", "unknown segment %q", truncate(string(n)))
		}
	}
	return v.Err()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
