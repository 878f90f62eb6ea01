package dedupe

import "math"

// boundSlack keeps the early exit of scoreAtLeast on the safe side of
// floating-point rounding: a pair is given up only when even its best
// case falls short of the threshold by more than this.
const boundSlack = 1e-9

// nonExactLevels is, per kind, the set of levels below exact (as bits
// 1<<Level) that compareField can return for two different non-empty
// values. Bounds built from it are tight: a phone never agrees at Close,
// so its Close weight never counts towards the best case. A test checks
// the set against compareField.
func (k Kind) nonExactLevels() uint8 {
	const d, p, c = 1 << LevelDifferent, 1 << LevelPartial, 1 << LevelClose
	switch k {
	case KindPhone:
		return d | p
	case KindNationalID:
		return d | c
	case KindState:
		return d
	}
	return d | p | c
}

// compareCost orders fields for early-exit scoring: cheap comparisons
// (equality of short ASCII keys, one edit apart) first, so that a
// disagreement that already rules a pair out is found before the
// similarity functions run.
func (k Kind) compareCost() int {
	switch k {
	case KindPhone, KindEmail, KindNationalID, KindState, KindPostcode, KindDate:
		return 0
	case KindGivenName, KindFamilyName, KindCity:
		return 1
	case KindName, KindCompany:
		return 2
	}
	return 3
}

// computeBounds prepares the figures scoreAtLeast needs: the best weight
// of each field short of exact agreement and the order in which fields are
// compared.
func (mt *Matcher) computeBounds() {
	nf := len(mt.cfg.Fields)
	mt.bestNonExact = make([]float64, nf)
	mt.order = make([]int, 0, nf)
	for i, f := range mt.cfg.Fields {
		best := math.Inf(-1)
		levels := f.Kind.nonExactLevels()
		if f.Kind == KindCompany {
			levels |= 1 << LevelPartial // same name, two regions
		}
		for l := LevelDifferent; l < LevelExact; l++ {
			if levels&(1<<l) != 0 {
				best = max(best, mt.weight[i][l])
			}
		}
		mt.bestNonExact[i] = best
	}
	for cost := 0; cost <= 3; cost++ {
		for i, f := range mt.cfg.Fields {
			if f.Kind.compareCost() == cost {
				mt.order = append(mt.order, i)
			}
		}
	}
}

// scoreAtLeast returns the score of two prepared records and whether it
// reaches threshold. When it cannot (the weights known so far plus the
// best case of the fields not yet compared fall short), it stops early and
// the returned score is only a bound; pairs that reach the threshold get
// exactly the score of [Matcher.score]. It does not allocate.
//
// The first pass settles every field whose values are missing or equal,
// which costs a string comparison; the costly similarity functions run
// only on the remaining fields, cheapest first, and only while the pair
// can still reach the threshold.
func (mt *Matcher) scoreAtLeast(a, b []normalised, tf termFrequencies, threshold float64) (float64, bool) {
	var ws [64]float64 // Config.validate caps fields at 64
	var pending uint64
	known, open := 0.0, 0.0
	for i := range a {
		x, y := a[i], b[i]
		if x.v == "" || y.v == "" {
			ws[i] = 0
			continue
		}
		if x.v == y.v {
			l := compareField(mt.cfg.Fields[i].Kind, x, y)
			ws[i] = mt.levelWeight(i, l, x.v, x.freq, tf)
			known += ws[i]
			continue
		}
		pending |= 1 << uint(i)
		open += mt.bestNonExact[i]
	}
	if known+open < threshold-boundSlack {
		return known + open, false
	}
	if pending != 0 {
		for _, i := range mt.order {
			if pending&(1<<uint(i)) == 0 {
				continue
			}
			l := compareField(mt.cfg.Fields[i].Kind, a[i], b[i])
			ws[i] = mt.levelWeight(i, l, a[i].v, a[i].freq, tf)
			known += ws[i]
			open -= mt.bestNonExact[i]
			if known+open < threshold-boundSlack {
				return known + open, false
			}
		}
	}
	// Sum in field order, as score does, so the result is bit for bit
	// the same.
	s := 0.0
	for i := range a {
		if a[i].v != "" && b[i].v != "" {
			s += ws[i]
		}
	}
	return s, s >= threshold
}
