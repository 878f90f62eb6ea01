package cond

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// Explanation says how a condition came out on one record: the test, what
// the record held and the outcome, with the parts of a group below it.
// It is the one explanation format of every rule that uses conditions.
type Explanation struct {
	// Test is the test as text, such as `region in ["cn-east", "cn-north"]`,
	// or "all", "any" or "not" for a group.
	Test string `json:"test"`
	// Value is what the record held for the tested field, such as
	// `"cn-east"`, "unset" or "unknown"; empty for groups.
	Value  string         `json:"value,omitempty"`
	Result Truth          `json:"result"`
	Parts  []*Explanation `json:"parts,omitempty"`
}

// String renders the explanation one test a line, parts indented under
// their group:
//
//	true  all
//	  true  region in ["cn-east", "cn-north"]  (region = "cn-east")
//	  true  company_size range >= 500  (company_size = 1200)
func (e *Explanation) String() string {
	var b strings.Builder
	e.write(&b, 0)
	return strings.TrimSuffix(b.String(), "\n")
}

func (e *Explanation) write(b *strings.Builder, depth int) {
	fmt.Fprintf(b, "%s%-7s %s", strings.Repeat("  ", depth), e.Result, e.Test)
	if e.Value != "" {
		fmt.Fprintf(b, "  (%s)", e.Value)
	}
	b.WriteByte('\n')
	for _, p := range e.Parts {
		p.write(b, depth+1)
	}
}

// Explain evaluates the predicate on r as [Predicate.Eval] does and says
// how each test came out. It allocates; use it to show a decision, not to
// make one.
func (p *Predicate) Explain(r *Record) *Explanation {
	if r == nil || r.schema != p.schema && !sameFields(r.schema, p.schema) {
		return &Explanation{Test: "record of another schema", Result: False}
	}
	return p.explain(0, r)
}

func (p *Predicate) explain(i int32, r *Record) *Explanation {
	n := &p.nodes[i]
	e := &Explanation{Result: p.eval(i, r)}
	switch n.op {
	case opTrue:
		e.Test = "always"
	case opAll, opAny, opNot:
		e.Test = opNames[n.op]
		for _, k := range n.kids {
			e.Parts = append(e.Parts, p.explain(k, r))
		}
	case opEvent:
		e.Test = n.x.text
		e.Value = fmt.Sprintf("%d counted", n.x.event.count(r.events, r.now))
	default:
		e.Test = n.x.text
		e.Value = n.x.field + " = " + p.valueText(n, r)
	}
	return e
}

// valueText prints the value a leaf tested.
func (p *Predicate) valueText(n *node, r *Record) string {
	if n.slot < 0 {
		v, ok := r.custom[n.x.custom]
		switch {
		case ok:
			return fieldText(v)
		case r.customUnknown:
			return "unknown"
		}
		return "unset"
	}
	v := &r.vals[n.slot]
	switch v.state {
	case unset:
		return "unset"
	case unknown:
		return "unknown"
	}
	switch n.kind {
	case KindString:
		return strconv.Quote(v.s)
	case KindStrings:
		return quoteList(v.ss)
	case KindNumber, KindMoney:
		return v.num.String()
	case KindBool:
		return strconv.FormatBool(v.b)
	case KindID:
		return idText(v.id, n.x.names)
	}
	return "?"
}

// String returns the condition as text, such as
// `all(region in ["cn-east"], not(tags equals "churned"))`.
func (p *Predicate) String() string {
	var b strings.Builder
	p.format(&b, 0)
	return b.String()
}

func (p *Predicate) format(b *strings.Builder, i int32) {
	n := &p.nodes[i]
	switch n.op {
	case opTrue:
		b.WriteString("always")
	case opAll, opAny, opNot:
		b.WriteString(opNames[n.op])
		b.WriteByte('(')
		for j, k := range n.kids {
			if j > 0 {
				b.WriteString(", ")
			}
			p.format(b, k)
		}
		b.WriteByte(')')
	default:
		b.WriteString(n.x.text)
	}
}

// describe returns a leaf test as text.
func describe(n *node) string {
	f := n.x.field
	switch n.op {
	case opExists:
		if n.b {
			return f + " exists"
		}
		return f + " does not exist"
	case opPrefix, opContains:
		return f + " " + opNames[n.op] + " " + strconv.Quote(n.x.shown[0])
	case opRange:
		var parts []string
		if n.hasLo {
			parts = append(parts, pickName(n.loInc, ">= ", "> ")+n.x.lo.String())
		}
		if n.hasHi {
			parts = append(parts, pickName(n.hiInc, "<= ", "< ")+n.x.hi.String())
		}
		return f + " range " + strings.Join(parts, " and ")
	case opUnder:
		return f + " under " + idList(n.x.ids, n.x.names)
	}
	var lits []string
	for _, s := range n.x.shown {
		lits = append(lits, strconv.Quote(s))
	}
	if n.kind != KindValue || len(n.strs) == 0 {
		for i := range n.x.nums {
			lits = append(lits, n.x.nums[i].String())
		}
	}
	for _, id := range n.x.ids {
		lits = append(lits, idText(id, n.x.names))
	}
	if n.kind == KindBool || n.x.hasBool {
		lits = append(lits, strconv.FormatBool(n.b))
	}
	if n.op == opEquals && len(lits) == 1 {
		return f + " equals " + lits[0]
	}
	return f + " in [" + strings.Join(lits, ", ") + "]"
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func idList(ids []crm.ID, names Namer) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = idText(id, names)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// idText prints an ID literal: its name when the field's tree names it,
// else the quoted ID.
func idText(id crm.ID, names Namer) string {
	if names != nil {
		if n, ok := names.Name(id); ok && n != "" {
			return n
		}
	}
	return strconv.Quote(id.String())
}

// String prints the number without trailing zeros.
func (a *number) String() string {
	if a.scOK {
		return decimal.New(a.sc, -numberScale).String()
	}
	return a.d.String()
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func quote(s string) string { return strconv.Quote(s) }

// fieldText prints a custom field's value as the other values print.
func fieldText(v crm.FieldValue) string {
	switch v.Kind() {
	case crm.FieldString:
		s, _ := v.Str()
		return strconv.Quote(s)
	case crm.FieldNumber:
		d, _ := v.Num()
		return d.String()
	case crm.FieldBool:
		b, _ := v.BoolValue()
		return strconv.FormatBool(b)
	case crm.FieldTime:
		t, _ := v.TimeValue()
		return t.Format(time.RFC3339)
	case crm.FieldStrings:
		ss, _ := v.List()
		return quoteList(ss)
	}
	return "?"
}
