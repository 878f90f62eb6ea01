package lead

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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

type fieldID uint8

const (
	fieldNone fieldID = iota
	fieldName
	fieldCompany
	fieldTitle
	fieldEmail
	fieldPhone
	fieldIndustry
	fieldRegion
	fieldSource
	fieldStatus
	fieldCompanySize
	fieldTags
	fieldCustom
)

var fieldIDs = map[string]fieldID{
	"name": fieldName, "company": fieldCompany, "title": fieldTitle, "email": fieldEmail,
	"phone": fieldPhone, "industry": fieldIndustry, "region": fieldRegion, "source": fieldSource,
	"status": fieldStatus, "company_size": fieldCompanySize, "tags": fieldTags,
}

type opCode uint8

const (
	opAll opCode = iota + 1
	opAny
	opNot
	opEquals
	opIn
	opContains
	opExists
	opRange
	opEvent
)

var opCodes = map[string]opCode{
	"equals": opEquals, "in": opIn, "contains": opContains, "exists": opExists, "range": opRange,
}

// node is one compiled condition; groups refer to their children by index so
// the whole model is a few flat slices.
type node struct {
	op       opCode
	field    fieldID
	hasEvent bool // the subtree tests events (Any then checks every child for recency)
	custom   string
	str      string
	strs     []string
	num      float64
	nums     []float64
	numOK    bool // str (or every strs item) is a number
	boolVal  bool
	boolOK   bool // str is "true" or "false"
	lo, hi   float64
	kids     []int32

	kind     string
	anyKind  bool
	minCount int
	within   time.Duration // 0: no window
	each     float64       // points per unit when the node is a points_each rule's root
	slot     int           // index into the per-score event tallies; -1: none
	lowered  string        // str lower-cased, when ASCII, for contains
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

type ruleInfo struct{ id, desc string }

type rule struct {
	root      int32
	points    float64
	each      float64
	maxPoints float64
	// fast lets scoring skip the condition tree for the two common shapes
	// of a rule: a single field test, or a single event test with a tally
	// slot (slot, minCount copied from the node).
	fast     ruleShape
	slot     int32
	minCount int
}

type ruleShape uint8

const (
	shapeTree  ruleShape = iota // evaluate the condition tree
	shapeField                  // the root is a field test
	shapeSlot                   // the root is an event test with a slot
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

// Limits on a model, so that hostile JSON cannot make scoring slow.
const (
	maxRules     = 1000
	maxDepth     = 16
	maxInValues  = 1000
	maxIDLen     = 64
	maxTextLen   = 500
	customPrefix = "fields."
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

// ParseModel parses, validates and compiles a model from JSON. Unknown
// fields, bad operators, a negative half-life, cycles between stages and
// every other problem are reported together as [crm.ValidationErrors] whose
// paths name the bad fields (e.g. "fit.groups[0].rules[2].when.op").
func ParseModel(data []byte) (*Model, error) {
	var spec ModelSpec
	if err := decodeStrict(data, &spec); err != nil {
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

// prepare gives event conditions their tally slots, grouped by kind, and
// lower-cases contains operands, so scoring does that work once per model.
func (c *compiler) prepare() {
	kinds := map[string]int{}
	for i := range c.m.nodes {
		n := &c.m.nodes[i]
		n.slot = -1
		if (n.op == opContains || n.op == opEquals) && isASCII(n.str) {
			n.lowered = strings.ToLower(n.str)
		}
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
		case n.op >= opEquals && n.op <= opRange:
			r.fast = shapeField
		case n.op == opEvent && n.slot >= 0:
			r.fast, r.slot, r.minCount = shapeSlot, int32(n.slot), n.minCount
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
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
	c.m.ruleInfo = append(c.m.ruleInfo, ruleInfo{id: r.ID, desc: r.Description})
	cr := rule{points: r.Points, each: r.PointsEach, maxPoints: c.cap(path+".max_points", r.MaxPoints, MaxRulePoints)}
	c.number(path+".points", r.Points, MaxRulePoints)
	c.number(path+".points_each", r.PointsEach, MaxRulePoints)
	switch {
	case r.Points != 0 && r.PointsEach != 0:
		c.add(path+".points_each", "set points or points_each, not both")
	case r.Points == 0 && r.PointsEach == 0:
		c.add(path+".points", "the rule gives no points: set points or points_each")
	case r.PointsEach != 0 && sec == SectionFit:
		c.add(path+".points_each", "is for engagement rules only")
	case r.PointsEach != 0 && r.When.Event == nil:
		c.add(path+".when", "points_each needs a single event condition")
	}
	cr.root = c.cond(path+".when", sec, &r.When, 0)
	if r.PointsEach != 0 && r.When.Event != nil {
		c.m.nodes[cr.root].each = r.PointsEach
	}
	c.m.rules = append(c.m.rules, cr)
}

func (c *compiler) cond(path string, sec Section, s *ConditionSpec, depth int) int32 {
	at := int32(len(c.m.nodes))
	c.m.nodes = append(c.m.nodes, node{})
	var n node
	if depth >= maxDepth {
		c.add(path, "conditions nest deeper than %d levels", maxDepth)
		c.m.nodes[at] = node{op: opAll}
		return at
	}
	kinds := 0
	if s.All != nil {
		kinds++
	}
	if s.Any != nil {
		kinds++
	}
	if s.Not != nil {
		kinds++
	}
	if s.Field != "" || s.Op != "" {
		kinds++
	}
	if s.Event != nil {
		kinds++
	}
	if kinds != 1 {
		c.add(path, "set exactly one of all, any, not, field with op, or event")
		c.m.nodes[at] = node{op: opAll}
		return at
	}
	switch {
	case s.All != nil || s.Any != nil:
		list, name := s.All, "all"
		n.op = opAll
		if s.Any != nil {
			n.op, list, name = opAny, s.Any, "any"
		}
		if len(list) == 0 {
			c.add(path+"."+name, "is empty")
		}
		for i := range list {
			k := c.cond(idx(path+"."+name, i), sec, &list[i], depth+1)
			n.kids = append(n.kids, k)
			n.hasEvent = n.hasEvent || c.m.nodes[k].hasEvent
		}
	case s.Not != nil:
		n.op = opNot
		k := c.cond(path+".not", sec, s.Not, depth+1)
		n.kids = []int32{k}
		n.hasEvent = c.m.nodes[k].hasEvent
	case s.Event != nil:
		n = c.event(path+".event", sec, s.Event)
	default:
		n = c.field(path, s)
	}
	c.m.nodes[at] = n
	return at
}

func (c *compiler) event(path string, sec Section, e *EventSpec) node {
	n := node{op: opEvent, hasEvent: true, kind: e.Kind, anyKind: e.Kind == "*", minCount: e.MinCount}
	if sec == SectionFit {
		c.add(path, "event conditions belong in the engagement section")
	}
	if e.Kind == "" {
		c.add(path+".kind", "is required (\"*\" counts every kind)")
	}
	c.text(path+".kind", e.Kind)
	if e.MinCount < 0 {
		c.add(path+".min_count", "must not be negative")
	}
	if n.minCount == 0 {
		n.minCount = 1
	}
	if !finite(e.WithinDays) || e.WithinDays < 0 {
		c.add(path+".within_days", "must be a non-negative number of days")
	} else if e.WithinDays > 0 {
		if e.WithinDays > 36500 {
			c.add(path+".within_days", "must be at most 36500 days")
		} else {
			n.within = time.Duration(e.WithinDays * float64(24*time.Hour))
		}
	}
	return n
}

func (c *compiler) field(path string, s *ConditionSpec) node {
	n := node{lo: math.Inf(-1), hi: math.Inf(1)}
	if f, ok := fieldIDs[s.Field]; ok {
		n.field = f
	} else if name, ok := strings.CutPrefix(s.Field, customPrefix); ok && validFieldName(name) {
		n.field, n.custom = fieldCustom, name
	} else {
		c.add(path+".field", "unknown field %q: want a lead field (name, company, title, email, phone, industry, region, source, status, company_size, tags) or fields.<name>", truncate(s.Field, 64))
	}
	op, ok := opCodes[s.Op]
	if !ok {
		c.add(path+".op", "unknown operator %q: want equals, in, contains, exists or range", truncate(s.Op, 32))
		return n
	}
	n.op = op
	numeric := n.field == fieldCompanySize
	textual := n.field != fieldCompanySize && n.field != fieldCustom
	unused := func(name string, set bool) {
		if set {
			c.add(path+"."+name, "is not used by %s", s.Op)
		}
	}
	switch op {
	case opEquals, opContains:
		unused("values", s.Values != nil)
		unused("min", s.Min != nil)
		unused("max", s.Max != nil)
		if s.Value == "" {
			c.add(path+".value", "is required by %s", s.Op)
		}
		n.str = s.Value
		n.num, n.numOK = parseNumber(s.Value)
		n.boolVal, n.boolOK = parseBool(s.Value)
		if numeric && (op == opContains || !n.numOK) {
			c.add(path+".value", "%s is a number: use equals with a number or range", s.Field)
		}
	case opIn:
		unused("value", s.Value != "")
		unused("min", s.Min != nil)
		unused("max", s.Max != nil)
		if len(s.Values) == 0 {
			c.add(path+".values", "is required by in")
		}
		if len(s.Values) > maxInValues {
			c.add(path+".values", "has more than %d values", maxInValues)
		}
		n.strs = slices.Clone(s.Values)
		n.numOK = true
		for i, v := range s.Values {
			f, ok := parseNumber(v)
			n.nums = append(n.nums, f)
			n.numOK = n.numOK && ok
			if v == "" {
				c.add(idx(path+".values", i), "is empty")
			}
		}
		if numeric && !n.numOK {
			c.add(path+".values", "%s is a number: every value must be a number", s.Field)
		}
	case opExists:
		unused("value", s.Value != "")
		unused("values", s.Values != nil)
		unused("min", s.Min != nil)
		unused("max", s.Max != nil)
	case opRange:
		unused("value", s.Value != "")
		unused("values", s.Values != nil)
		if textual {
			c.add(path+".op", "range needs a number field (company_size or a custom number field), not %s", s.Field)
		}
		if s.Min == nil && s.Max == nil {
			c.add(path, "range needs min, max or both")
		}
		if s.Min != nil {
			n.lo = *s.Min
			if !finite(n.lo) {
				c.add(path+".min", "must be a finite number")
			}
		}
		if s.Max != nil {
			n.hi = *s.Max
			if !finite(n.hi) {
				c.add(path+".max", "must be a finite number")
			}
		}
		if n.lo > n.hi {
			c.add(path+".max", "is below min")
		}
	}
	return n
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

func validFieldName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && finite(f)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
