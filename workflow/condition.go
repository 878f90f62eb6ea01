package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// Condition is the declarative form of a test on a record, as stored in
// JSON. Exactly one of All, Any, Not or Field is set; with Field, exactly one
// operator (Equals, In, Range, Prefix, Exists) is set:
//
//	{"all": [{"field": "region", "in": ["cn-east", "cn-north"]},
//	         {"any": [{"field": "company_size", "range": {"gte": 500}},
//	                  {"field": "tags", "equals": "vip"}]}]}
//
// Literals take the field's kind: a string, a number (a JSON number or a
// decimal string, compared exactly), a bool, a money amount ("1000000 CNY",
// in the field's currency) or an ID. Every operator but exists is false
// when the field is unset. Compile it with [Compile].
type Condition struct {
	All []Condition `json:"all,omitempty"`
	Any []Condition `json:"any,omitempty"`
	Not *Condition  `json:"not,omitempty"`

	Field  string            `json:"field,omitempty"`
	Equals json.RawMessage   `json:"equals,omitempty"`
	In     []json.RawMessage `json:"in,omitempty"`
	Range  *Range            `json:"range,omitempty"`
	Prefix *string           `json:"prefix,omitempty"`
	Exists *bool             `json:"exists,omitempty"`
}

// Range bounds a number or money field; set at least one bound.
type Range struct {
	GT  json.RawMessage `json:"gt,omitempty"`
	GTE json.RawMessage `json:"gte,omitempty"`
	LT  json.RawMessage `json:"lt,omitempty"`
	LTE json.RawMessage `json:"lte,omitempty"`
}

// maxConditionDepth and maxConditionNodes bound hostile rule documents.
const (
	maxConditionDepth = 32
	maxConditionNodes = 10000
	// maxLiteralLen is the longest number literal a condition may hold,
	// checked before it is parsed.
	maxLiteralLen = 40
	// inMapThreshold is the list length above which "in" uses a map.
	inMapThreshold = 8
)

type opcode uint8

const (
	opTrue opcode = iota
	opAll
	opAny
	opNot
	opEquals
	opIn
	opRange
	opPrefix
	opExists
)

// node is kept small so that a rule set's nodes stay in cache; operands
// of numeric and ID tests live behind x.
type node struct {
	op    opcode
	kind  Kind
	b     bool
	hasLo bool
	hasHi bool
	loInc bool
	hiInc bool
	slot  int32
	kids  []int32
	str   string
	strs  []string
	x     *operands
}

type operands struct {
	set  map[string]struct{}
	nums []decimal.Decimal
	ids  []crm.ID
	lo   decimal.Decimal
	hi   decimal.Decimal
}

// Predicate is a compiled [Condition], bound to one [Schema]. Matching does
// not allocate. It is immutable and safe for concurrent use.
type Predicate struct {
	schema *Schema
	nodes  []node
}

// Always is the predicate of an absent condition: it matches every record.
func Always(s *Schema) *Predicate { return &Predicate{schema: s, nodes: []node{{op: opTrue}}} }

// Compile validates c against schema and compiles it. A nil c matches every
// record. Problems are [crm.ValidationErrors] whose fields are prefixed by
// path, such as "rules[2].when.all[0].field".
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

type compiler struct {
	schema *Schema
	nodes  []node
	probs  crm.Problems
}

func (cp *compiler) fail(field, format string, args ...any) int32 {
	cp.probs.Add(field, format, args...)
	return -1
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (cp *compiler) compile(path string, c *Condition, depth int) int32 {
	if depth > maxConditionDepth {
		return cp.fail(path, "nested deeper than %d", maxConditionDepth)
	}
	if len(cp.nodes) >= maxConditionNodes {
		return cp.fail(path, "more than %d conditions", maxConditionNodes)
	}
	groups := 0
	for _, set := range []bool{c.All != nil, c.Any != nil, c.Not != nil, c.Field != ""} {
		if set {
			groups++
		}
	}
	if groups != 1 {
		return cp.fail(path, "set exactly one of all, any, not or field")
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
			return cp.fail(join(path, name), "is empty")
		}
		kids := make([]int32, len(list))
		for i := range list {
			kids[i] = cp.compile(fmt.Sprintf("%s[%d]", join(path, name), i), &list[i], depth+1)
		}
		cp.nodes[idx] = node{op: op, kids: kids}
	case c.Not != nil:
		k := cp.compile(join(path, "not"), c.Not, depth+1)
		cp.nodes[idx] = node{op: opNot, kids: []int32{k}}
	default:
		n, ok := cp.leaf(path, c)
		if !ok {
			return -1
		}
		cp.nodes[idx] = n
	}
	return idx
}

func (cp *compiler) leaf(path string, c *Condition) (node, bool) {
	fi, ok := cp.schema.index[c.Field]
	if !ok {
		cp.fail(join(path, "field"), "unknown field %q", truncate(c.Field))
		return node{}, false
	}
	f := cp.schema.fields[fi]
	n := node{slot: int32(fi), kind: f.Kind, x: &operands{}}
	ops := 0
	for _, set := range []bool{c.Equals != nil, c.In != nil, c.Range != nil, c.Prefix != nil, c.Exists != nil} {
		if set {
			ops++
		}
	}
	if ops != 1 {
		cp.fail(path, "set exactly one operator of equals, in, range, prefix or exists for field %q", f.Name)
		return node{}, false
	}
	errs := cp.probs.Len()
	switch {
	case c.Exists != nil:
		n.op, n.b = opExists, *c.Exists
	case c.Prefix != nil:
		if f.Kind != KindString && f.Kind != KindStrings {
			cp.fail(join(path, "prefix"), "field %q is %s; prefix needs string or strings", f.Name, f.Kind)
		}
		n.op, n.str = opPrefix, *c.Prefix
	case c.Range != nil:
		n.op = opRange
		if f.Kind != KindNumber && f.Kind != KindMoney {
			cp.fail(join(path, "range"), "field %q is %s; range needs number or money", f.Name, f.Kind)
			break
		}
		r := c.Range
		p := join(path, "range")
		if r.GT != nil && r.GTE != nil || r.LT != nil && r.LTE != nil {
			cp.fail(p, "set at most one lower (gt, gte) and one upper (lt, lte) bound")
			break
		}
		if lo, inc := pick(r.GT, r.GTE); lo != nil {
			n.x.lo, n.hasLo, n.loInc = cp.number(p+bound(inc, ".gte", ".gt"), f, lo), true, inc
		}
		if hi, inc := pick(r.LT, r.LTE); hi != nil {
			n.x.hi, n.hasHi, n.hiInc = cp.number(p+bound(inc, ".lte", ".lt"), f, hi), true, inc
		}
		if !n.hasLo && !n.hasHi {
			cp.fail(p, "set gt, gte, lt or lte")
		} else if n.hasLo && n.hasHi && cp.probs.Len() == errs {
			if c := n.x.lo.Cmp(n.x.hi); c > 0 || c == 0 && !(n.loInc && n.hiInc) {
				cp.fail(p, "is empty: lower bound %s is not below upper bound %s", n.x.lo.String(), n.x.hi.String())
			}
		}
	case c.Equals != nil:
		n.op = opEquals
		cp.literal(join(path, "equals"), f, c.Equals, &n)
	default:
		n.op = opIn
		if f.Kind == KindBool {
			cp.fail(join(path, "in"), "field %q is bool; use equals", f.Name)
			break
		}
		if len(c.In) == 0 {
			cp.fail(join(path, "in"), "is empty")
			break
		}
		for i, raw := range c.In {
			cp.literal(fmt.Sprintf("%s[%d]", join(path, "in"), i), f, raw, &n)
		}
		if len(n.strs) > inMapThreshold {
			n.x.set = make(map[string]struct{}, len(n.strs))
			for _, s := range n.strs {
				n.x.set[s] = struct{}{}
			}
		}
	}
	return n, cp.probs.Len() == errs
}

func pick(strict, inclusive json.RawMessage) (json.RawMessage, bool) {
	if inclusive != nil {
		return inclusive, true
	}
	return strict, false
}

func bound(inc bool, yes, no string) string {
	if inc {
		return yes
	}
	return no
}

// literal appends one literal of f's kind to n.
func (cp *compiler) literal(path string, f Field, raw json.RawMessage, n *node) {
	switch f.Kind {
	case KindString, KindStrings:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			cp.fail(path, "field %q compares with a string", f.Name)
			return
		}
		n.strs = append(n.strs, s)
		n.str = s
	case KindNumber, KindMoney:
		n.x.nums = append(n.x.nums, cp.number(path, f, raw))
	case KindBool:
		if err := json.Unmarshal(raw, &n.b); err != nil {
			cp.fail(path, "field %q compares with true or false", f.Name)
		}
	case KindID:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			cp.fail(path, "field %q compares with an ID string", f.Name)
			return
		}
		id, err := crm.ParseID(path, s)
		if err != nil {
			cp.fail(path, "not an ID: %q", truncate(s))
			return
		}
		n.x.ids = append(n.x.ids, id)
	}
}

// number parses a number literal, or for money fields an amount in the
// field's currency ("1000000 CNY"; a bare number is taken in that currency).
func (cp *compiler) number(path string, f Field, raw json.RawMessage) decimal.Decimal {
	if len(raw) > maxLiteralLen+16 { // room for quotes, a currency and spaces
		cp.fail(path, "a number literal longer than %d characters", maxLiteralLen)
		return decimal.Decimal{}
	}
	s := string(bytes.TrimSpace(raw))
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			cp.fail(path, "not a string")
			return decimal.Decimal{}
		}
	}
	if f.Kind == KindMoney {
		if m, err := crm.ParseMoney(s); err == nil {
			if m.Currency() != f.Currency {
				cp.fail(path, "field %q is in %s, not %s", f.Name, f.Currency, m.Currency())
				return decimal.Decimal{}
			}
			s = m.Amount().String()
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil || len(s) > maxLiteralLen {
		cp.fail(path, "not a decimal number: %q", truncate(s))
		return decimal.Decimal{}
	}
	v, err := scaled(path, d)
	if err != nil {
		cp.fail(path, "more than %d fractional digits", numberScale)
	}
	return v
}

// Schema returns the schema the predicate was compiled against.
func (p *Predicate) Schema() *Schema { return p.schema }

// Match reports whether r satisfies the predicate. A record of another
// schema never matches. It does not allocate.
func (p *Predicate) Match(r *Record) bool {
	if r == nil || r.schema != p.schema {
		return false
	}
	return p.eval(0, r)
}

func (p *Predicate) eval(i int32, r *Record) bool {
	n := &p.nodes[i]
	switch n.op {
	case opTrue:
		return true
	case opAll:
		for _, k := range n.kids {
			if !p.eval(k, r) {
				return false
			}
		}
		return true
	case opAny:
		for _, k := range n.kids {
			if p.eval(k, r) {
				return true
			}
		}
		return false
	case opNot:
		return !p.eval(n.kids[0], r)
	}
	v := &r.vals[n.slot]
	if n.op == opExists {
		return v.set == n.b
	}
	if !v.set {
		return false
	}
	switch n.kind {
	case KindString:
		switch n.op {
		case opPrefix:
			return hasPrefix(v.s, n.str)
		default:
			return n.hasString(v.s)
		}
	case KindStrings:
		for _, s := range v.ss {
			if n.op == opPrefix && hasPrefix(s, n.str) || n.op != opPrefix && n.hasString(s) {
				return true
			}
		}
		return false
	case KindNumber, KindMoney:
		if n.op == opRange {
			if n.hasLo {
				c := v.n.Cmp(n.x.lo)
				if c < 0 || c == 0 && !n.loInc {
					return false
				}
			}
			if n.hasHi {
				c := v.n.Cmp(n.x.hi)
				if c > 0 || c == 0 && !n.hiInc {
					return false
				}
			}
			return true
		}
		for i := range n.x.nums {
			if v.n.Cmp(n.x.nums[i]) == 0 {
				return true
			}
		}
		return false
	case KindBool:
		return v.b == n.b
	case KindID:
		return slices.Contains(n.x.ids, v.id)
	}
	return false
}

func (n *node) hasString(s string) bool {
	if n.x.set != nil {
		_, ok := n.x.set[s]
		return ok
	}
	return slices.Contains(n.strs, s)
}

// ParseCondition decodes a JSON condition strictly (unknown keys are
// errors) and compiles it against schema.
func ParseCondition(schema *Schema, data []byte) (*Predicate, error) {
	var c Condition
	if err := decodeStrict(data, &c); err != nil {
		return nil, fmt.Errorf("workflow: decode condition: %w", err)
	}
	return Compile(schema, "", &c)
}

// MaxDocumentBytes is the largest rule document (rule set, condition,
// approval definition, hand-off machine, SLA policies) the loaders read,
// refused before anything is decoded. Real documents are a few kilobytes.
const MaxDocumentBytes = 1 << 20

// decodeStrict decodes with [crm.DecodeStrict], the one strict decoder
// every loader shares: unknown fields, repeated keys, wrong types and
// trailing data are refused with their JSON paths. A document over
// [MaxDocumentBytes] is refused unread.
func decodeStrict(data []byte, v any) error {
	if len(data) > MaxDocumentBytes {
		return crm.ValidationErrors{crm.Invalid("", "document of %d bytes, more than %d", len(data), MaxDocumentBytes)}
	}
	return crm.DecodeStrict(data, v)
}
