package permission

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Limits of one policy, so tables stay small and a subject's roles fit a
// fixed-size bitset.
const (
	// MaxRoles is the most roles a policy may declare.
	MaxRoles = 256
	// MaxFields is the most fields a record type may declare.
	MaxFields = 128
	// MaxRecordTypes is the most record types a policy may declare.
	MaxRecordTypes = 256
	// MaxRules is the most rules a policy may declare.
	MaxRules = 100000
)

// maxName bounds role, rule, record-type and field names.
const maxName = 64

// Config tunes a [Policy].
type Config struct {
	// DecisionSink, when set, receives every decision [Policy.Check] makes,
	// for an audit trail of access. Defaults to nil: decisions are not
	// recorded and the check pays nothing for it.
	DecisionSink DecisionSink
}

func (c *Config) validate() error { return nil }

// Policy is a validated, compiled permission policy: a [Document] bound to
// an organisation's department tree and turned into indexed tables, so a
// check touches a few slices and integers and never allocates. Build one
// with [New] or [Load]. A Policy is immutable and safe for concurrent use;
// to change permissions build a new one (see [Registry]).
type Policy struct {
	doc   *Document
	tree  *crm.DepartmentTree
	names map[crm.ID]string // department names, for reasons
	// preorder[i] is the department numbered i; list filters turn
	// intervals back into departments with it.
	preorder []crm.ID

	types      []recordType
	typeByName map[crm.RecordType]int

	roles      []role
	roleByName map[string]int

	rules []rule
	// ruleIdx holds rule indices grouped by (role, type, action) bucket,
	// denials first within a bucket; ruleOff[b]:ruleOff[b+1] is bucket b.
	ruleIdx []int32
	ruleOff []int32
	// grants[role*len(types)+type] has bit a set when the role has an
	// allow rule for action a on the type.
	grants []uint16
	// fieldsOf[role*len(types)+type] are the role's field restrictions.
	fieldsOf []fieldRestriction

	bindings []binding
	sink     DecisionSink
}

type recordType struct {
	name   crm.RecordType
	fields []string
	index  map[string]int
	all    FieldSet
	// schema is what rule conditions of the type may test; records holds
	// condition records of it for reuse across checks.
	schema  *cond.Schema
	records *sync.Pool
}

// The fields every record type offers to rule conditions, besides its
// declared fields as "fields.<name>".
const (
	fieldOwner             = "owner_id"
	fieldDepartment        = "department_id"
	fieldCreatorDepartment = "creator_department_id"
	fieldPool              = "pool_id"
	fieldStatus            = "status"
)

type role struct {
	name  string
	where []span // departments where the role applies; nil means everywhere
}

// span is a half-open interval of department pre-order numbers: a single
// department is [o, o+1), a subtree is [lo, hi).
type span struct{ lo, hi int32 }

func (s span) has(o int32) bool { return o >= s.lo && o < s.hi }

func inSpans(spans []span, o int32) bool {
	for _, s := range spans {
		if s.has(o) {
			return true
		}
	}
	return false
}

type rule struct {
	id      string
	role    int32
	rt      int32
	deny    bool
	actions []Action
	scope   Scope
	spans   []span          // custom scope
	pred    *cond.Predicate // the rule's condition; nil when it has none
	cond    *condition      // what list filters can push down of it
	desc    string          // human-readable summary, for reasons
}

// condition is what [Policy.ListFilter] can push down of a rule's
// condition: the departments (owner) and pools it requires, and whether it
// tests anything else (other), which a [crm.DataScope] cannot express.
type condition struct {
	owner []span
	pools []crm.ID
	other bool
}

type fieldRestriction struct{ hidden, readOnly FieldSet }

type binding struct {
	where span
	roles []int
}

// New validates doc against the organisation's departments and compiles
// it. Problems are reported all at once as [crm.ValidationErrors] whose
// fields are paths into the document ("roles[2].rules[0].scope") or into
// departments ("departments[3].parent_id", for unknown parents and
// cycles); the error matches [crm.ErrInvalidArgument]. A nil cfg means
// defaults. doc is copied, so later changes to it do not affect the policy.
func New(doc *Document, departments []*crm.Department, cfg *Config) (*Policy, error) {
	depts, err := departmentValues(departments)
	if err != nil {
		return nil, fmt.Errorf("permission: %w", err)
	}
	return compile(doc, depts, cfg)
}

// departmentValues copies departments as a repository's List returns them
// into values, refusing a nil entry by its index.
func departmentValues(departments []*crm.Department) ([]crm.Department, error) {
	out := make([]crm.Department, len(departments))
	for i, d := range departments {
		if d == nil {
			return nil, crm.Invalid(fmt.Sprintf("departments[%d]", i), "is nil")
		}
		out[i] = *d
	}
	return out, nil
}

// compile is New on departments already copied.
func compile(doc *Document, departments []crm.Department, cfg *Config) (*Policy, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("permission: %w", crm.Invalid("", "policy document is required"))
	}
	tree, err := crm.NewDepartmentTree(departments)
	if err != nil {
		return nil, fmt.Errorf("permission: %w", err)
	}
	c := compiler{p: &Policy{doc: doc.Clone(), tree: tree, sink: cfg.DecisionSink, names: make(map[crm.ID]string, len(departments))}}
	c.p.preorder = make([]crm.ID, tree.Len())
	for i := range departments {
		id := departments[i].ID
		c.p.names[id] = departments[i].Name
		o, _ := tree.Order(id)
		c.p.preorder[o] = id
	}
	c.compile()
	if err := c.probs.Err(); err != nil {
		return nil, fmt.Errorf("permission: %w", err)
	}
	return c.p, nil
}

// Load parses a JSON policy document ([ParseDocument]) and compiles it
// with [New].
func Load(data []byte, departments []*crm.Department, cfg *Config) (*Policy, error) {
	doc, err := ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return New(doc, departments, cfg)
}

// Document returns a copy of the policy's source document.
func (p *Policy) Document() *Document { return p.doc.Clone() }

// Departments returns the department tree the policy was compiled against.
// Decisions and list filters place departments in this tree, not in the
// stored one (see the package documentation on department drift).
func (p *Policy) Departments() *crm.DepartmentTree { return p.tree }

// KnowsDepartment reports whether department id is in the tree the policy
// was compiled against. A department created after compiling is unknown:
// a check denies its records wherever the answer depends on where it sits,
// until the policy is recompiled ([Registry.Reorganise]). It does not
// allocate.
func (p *Policy) KnowsDepartment(id crm.ID) bool { return p.tree.Has(id) }

type compiler struct {
	p       *Policy
	probs   crm.Problems
	ruleIDs map[string]string // rule id -> path of its first use
}

func (c *compiler) add(field, format string, args ...any) {
	c.probs.Add(field, format, args...)
}

func (c *compiler) compile() {
	p, d := c.p, c.p.doc
	c.compileTypes(d.RecordTypes)
	if len(d.Roles) > MaxRoles {
		c.add("roles", "has %d roles, more than %d", len(d.Roles), MaxRoles)
		return
	}
	p.roleByName = make(map[string]int, len(d.Roles))
	for i, r := range d.Roles {
		f := fmt.Sprintf("roles[%d]", i)
		switch {
		case strings.TrimSpace(r.Name) != r.Name || r.Name == "" || len(r.Name) > maxName:
			c.add(f+".name", "must be 1 to %d characters without surrounding spaces", maxName)
		default:
			if _, dup := p.roleByName[r.Name]; dup {
				c.add(f+".name", "repeats role %q", r.Name)
			}
			p.roleByName[r.Name] = i
		}
		p.roles = append(p.roles, role{name: r.Name, where: c.spans(f+".departments", r.Departments, true)})
	}
	nT := len(p.types)
	p.grants = make([]uint16, len(p.roles)*nT)
	p.fieldsOf = make([]fieldRestriction, len(p.roles)*nT)
	c.ruleIDs = make(map[string]string)
	for i, r := range d.Roles {
		for j := range r.Rules {
			c.compileRule(i, j, &r.Rules[j])
		}
		c.compileFields(i, r.Fields)
	}
	if len(p.rules) > MaxRules {
		c.add("roles", "has %d rules, more than %d", len(p.rules), MaxRules)
	}
	for i, b := range d.Bindings {
		f := fmt.Sprintf("bindings[%d]", i)
		sp := c.spans(f+".department", []crm.ID{b.Department}, b.Subtree)
		if len(b.Roles) == 0 {
			c.add(f+".roles", "is required")
		}
		var roles []int
		for k, name := range b.Roles {
			ri, ok := p.roleByName[name]
			if !ok {
				c.add(fmt.Sprintf("%s.roles[%d]", f, k), "unknown role %q", truncate(name, maxName))
				continue
			}
			roles = append(roles, ri)
		}
		if len(sp) == 1 {
			p.bindings = append(p.bindings, binding{where: sp[0], roles: roles})
		}
	}
	if c.probs.Len() == 0 {
		c.index()
	}
}

func (c *compiler) compileTypes(types []RecordTypeDoc) {
	p := c.p
	if len(types) > MaxRecordTypes {
		c.add("record_types", "has %d types, more than %d", len(types), MaxRecordTypes)
		return
	}
	p.typeByName = make(map[crm.RecordType]int, len(types))
	for i, t := range types {
		f := fmt.Sprintf("record_types[%d]", i)
		if !crm.ValidName(string(t.Name)) {
			c.add(f+".name", "must be a lower-case identifier of at most %d characters, got %q", maxName, truncate(string(t.Name), maxName))
		} else if _, dup := p.typeByName[t.Name]; dup {
			c.add(f+".name", "repeats record type %q", t.Name)
		} else {
			p.typeByName[t.Name] = i
		}
		rt := recordType{name: t.Name, fields: t.Fields, index: make(map[string]int, len(t.Fields))}
		if len(t.Fields) > MaxFields {
			c.add(f+".fields", "has %d fields, more than %d", len(t.Fields), MaxFields)
		} else {
			for k, name := range t.Fields {
				ff := fmt.Sprintf("%s.fields[%d]", f, k)
				if !crm.ValidName(name) {
					c.add(ff, "must be a lower-case identifier of at most %d characters, got %q", maxName, truncate(name, maxName))
				} else if _, dup := rt.index[name]; dup {
					c.add(ff, "repeats field %q", name)
				}
				rt.index[name] = k
				rt.all.add(k)
			}
		}
		rt.schema = c.schema(f, t.Fields)
		rt.records = &sync.Pool{}
		p.types = append(p.types, rt)
	}
}

// spans resolves departments to pre-order intervals, reporting unknown and
// missing ones under field.
func (c *compiler) spans(field string, ids []crm.ID, subtree bool) []span {
	if len(ids) == 0 {
		return nil
	}
	out := make([]span, 0, len(ids))
	for k, id := range ids {
		f := field
		if len(ids) > 1 || !strings.HasSuffix(field, ".department") {
			f = fmt.Sprintf("%s[%d]", field, k)
		}
		if id == crm.NilID {
			c.add(f, "is required")
			continue
		}
		lo, hi, ok := c.p.tree.Range(id)
		if !ok {
			c.add(f, "unknown department %s", id)
			continue
		}
		if !subtree {
			hi = lo + 1
		}
		out = append(out, span{lo, hi})
	}
	return out
}

func (c *compiler) recordType(field string, name crm.RecordType) int {
	t, ok := c.p.typeByName[name]
	if !ok {
		if name == "" {
			c.add(field, "is required")
		} else {
			c.add(field, "unknown record type %q", truncate(string(name), maxName))
		}
		return -1
	}
	return t
}

func (c *compiler) compileRule(ri, j int, rd *RuleDoc) {
	p := c.p
	f := fmt.Sprintf("roles[%d].rules[%d]", ri, j)
	ru := rule{id: rd.ID, role: int32(ri)}
	if ru.id == "" {
		ru.id = fmt.Sprintf("%s.rules[%d]", p.roles[ri].name, j)
	} else if len(ru.id) > 200 {
		c.add(f+".id", "must be at most 200 characters")
	}
	if first, dup := c.ruleIDs[ru.id]; dup {
		c.add(f+".id", "repeats rule id %q of %s", truncate(ru.id, maxName), first)
	}
	c.ruleIDs[ru.id] = f
	switch rd.Effect {
	case "", Allow:
	case Deny:
		ru.deny = true
	default:
		c.add(f+".effect", "must be allow or deny, got %q", truncate(string(rd.Effect), 32))
	}
	t := c.recordType(f+".record_type", rd.RecordType)
	ru.rt = int32(t)
	if len(rd.Actions) == 0 {
		c.add(f+".actions", "is required")
	}
	var seen uint16
	for k, a := range rd.Actions {
		if !a.Valid() {
			c.add(fmt.Sprintf("%s.actions[%d]", f, k), "unknown action %d", a)
			continue
		}
		if seen&(1<<a) != 0 {
			c.add(fmt.Sprintf("%s.actions[%d]", f, k), "repeats action %s", a)
		}
		seen |= 1 << a
	}
	ru.scope = rd.Scope
	switch {
	case rd.Scope == "":
		c.add(f+".scope", "is required (own, department, department_tree, all or custom)")
	case !rd.Scope.Valid():
		c.add(f+".scope", "unknown scope %q (want own, department, department_tree, all or custom)", truncate(string(rd.Scope), 32))
	case rd.Scope == ScopeCustom:
		if len(rd.Departments) == 0 {
			c.add(f+".departments", "is required for a custom scope")
		}
		ru.spans = c.spans(f+".departments", rd.Departments, rd.IncludeSubtrees)
	default:
		if len(rd.Departments) > 0 {
			c.add(f+".departments", "is only allowed with a custom scope")
		}
		if rd.IncludeSubtrees {
			c.add(f+".include_subtrees", "is only allowed with a custom scope")
		}
	}
	if rd.When != nil {
		ru.pred, ru.cond = c.condition(f+".when", t, rd.When)
	}
	ru.desc = p.describe(rd, &ru)
	ru.actions = rd.Actions
	p.rules = append(p.rules, ru)
	if t >= 0 && !ru.deny {
		p.grants[ri*len(p.types)+t] |= seen
	}
}

// schema returns the condition schema of a record type with the given
// declared fields.
func (c *compiler) schema(f string, fields []string) *cond.Schema {
	s, err := cond.NewSchema(
		cond.Field{Name: fieldOwner, Kind: cond.KindID},
		cond.Field{Name: fieldDepartment, Kind: cond.KindID, Tree: c.p.tree},
		cond.Field{Name: fieldCreatorDepartment, Kind: cond.KindID, Tree: c.p.tree},
		cond.Field{Name: fieldPool, Kind: cond.KindID},
		cond.Field{Name: fieldStatus, Kind: cond.KindString},
	)
	if err == nil {
		s, err = s.WithCustomFields(cond.CustomFieldPrefix, fields...)
	}
	if err != nil {
		c.add(f+".fields", "%v", err)
		return nil
	}
	return s
}

// condition compiles a rule's condition against its record type t and
// works out what list filters can push down of it.
func (c *compiler) condition(f string, t int, w *cond.Condition) (*cond.Predicate, *condition) {
	if t < 0 || c.p.types[t].schema == nil {
		return nil, nil // the record type is reported already
	}
	pred, err := cond.Compile(c.p.types[t].schema, f, w)
	if err != nil {
		c.probs.Merge(err)
		return nil, nil
	}
	return pred, c.pushdown(w)
}

// pushdown reads the parts of w (w itself, or the parts of a top-level
// all) that a [crm.DataScope] can express: one department test and one
// pool test. Anything else marks the condition other.
func (c *compiler) pushdown(w *cond.Condition) *condition {
	parts := []cond.Condition{*w}
	if w.All != nil {
		parts = w.All
	}
	out := &condition{}
	for i := range parts {
		part := &parts[i]
		lits := part.In
		if part.Equals != nil {
			lits = []json.RawMessage{part.Equals}
		}
		switch {
		case part.Field == fieldDepartment && part.Under != nil && out.owner == nil:
			out.owner = c.treeSpans(literalIDs(part.Under), true)
		case part.Field == fieldDepartment && lits != nil && out.owner == nil:
			out.owner = c.treeSpans(literalIDs(lits), false)
		case part.Field == fieldPool && lits != nil && out.pools == nil:
			out.pools = literalIDs(lits)
		default:
			out.other = true
		}
	}
	if out.owner != nil && len(out.owner) == 0 {
		// Departments the compiled tree does not know: nothing is inside.
		out.owner = []span{}
	}
	return out
}

// treeSpans places departments in the compiled tree; unknown ones cover
// nothing.
func (c *compiler) treeSpans(ids []crm.ID, subtree bool) []span {
	out := make([]span, 0, len(ids))
	for _, id := range ids {
		lo, hi, ok := c.p.tree.Range(id)
		if !ok {
			continue
		}
		if !subtree {
			hi = lo + 1
		}
		out = append(out, span{lo, hi})
	}
	return out
}

// literalIDs reads the ID literals of a compiled condition.
func literalIDs(lits []json.RawMessage) []crm.ID {
	out := make([]crm.ID, 0, len(lits))
	for _, raw := range lits {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		if id, err := crm.ParseID("", s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func (c *compiler) compileFields(ri int, rules []FieldRuleDoc) {
	p := c.p
	nT := len(p.types)
	type key struct {
		t     int
		field string
	}
	seen := make(map[key]bool, len(rules))
	// "*" rules first, then named fields override them.
	for pass := 0; pass < 2; pass++ {
		for k, fr := range rules {
			f := fmt.Sprintf("roles[%d].fields[%d]", ri, k)
			if (fr.Field == "*") != (pass == 0) {
				continue
			}
			t := c.recordType(f+".record_type", fr.RecordType)
			if fr.Access != AccessHidden && fr.Access != AccessReadOnly && fr.Access != AccessEditable {
				c.add(f+".access", "must be hidden, read_only or editable, got %q", truncate(string(fr.Access), 32))
			}
			if t < 0 {
				continue
			}
			rt := &p.types[t]
			var set FieldSet
			if fr.Field == "*" {
				set = rt.all
			} else if i, ok := rt.index[fr.Field]; ok {
				set.add(i)
			} else {
				if fr.Field == "" {
					c.add(f+".field", "is required")
				} else {
					c.add(f+".field", "unknown field %q of record type %q", truncate(fr.Field, maxName), rt.name)
				}
				continue
			}
			if seen[key{t, fr.Field}] {
				c.add(f+".field", "repeats field %q of record type %q", fr.Field, rt.name)
			}
			seen[key{t, fr.Field}] = true
			fx := &p.fieldsOf[ri*nT+t]
			fx.hidden = fx.hidden.without(set)
			fx.readOnly = fx.readOnly.without(set)
			switch fr.Access {
			case AccessHidden:
				fx.hidden = fx.hidden.union(set)
			case AccessReadOnly:
				fx.readOnly = fx.readOnly.union(set)
			}
		}
	}
}

// index builds the (role, type, action) buckets, denials first.
func (c *compiler) index() {
	p := c.p
	nT := len(p.types)
	nB := len(p.roles) * nT * numActions
	p.ruleOff = make([]int32, nB+1)
	bucket := func(ru *rule, a Action) int { return (int(ru.role)*nT+int(ru.rt))*numActions + int(a) }
	// Count, then fill: two passes keep the result in one flat slice.
	for i := range p.rules {
		for _, a := range p.rules[i].actions {
			p.ruleOff[bucket(&p.rules[i], a)+1]++
		}
	}
	for b := 1; b <= nB; b++ {
		p.ruleOff[b] += p.ruleOff[b-1]
	}
	p.ruleIdx = make([]int32, p.ruleOff[nB])
	fill := make([]int32, nB)
	for _, wantDeny := range []bool{true, false} {
		for i := range p.rules {
			if p.rules[i].deny != wantDeny {
				continue
			}
			for _, a := range p.rules[i].actions {
				b := bucket(&p.rules[i], a)
				p.ruleIdx[p.ruleOff[b]+fill[b]] = int32(i)
				fill[b]++
			}
		}
	}
}

// describe summarises a rule for reasons, e.g. "deny edit lead (scope all,
// owner in Sales)".
func (p *Policy) describe(rd *RuleDoc, ru *rule) string {
	var b strings.Builder
	if ru.deny {
		b.WriteString("deny ")
	} else {
		b.WriteString("allow ")
	}
	for i, a := range rd.Actions {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(a.String())
	}
	b.WriteByte(' ')
	b.WriteString(string(rd.RecordType))
	b.WriteString(" in scope ")
	b.WriteString(string(rd.Scope))
	if rd.Scope == ScopeCustom {
		b.WriteString(" [")
		b.WriteString(p.deptNames(rd.Departments))
		if rd.IncludeSubtrees {
			b.WriteString(" and below")
		}
		b.WriteByte(']')
	}
	if pred := ru.pred; pred != nil {
		b.WriteString(" when ")
		b.WriteString(pred.String())
	}
	return b.String()
}

func (p *Policy) deptNames(ids []crm.ID) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = p.deptName(id)
	}
	return strings.Join(out, ", ")
}

func (p *Policy) deptName(id crm.ID) string {
	if n, ok := p.names[id]; ok && n != "" {
		return n
	}
	return id.String()
}

// typeIndex finds a record type without hashing for the usual handful of
// types: comparing a few short strings is cheaper than a map lookup.
func (p *Policy) typeIndex(name crm.RecordType) int {
	if len(p.types) <= 16 {
		for i := range p.types {
			if p.types[i].name == name {
				return i
			}
		}
		return -1
	}
	if i, ok := p.typeByName[name]; ok {
		return i
	}
	return -1
}
