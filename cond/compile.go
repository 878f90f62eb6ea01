package cond

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

type opcode uint8

const (
	opTrue opcode = iota
	opAll
	opAny
	opNot
	opEvent
	opEquals
	opIn
	opRange
	opPrefix
	opContains
	opUnder
	opExists
)

var opNames = [...]string{"true", "all", "any", "not", "event", "equals", "in", "range", "prefix", "contains", "under", "exists"}

// inMapThreshold is the list length above which "in" uses a map.
const inMapThreshold = 8

// node is kept small so that a rule set's nodes stay in cache; operands
// of the rarer tests live behind x.
type node struct {
	op    opcode
	kind  Kind
	b     bool // exists: the wanted state; bool equals: the literal
	hasLo bool
	hasHi bool
	loInc bool
	hiInc bool
	// litASCII says every text literal is ASCII (and so lower-cased).
	litASCII bool
	slot     int32 // the field's slot; -1 for a custom field
	kids     []int32
	str      string   // the text operand, lower-cased when ASCII
	strs     []string // text literals of equals and in, lower-cased when ASCII
	x        *operands
}

type operands struct {
	field  string   // the name as written
	custom string   // the custom field's name, without the prefix
	names  Namer    // names the IDs of a tree field, for explanations
	shown  []string // text literals as written, for explanations
	set    map[string]struct{}
	ascii  bool // every text literal is ASCII (set keys are lower-case)
	nums   []number
	ids    []crm.ID
	spans  [][2]int32
	lo, hi number
	// Literals of a custom (KindValue) field by JSON type.
	hasBool bool
	event   eventTest
	text    string // how explanations print the test
}

type eventTest struct {
	kind     string
	anyKind  bool
	minCount int
	within   time.Duration // 0: no window
}

// Predicate is a compiled [Condition], bound to one [Schema]. Matching does
// not allocate. It is immutable and safe for concurrent use.
type Predicate struct {
	schema *Schema
	nodes  []node
}

// Always is the predicate of an absent condition: it matches every record.
func Always(s *Schema) *Predicate { return &Predicate{schema: s, nodes: []node{{op: opTrue}}} }

// Schema returns the schema the predicate was compiled against.
func (p *Predicate) Schema() *Schema { return p.schema }

// Compile checks c against schema and compiles it. A nil c matches every
// record. Problems are [crm.ValidationErrors] whose fields are prefixed by
// path, such as "rules[2].when.all[0].field"; after [crm.MaxProblems] the
// rest are counted, not listed.
func Compile(schema *Schema, path string, c *Condition) (*Predicate, error) {
	if schema == nil {
		return nil, crm.Invalid("schema", "is required")
	}
	if c == nil {
		return Always(schema), nil
	}
	cp := compiler{schema: schema}
	cp.compile(path, c, 0)
	if err := cp.probs.Err(); err != nil {
		return nil, err
	}
	return &Predicate{schema: schema, nodes: cp.nodes}, nil
}

// Check reports the problems of c against schema, as [Compile] does,
// without keeping the compiled form.
func Check(schema *Schema, path string, c *Condition) error {
	_, err := Compile(schema, path, c)
	return err
}

type compiler struct {
	schema *Schema
	nodes  []node
	probs  crm.Problems
}

func (cp *compiler) fail(field, format string, args ...any) int32 {
	cp.probs.Add(field, format, args...)
	return -1
}

// Join returns path.name, or name for an empty path.
func Join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func (cp *compiler) compile(path string, c *Condition, depth int) int32 {
	if depth > MaxDepth {
		return cp.fail(path, "conditions nested more than %d levels", MaxDepth)
	}
	if len(cp.nodes) >= MaxNodes {
		return cp.fail(path, "more than %d conditions", MaxNodes)
	}
	groups := 0
	for _, isSet := range []bool{c.All != nil, c.Any != nil, c.Not != nil, c.Event != nil, c.Field != ""} {
		if isSet {
			groups++
		}
	}
	if groups != 1 {
		return cp.fail(path, "set exactly one of all, any, not, event or field")
	}
	idx := int32(len(cp.nodes))
	cp.nodes = append(cp.nodes, node{})
	switch {
	case c.All != nil || c.Any != nil:
		list, op, name := c.All, opAll, "all"
		if c.Any != nil {
			list, op, name = c.Any, opAny, "any"
		}
		if len(list) == 0 {
			return cp.fail(Join(path, name), "is empty")
		}
		kids := make([]int32, len(list))
		for i := range list {
			kids[i] = cp.compile(index(Join(path, name), i), &list[i], depth+1)
		}
		cp.nodes[idx] = node{op: op, kids: kids}
	case c.Not != nil:
		k := cp.compile(Join(path, "not"), c.Not, depth+1)
		cp.nodes[idx] = node{op: opNot, kids: []int32{k}}
	case c.Event != nil:
		n, ok := cp.event(Join(path, "event"), c.Event)
		if !ok {
			return -1
		}
		cp.nodes[idx] = n
	default:
		n, ok := cp.leaf(path, c)
		if !ok {
			return -1
		}
		cp.nodes[idx] = n
	}
	return idx
}

func (cp *compiler) event(path string, e *EventTest) (node, bool) {
	errs := cp.probs.Len()
	if !cp.schema.events {
		cp.fail(path, "this record type has no events to count")
		return node{}, false
	}
	t := eventTest{kind: e.Kind, anyKind: e.Kind == "*", minCount: max(e.MinCount, 1)}
	switch {
	case e.Kind == "":
		cp.fail(path+".kind", "is required (\"*\" counts every kind)")
	case len(e.Kind) > 64:
		cp.fail(path+".kind", "is longer than 64 bytes")
	}
	if e.MinCount < 0 {
		cp.fail(path+".min_count", "must not be negative")
	}
	switch w := e.WithinDays; {
	case math.IsNaN(w) || w < 0:
		cp.fail(path+".within_days", "must be a non-negative number of days")
	case w > 36500:
		cp.fail(path+".within_days", "must be at most 36500 days")
	case w > 0:
		t.within = time.Duration(w * float64(24*time.Hour))
	}
	text := fmt.Sprintf("event %s at least %d", quote(e.Kind), t.minCount)
	if e.WithinDays > 0 {
		text += fmt.Sprintf(" within %s days", trimFloat(e.WithinDays))
	}
	return node{op: opEvent, x: &operands{event: t, text: text}}, cp.probs.Len() == errs
}

// resolve finds the field a test names.
func (cp *compiler) resolve(path, name string) (n node, kind Kind, ok bool) {
	if i, ok := cp.schema.index[name]; ok {
		f := cp.schema.fields[i]
		x := &operands{field: name}
		x.names, _ = f.Tree.(Namer)
		return node{slot: int32(i), kind: f.Kind, x: x}, f.Kind, true
	}
	if custom, ok := cp.schema.customName(name); ok {
		return node{slot: -1, kind: KindValue, x: &operands{field: name, custom: custom}}, KindValue, true
	}
	cp.fail(Join(path, "field"), "unknown field %q%s", truncate(name), cp.known())
	return node{}, 0, false
}

// known lists the fields a schema declares, for unknown-field messages.
func (cp *compiler) known() string {
	var b strings.Builder
	for i, f := range cp.schema.fields {
		if i == 12 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
	}
	if cp.schema.custom != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(cp.schema.custom + "<name>")
	}
	if b.Len() == 0 {
		return ""
	}
	return "; want one of " + b.String()
}

func (cp *compiler) leaf(path string, c *Condition) (node, bool) {
	n, kind, ok := cp.resolve(path, c.Field)
	if !ok {
		return node{}, false
	}
	f := Field{Name: c.Field, Kind: kind}
	if kind != KindValue {
		f = cp.schema.fields[n.slot]
	}
	ops := 0
	for _, isSet := range []bool{c.Equals != nil, c.In != nil, c.Range != nil, c.Prefix != nil, c.Contains != nil, c.Under != nil, c.Exists != nil} {
		if isSet {
			ops++
		}
	}
	if ops != 1 {
		cp.fail(path, "set exactly one operator of equals, in, range, prefix, contains, under or exists for field %q", f.Name)
		return node{}, false
	}
	errs := cp.probs.Len()
	textual := kind == KindString || kind == KindStrings || kind == KindValue
	switch {
	case c.Exists != nil:
		n.op, n.b = opExists, *c.Exists
	case c.Prefix != nil || c.Contains != nil:
		n.op, n.str = opPrefix, derefOr(c.Prefix)
		name := "prefix"
		if c.Contains != nil {
			n.op, n.str, name = opContains, *c.Contains, "contains"
		}
		p := Join(path, name)
		switch {
		case !textual:
			cp.fail(p, "field %q is %s; %s needs text", f.Name, kind, name)
		case n.str == "":
			cp.fail(p, "is empty")
		case len(n.str) > MaxTextLen:
			cp.fail(p, "is longer than %d bytes", MaxTextLen)
		case !utf8.ValidString(n.str) || strings.ContainsFunc(n.str, unicode.IsControl):
			cp.fail(p, "must be UTF-8 text without control characters")
		}
		n.x.shown = []string{n.str}
		n.str = lowerIfASCII(n.str)
	case c.Range != nil:
		n.op = opRange
		cp.bounds(Join(path, "range"), f, c.Range, &n)
	case c.Under != nil:
		n.op = opUnder
		p := Join(path, "under")
		if kind != KindID || f.Tree == nil {
			cp.fail(p, "field %q is not a hierarchy; under needs an id field with a tree", f.Name)
			break
		}
		if !cp.list(p, c.Under) {
			break
		}
		for i, raw := range c.Under {
			id, ok := cp.id(index(p, i), raw)
			if !ok {
				continue
			}
			lo, hi, known := f.Tree.Span(id)
			if !known {
				cp.fail(index(p, i), "unknown %s %s", f.Name, id)
				continue
			}
			n.x.ids = append(n.x.ids, id)
			n.x.spans = append(n.x.spans, [2]int32{lo, hi})
		}
	case c.Equals != nil:
		n.op = opEquals
		cp.literal(Join(path, "equals"), f, c.Equals, &n)
	default:
		n.op = opIn
		p := Join(path, "in")
		if kind == KindBool {
			cp.fail(p, "field %q is bool; use equals", f.Name)
			break
		}
		if !cp.list(p, c.In) {
			break
		}
		for i, raw := range c.In {
			cp.literal(index(p, i), f, raw, &n)
		}
		if len(n.strs) > inMapThreshold {
			n.x.ascii = true
			n.x.set = make(map[string]struct{}, len(n.strs))
			for _, s := range n.strs {
				n.x.set[s] = struct{}{}
				n.x.ascii = n.x.ascii && isASCII(s)
			}
		}
	}
	if cp.probs.Len() != errs {
		return node{}, false
	}
	n.litASCII = isASCII(n.str)
	for _, s := range n.strs {
		n.litASCII = n.litASCII && isASCII(s)
	}
	n.x.text = describe(&n)
	return n, true
}

func (cp *compiler) list(p string, l []json.RawMessage) bool {
	switch {
	case len(l) == 0:
		cp.fail(p, "is empty")
	case len(l) > MaxValues:
		cp.fail(p, "has %d values, more than %d", len(l), MaxValues)
	default:
		return true
	}
	return false
}

func (cp *compiler) bounds(p string, f Field, r *Range, n *node) {
	if f.Kind != KindNumber && f.Kind != KindMoney && f.Kind != KindValue {
		cp.fail(p, "field %q is %s; range needs number or money", f.Name, f.Kind)
		return
	}
	if r.GT != nil && r.GTE != nil || r.LT != nil && r.LTE != nil {
		cp.fail(p, "set at most one lower (gt, gte) and one upper (lt, lte) bound")
		return
	}
	errs := cp.probs.Len()
	if lo, inc := pick(r.GT, r.GTE); lo != nil {
		n.x.lo, n.hasLo, n.loInc = cp.number(p+pickName(inc, ".gte", ".gt"), f, lo), true, inc
	}
	if hi, inc := pick(r.LT, r.LTE); hi != nil {
		n.x.hi, n.hasHi, n.hiInc = cp.number(p+pickName(inc, ".lte", ".lt"), f, hi), true, inc
	}
	if !n.hasLo && !n.hasHi {
		cp.fail(p, "set gt, gte, lt or lte")
	} else if n.hasLo && n.hasHi && cp.probs.Len() == errs {
		if c := n.x.lo.cmp(&n.x.hi); c > 0 || c == 0 && !(n.loInc && n.hiInc) {
			cp.fail(p, "is empty: lower bound %s is not below upper bound %s", n.x.lo.d.String(), n.x.hi.d.String())
		}
	}
}

func pick(strict, inclusive json.RawMessage) (json.RawMessage, bool) {
	if inclusive != nil {
		return inclusive, true
	}
	return strict, false
}

func pickName(inc bool, yes, no string) string {
	if inc {
		return yes
	}
	return no
}

func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// literal appends one literal of f's kind to n.
func (cp *compiler) literal(path string, f Field, raw json.RawMessage, n *node) {
	switch f.Kind {
	case KindString, KindStrings:
		s, ok := cp.text(path, raw)
		if !ok {
			cp.fail(path, "field %q compares with a string", f.Name)
			return
		}
		n.x.shown = append(n.x.shown, s)
		n.strs = append(n.strs, lowerIfASCII(s))
		n.str = n.strs[len(n.strs)-1]
	case KindNumber, KindMoney:
		n.x.nums = append(n.x.nums, cp.number(path, f, raw))
	case KindBool:
		if err := json.Unmarshal(raw, &n.b); err != nil {
			cp.fail(path, "field %q compares with true or false", f.Name)
		}
	case KindID:
		if id, ok := cp.id(path, raw); ok {
			n.x.ids = append(n.x.ids, id)
		}
	case KindValue:
		// The literal's own JSON type says what it compares with.
		switch b := bytes.TrimSpace(raw); {
		case len(b) > 0 && b[0] == '"':
			s, ok := cp.text(path, raw)
			if !ok {
				cp.fail(path, "not a string")
				return
			}
			n.x.shown = append(n.x.shown, s)
			n.strs = append(n.strs, lowerIfASCII(s))
			n.str = n.strs[len(n.strs)-1]
			// Text that reads as a number also compares with numbers, as
			// imported tables often store numbers as text.
			if d, err := decimal.NewFromString(s); err == nil && len(s) <= MaxNumberLen {
				if num, err := makeNumber(path, d); err == nil {
					n.x.nums = append(n.x.nums, num)
				}
			}
		case string(b) == "true" || string(b) == "false":
			if n.op == opIn {
				cp.fail(path, "in compares text or numbers; use equals for true or false")
				return
			}
			n.x.hasBool, n.b = true, string(b) == "true"
		default:
			n.x.nums = append(n.x.nums, cp.number(path, f, raw))
		}
	}
}

func (cp *compiler) text(path string, raw json.RawMessage) (string, bool) {
	if len(raw) > MaxTextLen+2 {
		cp.fail(path, "is longer than %d bytes", MaxTextLen)
		return "", true // reported; don't report the type too
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		cp.fail(path, "must not contain control characters")
	}
	return s, true
}

func (cp *compiler) id(path string, raw json.RawMessage) (crm.ID, bool) {
	var s string
	if len(raw) > 80 || json.Unmarshal(raw, &s) != nil {
		cp.fail(path, "want an ID string")
		return crm.NilID, false
	}
	id, err := crm.ParseID(path, s)
	if err != nil || id == crm.NilID {
		cp.fail(path, "not an ID: %q", truncate(s))
		return crm.NilID, false
	}
	return id, true
}

// number parses a number literal, or for money fields an amount in the
// field's currency ("1000000 CNY"; a bare number is taken in that
// currency). Its length is checked before it is parsed.
func (cp *compiler) number(path string, f Field, raw json.RawMessage) number {
	if len(raw) > MaxNumberLen+16 { // room for quotes, a currency and spaces
		cp.fail(path, "a number literal longer than %d characters", MaxNumberLen)
		return number{}
	}
	s := string(bytes.TrimSpace(raw))
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			cp.fail(path, "not a string")
			return number{}
		}
	}
	if f.Kind == KindMoney {
		if m, err := crm.ParseMoney(s); err == nil {
			if m.Currency() != f.Currency {
				cp.fail(path, "field %q is in %s, not %s", f.Name, f.Currency, m.Currency())
				return number{}
			}
			s = m.Amount().String()
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil || len(s) > MaxNumberLen {
		cp.fail(path, "field %q compares with a decimal number, not %q", f.Name, truncate(s))
		return number{}
	}
	if e := d.Exponent(); e > MaxNumberLen || e < -MaxNumberLen {
		cp.fail(path, "%q is out of range: numbers have at most %d digits", truncate(s), MaxNumberLen)
		return number{}
	}
	v, err := makeNumber(path, d)
	if err != nil {
		cp.fail(path, "more than %d fractional digits", numberScale)
	}
	return v
}
