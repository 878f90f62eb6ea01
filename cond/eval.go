package cond

import (
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Truth is the outcome of a condition: true, false, or unknown when it
// depends on a value the record marks unknown ([Record.SetUnknown], a
// department its tree does not know, an absent custom field under
// [Record.SetCustom] with absentUnknown, a custom value of another type
// than the literal). Groups combine it as three-valued logic does: all is
// false when one part is false, any is true when one part is true, not
// keeps unknown unknown.
type Truth uint8

// The truths.
const (
	False Truth = iota
	True
	Unknown
)

// String returns "false", "true" or "unknown".
func (t Truth) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// MarshalText encodes the truth's name.
func (t Truth) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

func truth(b bool) Truth {
	if b {
		return True
	}
	return False
}

// Match reports whether r satisfies the predicate: [Predicate.Eval] is
// [True]. A record of another schema never matches. It does not allocate.
func (p *Predicate) Match(r *Record) bool { return p.Eval(r) == True }

// Eval evaluates the predicate on r in three-valued logic; see [Truth].
// Access rules fail closed with it: a denial applies unless the answer is
// False, a grant only when it is True. A record of another schema is
// False. It does not allocate.
func (p *Predicate) Eval(r *Record) Truth {
	if r == nil || r.schema != p.schema && !sameFields(r.schema, p.schema) {
		return False
	}
	return p.eval(0, r)
}

// sameFields reports whether two schemas are views of one field list
// ([Schema.WithEvents], [Schema.WithCustomFields]), whose records fit
// each other's predicates.
func sameFields(a, b *Schema) bool {
	return len(a.fields) == len(b.fields) && (len(a.fields) == 0 || &a.fields[0] == &b.fields[0])
}

func (p *Predicate) eval(i int32, r *Record) Truth {
	n := &p.nodes[i]
	switch n.op {
	case opTrue:
		return True
	case opAll:
		out := True
		for _, k := range n.kids {
			switch p.eval(k, r) {
			case False:
				return False
			case Unknown:
				out = Unknown
			}
		}
		return out
	case opAny:
		out := False
		for _, k := range n.kids {
			switch p.eval(k, r) {
			case True:
				return True
			case Unknown:
				out = Unknown
			}
		}
		return out
	case opNot:
		switch t := p.eval(n.kids[0], r); t {
		case True:
			return False
		case False:
			return True
		default:
			return t
		}
	case opEvent:
		return truth(n.x.event.count(r.events, r.now) >= n.x.event.minCount)
	}
	if n.slot < 0 {
		return n.custom(r)
	}
	v := &r.vals[n.slot]
	switch v.state {
	case unknown:
		return Unknown
	case unset:
		return truth(n.op == opExists && !n.b)
	}
	if n.op == opExists {
		return truth(n.b)
	}
	switch n.kind {
	case KindString:
		return truth(n.text(v.s, v.ascii))
	case KindStrings:
		for _, s := range v.ss {
			if n.text(s, v.ascii) {
				return True
			}
		}
		return False
	case KindNumber, KindMoney:
		return truth(n.number(&v.num))
	case KindBool:
		return truth(v.b == n.b)
	case KindID:
		if n.op == opUnder {
			return truth(inSpans(n.x.spans, v.ord))
		}
		return truth(slices.Contains(n.x.ids, v.id))
	}
	return False
}

// custom tests a custom field, read from the record's [crm.Fields].
func (n *node) custom(r *Record) Truth {
	v, ok := r.custom[n.x.custom]
	if !ok {
		if r.customUnknown {
			return Unknown
		}
		return truth(n.op == opExists && !n.b)
	}
	if n.op == opExists {
		return truth(n.b)
	}
	switch v.Kind() {
	case crm.FieldString:
		if n.strs == nil && n.op != opPrefix && n.op != opContains {
			return Unknown // a number or bool literal: not comparable
		}
		s, _ := v.Str()
		return truth(n.text(s, isASCII(s)))
	case crm.FieldStrings:
		if n.strs == nil && n.op != opPrefix && n.op != opContains {
			return Unknown
		}
		for i := range v.Len() {
			if s := v.At(i); n.text(s, isASCII(s)) {
				return True
			}
		}
		return False
	case crm.FieldNumber:
		if n.x.nums == nil && n.op != opRange {
			return Unknown
		}
		d, _ := v.Num()
		num, ok := fieldNumber(d)
		if !ok {
			return Unknown // more fractional digits than any literal holds
		}
		return truth(n.number(&num))
	case crm.FieldBool:
		if !n.x.hasBool {
			return Unknown
		}
		b, _ := v.BoolValue()
		return truth(b == n.b)
	}
	return Unknown
}

// text applies a text test (equals, in, prefix, contains) to s, ignoring
// case; ascii says s is ASCII.
func (n *node) text(s string, ascii bool) bool {
	ascii = ascii && n.litASCII
	switch n.op {
	case opEquals:
		return n.strs != nil && equalFold(s, n.str, ascii)
	case opPrefix:
		return hasPrefixFold(s, n.str, ascii)
	case opContains:
		return containsFold(s, n.str)
	case opIn:
		if n.x.set != nil {
			if found, ok := n.x.lookup(s); ok {
				return found
			}
		}
		for _, lit := range n.strs {
			if ascii && len(lit) != len(s) {
				continue // ASCII text of another length never folds equal
			}
			if s == lit || equalFold(s, lit, ascii) {
				return true
			}
		}
	}
	return false
}

// number applies a numeric test (equals, in, range) to v.
func (n *node) number(v *number) bool {
	if n.op == opRange {
		if n.hasLo {
			c := v.cmp(&n.x.lo)
			if c < 0 || c == 0 && !n.loInc {
				return false
			}
		}
		if n.hasHi {
			c := v.cmp(&n.x.hi)
			if c > 0 || c == 0 && !n.hiInc {
				return false
			}
		}
		return true
	}
	for i := range n.x.nums {
		if v.cmp(&n.x.nums[i]) == 0 {
			return true
		}
	}
	return false
}

func inSpans(spans [][2]int32, o int32) bool {
	for _, s := range spans {
		if o >= s[0] && o <= s[1] {
			return true
		}
	}
	return false
}

// count returns the events units e counts at now.
func (e *eventTest) count(events []Event, now time.Time) int {
	units := 0
	for i := range events {
		ev := &events[i]
		if !e.anyKind && ev.Kind != e.kind {
			continue
		}
		age := now.Sub(ev.At)
		if age < 0 || e.within > 0 && age > e.within {
			continue
		}
		units += max(ev.Count, 1)
	}
	return units
}
