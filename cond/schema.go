package cond

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// Kind is the type of a field that conditions may test.
type Kind uint8

// The kinds of field a [Schema] can declare.
const (
	KindInvalid Kind = iota
	// KindString is text, tested with equals, in, prefix, contains and
	// exists, ignoring case.
	KindString
	// KindNumber is an exact decimal, tested with equals, in, range and
	// exists. Percentages are numbers in percent (12.5 means 12.5%).
	KindNumber
	// KindBool is true or false, tested with equals and exists.
	KindBool
	// KindStrings is a list of text values such as tags or skills; equals,
	// in, prefix and contains hold when any element passes.
	KindStrings
	// KindMoney is a [crm.Money] in the field's declared currency, tested
	// with equals, in, range and exists.
	KindMoney
	// KindID is a record, user or department ID, tested with equals, in
	// and exists, and with under when the field has a [Tree].
	KindID
	// KindValue is a custom field ([crm.FieldValue]) whose type the schema
	// does not know: a literal is compared with the values of its own
	// type (a string literal with text and lists, a number with numbers, a
	// bool with bools). Only custom fields have it; see
	// [Schema.WithCustomFields].
	KindValue
)

var kindNames = [...]string{"invalid", "string", "number", "bool", "strings", "money", "id", "value"}

// String returns the kind's JSON name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// MarshalJSON encodes the kind's name.
func (k Kind) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// UnmarshalJSON decodes a kind's name.
func (k *Kind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return crm.Invalid("kind", "want a string")
	}
	for i, n := range kindNames {
		if i > 0 && i < int(KindValue) && n == s {
			*k = Kind(i)
			return nil
		}
	}
	return crm.Invalid("kind", "unknown kind %q; want one of string, number, bool, strings, money, id", truncate(s))
}

// Tree orders the IDs of a hierarchy (departments, territories) so that
// "under" tests are two integer comparisons: every node has an order, and
// the nodes of a subtree have consecutive orders. A Tree must be safe for
// concurrent use and must not change while a schema uses it.
type Tree interface {
	// Order returns the order of id, and false when the tree does not know
	// it.
	Order(id crm.ID) (int32, bool)
	// Span returns the orders of id's subtree (id included), and false
	// when the tree does not know id.
	Span(id crm.ID) (lo, hi int32, ok bool)
}

// Namer is implemented by a [Tree] that can name its IDs; explanations
// and [Predicate.String] then print names ("department_id under [Sales]")
// instead of IDs.
type Namer interface {
	Name(id crm.ID) (string, bool)
}

// Field declares one field that conditions may test.
type Field struct {
	// Name is how conditions refer to the field, such as "region" or
	// "discount_percent".
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Currency is the ISO 4217 currency of a [KindMoney] field; amounts in
	// another currency are refused when the record is built, so a threshold
	// is never compared across currencies.
	Currency string `json:"currency,omitempty"`
	// Tree, on a [KindID] field, allows the under operator: a value holds
	// when it is one of the listed IDs or below one. A value the tree does
	// not know is unknown (see [Unknown]).
	Tree Tree `json:"-"`
}

// Schema declares the fields of one record type that conditions may test.
// Conditions are checked against it when they load, so one that names an
// unknown field, uses an operator the field's kind does not have or holds
// a literal of the wrong type fails then, not silently at decision time. A
// Schema is immutable and safe for concurrent use.
type Schema struct {
	fields []Field
	index  map[string]int
	// custom, when set, is the prefix of custom field names
	// ("fields.region"), read from the record's [crm.Fields].
	custom      string
	customNames map[string]bool // nil: any well-formed name
	events      bool
}

// NewSchema validates fields (unique, well-formed names; known kinds; a
// currency for money) and returns their schema.
func NewSchema(fields ...Field) (*Schema, error) {
	var probs crm.Problems
	s := &Schema{fields: slices.Clone(fields), index: make(map[string]int, len(fields))}
	for i := range s.fields {
		f := &s.fields[i]
		p := fmt.Sprintf("fields[%d]", i)
		if !crm.ValidName(f.Name) {
			probs.Add(p+".name", "must be 1-64 lower-case letters, digits or underscores, starting with a letter, got %q", truncate(f.Name))
		} else if _, dup := s.index[f.Name]; dup {
			probs.Add(p+".name", "repeats %q", f.Name)
		}
		if f.Kind == KindInvalid || f.Kind >= KindValue {
			probs.Add(p+".kind", "is required: one of string, number, bool, strings, money, id")
		}
		if f.Kind == KindMoney {
			m, err := crm.NewMoney(decimal.Zero, f.Currency)
			if err != nil {
				probs.Add(p+".currency", "a money field needs an ISO 4217 currency, got %q", truncate(f.Currency))
			} else {
				f.Currency = m.Currency()
			}
		} else if f.Currency != "" {
			probs.Add(p+".currency", "only money fields have a currency")
		}
		if f.Tree != nil && f.Kind != KindID {
			probs.Add(p+".kind", "only id fields have a tree")
		}
		s.index[f.Name] = i
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// WithCustomFields returns a copy of s whose conditions may also test the
// record's custom fields ([Record.SetCustom]) as prefix+name, such as
// "fields.budget", with [KindValue]. With names, only those custom fields
// may be named; without, any well-formed name may. The prefix must not
// clash with a declared field.
func (s *Schema) WithCustomFields(prefix string, names ...string) (*Schema, error) {
	var probs crm.Problems
	if prefix == "" {
		probs.Add("prefix", "is required, such as %q", "fields.")
	}
	for _, f := range s.fields {
		if prefix != "" && strings.HasPrefix(f.Name, prefix) {
			probs.Add("prefix", "%q also starts declared field %q", prefix, f.Name)
		}
	}
	out := *s
	out.custom = prefix
	if names != nil {
		out.customNames = make(map[string]bool, len(names))
		for i, n := range names {
			if n == "" || len(n) > 64 {
				probs.Add(fmt.Sprintf("names[%d]", i), "must be 1 to 64 characters, got %q", truncate(n))
			}
			out.customNames[n] = true
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return &out, nil
}

// WithEvents returns a copy of s whose conditions may also count the
// record's events ([Record.SetEvents]) with the event test.
func (s *Schema) WithEvents() *Schema {
	out := *s
	out.events = true
	return &out
}

// Fields returns a copy of the declared fields.
func (s *Schema) Fields() []Field { return slices.Clone(s.fields) }

// Field returns the declaration of name and whether it exists.
func (s *Schema) Field(name string) (Field, bool) {
	i, ok := s.index[name]
	if !ok {
		return Field{}, false
	}
	return s.fields[i], true
}

// Slot returns the position of a declared field, for the hosts and
// domains that read a record's values by position ([Record.TextAt]).
func (s *Schema) Slot(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// customName returns the custom field name, without the prefix, that name
// refers to.
func (s *Schema) customName(name string) (string, bool) {
	if s.custom == "" {
		return "", false
	}
	n, ok := strings.CutPrefix(name, s.custom)
	if !ok || n == "" || len(n) > 64 {
		return "", false
	}
	if s.customNames != nil && !s.customNames[n] {
		return "", false
	}
	return n, true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
