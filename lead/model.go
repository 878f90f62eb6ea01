package lead

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Section names the half of a model a rule belongs to.
type Section string

// The two sections of a scoring model.
const (
	SectionFit        Section = "fit"
	SectionEngagement Section = "engagement"
)

// Model is a compiled, validated rule-based scoring model. Scoring reads
// only immutable data, so a Model is safe for concurrent use.
type Model struct {
	id      string
	version int
	name    string
	raw     []byte // canonical JSON of the spec

	nodes    []node
	preds    bool // some node is a predicate: scoring fills a record of the lead
	rules    []rule
	ruleInfo []ruleInfo // parallel to rules, read only by Explain
	groups   []group

	// eventSlots lists the event nodes whose counts one pass over the
	// events gathers (see evalEvents); kinds groups them by event kind.
	eventSlots int
	kinds      []kindSlots
	anyKind    []tallyNode
	kindTab    [64]uint8 // kindHash(kind) -> index+1 into kinds; 0: none

	fitCap, engCap, totalCap float64
	decay                    decayFn
	fitGrades, engGrades     [3]float64
	stages                   []stage
}

type decayFn struct {
	halfLifeDays float64 // > 0: half-life decay
	stepDays     float64 // > 0: step-down decay
	lnStepFactor float64
	// steps[k] is the step-down factor after k full steps, computed with
	// the same expression scoring would use, so a lookup gives the same
	// bits as computing it.
	steps []float64
	// wholeDays[d] is the half-life factor of an event exactly d days old,
	// computed with the expression scoring uses (see halfLife), so a lookup
	// gives the same bits: events stamped with dates, scored at midnight,
	// skip math.Exp2.
	wholeDays []float64
}

// maxDecayDays bounds the half-life lookup table (a little over a year);
// older or not whole-day ages compute their factor.
const maxDecayDays = 400

// maxDecaySteps bounds the step-down lookup table; older events compute
// their factor.
const maxDecaySteps = 512

type opCode uint8

const (
	opAll opCode = iota + 1
	opAny
	opNot
	opEvent
	opPred
)

// node is one compiled part of a rule's condition: an all, any or not
// group that holds an event test, an event test, or an event-free
// condition compiled by the one condition compiler into a single
// predicate. Scoring needs more than truth from the event parts (the age
// of the youngest counted event, for decay; the units counted), so those
// stay nodes of their own; everything else is one [cond.Predicate]. Groups
// refer to their children by index so the whole model is a few flat
// slices.
type node struct {
	op   opCode
	kids []int32
	pred *cond.Predicate // opPred: tested on the lead's record

	kind     string
	anyKind  bool
	minCount int
	within   time.Duration // 0: no window
	each     float64       // points per unit when the node is a points_each rule's root
	slot     int           // index into the per-score event tallies; -1: none
}

// kindSlots lists what tally updates for an event of one kind: the kind's
// own conditions, then those counting every kind ("*").
type kindSlots struct {
	kind  string
	nodes []tallyNode
}

// tallyNode is the part of an event condition tally reads, kept apart from
// the large node so one pass over the events touches little memory.
type tallyNode struct {
	within time.Duration // 0: no window
	each   float64
	slot   int32
}

// kindCollision in kindTab means several kinds share the hash: scan kinds.
const kindCollision = 255

// kindHash spreads event kinds over kindTab by length and last byte, which
// tell most host-defined kinds ("web_visit", "email_click") apart.
func kindHash(s string) int {
	return (len(s)*7 + int(s[len(s)-1])) & 63
}

// maxEventSlots bounds the event conditions gathered in one pass on the
// stack; a model with more evaluates the rest event by event.
const maxEventSlots = 32

// ruleInfo is what only explanations read of a rule: its names and its
// whole condition, compiled with its event tests, and as text.
type ruleInfo struct {
	id, desc string
	when     *cond.Predicate
	text     string
}

type rule struct {
	root      int32
	points    float64
	each      float64
	maxPoints float64
	// fast lets scoring skip the condition tree for the two common shapes
	// of a rule: a condition without event tests (one predicate), or a
	// single event test with a tally slot (slot, minCount copied from the
	// node).
	fast     ruleShape
	pred     *cond.Predicate
	slot     int32
	minCount int
}

type ruleShape uint8

const (
	shapeTree ruleShape = iota // evaluate the condition tree
	shapePred                  // the condition tests no event: one predicate
	shapeSlot                  // the root is an event test with a slot
)

type group struct {
	name       string
	section    Section
	cap        float64
	start, end int // rules[start:end]
}

type stage struct {
	status crm.LeadStatus
	conds  []stageCond // own conditions first, then those of required stages
}

type stageCond struct {
	minFit, minEng, minTotal, maxTotal float64
	grades                             uint16 // bit per grade index; 0: any
}

// Limits on a model, so that hostile JSON cannot make scoring slow. The
// conditions have the one condition language's own limits ([cond.MaxDepth],
// [cond.MaxNodes], [cond.MaxValues], [cond.MaxDocumentBytes]).
const (
	maxRules   = 1000
	maxIDLen   = 64
	maxTextLen = 500
)

// Bounds on the numbers of a rule model. Every number must be finite and
// within its bound, so no sum scoring forms can overflow: a model has at
// most 1000 rules, so fit and event-once points add up to at most
// 1000 * [MaxRulePoints], and points_each rules, at most
// [MaxRulePoints] per counted unit, stay far below the float64 range for
// any number of events. A [Result] therefore always holds finite numbers
// and encodes as JSON.
const (
	// MaxRulePoints bounds the absolute value of a rule's points,
	// points_each and max_points.
	MaxRulePoints = 1e6
	// MaxScoreBound bounds the absolute value of the caps (group, section
	// and total_cap), the grade thresholds and the stage bounds (min_fit,
	// min_engagement, min_total, max_total).
	MaxScoreBound = 1e9
)

// ParseModel parses, validates and compiles a model from JSON with
// [cond.DecodeStrict]. Unknown fields, unknown lead fields, operators a
// field does not have, literals of the wrong type, a negative half-life,
// cycles between stages and every other problem are reported together as
// [crm.ValidationErrors] whose paths name the bad fields (e.g.
// "fit.groups[0].rules[2].when.in[1]"). A condition in the retired
// {"field", "op", "value"} form is refused with what to write instead.
func ParseModel(data []byte) (*Model, error) {
	var spec ModelSpec
	if err := cond.DecodeStrict(data, &spec); err != nil {
		return nil, fmt.Errorf("lead: parse model: %w", err)
	}
	return Compile(spec)
}

// Compile validates spec and compiles it into a [Model]. The spec is copied;
// changing it afterwards does not change the model.
func Compile(spec ModelSpec) (*Model, error) {
	c := compiler{m: &Model{id: spec.ID, version: spec.Version, name: spec.Name}}
	c.model(&spec)
	if err := c.probs.Err(); err != nil {
		return nil, fmt.Errorf("lead: model %q: %w", truncate(spec.ID, 64), err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("lead: encode model %q: %w", spec.ID, err)
	}
	c.m.raw = raw
	return c.m, nil
}

// ID returns the model's ID.
func (m *Model) ID() string { return m.id }

// Version returns the model's version.
func (m *Model) Version() int { return m.version }

// Name returns the model's display name.
func (m *Model) Name() string { return m.name }

// Spec returns a copy of the specification the model was compiled from.
func (m *Model) Spec() ModelSpec {
	var s ModelSpec
	_ = json.Unmarshal(m.raw, &s) // m.raw was produced by json.Marshal of a ModelSpec
	return s
}

// MarshalJSON returns the model's specification as JSON.
func (m *Model) MarshalJSON() ([]byte, error) { return slices.Clone(m.raw), nil }

// UnmarshalJSON parses, validates and compiles a model, as [ParseModel].
func (m *Model) UnmarshalJSON(data []byte) error {
	p, err := ParseModel(data)
	if err != nil {
		return err
	}
	*m = *p
	return nil
}

type compiler struct {
	m       *Model
	probs   crm.Problems
	ruleIDs map[string]bool
}

func (c *compiler) add(field, format string, args ...any) {
	c.probs.Add(field, format, args...)
}

func (c *compiler) model(s *ModelSpec) {
	if !validModelID(s.ID) {
		c.add("id", "must be 1-%d lower-case letters, digits, '-', '_' or '.', got %q", maxIDLen, truncate(s.ID, 64))
	}
	if s.Version < 1 {
		c.add("version", "must be at least 1, got %d", s.Version)
	}
	c.text("name", s.Name)
	c.text("description", s.Description)
	c.ruleIDs = map[string]bool{}
	c.m.fitCap = c.cap("fit.cap", s.Fit.Cap, MaxScoreBound)
	c.m.engCap = c.cap("engagement.cap", s.Engagement.Cap, MaxScoreBound)
	c.m.totalCap = c.cap("total_cap", s.TotalCap, MaxScoreBound)
	c.section("fit", SectionFit, &s.Fit)
	c.section("engagement", SectionEngagement, &s.Engagement)
	if len(c.m.rules) == 0 && c.probs.Len() == 0 {
		c.add("fit.groups", "the model has no rules")
	}
	if len(c.m.rules) > maxRules {
		c.add("", "more than %d rules", maxRules)
	}
	c.prepare()
	c.decay(s.Decay)
	c.m.fitGrades, c.m.engGrades = c.grades(s.Grades)
	c.stages(s.Stages)
}

// prepare gives event tests their tally slots, grouped by kind, and finds
// the rules scoring can decide without walking a tree, so scoring does that
// work once per model.
func (c *compiler) prepare() {
	kinds := map[string]int{}
	for i := range c.m.nodes {
		n := &c.m.nodes[i]
		n.slot = -1
		c.m.preds = c.m.preds || n.op == opPred
		if n.op != opEvent || c.m.eventSlots >= maxEventSlots {
			continue
		}
		n.slot = c.m.eventSlots
		c.m.eventSlots++
		tn := tallyNode{within: n.within, each: n.each, slot: int32(n.slot)}
		if n.anyKind {
			c.m.anyKind = append(c.m.anyKind, tn)
			continue
		}
		k, ok := kinds[n.kind]
		if !ok {
			k = len(c.m.kinds)
			kinds[n.kind] = k
			c.m.kinds = append(c.m.kinds, kindSlots{kind: n.kind})
		}
		c.m.kinds[k].nodes = append(c.m.kinds[k].nodes, tn)
	}
	for k := range c.m.kinds {
		ks := &c.m.kinds[k]
		ks.nodes = append(ks.nodes, c.m.anyKind...)
		if ks.kind == "" {
			continue // refused by validation; the model is not returned
		}
		switch h := kindHash(ks.kind); c.m.kindTab[h] {
		case 0:
			c.m.kindTab[h] = uint8(k + 1)
		default:
			c.m.kindTab[h] = kindCollision
		}
	}
	for i := range c.m.rules {
		r := &c.m.rules[i]
		if r.root < 0 || int(r.root) >= len(c.m.nodes) {
			continue
		}
		n := &c.m.nodes[r.root]
		switch {
		case n.op == opPred:
			r.fast, r.pred = shapePred, n.pred
		case n.op == opEvent && n.slot >= 0:
			r.fast, r.slot, r.minCount = shapeSlot, int32(n.slot), n.minCount
		}
	}
}

func (c *compiler) text(field, s string) {
	if len(s) > maxTextLen {
		c.add(field, "longer than %d bytes", maxTextLen)
	}
}

// cap reads an optional cap; absent means no cap (+Inf, which min leaves
// finite).
func (c *compiler) cap(field string, p *float64, limit float64) float64 {
	if p == nil {
		return math.Inf(1)
	}
	c.number(field, *p, limit)
	return *p
}

// number refuses a value that is not finite or whose absolute value is
// above limit.
func (c *compiler) number(field string, v, limit float64) {
	if !finite(v) || math.Abs(v) > limit {
		c.add(field, "must be a finite number from %g to %g, got %g", -limit, limit, v)
	}
}

func (c *compiler) section(path string, sec Section, s *SectionSpec) {
	names := map[string]bool{}
	for gi := range s.Groups {
		g := &s.Groups[gi]
		gp := idx(path+".groups", gi)
		switch {
		case strings.TrimSpace(g.Name) == "":
			c.add(gp+".name", "is required")
		case names[g.Name]:
			c.add(gp+".name", "repeats group %q", truncate(g.Name, 64))
		}
		names[g.Name] = true
		c.text(gp+".name", g.Name)
		if len(g.Rules) == 0 {
			c.add(gp+".rules", "the group has no rules")
		}
		cg := group{name: g.Name, section: sec, cap: c.cap(gp+".cap", g.Cap, MaxScoreBound), start: len(c.m.rules)}
		for ri := range g.Rules {
			c.rule(idx(gp+".rules", ri), sec, &g.Rules[ri])
		}
		cg.end = len(c.m.rules)
		c.m.groups = append(c.m.groups, cg)
	}
}

func (c *compiler) rule(path string, sec Section, r *RuleSpec) {
	switch {
	case r.ID == "":
		c.add(path+".id", "is required")
	case len(r.ID) > maxIDLen:
		c.add(path+".id", "longer than %d bytes", maxIDLen)
	case c.ruleIDs[r.ID]:
		c.add(path+".id", "repeats rule %q", truncate(r.ID, 64))
	}
	c.ruleIDs[r.ID] = true
	c.text(path+".description", r.Description)
	info := ruleInfo{id: r.ID, desc: r.Description}
	cr := rule{root: -1, points: r.Points, each: r.PointsEach, maxPoints: c.cap(path+".max_points", r.MaxPoints, MaxRulePoints)}
	c.number(path+".points", r.Points, MaxRulePoints)
	c.number(path+".points_each", r.PointsEach, MaxRulePoints)
	switch {
	case r.Points != 0 && r.PointsEach != 0:
		c.add(path+".points_each", "set points or points_each, not both")
	case r.Points == 0 && r.PointsEach == 0:
		c.add(path+".points", "the rule gives no points: set points or points_each")
	case r.PointsEach != 0 && sec == SectionFit:
		c.add(path+".points_each", "is for engagement rules only")
	case r.PointsEach != 0 && r.When != nil && r.When.Event == nil:
		c.add(path+".when", "points_each needs a single event test")
	}
	if r.When == nil {
		c.add(path+".when", "is required")
	} else if when := c.when(path+".when", sec, r.When); when != nil {
		info.when, info.text = when, when.String()
		if r.When.HasEvent() {
			cr.root = c.cond(path+".when", r.When)
		} else {
			cr.root = c.node(node{op: opPred, pred: when})
		}
		if r.PointsEach != 0 && r.When.Event != nil {
			c.m.nodes[cr.root].each = r.PointsEach
		}
	}
	c.m.ruleInfo = append(c.m.ruleInfo, info)
	c.m.rules = append(c.m.rules, cr)
}

// when checks a rule's condition with the one condition compiler against
// [cond.LeadSchema], which reports unknown fields, operators a field does
// not have, literals of the wrong type and sizes with their paths, then
// what only scoring rules restrict: event tests belong in the engagement
// section. It returns the compiled condition, or nil after reporting its
// problems.
func (c *compiler) when(path string, sec Section, w *cond.Condition) *cond.Predicate {
	p, err := cond.Compile(cond.LeadSchema(), path, w)
	c.probs.Merge(err)
	if sec == SectionFit && w.HasEvent() {
		c.fitEvents(path, w, 0)
		return nil
	}
	if err != nil {
		return nil
	}
	return p
}

// fitEvents reports the event tests of a fit rule's condition.
func (c *compiler) fitEvents(path string, w *cond.Condition, depth int) {
	if w == nil || depth > cond.MaxDepth {
		return // too deep: cond reported it
	}
	if w.Event != nil {
		c.add(path+".event", "event conditions belong in the engagement section")
	}
	for i := range w.All {
		c.fitEvents(idx(path+".all", i), &w.All[i], depth+1)
	}
	for i := range w.Any {
		c.fitEvents(idx(path+".any", i), &w.Any[i], depth+1)
	}
	c.fitEvents(path+".not", w.Not, depth+1)
}

// node appends n to the model's nodes and returns its index.
func (c *compiler) node(n node) int32 {
	c.m.nodes = append(c.m.nodes, n)
	return int32(len(c.m.nodes) - 1)
}

// cond compiles w, a condition cond accepted that holds an event test,
// into nodes: its groups that hold an event test and its event tests
// become nodes of their own, and every part without one becomes a single
// predicate node.
func (c *compiler) cond(path string, w *cond.Condition) int32 {
	switch {
	case w.Event != nil:
		e := w.Event
		n := node{op: opEvent, kind: e.Kind, anyKind: e.Kind == "*", minCount: max(e.MinCount, 1)}
		if e.WithinDays > 0 {
			n.within = time.Duration(e.WithinDays * float64(24*time.Hour))
		}
		return c.node(n)
	case !w.HasEvent():
		p, err := cond.Compile(cond.LeadSchema(), path, w)
		if err != nil {
			c.probs.Merge(err) // cannot happen: the whole condition compiled
			return c.node(node{op: opAll})
		}
		return c.node(node{op: opPred, pred: p})
	case w.Not != nil:
		at := c.node(node{op: opNot})
		k := c.cond(path+".not", w.Not)
		c.m.nodes[at].kids = []int32{k}
		return at
	}
	list, n, name := w.All, node{op: opAll}, "all"
	if w.Any != nil {
		list, n, name = w.Any, node{op: opAny}, "any"
	}
	at := c.node(n)
	kids := make([]int32, len(list))
	for i := range list {
		kids[i] = c.cond(idx(path+"."+name, i), &list[i])
	}
	c.m.nodes[at].kids = kids
	return at
}

func (c *compiler) decay(d *DecaySpec) {
	if d == nil {
		return
	}
	switch {
	case !finite(d.HalfLifeDays) || d.HalfLifeDays < 0:
		c.add("decay.half_life_days", "must not be negative")
	case !finite(d.StepDays) || d.StepDays < 0:
		c.add("decay.step_days", "must not be negative")
	case d.HalfLifeDays > 0 && d.StepDays > 0:
		c.add("decay", "set half_life_days or step_days, not both")
	case d.HalfLifeDays == 0 && d.StepDays == 0:
		c.add("decay", "set half_life_days or step_days")
	case d.HalfLifeDays > 0:
		if d.StepFactor != 0 {
			c.add("decay.step_factor", "is used with step_days only")
		}
		c.m.decay.halfLifeDays = d.HalfLifeDays
		c.m.decay.wholeDays = make([]float64, maxDecayDays)
		for k := range c.m.decay.wholeDays {
			c.m.decay.wholeDays[k] = halfLife(float64(k), d.HalfLifeDays)
		}
	default:
		f := d.StepFactor
		if f == 0 {
			f = 0.5
		}
		if !(f > 0 && f < 1) {
			c.add("decay.step_factor", "must be between 0 and 1 (exclusive), got %v", d.StepFactor)
			return
		}
		c.m.decay.stepDays = d.StepDays
		c.m.decay.lnStepFactor = math.Log(f)
		c.m.decay.steps = make([]float64, maxDecaySteps)
		for k := range c.m.decay.steps {
			c.m.decay.steps[k] = math.Exp(float64(k) * c.m.decay.lnStepFactor)
		}
	}
}

func (c *compiler) grades(g *GradeSpec) (fit, eng [3]float64) {
	def := DefaultGradeThresholds()
	fitT, engT := def, def
	if g != nil {
		if g.Fit != nil {
			fitT = g.Fit
		}
		if g.Engagement != nil {
			engT = g.Engagement
		}
	}
	check := func(field string, t []float64) (out [3]float64) {
		if len(t) != 3 {
			c.add(field, "want 3 descending thresholds, got %d", len(t))
			return out
		}
		for i, v := range t {
			c.number(idx(field, i), v, MaxScoreBound)
			if i > 0 && !(v < t[i-1]) {
				c.add(idx(field, i), "must be below the threshold before it")
			}
			out[i] = v
		}
		return out
	}
	return check("grades.fit", fitT), check("grades.engagement", engT)
}

func (c *compiler) stages(specs []StageSpec) {
	pos := map[crm.LeadStatus]int{}
	for i, s := range specs {
		p := idx("stages", i)
		switch {
		case !s.Stage.Valid() || s.Stage == crm.LeadConverted:
			c.add(p+".stage", "want new, contacted, marketing_qualified, sales_qualified or disqualified, got %q", truncate(string(s.Stage), 32))
		default:
			if _, dup := pos[s.Stage]; dup {
				c.add(p+".stage", "repeats stage %q", s.Stage)
			}
			pos[s.Stage] = i
		}
	}
	own := make([]stageCond, len(specs))
	for i, s := range specs {
		p := idx("stages", i)
		sc := stageCond{
			minFit: c.bound(p+".min_fit", s.MinFit, math.Inf(-1)), minEng: c.bound(p+".min_engagement", s.MinEngagement, math.Inf(-1)),
			minTotal: c.bound(p+".min_total", s.MinTotal, math.Inf(-1)), maxTotal: c.bound(p+".max_total", s.MaxTotal, math.Inf(1)),
		}
		for j, g := range s.Grades {
			gi, ok := gradeIndex(g)
			if !ok {
				c.add(idx(p+".grades", j), "unknown grade %q: want A1 to D4", truncate(g, 8))
				continue
			}
			sc.grades |= 1 << gi
		}
		if s.MinFit == nil && s.MinEngagement == nil && s.MinTotal == nil && s.MaxTotal == nil && len(s.Grades) == 0 && len(s.Requires) == 0 {
			c.add(p, "the stage has no condition")
		}
		for j, r := range s.Requires {
			if _, ok := pos[r]; !ok {
				c.add(idx(p+".requires", j), "no stage %q in this model", truncate(string(r), 32))
			}
		}
		own[i] = sc
	}
	if c.probs.Len() > 0 {
		return
	}
	// Refuse cycles, then flatten each stage's requirements so scoring never
	// follows references.
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(specs))
	var visit func(i int, trail []crm.LeadStatus) bool
	visit = func(i int, trail []crm.LeadStatus) bool {
		switch state[i] {
		case visiting:
			path := make([]string, 0, len(trail)+1)
			for _, t := range trail {
				path = append(path, string(t))
			}
			path = append(path, string(specs[i].Stage))
			c.add(idx("stages", i)+".requires", "cycle: %s", strings.Join(path, " -> "))
			return false
		case done:
			return true
		}
		state[i] = visiting
		for _, r := range specs[i].Requires {
			if !visit(pos[r], append(trail, specs[i].Stage)) {
				return false
			}
		}
		state[i] = done
		return true
	}
	for i := range specs {
		if !visit(i, nil) {
			return
		}
	}
	for i, s := range specs {
		st := stage{status: s.Stage}
		seen := map[int]bool{}
		var collect func(j int)
		collect = func(j int) {
			if seen[j] {
				return
			}
			seen[j] = true
			st.conds = append(st.conds, own[j])
			for _, r := range specs[j].Requires {
				collect(pos[r])
			}
		}
		collect(i)
		c.m.stages = append(c.m.stages, st)
	}
}

func (c *compiler) bound(field string, p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	c.number(field, *p, MaxScoreBound)
	return *p
}

var gradeNames = [16]string{
	"A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4",
	"C1", "C2", "C3", "C4", "D1", "D2", "D3", "D4",
}

func gradeIndex(g string) (int, bool) {
	if len(g) != 2 || g[0] < 'A' || g[0] > 'D' || g[1] < '1' || g[1] > '4' {
		return 0, false
	}
	return int(g[0]-'A')*4 + int(g[1]-'1'), true
}

func validModelID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
