package cond

import (
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// numberScale is the fixed exponent every number and money amount is kept
// at, so comparisons never rescale (and never allocate). It matches the
// fractional digits [crm.Money] allows.
const numberScale = 10

// state says whether a field holds a value.
type state uint8

const (
	unset   state = iota // no value: every test but exists is false
	set                  // a value
	unknown              // the value cannot be known: every test is Unknown
)

// Record holds the field values of one record (a lead, a customer, a
// ticket, a quote) as conditions see them. Build it with
// [Schema.NewRecord] and the Set methods; evaluating conditions against it
// does not allocate. A record can be refilled for the next record with
// [Record.Reset], which keeps its buffers. A Record is not safe for
// concurrent mutation; concurrent reads are safe.
type Record struct {
	schema *Schema
	vals   []value

	custom        crm.Fields
	customUnknown bool // an absent custom field is unknown rather than unset

	events []Event
	now    time.Time
}

type value struct {
	state state
	ascii bool // s, or every element of ss, is ASCII
	s     string
	num   number // numbers and money amounts
	b     bool
	ss    []string
	id    crm.ID
	ord   int32 // the ID's order in the field's tree
}

// number is an exact decimal at numberScale; sc holds its coefficient when
// it fits an int64, so most comparisons are one integer comparison.
type number struct {
	d    decimal.Decimal
	sc   int64
	scOK bool
}

func (a *number) cmp(b *number) int {
	if a.scOK && b.scOK {
		switch {
		case a.sc < b.sc:
			return -1
		case a.sc > b.sc:
			return 1
		}
		return 0
	}
	return a.d.Cmp(b.d) // both at numberScale: no rescaling
}

// makeNumber brings d to numberScale; more fractional digits are refused
// rather than rounded.
func makeNumber(field string, d decimal.Decimal) (number, error) {
	n := d.Round(numberScale)
	if !n.Equal(d) {
		return number{}, crm.Invalid(field, "more than %d fractional digits", numberScale)
	}
	out := number{d: n}
	if n.NumDigits() <= 18 {
		out.sc, out.scOK = n.CoefficientInt64(), true
	}
	return out, nil
}

// intNumber makes a number of an integer without allocating when it fits.
func intNumber(i int64) number {
	const limit = 922_337_203 // |i| * 10^10 fits an int64
	if i < limit && i > -limit {
		return number{sc: i * 1e10, scOK: true}
	}
	n, _ := makeNumber("", decimal.NewFromInt(i))
	return n
}

var pow10 = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// fieldNumber views a custom field's decimal at numberScale without
// allocating when its coefficient is small; ok is false when it needs
// more than numberScale fractional digits.
func fieldNumber(d decimal.Decimal) (number, bool) {
	e := int(d.Exponent()) + numberScale
	if e < 0 {
		return number{}, false
	}
	if digits := d.NumDigits(); digits <= 18 && digits+e <= 18 {
		return number{sc: d.CoefficientInt64() * pow10[e], scOK: true}, true
	}
	n, err := makeNumber("", d)
	return n, err == nil
}

// Event is something that happened to a record, such as a web visit or an
// e-mail click, as the event test counts it.
type Event struct {
	// Kind is the kind of event, such as "web_visit" or "email_click".
	Kind string `json:"kind"`
	// At is when it happened. Events after the evaluation time are not
	// counted, so a condition can be evaluated as of any moment.
	At time.Time `json:"at"`
	// Count is how many times it happened at At (e.g. page views in one
	// visit); 0 counts as 1.
	Count int `json:"count,omitempty"`
	// Value is an optional measure such as minutes on site; conditions do
	// not read it today.
	Value float64 `json:"value,omitempty"`
}

// NewRecord returns an empty record of this schema: every field unset.
func (s *Schema) NewRecord() *Record {
	return &Record{schema: s, vals: make([]value, len(s.fields))}
}

// Schema returns the record's schema.
func (r *Record) Schema() *Schema { return r.schema }

// Reset unsets every field, custom field and event, keeping the record's
// buffers for the next record.
func (r *Record) Reset() {
	for i := range r.vals {
		ss := r.vals[i].ss[:0]
		r.vals[i] = value{ss: ss}
	}
	r.custom, r.customUnknown, r.events, r.now = nil, false, nil, time.Time{}
}

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
	r.vals[i] = value{state: set, s: v, ascii: isASCII(v), ss: r.vals[i].ss[:0]}
	return nil
}

// SetNumber sets a [KindNumber] field. More than 10 fractional digits are
// refused rather than rounded.
func (r *Record) SetNumber(name string, v decimal.Decimal) error {
	i, err := r.slot(name, KindNumber)
	if err != nil {
		return err
	}
	n, err := makeNumber(name, v)
	if err != nil {
		return err
	}
	r.vals[i] = value{state: set, num: n}
	return nil
}

// SetInt sets a [KindNumber] field to an integer. It does not allocate for
// integers below a billion in magnitude.
func (r *Record) SetInt(name string, v int64) error {
	i, err := r.slot(name, KindNumber)
	if err != nil {
		return err
	}
	r.vals[i] = value{state: set, num: intNumber(v)}
	return nil
}

// SetBool sets a [KindBool] field.
func (r *Record) SetBool(name string, v bool) error {
	i, err := r.slot(name, KindBool)
	if err != nil {
		return err
	}
	r.vals[i] = value{state: set, b: v}
	return nil
}

// SetStrings sets a [KindStrings] field. The values are copied into the
// record's own buffer, which [Record.Reset] keeps, so refilling a record
// does not allocate.
func (r *Record) SetStrings(name string, v ...string) error {
	i, err := r.slot(name, KindStrings)
	if err != nil {
		return err
	}
	list(&r.vals[i], v)
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
		return fmt.Errorf("cond: field %s is in %s, got %q: %w", name, c, v.Currency(), crm.ErrCurrencyMismatch)
	}
	n, err := makeNumber(name, v.Amount())
	if err != nil {
		return err
	}
	r.vals[i] = value{state: set, num: n}
	return nil
}

// SetID sets a [KindID] field; [crm.NilID] unsets it. On a field with a
// [Tree], an ID the tree does not know makes the field unknown.
func (r *Record) SetID(name string, v crm.ID) error {
	i, err := r.slot(name, KindID)
	if err != nil {
		return err
	}
	if v == crm.NilID {
		r.vals[i] = value{}
		return nil
	}
	val := value{state: set, id: v}
	if t := r.schema.fields[i].Tree; t != nil {
		o, ok := t.Order(v)
		if !ok {
			val.state = unknown
		}
		val.ord = o
	}
	r.vals[i] = val
	return nil
}

// SetUnknown marks a field as unknown: the host knows the record has a
// value but cannot say what it is (a department missing from the tree, a
// status not loaded). Every test of it, exists included, is [Unknown]; see
// [Predicate.Eval].
func (r *Record) SetUnknown(name string) error {
	i, ok := r.schema.index[name]
	if !ok {
		return crm.Invalid(name, "unknown field")
	}
	r.vals[i] = value{state: unknown, ss: r.vals[i].ss[:0]}
	return nil
}

// Unset clears a field, whatever its kind. Unknown names are ignored.
func (r *Record) Unset(name string) {
	if i, ok := r.schema.index[name]; ok {
		r.vals[i] = value{ss: r.vals[i].ss[:0]}
	}
}

// SetCustom gives the record its custom fields, tested as the schema's
// custom prefix followed by their names ([Schema.WithCustomFields]). The
// map is read, not copied: do not change it while conditions use the
// record. With absentUnknown, a custom field the map lacks is [Unknown]
// rather than unset, for the fail-closed checks of access rules.
func (r *Record) SetCustom(fields crm.Fields, absentUnknown bool) {
	r.custom, r.customUnknown = fields, absentUnknown
}

// SetEvents gives the record its events and the moment to count them at,
// for the event test ([Schema.WithEvents]). The slice is read, not copied.
func (r *Record) SetEvents(events []Event, now time.Time) {
	r.events, r.now = events, now
}

// ID returns the value of a [KindID] field and whether it is set.
func (r *Record) ID(name string) (crm.ID, bool) {
	i, ok := r.schema.index[name]
	if !ok || r.schema.fields[i].Kind != KindID || r.vals[i].state != set {
		return crm.NilID, false
	}
	return r.vals[i].id, true
}

// Strings returns a copy of a [KindStrings] field, or the one value of a
// [KindString] field, and whether it is set.
func (r *Record) Strings(name string) ([]string, bool) {
	i, ok := r.schema.index[name]
	if !ok {
		return nil, false
	}
	one, many, isSet := r.TextAt(i)
	switch {
	case !isSet:
		return nil, false
	case r.schema.fields[i].Kind == KindStrings:
		return slices.Clone(many), true
	}
	return []string{one}, true
}

// TextAt returns the value of the [KindString] or [KindStrings] field at
// slot ([Schema.Slot]) without copying: one for a string field, many for
// a list (never nil), which the caller must not change. set is false for an unset
// field or one of another kind.
func (r *Record) TextAt(slot int) (one string, many []string, isSet bool) {
	if slot < 0 || slot >= len(r.vals) || r.vals[slot].state != set {
		return "", nil, false
	}
	switch r.schema.fields[slot].Kind {
	case KindString:
		return r.vals[slot].s, nil, true
	case KindStrings:
		if r.vals[slot].ss == nil {
			return "", []string{}, true // never nil for a list
		}
		return "", r.vals[slot].ss, true
	}
	return "", nil, false
}

// Has reports whether a field is set.
func (r *Record) Has(name string) bool {
	i, ok := r.schema.index[name]
	return ok && r.vals[i].state == set
}

// Clone returns a deep copy; custom fields and events are shared, as
// SetCustom and SetEvents share them.
func (r *Record) Clone() *Record {
	out := *r
	out.vals = slices.Clone(r.vals)
	for i := range out.vals {
		out.vals[i].ss = slices.Clone(out.vals[i].ss)
	}
	return &out
}
