package lead

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Engagement is one thing a lead did: a web visit, an email click, a form
// fill, a call. Kinds are host-defined strings that scoring rules name. It
// is the event of the one condition language ([cond.Event]: kind, time,
// count and value), so a host's events pass to the event tests of rules
// without copying. Events after the scoring time are ignored, so a score
// can be recomputed as of any moment.
type Engagement = cond.Event

// Result is a lead's score under one model. It is a plain value: computing it
// allocates nothing.
type Result struct {
	// Fit and Engagement are the section scores after group and section
	// caps; Total is their sum after the model's total cap.
	Fit        float64
	Engagement float64
	Total      float64
	// Grade combines the fit letter and the engagement digit, "A1" (best)
	// to "D4".
	Grade string
	// Stage is the lifecycle stage the model suggests, or "" when no stage
	// threshold is met.
	Stage crm.LeadStatus
}

// Contribution is one matched rule in an [Explanation].
type Contribution struct {
	Section     Section `json:"section"`
	Group       string  `json:"group"`
	Rule        string  `json:"rule"`
	Description string  `json:"description,omitempty"`
	// Base is what the rule gives before decay and MaxPoints; Points what it
	// gave after them (before group and section caps).
	Base   float64 `json:"base"`
	Points float64 `json:"points"`
	// Events counts the event units the rule's event tests counted.
	Events int `json:"events,omitempty"`
	// When is the rule's condition as text, in the format of
	// [cond.Predicate.String], such as `industry in ["retail"]`.
	When string `json:"when,omitempty"`
	// Outcome says how each test of the condition came out on the lead
	// (what the lead held, how many events were counted), in the one
	// explanation format of conditions.
	Outcome *cond.Explanation `json:"outcome,omitempty"`
}

// GroupTotal is one group's points in an [Explanation]: Raw is the sum of its
// contributions, Points the sum after the group's cap.
type GroupTotal struct {
	Section Section `json:"section"`
	Group   string  `json:"group"`
	Raw     float64 `json:"raw"`
	Points  float64 `json:"points"`
}

// Explanation says why a lead scored what it did: the result, every matched
// rule with its points, and every group's total before and after its cap.
type Explanation struct {
	Model         string         `json:"model"`
	Version       int            `json:"version"`
	Result        Result         `json:"result"`
	Contributions []Contribution `json:"contributions"`
	Groups        []GroupTotal   `json:"groups"`
}

// String renders the explanation for people, one line per matched rule
// with its condition.
func (e *Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s v%d: fit %s, engagement %s, total %s, grade %s",
		e.Model, e.Version, pts(e.Result.Fit), pts(e.Result.Engagement), pts(e.Result.Total), e.Result.Grade)
	if e.Result.Stage != "" {
		fmt.Fprintf(&b, ", stage %s", e.Result.Stage)
	}
	for _, c := range e.Contributions {
		fmt.Fprintf(&b, "\n  %s/%s %s: %s", c.Section, c.Group, c.Rule, signed(c.Points))
		if c.Points != c.Base {
			fmt.Fprintf(&b, " (of %s)", signed(c.Base))
		}
		if c.When != "" {
			fmt.Fprintf(&b, "  when %s", c.When)
		}
	}
	for _, g := range e.Groups {
		if g.Raw != g.Points {
			fmt.Fprintf(&b, "\n  %s/%s capped at %s (from %s)", g.Section, g.Group, pts(g.Points), pts(g.Raw))
		}
	}
	return b.String()
}

func pts(f float64) string { return trimZeros(fmt.Sprintf("%.2f", f)) }

func signed(f float64) string {
	if f >= 0 {
		return "+" + pts(f)
	}
	return pts(f)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// Score scores lead l with its engagement events as of now. Pass the
// injected clock's time (clock.Now()); the same arguments always give the
// same result. Score allocates nothing and is safe for concurrent use.
func (m *Model) Score(l *crm.Lead, events []Engagement, now time.Time) Result {
	return m.eval(l, events, now, nil)
}

// Explain is [Model.Score] with an [Explanation] of every matched rule:
// its points and how its condition came out on the lead.
func (m *Model) Explain(l *crm.Lead, events []Engagement, now time.Time) *Explanation {
	ex := &Explanation{Model: m.id, Version: m.version}
	ex.Result = m.eval(l, events, now, ex)
	return ex
}

// tally is what one pass over the events gathered for one event condition.
type tally struct {
	units int
	age   time.Duration // youngest counted event, when units > 0
	sum   float64       // decayed points_each points
}

type tallies [maxEventSlots]tally

// decayMemo remembers the decay factors computed during one scoring, by
// event age: the same few events are the youngest of many rules, and their
// points_each decay was often computed already by tally.
type decayMemo struct {
	n    int
	ages [8]time.Duration
	facs [8]float64
}

// factor returns m's decay factor for age, computing it at most once per
// distinct age among the first few seen.
func (dm *decayMemo) factor(m *Model, age time.Duration) float64 {
	for i := 0; i < dm.n; i++ {
		if dm.ages[i] == age {
			return dm.facs[i]
		}
	}
	f := m.decayFactor(age)
	if dm.n < len(dm.ages) {
		dm.ages[dm.n], dm.facs[dm.n] = age, f
		dm.n++
	}
	return f
}

// records are records of [cond.LeadSchema], one per running Score or
// Explain, which scoring fills with the lead for the rules' predicates:
// taking one from the pool and filling it does not allocate once the pool
// holds records. A record given back still refers to the last lead's
// values until it is filled again or the pool drops it at a garbage
// collection; emptying it on every scoring would cost more than it saves.
var records = sync.Pool{New: func() any { return cond.LeadSchema().NewRecord() }}

func (m *Model) eval(l *crm.Lead, events []Engagement, now time.Time, ex *Explanation) Result {
	var rec *cond.Record
	if m.preds || ex != nil {
		rec = records.Get().(*cond.Record)
		defer records.Put(rec)
		// A record of the lead schema is filled by slot, which cannot fail.
		_ = cond.FillLead(rec, l)
		if ex != nil {
			rec.SetEvents(events, now) // for the event tests in explanations
		}
	}
	var tl tallies
	var memo decayMemo
	if m.eventSlots > 0 {
		m.tally(&tl, &memo, events, now)
	}
	var fit, eng float64
	decays := m.decay.active()
	for gi := range m.groups {
		g := &m.groups[gi]
		isEng := g.section == SectionEngagement
		decayed := isEng && decays
		var sum float64
		rules := m.rules[g.start:g.end]
		for i := range rules {
			r := &rules[i]
			var base, got float64
			var units int
			if r.each != 0 {
				got, units = m.eachPoints(&m.nodes[r.root], &tl, events, now)
				if units == 0 {
					continue
				}
				base = r.each * float64(units)
			} else {
				var ok bool
				age, n := time.Duration(-1), 0
				switch r.fast {
				case shapePred:
					ok = r.pred.Match(rec)
				case shapeSlot:
					if t := &tl[r.slot]; t.units >= r.minCount {
						ok, age, n = true, t.age, t.units
					}
				default:
					var t cond.Truth
					t, age, n = m.match(r.root, rec, &tl, events, now)
					ok = t == cond.True
				}
				if !ok {
					continue
				}
				base, got, units = r.points, r.points, n
				if decayed && age >= 0 {
					got *= memo.factor(m, age)
				}
			}
			if got > r.maxPoints {
				got = r.maxPoints
			}
			sum += got
			if ex != nil {
				info := &m.ruleInfo[g.start+i]
				ex.Contributions = append(ex.Contributions, Contribution{
					Section: g.section, Group: g.name, Rule: info.id, Description: info.desc,
					Base: base, Points: got, Events: units, When: info.text, Outcome: info.when.Explain(rec),
				})
			}
		}
		capped := min(sum, g.cap)
		if ex != nil {
			ex.Groups = append(ex.Groups, GroupTotal{Section: g.section, Group: g.name, Raw: sum, Points: capped})
		}
		if isEng {
			eng += capped
		} else {
			fit += capped
		}
	}
	fit = min(fit, m.fitCap)
	eng = min(eng, m.engCap)
	res := Result{Fit: fit, Engagement: eng, Total: min(fit+eng, m.totalCap)}
	gi := grade(fit, &m.fitGrades)*4 + grade(eng, &m.engGrades)
	res.Grade = gradeNames[gi]
	for si := range m.stages {
		if m.stages[si].holds(&res, gi) {
			res.Stage = m.stages[si].status
			break
		}
	}
	return res
}

func grade(v float64, t *[3]float64) int {
	for i, th := range t {
		if v >= th {
			return i
		}
	}
	return 3
}

func (s *stage) holds(r *Result, gi int) bool {
	for i := range s.conds {
		c := &s.conds[i]
		if r.Fit < c.minFit || r.Engagement < c.minEng || r.Total < c.minTotal || r.Total > c.maxTotal {
			return false
		}
		if c.grades != 0 && c.grades&(1<<gi) == 0 {
			return false
		}
	}
	return true
}

// decayFactor returns the weight of engagement points whose event is age
// old.
func (m *Model) decayFactor(age time.Duration) float64 {
	d := &m.decay
	const day = 24 * time.Hour
	switch {
	case d.halfLifeDays > 0:
		// age.Hours()/24 is exactly k for an age of k whole days, so the
		// table holds the very bits halfLife would return.
		if age%day == 0 && uint64(age/day) < uint64(len(d.wholeDays)) {
			return d.wholeDays[age/day]
		}
		return halfLife(age.Hours()/24, d.halfLifeDays)
	case d.stepDays > 0:
		days := age.Hours() / 24
		k := math.Floor(days / d.stepDays)
		if k >= 0 && k < float64(len(d.steps)) {
			return d.steps[int(k)]
		}
		return math.Exp(k * d.lnStepFactor)
	}
	return 1
}

// halfLife returns the half-life decay factor of an event days old.
func halfLife(days, halfLifeDays float64) float64 {
	return math.Exp2(-days / halfLifeDays)
}

// active reports whether engagement points decay at all.
func (d *decayFn) active() bool { return d.halfLifeDays > 0 || d.stepDays > 0 }

// match evaluates node i, a part of a condition that holds an event test,
// or a predicate on rec, in the three-valued logic of conditions
// ([cond.Truth]), so that a rule holds exactly when cond says its whole
// condition is [cond.True]. age is the age of the most recent event
// counted by the node's event tests (-1 when none), units the event units
// counted; both only when t is True.
func (m *Model) match(i int32, rec *cond.Record, tl *tallies, events []Engagement, now time.Time) (t cond.Truth, age time.Duration, units int) {
	n := &m.nodes[i]
	switch n.op {
	case opAll:
		t, age = cond.True, -1
		for _, k := range n.kids {
			kt, kage, ku := m.match(k, rec, tl, events, now)
			switch kt {
			case cond.False:
				return cond.False, -1, 0
			case cond.Unknown:
				t = cond.Unknown
			}
			age, units = youngest(age, kage), units+ku
		}
		if t != cond.True {
			return t, -1, 0
		}
		return t, age, units
	case opAny:
		t, age = cond.False, -1
		for _, k := range n.kids {
			// Every part is tested: each that holds adds its events.
			kt, kage, ku := m.match(k, rec, tl, events, now)
			switch {
			case kt == cond.True:
				t, age, units = cond.True, youngest(age, kage), units+ku
			case kt == cond.Unknown && t == cond.False:
				t = cond.Unknown
			}
		}
		return t, age, units
	case opNot:
		switch kt, _, _ := m.match(n.kids[0], rec, tl, events, now); kt {
		case cond.True:
			return cond.False, -1, 0
		case cond.False:
			return cond.True, -1, 0
		}
		return cond.Unknown, -1, 0
	case opEvent:
		if n.slot >= 0 {
			t := &tl[n.slot]
			if t.units < n.minCount {
				return cond.False, -1, 0
			}
			return cond.True, t.age, t.units
		}
		if ok, age, units := n.matchEvents(events, now); ok {
			return cond.True, age, units
		}
		return cond.False, -1, 0
	}
	return n.pred.Eval(rec), -1, 0
}

func youngest(a, b time.Duration) time.Duration {
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

func (n *node) counts(e *Engagement, now time.Time) (time.Duration, bool) {
	if !n.anyKind && e.Kind != n.kind {
		return 0, false
	}
	age := now.Sub(e.At)
	if age < 0 || (n.within > 0 && age > n.within) {
		return 0, false
	}
	return age, true
}

func (n *node) matchEvents(events []Engagement, now time.Time) (bool, time.Duration, int) {
	age, units := time.Duration(-1), 0
	for i := range events {
		a, ok := n.counts(&events[i], now)
		if !ok {
			continue
		}
		units += max(events[i].Count, 1)
		age = youngest(age, a)
	}
	if units < n.minCount {
		return false, -1, 0
	}
	return true, age, units
}

// tally counts every event once for all event conditions with a slot: its
// age and decay are computed once, not once per condition.
func (m *Model) tally(tl *tallies, memo *decayMemo, events []Engagement, now time.Time) {
	nowSec, nowNsec := now.Unix(), now.Nanosecond()
	for i := range events {
		e := &events[i]
		nodes := m.anyKind
		if e.Kind != "" {
			switch v := m.kindTab[kindHash(e.Kind)]; v {
			case 0:
			case kindCollision:
				for k := range m.kinds {
					if m.kinds[k].kind == e.Kind {
						nodes = m.kinds[k].nodes
						break
					}
				}
			default:
				if ks := &m.kinds[v-1]; ks.kind == e.Kind {
					nodes = ks.nodes
				}
			}
		}
		if len(nodes) == 0 {
			continue // no condition counts this kind: skip its age
		}
		age := ageOf(nowSec, nowNsec, e.At)
		if age < 0 {
			continue // after the scoring time
		}
		c := max(e.Count, 1)
		dec := -1.0
		for j := range nodes {
			tn := &nodes[j]
			if tn.within > 0 && age > tn.within {
				continue
			}
			t := &tl[tn.slot]
			if t.units == 0 || age < t.age {
				t.age = age
			}
			t.units += c
			if tn.each != 0 {
				if dec < 0 {
					dec = memo.factor(m, age)
				}
				t.sum += tn.each * float64(c) * dec
			}
		}
	}
}

// ageOf returns now - t, saturating instead of overflowing for times
// centuries apart.
func ageOf(nowSec int64, nowNsec int, t time.Time) time.Duration {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	ds := nowSec - t.Unix()
	switch {
	case ds > maxSec:
		return math.MaxInt64
	case ds < -maxSec:
		return math.MinInt64
	}
	return time.Duration(ds)*time.Second + time.Duration(nowNsec-t.Nanosecond())
}

// eachPoints sums each point per counted unit, decayed by the unit's own age.
func (m *Model) eachPoints(n *node, tl *tallies, events []Engagement, now time.Time) (float64, int) {
	if n.slot >= 0 {
		t := &tl[n.slot]
		if t.units < n.minCount {
			return 0, 0
		}
		return t.sum, t.units
	}
	each := n.each
	var sum float64
	units := 0
	for i := range events {
		a, ok := n.counts(&events[i], now)
		if !ok {
			continue
		}
		c := max(events[i].Count, 1)
		units += c
		sum += each * float64(c) * m.decayFactor(a)
	}
	if units < n.minCount {
		return 0, 0
	}
	return sum, units
}
