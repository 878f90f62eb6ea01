package crm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// FieldKind is the type of a custom field value.
type FieldKind uint8

// The kinds a custom field can hold.
const (
	FieldInvalid FieldKind = iota
	FieldString
	FieldNumber
	FieldBool
	FieldTime
	FieldStrings
)

var fieldKindNames = [...]string{"invalid", "string", "number", "bool", "time", "strings"}

// String returns the kind's JSON name.
func (k FieldKind) String() string {
	if int(k) < len(fieldKindNames) {
		return fieldKindNames[k]
	}
	return "invalid"
}

// FieldValue is one typed custom-field value: a string, an exact decimal
// number, a bool, a time or a list of strings. Build one with [String],
// [Number], [Bool], [Time] or [Strings]. It is immutable and safe for
// concurrent use.
type FieldValue struct {
	kind FieldKind
	s    string
	n    decimal.Decimal
	b    bool
	t    time.Time
	ss   []string
}

// String makes a string field value.
func String(s string) FieldValue { return FieldValue{kind: FieldString, s: s} }

// Number makes a decimal field value.
func Number(d decimal.Decimal) FieldValue { return FieldValue{kind: FieldNumber, n: d} }

// Bool makes a boolean field value.
func Bool(b bool) FieldValue { return FieldValue{kind: FieldBool, b: b} }

// Time makes a time field value, normalised to UTC microseconds.
func Time(t time.Time) FieldValue { return FieldValue{kind: FieldTime, t: StorageTime(t)} }

// Strings makes a string-list field value; the slice is copied.
func Strings(ss ...string) FieldValue {
	return FieldValue{kind: FieldStrings, ss: slices.Clone(ss)}
}

// Kind returns the value's kind.
func (v FieldValue) Kind() FieldKind { return v.kind }

// Str returns the string and whether the value is a string.
func (v FieldValue) Str() (string, bool) { return v.s, v.kind == FieldString }

// Num returns the number and whether the value is a number.
func (v FieldValue) Num() (decimal.Decimal, bool) { return v.n, v.kind == FieldNumber }

// BoolValue returns the bool and whether the value is a bool.
func (v FieldValue) BoolValue() (bool, bool) { return v.b, v.kind == FieldBool }

// TimeValue returns the time and whether the value is a time.
func (v FieldValue) TimeValue() (time.Time, bool) { return v.t, v.kind == FieldTime }

// List returns a copy of the string list and whether the value is a list.
func (v FieldValue) List() ([]string, bool) { return slices.Clone(v.ss), v.kind == FieldStrings }

// Len returns the number of items of a string list (0 for other kinds). With
// [FieldValue.At] it reads a list without copying it.
func (v FieldValue) Len() int { return len(v.ss) }

// At returns item i of a string list. It panics if i is out of range, like
// a slice index; use [FieldValue.Len] first.
func (v FieldValue) At(i int) string { return v.ss[i] }

// Equal reports whether two values have the same kind and equal contents.
func (v FieldValue) Equal(o FieldValue) bool {
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case FieldString:
		return v.s == o.s
	case FieldNumber:
		return v.n.Equal(o.n)
	case FieldBool:
		return v.b == o.b
	case FieldTime:
		return v.t.Equal(o.t)
	case FieldStrings:
		return slices.Equal(v.ss, o.ss)
	}
	return true
}

// MarshalJSON encodes {"string":"x"}, {"number":"1.5"}, {"bool":true},
// {"time":"2026-01-02T03:04:05Z"} or {"strings":["a","b"]}: the key names the
// kind so the type survives a round trip through any JSON store.
func (v FieldValue) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case FieldString:
		return json.Marshal(map[string]string{"string": v.s})
	case FieldNumber:
		return json.Marshal(map[string]string{"number": amountString(v.n)})
	case FieldBool:
		return json.Marshal(map[string]bool{"bool": v.b})
	case FieldTime:
		return json.Marshal(map[string]time.Time{"time": v.t})
	case FieldStrings:
		ss := v.ss
		if ss == nil {
			ss = []string{}
		}
		return json.Marshal(map[string][]string{"strings": ss})
	}
	return nil, fmt.Errorf("crm: cannot encode an invalid field value")
}

// UnmarshalJSON decodes the form written by [FieldValue.MarshalJSON].
func (v *FieldValue) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 1 {
		return Invalid("", "want an object with one of string, number, bool, time, strings")
	}
	for k, r := range raw {
		var out FieldValue
		var err error
		switch k {
		case "string":
			out.kind = FieldString
			err = json.Unmarshal(r, &out.s)
		case "number":
			out.kind = FieldNumber
			var s string
			if bytes.HasPrefix(r, []byte(`"`)) {
				err = json.Unmarshal(r, &s)
			} else {
				s = string(r)
			}
			if err == nil {
				out.n, err = parseAmount(k, s)
			}
		case "bool":
			out.kind = FieldBool
			err = json.Unmarshal(r, &out.b)
		case "time":
			out.kind = FieldTime
			err = json.Unmarshal(r, &out.t)
			out.t = StorageTime(out.t)
		case "strings":
			out.kind = FieldStrings
			err = json.Unmarshal(r, &out.ss)
			if err == nil && out.ss == nil {
				out.ss = []string{}
			}
		default:
			return Invalid("", "unknown kind %q", truncate(k, 32))
		}
		if err != nil {
			return Invalid(k, "%v", err)
		}
		*v = out
	}
	return nil
}

// Fields holds a record's custom fields, keyed by a host-chosen name. Names
// are 1 to 64 bytes of lower-case ASCII letters, digits and underscores,
// starting with a letter.
type Fields map[string]FieldValue

// Clone returns a deep copy (nil stays nil).
func (f Fields) Clone() Fields {
	if f == nil {
		return nil
	}
	out := make(Fields, len(f))
	for k, v := range f {
		v.ss = slices.Clone(v.ss)
		out[k] = v
	}
	return out
}

// Equal reports whether both maps hold the same names with equal values.
func (f Fields) Equal(o Fields) bool {
	return maps.EqualFunc(f, o, FieldValue.Equal)
}

// Validate checks names, kinds and sizes.
func (f Fields) Validate() error {
	var v Problems
	if len(f) > maxCustomFields {
		v.Add("", "more than %d custom fields", maxCustomFields)
	}
	for _, k := range slices.Sorted(maps.Keys(f)) {
		val := f[k]
		if !ValidName(k) {
			v.Add(truncate(k, 64), "name must be 1-64 lower-case letters, digits or underscores, starting with a letter")
			continue
		}
		switch val.kind {
		case FieldString:
			checkText(&v, k, val.s, maxFieldText)
		case FieldStrings:
			if len(val.ss) > maxFieldList {
				v.Add(k, "more than %d items", maxFieldList)
			}
			for i, s := range val.ss {
				checkText(&v, fmt.Sprintf("%s[%d]", k, i), s, maxFieldText)
			}
		case FieldNumber, FieldBool, FieldTime:
		default:
			v.Add(k, "has no value")
		}
	}
	return v.Err()
}

const (
	maxCustomFields = 200
	maxFieldText    = 4096
	maxFieldList    = 100
)

// ValidName reports whether s is a well-formed name of a field, a rule,
// a record type or another identifier a host writes in crmkit's
// documents: 1 to 64 lower-case ASCII letters, digits or underscores,
// starting with a letter.
func ValidName(s string) bool {
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

func checkText(v *Problems, field, s string, max int) {
	if !utf8.ValidString(s) {
		v.Add(field, "is not valid UTF-8")
		return
	}
	if strings.IndexByte(s, 0) >= 0 {
		v.Add(field, "contains a NUL character")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.Add(field, "is %d characters, more than %d", n, max)
	}
}
