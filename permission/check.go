package permission

import (
	"fmt"
	"math/bits"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// roleSet is a fixed-size bitset of role indices, so resolving a subject
// allocates nothing and a check walks only the roles the subject holds.
type roleSet [MaxRoles / 64]uint64

func (s *roleSet) add(i int)      { s[i>>6] |= 1 << (i & 63) }
func (s *roleSet) has(i int) bool { return s[i>>6]&(1<<(i&63)) != 0 }
func (s *roleSet) count() (n int) {
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

type subjectState uint8

const (
	subjectZero subjectState = iota // the zero Subject: never resolved
	subjectOK
	subjectInactive
	subjectNoUser
	subjectNoDepartment
	subjectUnknownDepartment
)

// Subject is a user resolved against one [Policy]: their ID, home
// department (with its pre-order interval) and the roles they hold there.
// Resolve it once per request with [Policy.Subject] and pass it to every
// check. It is a small value that is safe to copy and to share between
// goroutines. A Subject resolved by one policy is denied by every other
// policy, so a stale subject never carries old roles into a new policy.
type Subject struct {
	p      *Policy
	user   crm.ID
	dept   crm.ID
	lo, hi int32 // pre-order interval of the home department's subtree
	state  subjectState
	roles  roleSet
}

// Subject resolves a user: their home department and the roles they hold
// by name ([crm.User.Roles]) or by department binding, each kept only where
// the role applies ([RoleDoc.Departments]). Role names the policy does not
// declare are ignored, as users may hold roles of other systems. A nil or
// inactive user, or one without a department the policy knows, resolves to
// a subject that every check denies with a reason.
func (p *Policy) Subject(u *crm.User) Subject {
	if u == nil {
		return Subject{p: p, state: subjectNoUser}
	}
	s := p.SubjectOf(u.ID, u.DepartmentID, u.Roles...)
	if s.state == subjectOK && !u.Active {
		s.state = subjectInactive
	}
	return s
}

// SubjectOf resolves a subject from its parts, for hosts that keep users
// elsewhere; see [Policy.Subject].
func (p *Policy) SubjectOf(user, department crm.ID, roles ...string) Subject {
	s := Subject{p: p, user: user, dept: department, state: subjectOK}
	switch {
	case user == crm.NilID:
		s.state = subjectNoUser
		return s
	case department == crm.NilID:
		s.state = subjectNoDepartment
		return s
	}
	lo, hi, ok := p.tree.Range(department)
	if !ok {
		s.state = subjectUnknownDepartment
		return s
	}
	s.lo, s.hi = lo, hi
	grant := func(ri int) {
		if w := p.roles[ri].where; w == nil || inSpans(w, lo) {
			s.roles.add(ri)
		}
	}
	for _, name := range roles {
		if ri, ok := p.roleByName[name]; ok {
			grant(ri)
		}
	}
	for _, b := range p.bindings {
		if b.where.has(lo) {
			for _, ri := range b.roles {
				grant(ri)
			}
		}
	}
	return s
}

// UserID returns the subject's user ID.
func (s *Subject) UserID() crm.ID { return s.user }

// DepartmentID returns the subject's home department.
func (s *Subject) DepartmentID() crm.ID { return s.dept }

// Roles returns the names of the roles the subject holds, in policy order.
func (s *Subject) Roles() []string {
	if s.p == nil {
		return nil
	}
	out := make([]string, 0, s.roles.count())
	for i := range s.p.roles {
		if s.roles.has(i) {
			out = append(out, s.p.roles[i].name)
		}
	}
	return out
}

// Resource describes the record a subject wants to act on, or, for create,
// the record about to be created. Build it from a record with [LeadResource],
// [CustomerResource] and friends, or fill it by hand for the host's own
// types. Checks only read it; it is safe to share while nobody changes it.
type Resource struct {
	// Type is the record type, declared in the policy.
	Type crm.RecordType
	// OwnerID is the owning user; NilID when unowned.
	OwnerID crm.ID
	// DepartmentID is the owning department; NilID when the record has
	// none. A department the policy's compiled tree does not know fails
	// closed (see "Department drift" in the package documentation).
	DepartmentID crm.ID
	// CreatorDepartmentID is the department of the user who created the
	// record; NilID when the caller does not know it, which a creator
	// condition of a deny treats as matching and of an allow as not.
	CreatorDepartmentID crm.ID
	// PoolID is the public pool holding the record; NilID when not pooled.
	PoolID crm.ID
	// Status is the record's status, for status conditions.
	Status string
	// Fields are the values field conditions read, compared
	// case-insensitively with [crm.String] values; an absent or non-string
	// value makes a deny's condition hold and an allow's fail.
	Fields crm.Fields
}

// reason says why a decision came out as it did; the text is built only
// when asked for.
type reason uint8

const (
	reasonAllowedByRule reason = iota + 1
	reasonDeniedByRule
	reasonOutOfScope
	reasonNoGrant
	reasonNilArgument
	reasonZeroSubject
	reasonForeignSubject
	reasonInactive
	reasonNoUser
	reasonNoDepartment
	reasonUnknownDepartment
	reasonInvalidAction
	reasonUnknownType
	reasonUnknownField
	reasonFieldHidden
	reasonFieldReadOnly
)

// Decision is the outcome of a check: allowed or not, the rule that decided
// (if a rule did) and a reason a person can read. It is a small value;
// the reason's text is built only when [Decision.Reason] is called, so
// checking allocates nothing.
type Decision struct {
	p *Policy
	// Allowed is true when the action is permitted.
	Allowed bool
	code    reason
	action  Action
	rule    int32 // -1 when no rule decided
	rt      int32 // -1 when unknown
	field   int32 // -1 when not a field decision
}

func (p *Policy) deny(code reason, a Action, rt int) Decision {
	return Decision{p: p, code: code, action: a, rule: -1, rt: int32(rt), field: -1}
}

// Rule returns the ID of the rule that decided, or "" when no rule did
// (nothing granted the action, or the request was refused before rules
// were consulted).
func (d Decision) Rule() string {
	if d.p == nil || d.rule < 0 {
		return ""
	}
	return d.p.rules[d.rule].id
}

// Reason explains the decision in a sentence.
func (d Decision) Reason() string {
	if d.p == nil {
		return "denied: no policy (zero decision)"
	}
	what := d.action.String()
	if d.rt >= 0 {
		what += " " + string(d.p.types[d.rt].name)
	}
	field := ""
	if d.field >= 0 && d.rt >= 0 {
		field = d.p.types[d.rt].fields[d.field]
	}
	switch d.code {
	case reasonAllowedByRule:
		ru := &d.p.rules[d.rule]
		return fmt.Sprintf("allowed: rule %q of role %q (%s)", ru.id, d.p.roles[ru.role].name, ru.desc)
	case reasonDeniedByRule:
		ru := &d.p.rules[d.rule]
		return fmt.Sprintf("denied: rule %q of role %q (%s)", ru.id, d.p.roles[ru.role].name, ru.desc)
	case reasonOutOfScope:
		return "denied: the subject's roles may " + what + " but no rule covers this record"
	case reasonNoGrant:
		return "denied: none of the subject's roles may " + what
	case reasonNilArgument:
		return "denied: nil subject or resource"
	case reasonZeroSubject:
		return "denied: the subject was not resolved by a policy"
	case reasonForeignSubject:
		return "denied: the subject was resolved by another policy"
	case reasonInactive:
		return "denied: the user is inactive"
	case reasonNoUser:
		return "denied: the subject has no user"
	case reasonNoDepartment:
		return "denied: the subject has no department"
	case reasonUnknownDepartment:
		return "denied: the subject's department is not in the policy's department tree"
	case reasonInvalidAction:
		return "denied: invalid action"
	case reasonUnknownType:
		return "denied: the record type is not declared in the policy"
	case reasonUnknownField:
		return "denied: the field is not declared for " + what[strings.IndexByte(what, ' ')+1:]
	case reasonFieldHidden:
		return fmt.Sprintf("denied: field %q is hidden from the subject", field)
	case reasonFieldReadOnly:
		return fmt.Sprintf("denied: field %q is read-only for the subject", field)
	}
	return "denied"
}

// Err returns nil for an allowed decision and otherwise a [*DeniedError]
// carrying the decision, which matches [crm.ErrPermissionDenied].
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &DeniedError{Decision: d}
}

// String returns the reason.
func (d Decision) String() string { return d.Reason() }

// DeniedError reports a denied check. It matches [crm.ErrPermissionDenied]
// with [errors.Is].
type DeniedError struct {
	Decision Decision
}

// Error implements error.
func (e *DeniedError) Error() string {
	return "permission: " + e.Decision.Reason()
}

// Is reports whether target is [crm.ErrPermissionDenied].
func (e *DeniedError) Is(target error) bool { return target == crm.ErrPermissionDenied }

// Check decides whether subject s may perform action a on resource r.
// Denials override allows across all of the subject's roles; when nothing
// matches, the answer is deny. A condition Check cannot evaluate on r, or a
// department the compiled tree does not know, makes a denial apply and an
// allow not. Bad input (a zero or foreign subject, an
// invalid action, an undeclared record type) is denied with a reason,
// never allowed. Check does not allocate.
func (p *Policy) Check(s *Subject, a Action, r *Resource) Decision {
	d := p.decide(s, a, r)
	if p.sink != nil {
		p.emit(s, a, r, d)
	}
	return d
}

// precheck refuses subjects and actions no rule may apply to.
func (p *Policy) precheck(s *Subject, a Action) (reason, bool) {
	switch {
	case s.p == nil:
		return reasonZeroSubject, false
	case s.p != p:
		return reasonForeignSubject, false
	}
	switch s.state {
	case subjectOK:
	case subjectInactive:
		return reasonInactive, false
	case subjectNoUser:
		return reasonNoUser, false
	case subjectNoDepartment:
		return reasonNoDepartment, false
	case subjectUnknownDepartment:
		return reasonUnknownDepartment, false
	default:
		return reasonZeroSubject, false
	}
	if !a.Valid() {
		return reasonInvalidAction, false
	}
	return 0, true
}

// Department orders outside the compiled tree. Every real order is >= 0.
const (
	// ordNone is a record without a department: outside every span.
	ordNone = -1
	// unresolved marks a department order not looked up yet.
	unresolved = -2
	// ordUnknown is a department the compiled tree does not know (created
	// or never seen since compiling), or a creator department the caller
	// did not know: where it sits cannot be told, so a deny treats it as
	// inside and an allow as outside.
	ordUnknown = -3
)

func (p *Policy) decide(s *Subject, a Action, r *Resource) Decision {
	if s == nil || r == nil {
		return p.deny(reasonNilArgument, a, -1)
	}
	if code, ok := p.precheck(s, a); !ok {
		return p.deny(code, a, -1)
	}
	t := p.typeIndex(r.Type)
	if t < 0 {
		return p.deny(reasonUnknownType, a, -1)
	}
	nT := len(p.types)
	ev := evaluation{deptOrd: unresolved}
	defer ev.release()
	allow := int32(-1)
	granted := false
	for w, word := range s.roles {
		for word != 0 {
			ri := w<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			b := (ri*nT+t)*numActions + int(a)
			for _, idx := range p.ruleIdx[p.ruleOff[b]:p.ruleOff[b+1]] {
				ru := &p.rules[idx]
				if !ru.deny {
					granted = true
					if allow >= 0 {
						// Already allowed: only denials can change the answer.
						break
					}
				}
				if p.matches(ru, s, r, &ev) {
					if ru.deny {
						return Decision{p: p, code: reasonDeniedByRule, action: a, rule: idx, rt: int32(t), field: -1}
					}
					allow = idx
				}
			}
		}
	}
	switch {
	case allow >= 0:
		return Decision{p: p, Allowed: true, code: reasonAllowedByRule, action: a, rule: allow, rt: int32(t), field: -1}
	case granted:
		return p.deny(reasonOutOfScope, a, t)
	default:
		return p.deny(reasonNoGrant, a, t)
	}
}

// order returns the pre-order number of the record's department:
// ordNone when the record has none, ordUnknown when the compiled tree does
// not know it.
func (p *Policy) order(dept crm.ID) int32 {
	if dept == crm.NilID {
		return ordNone
	}
	if o, ok := p.tree.Order(dept); ok {
		return o
	}
	return ordUnknown
}

// within reports whether department order o is in spans, failing closed:
// a department the compiled tree does not know is inside for a denial and
// outside for an allow.
func within(spans []span, o int32, deny bool) bool {
	if o == ordUnknown {
		return deny
	}
	return inSpans(spans, o)
}

// matches reports whether rule ru covers r for s. Every condition must
// hold; one that cannot be evaluated on r (a department the compiled tree
// does not know, an absent or non-string field, an empty status) holds for
// a denial and fails for an allow, so a gap in the record or the tree
// never widens what s may do.
func (p *Policy) matches(ru *rule, s *Subject, r *Resource, ev *evaluation) bool {
	ord := func() int32 {
		if ev.deptOrd == unresolved {
			ev.deptOrd = p.order(r.DepartmentID)
		}
		return ev.deptOrd
	}
	deny := ru.deny
	switch ru.scope {
	case ScopeAll:
	case ScopeOwn:
		if r.OwnerID != s.user {
			return false
		}
	case ScopeDepartment:
		// An identity test: it needs no tree, so an unknown department is
		// certainly not the subject's (which the tree knows).
		if r.DepartmentID != s.dept {
			return false
		}
	case ScopeDepartmentTree:
		if !within([]span{{s.lo, s.hi}}, ord(), deny) {
			return false
		}
	case ScopeCustom:
		if !within(ru.spans, ord(), deny) {
			return false
		}
	default:
		return false
	}
	if ru.pred == nil {
		return true
	}
	switch ru.pred.Eval(ev.record(p, ru.rt, s, r)) {
	case cond.True:
		return true
	case cond.Unknown:
		return deny // fail closed: a denial applies, an allow does not
	}
	return false
}

// evaluation holds what one check looks up at most once: the record's
// department order, and the condition record of the resource, filled the
// first time a rule with a condition is tried.
type evaluation struct {
	deptOrd int32
	rec     *cond.Record
	from    *sync.Pool
}

// record returns the resource as the conditions of record type t see it:
// owner_id, department_id and creator_department_id (placed in the
// compiled tree; a creator department the caller did not know is
// unknown), pool_id, status (unknown when empty) and the declared fields
// (unknown when absent). It is filled once per check, into a record from a
// pool, so checks do not allocate.
func (ev *evaluation) record(p *Policy, t int32, s *Subject, r *Resource) *cond.Record {
	if ev.rec != nil {
		return ev.rec
	}
	rt := &p.types[t]
	rec, _ := rt.records.Get().(*cond.Record)
	if rec == nil {
		rec = rt.schema.NewRecord()
	}
	rec.Reset()
	_ = rec.SetID(fieldOwner, r.OwnerID)
	_ = rec.SetID(fieldDepartment, r.DepartmentID)
	if r.CreatorDepartmentID == crm.NilID {
		_ = rec.SetUnknown(fieldCreatorDepartment)
	} else {
		_ = rec.SetID(fieldCreatorDepartment, r.CreatorDepartmentID)
	}
	_ = rec.SetID(fieldPool, r.PoolID)
	if r.Status == "" {
		_ = rec.SetUnknown(fieldStatus)
	} else {
		_ = rec.SetString(fieldStatus, r.Status)
	}
	rec.SetCustom(r.Fields, true)
	ev.rec, ev.from = rec, rt.records
	return rec
}

func (ev *evaluation) release() {
	if ev.rec != nil {
		ev.rec.SetCustom(nil, false) // drop the caller's map
		ev.from.Put(ev.rec)
		ev.rec = nil
	}
}
