package cond

import (
	"encoding/json"
	"fmt"

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
	return c.walk(func(c *Condition) bool { return c.Event != nil })
}

// walk reports whether f holds for c or a condition inside it.
func (c *Condition) walk(f func(*Condition) bool) bool {
	if c == nil {
		return false
	}
	if f(c) {
		return true
	}
	for i := range c.All {
		if c.All[i].walk(f) {
			return true
		}
	}
	for i := range c.Any {
		if c.Any[i].walk(f) {
			return true
		}
	}
	return c.Not.walk(f)
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
func DecodeStrict(data []byte, v any) error {
	if len(data) > MaxDocumentBytes {
		return crm.ValidationErrors{crm.Invalid("", "document of %d bytes, more than %d", len(data), MaxDocumentBytes)}
	}
	return crm.DecodeStrict(data, v)
}
