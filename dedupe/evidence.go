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
	// mask has bit i set for each field i of the unit.
	mask uint64
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

// evidence holds, per field, the agreement level and the weight the
// field counts for in the score; with detail, for a decision, also its
// own weight before grouping and how it was counted.
type evidence struct {
	level  [64]Level
	weight [64]float64
	detail *evidenceDetail
}

type evidenceDetail struct {
	own  [64]float64
	note [64]string
}

// setNote records how field i was counted, when the detail is kept.
func (ev *evidence) setNote(i int, note string) {
	if ev.detail != nil {
		ev.detail.note[i] = note
	}
}

// set records field i's level and weight, counted as its own.
func (ev *evidence) set(i int, l Level, w float64) {
	ev.level[i], ev.weight[i] = l, w
	if ev.detail != nil {
		ev.detail.own[i], ev.detail.note[i] = w, ""
	}
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
	for k := range units {
		for _, i := range units[k].fields {
			units[k].mask |= 1 << uint(i)
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

// fieldBound is the most field i can weigh: 0 when missing, its exact
// weight when equal, its best weight short of exact otherwise. plain has
// bit i set when field i is missing or equal.
func (mt *Matcher) fieldBound(i int, a, b []normalised, tf termFrequencies, plain uint64) float64 {
	switch {
	case plain&(1<<uint(i)) == 0:
		return mt.bestNonExact[i]
	case a[i].v == "" || b[i].v == "":
		return 0
	}
	return mt.levelWeight(i, mt.level(i, a, b), a[i].v, a[i].freq, tf)
}

// unitBound is the most unit u can weigh.
func (mt *Matcher) unitBound(u *unit, a, b []normalised, tf termFrequencies, plain uint64) float64 {
	switch u.kind {
	case unitGroup:
		best := 0.0
		for _, i := range u.fields {
			best = max(best, mt.fieldBound(i, a, b, tf, plain))
		}
		return best
	case unitNames:
		g, f := u.fields[0], u.fields[1]
		straight := mt.fieldBound(g, a, b, tf, plain) + mt.fieldBound(f, a, b, tf, plain)
		if crossPossible(a[g].v, a[f].v, b[g].v, b[f].v) || crossPossible(b[g].v, b[f].v, a[g].v, a[f].v) {
			return max(straight, mt.bestWeight[g]+mt.bestWeight[f])
		}
		return straight
	}
	return mt.fieldBound(u.fields[0], a, b, tf, plain)
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
	ev.set(i, l, w)
	if l == LevelMissing && a[i].v != "" && b[i].v != "" {
		ev.setNote(i, noteShared)
	}
	return w
}

// level returns the agreement level of field i. Exact agreement on a
// shared contact point (a phone, e-mail or address that records of other
// names use too: the switchboard of a hotel, the street address of a
// mall) weighs nothing, as if missing, when the names disagree (neither
// is the other with words added):
// restaurants in one hotel share its number and address, and that says
// nothing about whether two of them are one.
func (mt *Matcher) level(i int, a, b []normalised) Level {
	k := mt.cfg.Fields[i].Kind
	l := compareField(k, a[i], b[i])
	if l >= LevelClose && a[i].shared && b[i].shared && mt.identity >= 0 && k.contactPoint() &&
		contactKey(k, a[i].v) == contactKey(k, b[i].v) {
		k := mt.identity
		if li := compareField(mt.cfg.Fields[k].Kind, a[k], b[k]); li != LevelMissing && li < LevelClose && !nameWithin(a[k].v, b[k].v) {
			return LevelMissing
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
			if w > 0 && (pos < 0 || w > ev.weight[pos]) {
				pos = i
			}
			if w < 0 && (neg < 0 || w < ev.weight[neg]) {
				neg = i
			}
		}
		total := 0.0
		for _, i := range u.fields {
			if i != pos && i != neg {
				if ev.weight[i] != 0 {
					ev.setNote(i, noteCountedOnce)
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
	ev.set(g, lg, wg)
	ev.set(f, lf, wf)
	ev.setNote(g, noteSwapped)
	ev.setNote(f, noteSwapped)
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
	// plain: the fields missing on a side or equal, settled by a string
	// comparison each; their units weigh without similarity functions.
	var plain, pending uint64
	for i := range a {
		if a[i].v == "" || b[i].v == "" || a[i].v == b[i].v {
			plain |= 1 << uint(i)
		}
	}
	total := 0.0
	for k := range mt.units {
		u := &mt.units[k]
		if u.mask&plain == u.mask {
			total += mt.unitWeight(u, a, b, tf, ev)
			continue
		}
		pending |= 1 << uint(k)
		bound[k] = mt.unitBound(u, a, b, tf, plain)
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
	ev := evidence{detail: &evidenceDetail{}}
	score, _ := mt.evaluate(a, b, tf, math.Inf(-1), &ev)
	d := Decision{Score: score, Reasons: make([]Reason, len(a))}
	for i, f := range mt.cfg.Fields {
		d.Reasons[i] = Reason{Field: f.Name, Kind: f.Kind, Level: ev.level[i], Weight: ev.weight[i],
			Own: ev.detail.own[i], Note: ev.detail.note[i]}
	}
	d.Class = mt.classify(d.Score)
	d.Probability = mt.probability(d.Score)
	return d
}
