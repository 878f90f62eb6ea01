package dedupe

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"sync"

	"github.com/crmkit/crmkit/crm"
)

// ScoredPair is a candidate pair of a clustering run that scored at least
// the possible-match weight, with its explanation.
type ScoredPair struct {
	// I and J index the records in input order, I < J.
	I, J int
	// Decision is the comparison with the run's learnt parameters and
	// value frequencies. Its Class is Match when the pair reached the
	// run's link weight (ClusterStats.LinkWeight), so the Match pairs are
	// the run's matched pairs; PossibleMatch when it reached the
	// configured PossibleWeight but not the link weight.
	Decision Decision
}

// ScoredPairs scores the candidate pairs of the run again and calls fn,
// ordered by I then J, for every pair that reached the possible-match
// weight, with one reason per field. seq must yield the records of the run
// again, in the same order, and opts must be the run's options: blocking
// depends on them. Scoring costs about as much as the run's own scoring
// did; an error from seq or fn stops it and is returned.
func (c *Clustering) ScoredPairs(seq iter.Seq2[Record, error], opts *ClusterOptions, fn func(ScoredPair) error) error {
	var o ClusterOptions
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return fmt.Errorf("dedupe: scored pairs: %w", err)
	}
	mt := c.Matcher
	nf := len(mt.cfg.Fields)
	caches := make([]readingCache, o.Workers)
	for w := range caches {
		caches[w] = readingCache{}
	}
	recs := make([][]normalised, 0, len(c.IDs))
	var pending [][]string
	flush := func() {
		start := len(recs)
		recs = append(recs, make([][]normalised, len(pending))...)
		mt.prepareParallel(recs[start:], pending, caches)
		pending = pending[:0]
	}
	n := 0
	for r, err := range seq {
		if err != nil {
			return err
		}
		if n >= len(c.IDs) || r.ID != c.IDs[n] || len(r.Values) != nf {
			return fmt.Errorf("dedupe: scored pairs: record %d (%q): %w", n+1, truncateText(r.ID),
				crm.Invalid("records", "want the run's records, in the run's order"))
		}
		n++
		pending = append(pending, r.Values)
		if len(pending) == 8192 {
			flush()
		}
	}
	flush()
	if n != len(c.IDs) {
		return fmt.Errorf("dedupe: scored pairs: %w",
			crm.Invalid("records", "got %d records, the run had %d", n, len(c.IDs)))
	}
	c.tf.fill(recs, o.Workers)
	for f, marks := range c.shared {
		if len(marks) == 0 {
			continue
		}
		k := mt.cfg.Fields[f].Kind
		for _, rec := range recs {
			if marks[contactKey(k, rec[f].v)] {
				rec[f].shared = true
			}
		}
	}
	bl := newBlocks(defaultRules(mt.cfg.Fields), recs, o.MaxBlockSize, o.Window, o.Workers)
	floor := min(mt.cfg.PossibleWeight, c.Stats.LinkWeight)
	if c.Stats.LinkWeight == 0 {
		floor = mt.cfg.PossibleWeight
	}

	// Score in parallel, keeping only the pairs over the floor; explain
	// them one at a time, in order, so the reasons of every pair are
	// never all held at once.
	var next int64
	var mu sync.Mutex
	var found []edge
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []edge
			for {
				mu.Lock()
				g := int(next)
				next += 256
				mu.Unlock()
				if g >= len(bl.groups) {
					break
				}
				for _, grp := range bl.groups[g:min(g+256, len(bl.groups))] {
					bl.pairs(grp, func(i, j int32) {
						if s, ok := mt.scoreAtLeast(recs[i], recs[j], c.tf, floor); ok {
							local = append(local, edge{i: i, j: j, w: float32(s)})
						}
					})
				}
			}
			mu.Lock()
			found = append(found, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(found, func(a, b edge) int {
		if a.i != b.i {
			return int(a.i - b.i)
		}
		return int(a.j - b.j)
	})
	link := c.Stats.LinkWeight
	if link == 0 {
		link = mt.cfg.MatchWeight
	}
	for _, e := range found {
		d := mt.decide(recs[e.i], recs[e.j], c.tf)
		switch {
		case d.Score >= link:
			d.Class = Match
		case d.Score >= floor || math.Abs(d.Score-floor) < 1e-9:
			d.Class = PossibleMatch
		default:
			continue
		}
		if err := fn(ScoredPair{I: int(e.i), J: int(e.j), Decision: d}); err != nil {
			return err
		}
	}
	return nil
}
