package cond

import "encoding/json"

// The builders below write conditions in Go rather than JSON:
//
//	cond.All(cond.In("region", "cn-east", "cn-north"), cond.Range("company_size", 500, nil))
//
// Literals are encoded as JSON, so they take the same forms as in a
// document (a string, a number, a bool, a "1000 CNY" amount, an ID's
// string). A literal that cannot be encoded is left out, and [Compile]
// reports the empty operator.

// All holds when every part holds.
func All(parts ...Condition) *Condition { return &Condition{All: parts} }

// Any holds when one part holds.
func Any(parts ...Condition) *Condition { return &Condition{Any: parts} }

// Not holds when c does not.
func Not(c *Condition) *Condition { return &Condition{Not: c} }

// Equals tests field equals v.
func Equals(field string, v any) Condition { return Condition{Field: field, Equals: raw(v)} }

// In tests that field equals one of vs.
func In(field string, vs ...any) Condition {
	return Condition{Field: field, In: raws(vs)}
}

// Under tests that a hierarchical ID field is one of ids or below one.
func Under(field string, ids ...any) Condition {
	return Condition{Field: field, Under: raws(ids)}
}

// Between tests lo <= field <= hi; a nil bound is left open.
func Between(field string, lo, hi any) Condition {
	r := &Range{}
	if lo != nil {
		r.GTE = raw(lo)
	}
	if hi != nil {
		r.LTE = raw(hi)
	}
	return Condition{Field: field, Range: r}
}

// Prefix tests that text starts with p, ignoring case.
func Prefix(field, p string) Condition { return Condition{Field: field, Prefix: &p} }

// Contains tests that text contains sub, ignoring case.
func Contains(field, sub string) Condition { return Condition{Field: field, Contains: &sub} }

// Exists tests that field is set (or, with false, unset).
func Exists(field string, set bool) Condition { return Condition{Field: field, Exists: &set} }

// Ptr returns a pointer to a copy of c, for the rule fields that hold a
// *Condition.
func Ptr(c Condition) *Condition { return &c }

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func raws(vs []any) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(vs))
	for _, v := range vs {
		if b := raw(v); b != nil {
			out = append(out, b)
		}
	}
	return out
}
