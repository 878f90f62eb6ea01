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
	mt.bestWeight = make([]float64, nf)
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
		mt.bestWeight[i] = max(best, mt.weight[i][LevelExact])
		if f.Kind.usesTermFrequency() {
			mt.bestWeight[i] = max(best, mt.weight[i][LevelExact]+tfSpread)
		}
	}
	mt.units = buildUnits(mt.cfg.Fields)
	mt.identity = -1
	for _, k := range []Kind{KindCompany, KindName} {
		for i, f := range mt.cfg.Fields {
			if f.Kind == k && mt.identity < 0 {
				mt.identity = i
			}
		}
	}
}
