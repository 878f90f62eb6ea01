package workflow

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// numberScale is the fixed exponent every number and money amount is stored
// with, so comparisons never rescale (and never allocate). It matches the
// fractional digits [crm.Money] allows.
const numberScale = 10

// Kind is the type of a record field that rules may test.
type Kind uint8

// The kinds of field a [Schema] can declare.
const (
	KindInvalid Kind = iota
	// KindString is text, tested with equals, in, prefix and exists.
	KindString
	// KindNumber is an exact decimal, tested with equals, in, range and
	// exists. Percentages are numbers in percent (12.5 means 12.5%).
	KindNumber
	// KindBool is true or false, tested with equals and exists.
	KindBool
	// KindStrings is a list of text values such as tags or skills; equals
	// and in match when any element matches, prefix when any element has it.
	KindStrings
	// KindMoney is a [crm.Money] in the field's declared currency, tested
	// with equals, in, range and exists.
	KindMoney
	// KindID is a record or user ID, tested with equals, in and exists.
	KindID
)

var kindNames = [...]string{"invalid", "string", "number", "bool", "strings", "money", "id"}

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
		if i > 0 && n == s {
			*k = Kind(i)
			return nil
		}
	}
	return crm.Invalid("kind", "unknown kind %q; want one of string, number, bool, strings, money, id", truncate(s))
}

// Field declares one field that rules may test.
type Field struct {
	// Name is how rules refer to the field, such as "region" or
	// "discount_percent".
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Currency is the ISO 4217 currency of a [KindMoney] field; amounts in
	// another currency are refused when the record is built, so a threshold
	// is never compared across currencies.
	Currency string `json:"currency,omitempty"`
}

// Schema declares the fields of one record type that rules may test. Rules
// are validated against it on load, so a rule that names an unknown field
// fails then, not silently at decision time. A Schema is immutable and safe
// for concurrent use.
type Schema struct {
	fields []Field
	index  map[string]int
}

// NewSchema validates fields (unique, well-formed names; known kinds; a
// currency for money) and returns their schema.
func NewSchema(fields ...Field) (*Schema, error) {
	var errs crm.ValidationErrors
	s := &Schema{fields: slices.Clone(fields), index: make(map[string]int, len(fields))}
	for i := range s.fields {
		f := &s.fields[i]
		p := fmt.Sprintf("fields[%d]", i)
		if !validName(f.Name) {
			errs = append(errs, crm.Invalid(p+".name", "must be 1-64 lower-case letters, digits or underscores, starting with a letter, got %q", truncate(f.Name)))
		} else if _, dup := s.index[f.Name]; dup {
			errs = append(errs, crm.Invalid(p+".name", "repeats %q", f.Name))
		}
		if f.Kind == KindInvalid || int(f.Kind) >= len(kindNames) {
			errs = append(errs, crm.Invalid(p+".kind", "is required"))
		}
		if f.Kind == KindMoney {
			m, err := crm.NewMoney(decimal.Zero, f.Currency)
			if err != nil {
				errs = append(errs, crm.Invalid(p+".currency", "a money field needs an ISO 4217 currency, got %q", truncate(f.Currency)))
			} else {
				f.Currency = m.Currency()
			}
		} else if f.Currency != "" {
			errs = append(errs, crm.Invalid(p+".currency", "only money fields have a currency"))
		}
		s.index[f.Name] = i
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
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

// NewRecord returns an empty record of this schema: every field unset.
func (s *Schema) NewRecord() *Record {
	return &Record{schema: s, vals: make([]value, len(s.fields))}
}

// Record holds the field values of one record (a lead, a ticket, a quote) as
// rules see them. Build it with [Schema.NewRecord] and the Set methods
// before deciding; evaluating rules against it does not allocate. A Record
// is not safe for concurrent mutation; concurrent reads are safe.
type Record struct {
	schema *Schema
	vals   []value
}

type value struct {
	set bool
	s   string
	n   decimal.Decimal // numbers and money amounts, at numberScale
	b   bool
	ss  []string
	id  crm.ID
}

// Schema returns the record's schema.
func (r *Record) Schema() *Schema { return r.schema }

func (r *Record) slot(name string, want Kind) (int, error) {
	i, ok := r.schema.index[name]
	if !ok {
		return 0, crm.Invalid(name, "unknown field")
	}
	if k := r.schema.fields[i].Kind; k != want {
		return 0, crm.Invalid(name, "is a %s field, not %s", k, want)
	}
	return i, nil
}

// SetString sets a [KindString] field.
func (r *Record) SetString(name, v string) error {
	i, err := r.slot(name, KindString)
	if err != nil {
		return err
	}
	r.vals[i] = value{set: true, s: v}
	return nil
}

// SetNumber sets a [KindNumber] field. More than 10 fractional digits are
// refused rather than rounded.
func (r *Record) SetNumber(name string, v decimal.Decimal) error {
	i, err := r.slot(name, KindNumber)
	if err != nil {
		return err
	}
	n, err := scaled(name, v)
	if err != nil {
		return err
	}
	r.vals[i] = value{set: true, n: n}
	return nil
}

// SetBool sets a [KindBool] field.
func (r *Record) SetBool(name string, v bool) error {
	i, err := r.slot(name, KindBool)
	if err != nil {
		return err
	}
	r.vals[i] = value{set: true, b: v}
	return nil
}

// SetStrings sets a [KindStrings] field; the slice is copied.
func (r *Record) SetStrings(name string, v ...string) error {
	i, err := r.slot(name, KindStrings)
	if err != nil {
		return err
	}
	r.vals[i] = value{set: true, ss: slices.Clone(v)}
	return nil
}

// SetMoney sets a [KindMoney] field. An amount in another currency than the
// field's is refused with [crm.ErrCurrencyMismatch].
func (r *Record) SetMoney(name string, v crm.Money) error {
	i, err := r.slot(name, KindMoney)
	if err != nil {
		return err
	}
	if c := r.schema.fields[i].Currency; v.Currency() != c {
		return fmt.Errorf("workflow: field %s is in %s, got %q: %w", name, c, v.Currency(), crm.ErrCurrencyMismatch)
	}
	n, err := scaled(name, v.Amount())
	if err != nil {
		return err
	}
	r.vals[i] = value{set: true, n: n}
	return nil
}

// SetID sets a [KindID] field; [crm.NilID] unsets it.
func (r *Record) SetID(name string, v crm.ID) error {
	i, err := r.slot(name, KindID)
	if err != nil {
		return err
	}
	r.vals[i] = value{set: v != crm.NilID, id: v}
	return nil
}

// Unset clears a field, whatever its kind. Unknown names are ignored.
func (r *Record) Unset(name string) {
	if i, ok := r.schema.index[name]; ok {
		r.vals[i] = value{}
	}
}

// ID returns the value of a [KindID] field and whether it is set.
func (r *Record) ID(name string) (crm.ID, bool) {
	i, ok := r.schema.index[name]
	if !ok || r.schema.fields[i].Kind != KindID || !r.vals[i].set {
		return crm.NilID, false
	}
	return r.vals[i].id, true
}

// Strings returns a copy of a [KindStrings] field, or the one value of a
// [KindString] field, and whether it is set.
func (r *Record) Strings(name string) ([]string, bool) {
	i, ok := r.schema.index[name]
	if !ok || !r.vals[i].set {
		return nil, false
	}
	switch r.schema.fields[i].Kind {
	case KindStrings:
		return slices.Clone(r.vals[i].ss), true
	case KindString:
		return []string{r.vals[i].s}, true
	}
	return nil, false
}

// Has reports whether a field is set.
func (r *Record) Has(name string) bool {
	i, ok := r.schema.index[name]
	return ok && r.vals[i].set
}

// Clone returns a deep copy.
func (r *Record) Clone() *Record {
	out := &Record{schema: r.schema, vals: slices.Clone(r.vals)}
	for i := range out.vals {
		out.vals[i].ss = slices.Clone(out.vals[i].ss)
	}
	return out
}

func scaled(field string, d decimal.Decimal) (decimal.Decimal, error) {
	n := d.Round(numberScale)
	if !n.Equal(d) {
		return decimal.Decimal{}, crm.Invalid(field, "more than %d fractional digits", numberScale)
	}
	return n, nil
}

func validName(s string) bool {
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

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// hasPrefix is case-sensitive on purpose: rule data and record
// codes are host-normalised, and a case-folding compare would allocate.
func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }
