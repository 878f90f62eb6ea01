package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// The fields a rule tests besides a customer's own ([cond.CustomerSchema]:
// name, kind, level, industry, region, source, status, phone, email,
// address, website, owner_id, department_id, pool_id, created_by, tags and
// custom fields as "fields.<name>"): the stored RFM score, unset on a
// customer without one, and activity counts as event tests whose kind is
// an activity kind ("call", "visit", ..., or "*").
const (
	// FieldR, FieldF and FieldM are the 1-5 scores (number).
	FieldR = "rfm_r"
	FieldF = "rfm_f"
	FieldM = "rfm_m"
	// FieldSegment is the RFM segment's [Name] (string).
	FieldSegment = "rfm_segment"
	// FieldRecencyDays is the days since the last won deal (number).
	FieldRecencyDays = "recency_days"
	// FieldFrequency is the number of won deals (number).
	FieldFrequency = "frequency"
	// FieldMonetary is the sum of won amounts in the computation's
	// currency, as a number.
	FieldMonetary = "monetary"
)

var schema = func() *cond.Schema {
	fields := append(cond.CustomerSchema().Fields(),
		cond.Field{Name: FieldR, Kind: cond.KindNumber}, cond.Field{Name: FieldF, Kind: cond.KindNumber},
		cond.Field{Name: FieldM, Kind: cond.KindNumber}, cond.Field{Name: FieldSegment, Kind: cond.KindString},
		cond.Field{Name: FieldRecencyDays, Kind: cond.KindNumber}, cond.Field{Name: FieldFrequency, Kind: cond.KindNumber},
		cond.Field{Name: FieldMonetary, Kind: cond.KindNumber})
	s, err := cond.NewSchema(fields...)
	if err == nil {
		s, err = s.WithCustomFields(cond.CustomFieldPrefix)
	}
	if err != nil {
		panic("segment: built-in schema: " + err.Error())
	}
	return s.WithEvents()
}()

// Schema returns the schema segment rules are written against: the
// customer's fields, the RFM fields (FieldR ...) and activity events.
func Schema() *cond.Schema { return schema }

// Rule is a segment's definition as JSON:
//
//	{"id": "vip_east", "name": "VIP customers in the east",
//	 "when": {"all": [{"field": "tags", "equals": "vip"},
//	                  {"field": "rfm_segment", "in": ["champions", "loyal"]},
//	                  {"event": {"kind": "visit", "min_count": 2, "within_days": 90}}]}}
type Rule struct {
	// ID names the segment: 1-64 lower-case letters, digits or
	// underscores, starting with a letter.
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// When selects the members; absent, every customer is one.
	When *cond.Condition `json:"when,omitempty"`
}

// Segment is a compiled [Rule]. Immutable and safe for concurrent use.
type Segment struct {
	rule Rule
	pred *cond.Predicate
	plan Plan
}

// Plan says how a segment's members are found. Filter is what storage
// answers from indexes: the conjuncts of the rule's top-level "all" (or the
// rule itself when it is a single test) that are equals or in on status,
// owner_id, department_id or pool_id (B-tree indexes), equals or in on
// tags with ASCII literals (the GIN index on tags; each such test is one
// tag set), and tests of rfm_segment (equals, in) and of rfm_r, rfm_f and
// rfm_m (equals, in, range with whole-number bounds; the scores table).
// Everything else (other fields, custom fields, recency_days, frequency,
// monetary, event counts, any, not, and the fields' case-insensitive text
// comparisons the indexes cannot make) is evaluated per row on the
// candidates storage returns; PerRow says whether there is any.
type Plan struct {
	Filter Filter
	// PerRow is true when candidates must be tested with the whole rule.
	PerRow bool
	// Events is true when the rule counts activities; EventWindow is how
	// far back ([cond.EventTest.WithinDays]), 0 for all of them.
	Events      bool
	EventWindow time.Duration
}

// Parse decodes a rule strictly ([cond.DecodeStrict]) and compiles it.
// Unknown JSON keys and rules on unknown fields are refused, naming the
// JSON path ("when.all[1].field").
func Parse(data []byte) (*Segment, error) {
	var r Rule
	if err := cond.DecodeStrict(data, &r); err != nil {
		return nil, fmt.Errorf("segment: decode rule: %w", err)
	}
	return Compile(r)
}

// Compile checks r and compiles it, reporting every problem with its JSON
// path.
func Compile(r Rule) (*Segment, error) {
	var v crm.Problems
	if !crm.ValidName(r.ID) {
		v.Add("id", "must be 1-64 lower-case letters, digits or underscores, starting with a letter, got %q", truncate(r.ID))
	}
	if len(r.Name) > 200 {
		v.Add("name", "is longer than 200 bytes")
	}
	pred, err := cond.Compile(schema, "when", r.When)
	v.Merge(err)
	if err == nil {
		checkSegmentLiterals(&v, "when", r.When, 0)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	s := &Segment{rule: r, pred: pred}
	s.plan = plan(r.When)
	return s, nil
}

// ID returns the rule's ID.
func (s *Segment) ID() string { return s.rule.ID }

// Rule returns the rule the segment was compiled from.
func (s *Segment) Rule() Rule { return s.rule }

// Plan returns how the members are found.
func (s *Segment) Plan() Plan { return s.plan }

// checkSegmentLiterals refuses an rfm_segment literal that names no
// segment: the test could never hold.
func checkSegmentLiterals(v *crm.Problems, path string, c *cond.Condition, depth int) {
	if c == nil || depth > 2*cond.MaxDepth {
		return
	}
	for i := range c.All {
		checkSegmentLiterals(v, fmt.Sprintf("%s.all[%d]", path, i), &c.All[i], depth+1)
	}
	for i := range c.Any {
		checkSegmentLiterals(v, fmt.Sprintf("%s.any[%d]", path, i), &c.Any[i], depth+1)
	}
	checkSegmentLiterals(v, path+".not", c.Not, depth+1)
	if c.Field != FieldSegment {
		return
	}
	check := func(p string, raw json.RawMessage) {
		var s string
		if json.Unmarshal(raw, &s) == nil && !Name(strings.ToLower(s)).Valid() {
			v.Add(p, "unknown segment %q", truncate(s))
		}
	}
	if c.Equals != nil {
		check(path+".equals", c.Equals)
	}
	for i, raw := range c.In {
		check(fmt.Sprintf("%s.in[%d]", path, i), raw)
	}
}

// plan splits c into what storage answers and what is tested per row.
func plan(c *cond.Condition) Plan {
	var p Plan
	if c == nil {
		return p
	}
	p.Events, p.EventWindow = eventWindow(c, 0)
	conj := []*cond.Condition{c}
	if len(c.All) > 0 {
		conj = conj[:0]
		flatten(c, &conj, 0)
	}
	pushed := map[string]bool{}
	for _, t := range conj {
		if !p.push(t, pushed) {
			p.PerRow = true
		}
	}
	return p
}

func flatten(c *cond.Condition, out *[]*cond.Condition, depth int) {
	if len(c.All) == 0 || depth > cond.MaxDepth {
		*out = append(*out, c)
		return
	}
	for i := range c.All {
		flatten(&c.All[i], out, depth+1)
	}
}

// eventWindow reports whether c counts events and the longest window it
// counts in (0: unbounded).
func eventWindow(c *cond.Condition, depth int) (bool, time.Duration) {
	if c == nil || depth > 2*cond.MaxDepth {
		return false, 0
	}
	if c.Event != nil {
		if c.Event.WithinDays <= 0 {
			return true, 0
		}
		return true, time.Duration(math.Ceil(c.Event.WithinDays*24)) * time.Hour
	}
	has, window := false, time.Duration(0)
	merge := func(h bool, w time.Duration) {
		if !h {
			return
		}
		if !has {
			has, window = true, w
			return
		}
		if w == 0 || window == 0 {
			window = 0
		} else {
			window = max(window, w)
		}
	}
	for i := range c.All {
		merge(eventWindow(&c.All[i], depth+1))
	}
	for i := range c.Any {
		merge(eventWindow(&c.Any[i], depth+1))
	}
	merge(eventWindow(c.Not, depth+1))
	return has, window
}

// push adds test t to the filter when storage can answer it exactly, and
// reports whether it did. A field is pushed once; a second test of it is
// left to the per-row check.
func (p *Plan) push(t *cond.Condition, pushed map[string]bool) bool {
	if t.Field == "" || pushed[t.Field] && t.Field != "tags" {
		return false
	}
	var lits []json.RawMessage
	switch {
	case t.Equals != nil:
		lits = []json.RawMessage{t.Equals}
	case len(t.In) > 0:
		lits = t.In
	}
	f := &p.Filter
	ok := false
	switch t.Field {
	case "status":
		if ss, all := texts(lits); all && validStatuses(ss) {
			for _, s := range ss {
				f.Customers.Statuses = append(f.Customers.Statuses, crm.CustomerStatus(s))
			}
			ok = true
		}
	case "owner_id", "department_id", "pool_id":
		if ids, all := idents(lits); all {
			switch t.Field {
			case "owner_id":
				f.Customers.OwnerIDs = ids
			case "department_id":
				f.Customers.DepartmentIDs = ids
			default:
				f.Customers.PoolIDs = ids
			}
			ok = true
		}
	case "tags":
		if ss, all := texts(lits); all && normalTags(ss) {
			f.TagSets = append(f.TagSets, ss)
			ok = true
		}
	case FieldSegment:
		if ss, all := texts(lits); all {
			for _, s := range ss {
				f.Segments = append(f.Segments, Name(s))
			}
			ok = true
		}
	case FieldR, FieldF, FieldM:
		var b Bounds
		b, ok = bounds(t, lits)
		if ok {
			switch t.Field {
			case FieldR:
				f.R = b
			case FieldF:
				f.F = b
			default:
				f.M = b
			}
		}
	}
	if ok {
		pushed[t.Field] = true
	}
	return ok
}

// texts decodes ASCII string literals, lower-cased (the rule compares
// ignoring case; stored statuses, segments and tags are lower case).
func texts(lits []json.RawMessage) ([]string, bool) {
	if len(lits) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(lits))
	for _, raw := range lits {
		var s string
		if json.Unmarshal(raw, &s) != nil || !ascii(s) || s == "" {
			return nil, false
		}
		out = append(out, strings.ToLower(s))
	}
	return out, true
}

func validStatuses(ss []string) bool {
	for _, s := range ss {
		if !crm.CustomerStatus(s).Valid() {
			return false
		}
	}
	return true
}

// normalTags reports whether every literal is a tag as stored, so the
// index finds exactly the customers the rule's comparison does.
func normalTags(ss []string) bool {
	for _, s := range ss {
		if s != crm.NormaliseTag(s) || len(s) > 64 {
			return false
		}
	}
	return true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func idents(lits []json.RawMessage) ([]crm.ID, bool) {
	if len(lits) == 0 {
		return nil, false
	}
	out := make([]crm.ID, 0, len(lits))
	for _, raw := range lits {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		id, err := crm.ParseID("id", s)
		if err != nil || id == crm.NilID {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

// bounds turns an equals, a one-value in, or a range with whole-number
// bounds into score bounds.
func bounds(t *cond.Condition, lits []json.RawMessage) (Bounds, bool) {
	if t.Range == nil {
		if len(lits) != 1 {
			return Bounds{}, false
		}
		n, ok := whole(lits[0])
		if !ok || n < 1 || n > 5 {
			return Bounds{}, false
		}
		return Bounds{Min: n, Max: n}, true
	}
	b := Bounds{Min: 1, Max: 5}
	for _, x := range []struct {
		raw  json.RawMessage
		set  *int
		step int
	}{{t.Range.GTE, &b.Min, 0}, {t.Range.GT, &b.Min, 1}, {t.Range.LTE, &b.Max, 0}, {t.Range.LT, &b.Max, -1}} {
		if x.raw == nil {
			continue
		}
		n, ok := whole(x.raw)
		if !ok {
			return Bounds{}, false
		}
		*x.set = n + x.step
	}
	if b.Min > b.Max {
		// Nothing matches; keep the per-row check honest by leaving
		// the test to it.
		return Bounds{}, false
	}
	b.Min, b.Max = clamp(b.Min), clamp(b.Max)
	return b, true
}

func whole(raw json.RawMessage) (int, bool) {
	var num json.Number
	if err := json.Unmarshal(raw, &num); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		num = json.Number(s)
	}
	d, err := decimal.NewFromString(string(num))
	if err != nil || !d.IsInteger() || d.Abs().GreaterThan(decimal.NewFromInt(1000)) {
		return 0, false
	}
	return int(d.IntPart()), true
}

// fill sets r from candidate c and the activities of its customer.
func fill(r *cond.Record, c *Member, events []cond.Event, now time.Time) error {
	if err := cond.FillCustomer(r, c.Customer); err != nil {
		return err
	}
	if s := c.Score; s != nil {
		for _, x := range []struct {
			name string
			v    int64
		}{{FieldR, int64(s.R)}, {FieldF, int64(s.F)}, {FieldM, int64(s.M)}, {FieldRecencyDays, int64(s.RecencyDays(now))},
			{FieldFrequency, int64(s.Frequency)}} {
			if err := r.SetInt(x.name, x.v); err != nil {
				return err
			}
		}
		if err := r.SetString(FieldSegment, string(s.Segment)); err != nil {
			return err
		}
		if err := r.SetNumber(FieldMonetary, s.Monetary.Amount().Round(10)); err != nil {
			return err
		}
	}
	r.SetEvents(events, now)
	return nil
}

// Contains reports whether m (a customer with its stored score, nil for
// none) is a member, given the activities about it (those older than the
// rule's window may be left out) as of now. It is the test [Service.Members]
// applies to each candidate, for a host that asks about one customer.
func (s *Segment) Contains(m Member, activities []crm.Activity, now time.Time) (bool, error) {
	if m.Customer == nil {
		return false, crm.Invalid("customer", "is required")
	}
	events := make([]cond.Event, 0, len(activities))
	for _, a := range activities {
		if a.Subject.ID == m.Customer.ID {
			events = append(events, cond.Event{Kind: string(a.Kind), At: a.OccurredAt})
		}
	}
	r := schema.NewRecord()
	if err := fill(r, &m, events, now); err != nil {
		return false, err
	}
	return s.pred.Match(r), nil
}
