package permission

import (
	"fmt"
	"math/bits"

	"github.com/crmkit/crmkit/crm"
)

// FieldSet is a set of fields of one record type, by their position in the
// type's declared field list ([RecordTypeDoc.Fields]). It is a small,
// immutable value, safe to copy and share; build one with [Policy.Fields].
type FieldSet [MaxFields / 64]uint64

func (f *FieldSet) add(i int) { f[i>>6] |= 1 << (i & 63) }

// Has reports whether field number i is in the set.
func (f FieldSet) Has(i int) bool {
	return i >= 0 && i < MaxFields && f[i>>6]&(1<<(i&63)) != 0
}

// Len returns the number of fields in the set.
func (f FieldSet) Len() int { return bits.OnesCount64(f[0]) + bits.OnesCount64(f[1]) }

func (f FieldSet) union(o FieldSet) FieldSet   { return FieldSet{f[0] | o[0], f[1] | o[1]} }
func (f FieldSet) without(o FieldSet) FieldSet { return FieldSet{f[0] &^ o[0], f[1] &^ o[1]} }

// first returns the lowest field number in the set, or -1.
func (f FieldSet) first() int {
	if f[0] != 0 {
		return bits.TrailingZeros64(f[0])
	}
	if f[1] != 0 {
		return 64 + bits.TrailingZeros64(f[1])
	}
	return -1
}

// Fields returns the set of the named fields of record type rt, or a
// [*crm.ValidationError] naming the first unknown field.
func (p *Policy) Fields(rt crm.RecordType, names ...string) (FieldSet, error) {
	var set FieldSet
	t := p.typeIndex(rt)
	if t < 0 {
		return set, fmt.Errorf("permission: %w", crm.Invalid("record_type", "unknown record type %q", truncate(string(rt), maxName)))
	}
	for k, n := range names {
		i, ok := p.types[t].index[n]
		if !ok {
			return FieldSet{}, fmt.Errorf("permission: %w", crm.Invalid(fmt.Sprintf("fields[%d]", k), "unknown field %q of record type %q", truncate(n, maxName), rt))
		}
		set.add(i)
	}
	return set, nil
}

// FieldMask is the set of fields of one record type that a subject may see
// (for view, export and the other non-writing actions) or write (for create
// and edit). It is a small value; computing it allocates nothing.
type FieldMask struct {
	p   *Policy
	rt  int32
	set FieldSet
}

// Set returns the allowed fields as a [FieldSet].
func (m FieldMask) Set() FieldSet { return m.set }

// Allows reports whether the named field is in the mask. Unknown fields are
// never allowed.
func (m FieldMask) Allows(field string) bool {
	if m.p == nil || m.rt < 0 {
		return false
	}
	i, ok := m.p.types[m.rt].index[field]
	return ok && m.set.Has(i)
}

// Fields returns the names of the allowed fields, in declaration order.
func (m FieldMask) Fields() []string {
	if m.p == nil || m.rt < 0 {
		return nil
	}
	var out []string
	for i, name := range m.p.types[m.rt].fields {
		if m.set.Has(i) {
			out = append(out, name)
		}
	}
	return out
}

// FieldMask returns the fields of record type rt that s may see (view,
// export, delete, assign, claim, approve) or write (create, edit) when
// performing action a on a record it is allowed to. A field is removed when
// any of the subject's roles hides it (or, for writes, makes it read-only),
// as a deny overrides an allow. The mask is empty when none of the
// subject's roles grants a on rt at all, and for bad input (an unresolved
// subject, an invalid action, an undeclared type). It does not consider a
// particular record: call [Policy.Check] for that.
func (p *Policy) FieldMask(s *Subject, rt crm.RecordType, a Action) FieldMask {
	t := p.typeIndex(rt)
	if s == nil || t < 0 {
		return FieldMask{p: p, rt: int32(t)}
	}
	if _, ok := p.precheck(s, a); !ok {
		return FieldMask{p: p, rt: int32(t)}
	}
	restrict, granted := p.restrictions(s, t, a)
	if !granted {
		return FieldMask{p: p, rt: int32(t)}
	}
	return FieldMask{p: p, rt: int32(t), set: p.types[t].all.without(restrict)}
}

// Hidden returns a test of the fields of record type rt that s may not
// see (or, for create and edit, write) when performing action a, by their
// path in the record's JSON ("phone", "fields.salary"), which is how a
// policy names the fields it declares ([RecordTypeDoc.Fields]): every
// field when none of the subject's roles grants a on rt (and for an
// unresolved subject, an invalid action or an undeclared type), and
// otherwise the declared fields a role hides. A field the policy does not
// declare cannot be restricted, so it is hidden only with the whole type.
// History reads mask with it (crmkit's CRM.History).
func (p *Policy) Hidden(s *Subject, rt crm.RecordType, a Action) func(field string) bool {
	t := p.typeIndex(rt)
	if s == nil || t < 0 {
		return func(string) bool { return true }
	}
	if _, ok := p.precheck(s, a); !ok {
		return func(string) bool { return true }
	}
	restrict, granted := p.restrictions(s, t, a)
	if !granted {
		return func(string) bool { return true }
	}
	index := p.types[t].index
	return func(field string) bool {
		i, declared := index[field]
		return declared && restrict.Has(i)
	}
}

// HiddenFields returns the declared fields of record type rt that s may
// not see (or, for create and edit, write) when performing action a, in
// declaration order, and all = true when s may not perform a on rt at all
// (every field hidden, as [Policy.Hidden] says). A view that shows
// records masks exactly these fields; when it returns none and all is
// false, nothing needs masking.
func (p *Policy) HiddenFields(s *Subject, rt crm.RecordType, a Action) (fields []string, all bool) {
	t := p.typeIndex(rt)
	if s == nil || t < 0 {
		return nil, true
	}
	if _, ok := p.precheck(s, a); !ok {
		return nil, true
	}
	restrict, granted := p.restrictions(s, t, a)
	if !granted {
		return nil, true
	}
	for i, name := range p.types[t].fields {
		if restrict.Has(i) {
			fields = append(fields, name)
		}
	}
	return fields, false
}

// restrictions returns the union of the subject's roles' restrictions for
// action a on type t, and whether any role grants a on t.
func (p *Policy) restrictions(s *Subject, t int, a Action) (FieldSet, bool) {
	nT := len(p.types)
	var restrict FieldSet
	granted := false
	for w, word := range s.roles {
		for word != 0 {
			ri := w<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			k := ri*nT + t
			granted = granted || p.grants[k]&(1<<a) != 0
			fr := &p.fieldsOf[k]
			restrict = restrict.union(fr.hidden)
			if a.writes() {
				restrict = restrict.union(fr.readOnly)
			}
		}
	}
	return restrict, granted
}

// CheckField decides whether s may perform a on r and, doing so, see (for
// non-writing actions) or write (for create and edit) the named field: for
// example whether a salesperson may change a lead's follow_up_status. The
// record check comes first; an undeclared field is denied.
func (p *Policy) CheckField(s *Subject, a Action, r *Resource, field string) Decision {
	d := p.Check(s, a, r)
	if !d.Allowed {
		return d
	}
	i, ok := p.types[d.rt].index[field]
	if !ok {
		return p.deny(reasonUnknownField, a, int(d.rt))
	}
	var set FieldSet
	set.add(i)
	return p.checkFields(s, a, d, set)
}

// CheckFields is [Policy.CheckField] for a set of fields, such as the
// fields an edit changes (build it with [Policy.Fields]). The decision
// names the first field that is not allowed.
func (p *Policy) CheckFields(s *Subject, a Action, r *Resource, fields FieldSet) Decision {
	d := p.Check(s, a, r)
	if !d.Allowed {
		return d
	}
	return p.checkFields(s, a, d, fields)
}

func (p *Policy) checkFields(s *Subject, a Action, d Decision, fields FieldSet) Decision {
	t := int(d.rt)
	restrict, _ := p.restrictions(s, t, a)
	bad := FieldSet{fields[0] & restrict[0], fields[1] & restrict[1]}
	// Fields beyond the declared ones are unknown, never allowed.
	unknown := fields.without(p.types[t].all)
	if i := unknown.first(); i >= 0 {
		return p.deny(reasonUnknownField, a, t)
	}
	i := bad.first()
	if i < 0 {
		return d
	}
	out := Decision{p: p, code: reasonFieldReadOnly, action: a, rule: -1, rt: int32(t), field: int32(i)}
	hidden, _ := p.restrictions(s, t, ActionView)
	if hidden.Has(i) {
		out.code = reasonFieldHidden
	}
	return out
}
