package workflow

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Duration is a [time.Duration] written in JSON as "8h" or "30m".
type Duration time.Duration

// MarshalJSON encodes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON decodes "8h30m" style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return crm.Invalid("duration", "want a string such as \"8h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return crm.Invalid("duration", "not a duration: %q", truncate(s))
	}
	*d = Duration(v)
	return nil
}

// ApproverSpec names who approves: exactly one of a user, a role, a
// department manager, or a record field holding a user ID. Whatever the
// kind, the submitter never approves their own request: they are left out
// when approvers are resolved at submission.
type ApproverSpec struct {
	User crm.ID `json:"user,omitzero"`
	// Role resolves to every active user with the role.
	Role string `json:"role,omitempty"`
	// DepartmentManager resolves through the department tree.
	DepartmentManager *ManagerSpec `json:"department_manager,omitempty"`
	// Field names an ID field of the record holding the approver, such as
	// "owner_id".
	Field string `json:"field,omitempty"`
}

// ManagerSpec resolves a department manager. The submitter's own
// department is used unless Department names an ID field of the record.
// LevelsUp 0 is the nearest manager who is not the submitter, 1 the
// manager above that, and so on up the tree.
type ManagerSpec struct {
	Department string `json:"department,omitempty"`
	LevelsUp   int    `json:"levels_up,omitempty"`
}

// Approval rules for steps with several approvers.
const (
	// RuleAny: the first decision decides the step (或签).
	RuleAny = "any"
	// RuleAll: everyone must approve; one rejection rejects (会签).
	RuleAll = "all"
	// RuleQuorum: Quorum approvals approve; the step is rejected once
	// Quorum can no longer be reached.
	RuleQuorum = "quorum"
)

// Where a rejection sends the request.
const (
	// RejectToSubmitter ends the request as rejected.
	RejectToSubmitter = "submitter"
	// RejectToPreviousStep sends it back to the steps before (or ends it
	// when there are none).
	RejectToPreviousStep = "previous_step"
)

// Timeout actions.
const (
	// TimeoutRemind sends an "approval.reminded" event naming who is late.
	TimeoutRemind = "remind"
	// TimeoutEscalate adds the step's escalation approvers as tasks; the
	// first decision by one of them settles the step whatever its rule,
	// since they answer for the approvers who stayed silent.
	TimeoutEscalate = "escalate"
	// TimeoutApprove and TimeoutReject decide every open task of the step.
	TimeoutApprove = "approve"
	TimeoutReject  = "reject"
)

// TimeoutSpec says what happens when a step waits longer than its timeout.
type TimeoutSpec struct {
	// Action is remind, escalate, approve or reject.
	Action string `json:"action"`
	// To is who an escalation adds as approvers.
	To *ApproverSpec `json:"to,omitempty"`
	// Every repeats a reminder this long after each one (business time
	// when the engine has a calendar) until the step settles; at least one
	// minute. Only remind repeats. Defaults to 0: remind once.
	Every Duration `json:"every,omitempty"`
}

// StepSpec is one step of an approval chain.
type StepSpec struct {
	Name string `json:"name"`
	// When includes the step only for matching records, for thresholds such
	// as {"field": "discount_percent", "range": {"gt": 10}}. Absent means
	// always.
	When      *cond.Condition `json:"when,omitempty"`
	Approvers []ApproverSpec  `json:"approvers"`
	// Rule is any, all or quorum. Defaults to any.
	Rule   string `json:"rule,omitempty"`
	Quorum int    `json:"quorum,omitempty"`
	// Parallel runs the step together with the step before it.
	Parallel bool `json:"parallel,omitempty"`
	// OnReject is submitter or previous_step. Defaults to submitter.
	OnReject string `json:"on_reject,omitempty"`
	// Timeout is how long the step may wait, in business time when the
	// engine has a calendar; 0 means no timeout.
	Timeout   Duration     `json:"timeout,omitempty"`
	OnTimeout *TimeoutSpec `json:"on_timeout,omitempty"`
}

// DefinitionSpec is the declarative form of an approval chain, as stored in
// JSON.
type DefinitionSpec struct {
	// Key names the chain ("quote_discount"); Version increases with every
	// change. Running requests keep the version they started with.
	Key        string         `json:"key"`
	Version    int            `json:"version"`
	RecordType crm.RecordType `json:"record_type"`
	// Entry decides which records need this approval; absent means all.
	Entry *cond.Condition `json:"entry,omitempty"`
	Steps []StepSpec      `json:"steps"`
}

// Definition is a validated, compiled approval chain. It is immutable and
// safe for concurrent use.
type Definition struct {
	spec   DefinitionSpec
	schema *cond.Schema
	entry  *cond.Predicate
	steps  []compiledStep
}

type compiledStep struct {
	spec  *StepSpec
	when  *cond.Predicate
	stage int
}

// ParseDefinition decodes a JSON definition strictly and validates it.
func ParseDefinition(schema *cond.Schema, org *Org, data []byte) (*Definition, error) {
	var s DefinitionSpec
	if err := decodeStrict(data, &s); err != nil {
		return nil, fmt.Errorf("workflow: decode approval definition: %w", err)
	}
	return NewDefinition(schema, org, &s)
}

// NewDefinition validates spec against the record schema and, when org is
// not nil, against the organisation: a step whose approvers can never
// resolve to anyone (an unknown user, a role nobody has) is refused here.
// Every problem is reported as [crm.ValidationErrors] naming the field, such
// as "steps[1].approvers[0].role".
func NewDefinition(schema *cond.Schema, org *Org, spec *DefinitionSpec) (*Definition, error) {
	if schema == nil || spec == nil {
		return nil, crm.Invalid("definition", "schema and spec are required")
	}
	var probs crm.Problems
	add, merge := probs.Add, probs.Merge
	d := &Definition{spec: *spec, schema: schema}
	merge(spec.CheckStorable())
	entry, err := cond.Compile(schema, "entry", spec.Entry)
	merge(err)
	d.entry = entry
	if len(spec.Steps) == 0 {
		add("steps", "needs at least one step")
	}
	names := map[string]bool{}
	stage := -1
	for i := range spec.Steps {
		s := &spec.Steps[i]
		p := fmt.Sprintf("steps[%d]", i)
		if !crm.ValidName(s.Name) {
			add(p+".name", "must be 1-64 lower-case letters, digits or underscores, starting with a letter")
		} else if names[s.Name] {
			add(p+".name", "repeats %q", s.Name)
		}
		names[s.Name] = true
		when, err := cond.Compile(schema, p+".when", s.When)
		merge(err)
		if !s.Parallel || i == 0 {
			stage++
		}
		if s.Parallel && i == 0 {
			add(p+".parallel", "the first step has no step before it to run with")
		}
		if len(s.Approvers) == 0 {
			add(p+".approvers", "no possible approver: list at least one")
		}
		for j := range s.Approvers {
			checkApprover(schema, org, fmt.Sprintf("%s.approvers[%d]", p, j), &s.Approvers[j], add)
		}
		switch s.Rule {
		case "", RuleAny, RuleAll:
			if s.Quorum != 0 {
				add(p+".quorum", "only a quorum rule has a quorum")
			}
		case RuleQuorum:
			if s.Quorum < 1 {
				add(p+".quorum", "must be at least 1")
			}
		default:
			add(p+".rule", "unknown rule %q; want any, all or quorum", truncate(s.Rule))
		}
		switch s.OnReject {
		case "", RejectToSubmitter, RejectToPreviousStep:
		default:
			add(p+".on_reject", "unknown target %q; want submitter or previous_step", truncate(s.OnReject))
		}
		if s.Timeout < 0 {
			add(p+".timeout", "must not be negative")
		}
		if t := s.OnTimeout; t != nil {
			if s.Timeout == 0 {
				add(p+".timeout", "is required with on_timeout")
			}
			if t.Every != 0 && (t.Action != TimeoutRemind || t.Every < Duration(time.Minute)) {
				add(p+".on_timeout.every", "repeats only a reminder, at least a minute apart")
			}
			switch t.Action {
			case TimeoutRemind, TimeoutApprove, TimeoutReject:
				if t.To != nil {
					add(p+".on_timeout.to", "only escalate has a target")
				}
			case TimeoutEscalate:
				if t.To == nil {
					add(p+".on_timeout.to", "is required to escalate")
				} else {
					checkApprover(schema, org, p+".on_timeout.to", t.To, add)
				}
			default:
				add(p+".on_timeout.action", "unknown action %q; want remind, escalate, approve or reject", truncate(t.Action))
			}
		}
		d.steps = append(d.steps, compiledStep{spec: s, when: when, stage: stage})
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

func checkApprover(schema *cond.Schema, org *Org, p string, a *ApproverSpec, add func(string, string, ...any)) {
	n := 0
	if a.User != crm.NilID {
		n++
		if org != nil && !org.active(a.User) {
			add(p+".user", "no possible approver: %s is not an active user", a.User)
		}
	}
	if a.Role != "" {
		n++
		if org != nil && !anyActive(org, org.roles[a.Role]) {
			add(p+".role", "no possible approver: no active user has role %q", truncate(a.Role))
		}
	}
	if m := a.DepartmentManager; m != nil {
		n++
		if m.LevelsUp < 0 {
			add(p+".department_manager.levels_up", "must not be negative")
		}
		if m.Department != "" {
			if f, ok := schema.Field(m.Department); !ok || f.Kind != cond.KindID {
				add(p+".department_manager.department", "%q is not an id field of the schema", truncate(m.Department))
			}
		}
		if org != nil && org.tree == nil {
			add(p+".department_manager", "no possible approver: the organisation has no department tree")
		}
	}
	if a.Field != "" {
		n++
		if f, ok := schema.Field(a.Field); !ok || f.Kind != cond.KindID {
			add(p+".field", "%q is not an id field of the schema", truncate(a.Field))
		}
	}
	if n != 1 {
		add(p, "set exactly one of user, role, department_manager or field")
	}
}

func anyActive(o *Org, ids []crm.ID) bool {
	for _, id := range ids {
		if o.active(id) {
			return true
		}
	}
	return false
}

// Key returns the definition's key.
func (d *Definition) Key() string { return d.spec.Key }

// Version returns the definition's version.
func (d *Definition) Version() int { return d.spec.Version }

// Applies reports whether rec meets the entry criteria.
func (d *Definition) Applies(rec *cond.Record) bool { return d.entry.Match(rec) }

// resolve returns the active users an approver spec names for a request,
// leaving out the submitter: nobody approves their own request.
func (o *Org) resolve(a *ApproverSpec, rec *cond.Record, submitter crm.ID) []crm.ID {
	var out []crm.ID
	addUser := func(id crm.ID) {
		if o.active(id) && id != submitter && !containsID(out, id) {
			out = append(out, id)
		}
	}
	switch {
	case a.User != crm.NilID:
		addUser(a.User)
	case a.Role != "":
		for _, id := range o.roles[a.Role] {
			addUser(id)
		}
	case a.DepartmentManager != nil:
		dept := crm.NilID
		if a.DepartmentManager.Department != "" {
			dept, _ = rec.ID(a.DepartmentManager.Department)
		} else if u, ok := o.users[submitter]; ok {
			dept = u.DepartmentID
		}
		if m, ok := o.managerOf(dept, a.DepartmentManager.LevelsUp, submitter); ok {
			addUser(m)
		}
	case a.Field != "":
		if id, ok := rec.ID(a.Field); ok {
			addUser(id)
		}
	}
	return out
}

func containsID(ids []crm.ID, id crm.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func describe(a *ApproverSpec) string {
	switch {
	case a.User != crm.NilID:
		return "user " + a.User.String()
	case a.Role != "":
		return "role " + a.Role
	case a.DepartmentManager != nil:
		return fmt.Sprintf("department manager (%d levels up)", a.DepartmentManager.LevelsUp)
	default:
		return "field " + a.Field
	}
}
