package dedupe

import "math"

// A unit is a set of fields whose evidence is weighed together. Most
// fields are a unit of their own. Fields of one [Field.Group] (suburb,
// postcode and state) describe one thing and would count it several times
// over if added up: their unit counts the strongest agreement once and the
// strongest disagreement once. A given name and a family name form one
// unit so that names written the other way round, or a surname typed into
// the given-name column, still agree.
type unit struct {
	kind   unitKind
	fields []int
	cost   int
}

type unitKind uint8

const (
	unitSingle unitKind = iota
	unitGroup
	unitNames
)

// Notes on reasons, saying how a field's weight was counted.
const (
	noteCountedOnce = "counted once in its group"
	noteSwapped     = "matched the other name field"
	noteShared      = "shared with records of other names"
)

// evidence holds, per field, the agreement level, the weight the field
// counts for in the score and its own weight before grouping.
type evidence struct {
	level  [64]Level
	weight [64]float64
	own    [64]float64
	note   [64]string
}

// buildUnits groups the configured fields into units, cheapest first.
func buildUnits(fields []Field) []unit {
	var units []unit
	groups := map[string]int{}
	given, family := -1, -1
	for i, f := range fields {
		switch {
		case f.Kind == KindGivenName && given < 0:
			given = i
		case f.Kind == KindFamilyName && family < 0:
			family = i
		}
	}
	for i, f := range fields {
		if (i == given || i == family) && given >= 0 && family >= 0 {
			if i == min(given, family) {
				units = append(units, unit{kind: unitNames, fields: []int{given, family}, cost: KindGivenName.compareCost()})
			}
			continue
		}
		g := f.group()
		if g == "" {
			units = append(units, unit{kind: unitSingle, fields: []int{i}, cost: f.Kind.compareCost()})
			continue
		}
		if u, ok := groups[g]; ok {
			units[u].fields = append(units[u].fields, i)
			units[u].cost = max(units[u].cost, f.Kind.compareCost())
			continue
		}
		groups[g] = len(units)
		units = append(units, unit{kind: unitGroup, fields: []int{i}, cost: f.Kind.compareCost()})
	}
	for k := range units {
		if units[k].kind == unitGroup && len(units[k].fields) == 1 {
			units[k].kind = unitSingle
		}
	}
	ordered := make([]unit, 0, len(units))
	for cost := 0; cost <= 3; cost++ {
		for _, u := range units {
			if u.cost == cost {
				ordered = append(ordered, u)
			}
		}
	}
	return ordered
}

// group returns the field's correlation group: its Group, or "place" for
// cities, postcodes and states, "" for a field that counts on its own.
func (f Field) group() string {
	switch f.Group {
	case "-":
		return ""
	case "":
		switch f.Kind {
		case KindCity, KindPostcode, KindState:
			return "place"
		}
		return ""
	}
	return f.Group
}

// settled reports whether every field of u is missing or equal on both
// sides, so its weight costs string comparisons only.
func settled(u *unit, a, b []normalised) bool {
	for _, i := range u.fields {
		if a[i].v != "" && b[i].v != "" && a[i].v != b[i].v {
			return false
		}
	}
	return true
}

// fieldBound is the most field i can weigh: 0 when missing, its exact
// weight when equal, its best weight short of exact otherwise.
func (mt *Matcher) fieldBound(i int, a, b []normalised, tf termFrequencies) float64 {
	x, y := a[i], b[i]
	switch {
	case x.v == "" || y.v == "":
		return 0
	case x.v == y.v:
		return mt.levelWeight(i, mt.level(i, a, b), x.v, x.freq, tf)
	}
	return mt.bestNonExact[i]
}

// unitBound is the most unit u can weigh.
func (mt *Matcher) unitBound(u *unit, a, b []normalised, tf termFrequencies) float64 {
	switch u.kind {
	case unitGroup:
		best := 0.0
		for _, i := range u.fields {
			best = max(best, mt.fieldBound(i, a, b, tf))
		}
		return best
	case unitNames:
		g, f := u.fields[0], u.fields[1]
		straight := mt.fieldBound(g, a, b, tf) + mt.fieldBound(f, a, b, tf)
		if crossPossible(a[g].v, a[f].v, b[g].v, b[f].v) || crossPossible(b[g].v, b[f].v, a[g].v, a[f].v) {
			return max(straight, mt.bestWeight[g]+mt.bestWeight[f])
		}
		return straight
	}
	return mt.fieldBound(u.fields[0], a, b, tf)
}

// crossPossible reports whether names (g1, f1) may match (g2, f2) the
// other way round: swapped, or the family name typed as the given name
// with the family name left blank. A swap with a typo in a first letter
// as well is not looked for.
func crossPossible(g1, f1, g2, f2 string) bool {
	if g1 == "" || f2 == "" || g1[0] != f2[0] {
		return false
	}
	return f1 == "" || (g2 != "" && f1[0] == g2[0])
}

// fieldWeight compares field i and records its level and own weight.
func (mt *Matcher) fieldWeight(i int, a, b []normalised, tf termFrequencies, ev *evidence) float64 {
	l := mt.level(i, a, b)
	w := 0.0
	if l != LevelMissing {
		w = mt.levelWeight(i, l, a[i].v, a[i].freq, tf)
	}
	ev.level[i], ev.own[i], ev.weight[i], ev.note[i] = l, w, w, ""
	if l == LevelPartial && a[i].shared && a[i].v == b[i].v {
		ev.note[i] = noteShared
	}
	return w
}

// level returns the agreement level of field i. Exact agreement on a
// shared contact point (a phone, e-mail or address that records of other
// names use too: the switchboard of a hotel, the street address of a
// mall) counts as partial agreement when the names disagree: restaurants
// in one hotel share its number and address, and that says little about
// whether two of them are one.
func (mt *Matcher) level(i int, a, b []normalised) Level {
	l := compareField(mt.cfg.Fields[i].Kind, a[i], b[i])
	if l == LevelExact && a[i].shared && mt.identity >= 0 && mt.cfg.Fields[i].Kind.contactPoint() {
		k := mt.identity
		if li := compareField(mt.cfg.Fields[k].Kind, a[k], b[k]); li != LevelMissing && li < LevelClose {
			return LevelPartial
		}
	}
	return l
}

// unitWeight weighs unit u, filling ev for its fields, and returns the
// unit's weight.
func (mt *Matcher) unitWeight(u *unit, a, b []normalised, tf termFrequencies, ev *evidence) float64 {
	switch u.kind {
	case unitGroup:
		pos, neg := -1, -1
		for _, i := range u.fields {
			w := mt.fieldWeight(i, a, b, tf, ev)
			if w > 0 && (pos < 0 || w > ev.own[pos]) {
				pos = i
			}
			if w < 0 && (neg < 0 || w < ev.own[neg]) {
				neg = i
			}
		}
		total := 0.0
		for _, i := range u.fields {
			if i != pos && i != neg {
				if ev.own[i] != 0 {
					ev.note[i] = noteCountedOnce
				}
				ev.weight[i] = 0
			}
			total += ev.weight[i]
		}
		return total
	case unitNames:
		return mt.namesWeight(u.fields[0], u.fields[1], a, b, tf, ev)
	}
	return mt.fieldWeight(u.fields[0], a, b, tf, ev)
}

// namesWeight weighs a given name (field g) and a family name (field f)
// together: as written, or the other way round when that agrees better.
func (mt *Matcher) namesWeight(g, f int, a, b []normalised, tf termFrequencies, ev *evidence) float64 {
	straight := mt.fieldWeight(g, a, b, tf, ev) + mt.fieldWeight(f, a, b, tf, ev)
	if ev.level[g] >= LevelClose && ev.level[f] >= LevelClose {
		return straight
	}
	best, lg, lf := straight, ev.level[g], ev.level[f]
	var wg, wf float64
	try := func(ag, af, bg, bf normalised) {
		if !crossPossible(ag.v, af.v, bg.v, bf.v) {
			return
		}
		// ag is the family name; af, when there is one, the given name.
		cf := compareField(KindFamilyName, ag, bf)
		if cf < LevelClose {
			return
		}
		cg := LevelMissing
		if af.v != "" {
			if cg = compareField(KindGivenName, af, bg); cg < LevelClose {
				return
			}
		}
		w1 := mt.levelWeight(f, cf, ag.v, 0, tf)
		w2 := 0.0
		if cg != LevelMissing {
			w2 = mt.levelWeight(g, cg, af.v, 0, tf)
		}
		if w1+w2 > best {
			best, lg, lf, wg, wf = w1+w2, cg, cf, w2, w1
		}
	}
	try(a[g], a[f], b[g], b[f])
	try(b[g], b[f], a[g], a[f])
	if best == straight {
		return straight
	}
	ev.level[g], ev.weight[g], ev.own[g], ev.note[g] = lg, wg, wg, noteSwapped
	ev.level[f], ev.weight[f], ev.own[f], ev.note[f] = lf, wf, wf, noteSwapped
	return best
}

// evaluate weighs two prepared records and reports whether the score
// reaches threshold. When it cannot (the weights known so far plus the
// most the rest could add fall short), it stops early and the returned
// score is only a bound; pairs that reach the threshold get the exact
// score, summed in field order, and ev holds every field's evidence. It
// does not allocate.
//
// The first pass settles every unit whose values are missing or equal,
// which costs string comparisons; the costly similarity functions run
// only on the remaining units, cheapest first, and only while the pair can
// still reach the threshold.
func (mt *Matcher) evaluate(a, b []normalised, tf termFrequencies, threshold float64, ev *evidence) (float64, bool) {
	var bound [64]float64
	var pending uint64
	total := 0.0
	for k := range mt.units {
		u := &mt.units[k]
		if settled(u, a, b) {
			total += mt.unitWeight(u, a, b, tf, ev)
			continue
		}
		pending |= 1 << uint(k)
		bound[k] = mt.unitBound(u, a, b, tf)
		total += bound[k]
	}
	if total < threshold-boundSlack {
		return total, false
	}
	for k := range mt.units {
		if pending&(1<<uint(k)) == 0 {
			continue
		}
		total += mt.unitWeight(&mt.units[k], a, b, tf, ev) - bound[k]
		if total < threshold-boundSlack {
			return total, false
		}
	}
	s := 0.0
	for i := range a {
		s += ev.weight[i]
	}
	return s, s >= threshold
}

// score returns the total weight of two prepared records. It does not
// allocate.
func (mt *Matcher) score(a, b []normalised, tf termFrequencies) float64 {
	var ev evidence
	s, _ := mt.evaluate(a, b, tf, math.Inf(-1), &ev)
	return s
}

// scoreAtLeast returns the score of two prepared records and whether it
// reaches threshold; see evaluate. It does not allocate.
func (mt *Matcher) scoreAtLeast(a, b []normalised, tf termFrequencies, threshold float64) (float64, bool) {
	var ev evidence
	return mt.evaluate(a, b, tf, threshold, &ev)
}

// decide explains the comparison of two prepared records.
func (mt *Matcher) decide(a, b []normalised, tf termFrequencies) Decision {
	var ev evidence
	score, _ := mt.evaluate(a, b, tf, math.Inf(-1), &ev)
	d := Decision{Score: score, Reasons: make([]Reason, len(a))}
	for i, f := range mt.cfg.Fields {
		d.Reasons[i] = Reason{Field: f.Name, Kind: f.Kind, Level: ev.level[i], Weight: ev.weight[i], Own: ev.own[i], Note: ev.note[i]}
	}
	d.Class = mt.classify(d.Score)
	d.Probability = mt.probability(d.Score)
	return d
}
