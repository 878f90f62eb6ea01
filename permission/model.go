package permission

import (
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Action is something a subject wants to do with a record. Actions are a
// small closed set, so a check indexes tables with them instead of
// comparing strings. (It is not a byte, so a JSON string where a list of
// actions belongs is an error rather than base64 data.)
type Action uint16

// The actions a policy grants. The zero Action is invalid and always
// denied.
const (
	ActionView Action = iota + 1
	ActionCreate
	ActionEdit
	ActionDelete
	ActionExport
	ActionAssign
	ActionClaim
	ActionApprove
)

// numActions is one past the largest Action.
const numActions = int(ActionApprove) + 1

var actionNames = [numActions]string{"", "view", "create", "edit", "delete", "export", "assign", "claim", "approve"}

// Actions returns every valid action in declaration order.
func Actions() []Action {
	return []Action{ActionView, ActionCreate, ActionEdit, ActionDelete, ActionExport, ActionAssign, ActionClaim, ActionApprove}
}

// Valid reports whether a is one of the declared actions.
func (a Action) Valid() bool { return a >= ActionView && a <= ActionApprove }

// String returns the action's JSON name, or "invalid".
func (a Action) String() string {
	if a.Valid() {
		return actionNames[a]
	}
	return "invalid"
}

// ParseAction returns the action named s.
func ParseAction(s string) (Action, bool) {
	for i := ActionView; i <= ActionApprove; i++ {
		if actionNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// MarshalText implements [encoding.TextMarshaler].
func (a Action) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("permission: invalid action %d", a)
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (a *Action) UnmarshalText(b []byte) error {
	v, ok := ParseAction(string(b))
	if !ok {
		return fmt.Errorf("unknown action %q (want view, create, edit, delete, export, assign, claim or approve)", truncate(string(b), 32))
	}
	*a = v
	return nil
}

// writes reports whether a changes field values, so read-only fields are
// masked out.
func (a Action) writes() bool { return a == ActionCreate || a == ActionEdit }

// Scope says which records of a type a rule covers, relative to the
// subject.
type Scope string

// The scopes of a rule.
const (
	// ScopeOwn covers records the subject owns.
	ScopeOwn Scope = "own"
	// ScopeDepartment covers records of the subject's home department.
	ScopeDepartment Scope = "department"
	// ScopeDepartmentTree covers records of the subject's home department
	// and every department below it.
	ScopeDepartmentTree Scope = "department_tree"
	// ScopeAll covers every record of the type.
	ScopeAll Scope = "all"
	// ScopeCustom covers records of the departments listed in the rule
	// (and below them when the rule sets include_subtrees).
	ScopeCustom Scope = "custom"
)

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool {
	switch s {
	case ScopeOwn, ScopeDepartment, ScopeDepartmentTree, ScopeAll, ScopeCustom:
		return true
	}
	return false
}

// Effect says whether a matching rule allows or denies.
type Effect string

// The effects of a rule. A matching deny overrides every allow.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Access is what a field rule lets a subject do with one field.
type Access string

// Field access levels.
const (
	// AccessHidden fields are neither shown nor written.
	AccessHidden Access = "hidden"
	// AccessReadOnly fields are shown but not written.
	AccessReadOnly Access = "read_only"
	// AccessEditable fields are shown and written; it overrides a "*" rule
	// of the same role for one field.
	AccessEditable Access = "editable"
)

// Document is a permission policy as data: the JSON form that hosts store,
// version and edit. [New] validates and compiles it against the
// organisation's departments. A Document is a plain value, not safe for
// concurrent mutation; the compiled [Policy] keeps its own copy.
type Document struct {
	// RecordTypes declares the record types rules may name, with their
	// fields (for field-level security and field conditions).
	RecordTypes []RecordTypeDoc `json:"record_types"`
	// Roles declares the roles and what they grant.
	Roles []RoleDoc `json:"roles"`
	// Bindings give roles to every member of a department, in addition to
	// the roles a user holds by name ([crm.User.Roles]).
	Bindings []BindingDoc `json:"bindings,omitempty"`
}

// RecordTypeDoc declares one record type.
type RecordTypeDoc struct {
	// Name is the record type, such as "lead" ([crm.TypeLead]).
	Name crm.RecordType `json:"name"`
	// Fields names the fields that field rules and conditions may refer
	// to, at most 128.
	Fields []string `json:"fields,omitempty"`
}

// RoleDoc declares one role.
type RoleDoc struct {
	// Name identifies the role, as listed in [crm.User.Roles].
	Name string `json:"name"`
	// Description says what the role is for; it is not evaluated.
	Description string `json:"description,omitempty"`
	// Departments restricts where the role applies: a user holds the role
	// only when their home department is one of these or below one. Empty
	// means everywhere.
	Departments []crm.ID `json:"departments,omitempty"`
	// Rules are the role's grants and denials.
	Rules []RuleDoc `json:"rules,omitempty"`
	// Fields are the role's field-level restrictions.
	Fields []FieldRuleDoc `json:"fields,omitempty"`
}

// RuleDoc allows or denies actions on one record type within a scope, when
// every condition holds.
type RuleDoc struct {
	// ID names the rule in decisions. Defaults to "<role>.rules[<index>]".
	ID string `json:"id,omitempty"`
	// Effect is allow or deny. Defaults to allow.
	Effect Effect `json:"effect,omitempty"`
	// RecordType is the record type the rule covers.
	RecordType crm.RecordType `json:"record_type"`
	// Actions are the actions the rule covers; at least one.
	Actions []Action `json:"actions"`
	// Scope says which records the rule covers, relative to the subject.
	Scope Scope `json:"scope"`
	// Departments lists the departments of a custom scope.
	Departments []crm.ID `json:"departments,omitempty"`
	// IncludeSubtrees extends a custom scope to the departments below the
	// listed ones.
	IncludeSubtrees bool `json:"include_subtrees,omitempty"`
	// When narrows the rule to the records meeting a condition of
	// crmkit's one condition language (package cond) on the record type's
	// fields: "owner_id", "department_id" and "creator_department_id"
	// (department IDs, with under for a department and those below it),
	// "pool_id", "status" and "fields.<name>" for the fields the record
	// type declares. Conditions fail closed; see the package documentation.
	When *cond.Condition `json:"when,omitempty"`
}

// FieldRuleDoc restricts one field (or every field, "*") of a record type
// for the role. Within a role a named field overrides "*"; across roles the
// most restrictive access wins, as deny overrides allow.
type FieldRuleDoc struct {
	RecordType crm.RecordType `json:"record_type"`
	Field      string         `json:"field"`
	Access     Access         `json:"access"`
}

// BindingDoc gives roles to every user whose home department is Department
// (or below it, with Subtree).
type BindingDoc struct {
	Department crm.ID   `json:"department"`
	Subtree    bool     `json:"subtree,omitempty"`
	Roles      []string `json:"roles"`
}

// ParseDocument decodes a policy document from JSON with
// [cond.DecodeStrict]: unknown fields, repeated keys
// ({"effect":"deny","effect":"allow"}), wrong types and trailing data are
// refused with their JSON paths, so a misspelt or doubled key is an error
// rather than a silently ignored or overridden rule, and a condition in the
// retired list form ({"owner_departments": [...]}) is refused with the
// condition to write instead. It does not validate references; [New] does.
func ParseDocument(data []byte) (*Document, error) {
	var d Document
	if err := cond.DecodeStrict(data, &d); err != nil {
		return nil, fmt.Errorf("permission: parse policy: %w", err)
	}
	return &d, nil
}

// Clone returns a deep copy of d.
func (d *Document) Clone() *Document {
	if d == nil {
		return nil
	}
	out := &Document{
		RecordTypes: make([]RecordTypeDoc, len(d.RecordTypes)),
		Roles:       make([]RoleDoc, len(d.Roles)),
		Bindings:    make([]BindingDoc, len(d.Bindings)),
	}
	for i, t := range d.RecordTypes {
		t.Fields = slices.Clone(t.Fields)
		out.RecordTypes[i] = t
	}
	for i, r := range d.Roles {
		r.Departments = slices.Clone(r.Departments)
		r.Fields = slices.Clone(r.Fields)
		r.Rules = slices.Clone(r.Rules)
		for j := range r.Rules {
			rule := &r.Rules[j]
			rule.Actions = slices.Clone(rule.Actions)
			rule.Departments = slices.Clone(rule.Departments)
			rule.When = rule.When.Clone()
		}
		out.Roles[i] = r
	}
	for i, b := range d.Bindings {
		b.Roles = slices.Clone(b.Roles)
		out.Bindings[i] = b
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
