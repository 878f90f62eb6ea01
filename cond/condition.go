package cond

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Condition is the one JSON form of a test on a record, shared by lead
// scoring rules, routing rules, approval entry criteria, hand-off guards,
// pool entry rules and access-rule conditions. Exactly one of All, Any,
// Not, Event or Field is set; with Field, exactly one operator (Equals,
// In, Range, Prefix, Contains, Under, Exists) is set:
//
//	{"all": [{"field": "region", "in": ["cn-east", "cn-north"]},
//	         {"any": [{"field": "company_size", "range": {"gte": 500}},
//	                  {"field": "tags", "equals": "vip"}]}]}
//
// Literals take the field's kind: a string, a number (a JSON number or a
// decimal string, compared exactly), a bool, a money amount ("1000000 CNY",
// in the field's currency) or an ID. Text compares ignoring case. Every
// operator but exists is false when the field is unset. Compile it with
// [Compile], or decode and compile JSON with [Parse].
type Condition struct {
	All []Condition `json:"all,omitempty"`
	Any []Condition `json:"any,omitempty"`
	Not *Condition  `json:"not,omitempty"`
	// Event counts the record's events ([Schema.WithEvents]).
	Event *EventTest `json:"event,omitempty"`

	Field string `json:"field,omitempty"`
	// Equals holds when the field equals the literal; on a list field,
	// when any element does.
	Equals json.RawMessage `json:"equals,omitempty"`
	// In holds when the field equals one of the literals.
	In []json.RawMessage `json:"in,omitempty"`
	// Range holds when a number or money field lies within the bounds.
	Range *Range `json:"range,omitempty"`
	// Prefix holds when text starts with the literal, ignoring case.
	Prefix *string `json:"prefix,omitempty"`
	// Contains holds when text contains the literal, ignoring case.
	Contains *string `json:"contains,omitempty"`
	// Under holds when an ID field with a [Tree] is one of the IDs or
	// below one (a department or any of its sub-departments).
	Under []json.RawMessage `json:"under,omitempty"`
	// Exists holds when the field's being set is what it says.
	Exists *bool `json:"exists,omitempty"`
}

// Range bounds a number or money field; set at least one bound, and at
// most one lower (gt, gte) and one upper (lt, lte).
type Range struct {
	GT  json.RawMessage `json:"gt,omitempty"`
	GTE json.RawMessage `json:"gte,omitempty"`
	LT  json.RawMessage `json:"lt,omitempty"`
	LTE json.RawMessage `json:"lte,omitempty"`
}

// EventTest holds when the record has at least MinCount events of Kind
// within the last WithinDays days. With MinCount 1 it is a recency test
// ("visited in the last 7 days").
type EventTest struct {
	// Kind is the event kind to count, such as "email_click"; "*" counts
	// every kind.
	Kind string `json:"kind"`
	// MinCount is the least number of events (each [Event.Count] units)
	// that must be counted. Defaults to 1.
	MinCount int `json:"min_count,omitempty"`
	// WithinDays limits the count to events at most this many days old; 0
	// counts every event up to now.
	WithinDays float64 `json:"within_days,omitempty"`
}

// HasEvent reports whether c or a condition inside it is an event test.
func (c *Condition) HasEvent() bool {
	return c.walk(func(c *Condition) bool { return c.Event != nil }, 0)
}

// maxWalk bounds the walks over a condition that [Compile] has not
// checked, so a condition built in Go that contains itself ends.
const maxWalk = 2 * MaxDepth

// walk reports whether f holds for c or a condition inside it, down to
// maxWalk levels.
func (c *Condition) walk(f func(*Condition) bool, depth int) bool {
	if c == nil || depth > maxWalk {
		return false
	}
	if f(c) {
		return true
	}
	for i := range c.All {
		if c.All[i].walk(f, depth+1) {
			return true
		}
	}
	for i := range c.Any {
		if c.Any[i].walk(f, depth+1) {
			return true
		}
	}
	return c.Not.walk(f, depth+1)
}

// Limits on a condition, checked before anything expensive is parsed, so
// a hostile document is refused cheaply.
const (
	// MaxDepth is how deeply all, any and not may nest.
	MaxDepth = 32
	// MaxNodes is how many tests and groups one condition may hold.
	MaxNodes = 10000
	// MaxValues is how many literals one in or under list may hold.
	MaxValues = 1000
	// MaxNumberLen is the longest number literal, in characters.
	MaxNumberLen = 40
	// MaxTextLen is the longest text literal, in bytes.
	MaxTextLen = 1000
	// MaxDocumentBytes is the largest JSON document [Parse] and the rule
	// loaders read, refused before anything is decoded. Real documents are
	// a few kilobytes.
	MaxDocumentBytes = 1 << 20
)

// Parse decodes a JSON condition with [DecodeStrict] and compiles it
// against schema.
func Parse(schema *Schema, data []byte) (*Predicate, error) {
	var c Condition
	if err := DecodeStrict(data, &c); err != nil {
		return nil, fmt.Errorf("cond: decode condition: %w", err)
	}
	return Compile(schema, "", &c)
}

// DecodeStrict is [crm.DecodeStrict] with the size check every rule
// loader needs first: a document over [MaxDocumentBytes] is refused
// unread. Unknown fields, repeated keys, wrong types, nesting deeper than
// [crm.MaxJSONDepth] and trailing data are refused with their JSON paths.
// A key of a condition form crmkit used before this language ("op",
// "values", "match", "owner_departments", ...) gets an error saying what
// to write instead.
func DecodeStrict(data []byte, v any) error {
	if len(data) > MaxDocumentBytes {
		return crm.ValidationErrors{crm.Invalid("", "document of %d bytes, more than %d", len(data), MaxDocumentBytes)}
	}
	if err := crm.DecodeStrict(data, v); err != nil {
		return explainRetired(err)
	}
	return nil
}

// Clone returns a deep copy of c. Nesting deeper than twice [MaxDepth],
// which [Compile] refuses anyway, is cut, so a condition built in Go that
// contains itself is copied in finite time.
func (c *Condition) Clone() *Condition { return c.clone(0) }

func (c *Condition) clone(depth int) *Condition {
	if c == nil || depth > maxWalk {
		return nil
	}
	out := *c
	out.All = cloneList(c.All, depth+1)
	out.Any = cloneList(c.Any, depth+1)
	out.Not = c.Not.clone(depth + 1)
	if c.Event != nil {
		e := *c.Event
		out.Event = &e
	}
	out.Equals = slices.Clone(c.Equals)
	out.In = cloneRaw(c.In)
	out.Under = cloneRaw(c.Under)
	if c.Range != nil {
		r := Range{GT: slices.Clone(c.Range.GT), GTE: slices.Clone(c.Range.GTE), LT: slices.Clone(c.Range.LT), LTE: slices.Clone(c.Range.LTE)}
		out.Range = &r
	}
	if c.Prefix != nil {
		s := *c.Prefix
		out.Prefix = &s
	}
	if c.Contains != nil {
		s := *c.Contains
		out.Contains = &s
	}
	if c.Exists != nil {
		b := *c.Exists
		out.Exists = &b
	}
	return &out
}

func cloneList(l []Condition, depth int) []Condition {
	if l == nil || depth > maxWalk {
		return nil
	}
	out := make([]Condition, len(l))
	for i := range l {
		out[i] = *l[i].clone(depth)
	}
	return out
}

func cloneRaw(l []json.RawMessage) []json.RawMessage {
	if l == nil {
		return nil
	}
	out := make([]json.RawMessage, len(l))
	for i, r := range l {
		out[i] = slices.Clone(r)
	}
	return out
}

// retired says what to write instead of the keys of the condition forms
// crmkit used before the one language.
var retired = map[string]string{
	"op":                  `the {"field", "op", "value"} form is retired: write {"field": "region", "equals": "cn-east"}, {"field": "region", "in": ["cn-east"]}, {"field": "company_size", "range": {"gte": 10, "lte": 99}}, {"field": "title", "contains": "manager"} or {"field": "email", "exists": true}`,
	"value":               `the {"field", "op", "value"} form is retired: put the literal under its operator, such as {"field": "region", "equals": "cn-east"}`,
	"values":              `the {"field", "op": "in", "values"} form is retired: write {"field": "region", "in": ["cn-east", "cn-north"]}`,
	"min":                 `the {"op": "range", "min", "max"} form is retired: write {"field": "company_size", "range": {"gte": 10, "lte": 99}}`,
	"max":                 `the {"op": "range", "min", "max"} form is retired: write {"field": "company_size", "range": {"gte": 10, "lte": 99}}`,
	"match":               `the {"match": [{"field", "in"}]} form is retired: write a condition, such as {"all": [{"field": "region", "in": ["cn-east"]}, {"field": "level", "in": ["A"]}]}`,
	"owner_departments":   `the list form of access-rule conditions is retired: write {"field": "department_id", "under": ["<department id>"]}`,
	"creator_departments": `the list form of access-rule conditions is retired: write {"field": "creator_department_id", "under": ["<department id>"]}`,
	"pools":               `the list form of access-rule conditions is retired: write {"field": "pool_id", "in": ["<pool id>"]}`,
	"statuses":            `the list form of access-rule conditions is retired: write {"field": "status", "in": ["open"]}`,
	"field_equals":        `the list form of access-rule conditions is retired: write {"field": "fields.<name>", "equals": "<value>"}`,
}

// explainRetired turns "unknown field" errors on the keys of retired
// condition forms into errors that say what to write instead.
func explainRetired(err error) error {
	var es crm.ValidationErrors
	if !errors.As(err, &es) {
		return err
	}
	out := make(crm.ValidationErrors, len(es))
	for i, e := range es {
		out[i] = e
		key := e.Field[strings.LastIndexAny(e.Field, ".]")+1:]
		if hint, ok := retired[key]; ok && e.Reason == "unknown field" {
			out[i] = crm.Invalid(e.Field, "%s", hint)
		}
	}
	return out
}
