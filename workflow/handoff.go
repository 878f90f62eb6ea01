package workflow

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// ActionSpec is something a transition or an SLA firing asks the host to
// do, returned as data: create a task for another department, notify
// people, route the record with a rule set, or (SLA policies only)
// escalate it.
type ActionSpec struct {
	// Kind is create_task, notify, route or, in an SLA policy, escalate.
	Kind       string `json:"kind"`
	Department crm.ID `json:"department,omitzero"`
	// Title describes the task or notification.
	Title string `json:"title,omitempty"`
	// RuleSet names the routing rule set of a route action.
	RuleSet string `json:"rule_set,omitempty"`
}

// Action kinds.
const (
	ActionCreateTask = "create_task"
	ActionNotify     = "notify"
	ActionRoute      = "route"
	// ActionEscalate asks for a record whose SLA fired to be escalated
	// (package ticket raises a ticket's priority and hands it to a
	// manager). Only SLA policies may name it.
	ActionEscalate = "escalate"
)

// TransitionSpec is one allowed move between stages.
type TransitionSpec struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Guard must match the record; absent means always.
	Guard *cond.Condition `json:"guard,omitempty"`
	// Required fields must be set on the record.
	Required []string `json:"required,omitempty"`
	// Departments may make the move (a department or any below it); empty
	// means anyone.
	Departments []crm.ID     `json:"departments,omitempty"`
	Actions     []ActionSpec `json:"actions,omitempty"`
}

// MachineSpec is the declarative form of a hand-off state machine.
type MachineSpec struct {
	Name        string           `json:"name"`
	RecordType  crm.RecordType   `json:"record_type"`
	Initial     string           `json:"initial"`
	Stages      []string         `json:"stages"`
	Transitions []TransitionSpec `json:"transitions"`
}

// Machine is a validated hand-off state machine: its stages form a graph
// with no cycles in which every stage is reachable from the initial one. It
// is immutable and safe for concurrent use.
type Machine struct {
	spec   MachineSpec
	schema *cond.Schema
	tree   *crm.DepartmentTree
	trans  []compiledTransition
}

type compiledTransition struct {
	spec  *TransitionSpec
	guard *cond.Predicate
}

// ParseMachine decodes a JSON machine strictly and validates it.
func ParseMachine(schema *cond.Schema, tree *crm.DepartmentTree, data []byte) (*Machine, error) {
	var s MachineSpec
	if err := decodeStrict(data, &s); err != nil {
		return nil, fmt.Errorf("workflow: decode machine: %w", err)
	}
	return NewMachine(schema, tree, &s)
}

// NewMachine validates spec: a name and a record type of lower-case
// letters, digits and underscores; known, unique stages; transitions between known
// stages with guards and required fields on the schema; departments in tree
// (nil tree: department guards compare IDs exactly); no cycles; no stage
// unreachable from the initial one. Problems are [crm.ValidationErrors].
func NewMachine(schema *cond.Schema, tree *crm.DepartmentTree, spec *MachineSpec) (*Machine, error) {
	if schema == nil || spec == nil {
		return nil, crm.Invalid("machine", "schema and spec are required")
	}
	var errs crm.ValidationErrors
	add := func(f, format string, args ...any) { errs = append(errs, crm.Invalid(f, format, args...)) }
	m := &Machine{spec: *spec, schema: schema, tree: tree}
	m.spec.Stages = slices.Clone(spec.Stages)
	m.spec.Transitions = slices.Clone(spec.Transitions)
	if !crm.ValidName(spec.Name) {
		add("name", "must be 1-64 lower-case letters, digits or underscores, starting with a letter, got %q", truncate(spec.Name))
	}
	// The record type names the hand-off events ("lead.handed_off").
	if !crm.ValidName(string(spec.RecordType)) {
		add("record_type", "must be 1-64 lower-case letters, digits or underscores, starting with a letter, got %q", truncate(string(spec.RecordType)))
	}
	idx := map[string]int{}
	for i, s := range spec.Stages {
		if !crm.ValidName(s) {
			add(fmt.Sprintf("stages[%d]", i), "must be 1-64 lower-case letters, digits or underscores, starting with a letter")
		} else if _, dup := idx[s]; dup {
			add(fmt.Sprintf("stages[%d]", i), "repeats %q", s)
		}
		idx[s] = i
	}
	if _, ok := idx[spec.Initial]; !ok {
		add("initial", "unknown stage %q", truncate(spec.Initial))
	}
	adj := make([][]int, len(spec.Stages))
	for i := range m.spec.Transitions {
		t := &m.spec.Transitions[i]
		p := fmt.Sprintf("transitions[%d]", i)
		from, okF := idx[t.From]
		to, okT := idx[t.To]
		if !okF {
			add(p+".from", "unknown stage %q", truncate(t.From))
		}
		if !okT {
			add(p+".to", "unknown stage %q", truncate(t.To))
		}
		if okF && okT {
			adj[from] = append(adj[from], to)
		}
		g, err := cond.Compile(schema, p+".guard", t.Guard)
		if es, ok := err.(crm.ValidationErrors); ok {
			errs = append(errs, es...)
		}
		for j, f := range t.Required {
			if _, ok := schema.Field(f); !ok {
				add(fmt.Sprintf("%s.required[%d]", p, j), "unknown field %q", truncate(f))
			}
		}
		for j, d := range t.Departments {
			if tree != nil && !tree.Has(d) {
				add(fmt.Sprintf("%s.departments[%d]", p, j), "unknown department %s", d)
			}
		}
		for j, a := range t.Actions {
			checkAction(fmt.Sprintf("%s.actions[%d]", p, j), a, false, add)
		}
		m.trans = append(m.trans, compiledTransition{spec: t, guard: g})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// Depth-first search from the initial stage: a back edge is a cycle,
	// and stages never visited are unreachable.
	state := make([]uint8, len(spec.Stages)) // 0 new, 1 on stack, 2 done
	var visit func(int) bool
	visit = func(n int) bool {
		state[n] = 1
		for _, k := range adj[n] {
			if state[k] == 1 {
				add("transitions", "stages form a cycle through %q and %q", spec.Stages[n], spec.Stages[k])
				return false
			}
			if state[k] == 0 && !visit(k) {
				return false
			}
		}
		state[n] = 2
		return true
	}
	if visit(idx[spec.Initial]) {
		for i, s := range state {
			if s == 0 {
				add(fmt.Sprintf("stages[%d]", i), "stage %q is unreachable from %q", spec.Stages[i], spec.Initial)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// Handoff is one move recorded in a record's history.
type Handoff struct {
	From       string    `json:"from"`
	To         string    `json:"to"`
	Actor      crm.ID    `json:"actor"`
	Department crm.ID    `json:"department,omitzero"`
	At         time.Time `json:"at"`
	Note       string    `json:"note,omitempty"`
}

// Move asks to move a record to another stage.
type Move struct {
	Record *cond.Record
	// Stage is where the record is now; History its moves so far.
	Stage   string
	History []Handoff
	To      string
	Actor   crm.ID
	// ActorDepartment is the department the actor acts for.
	ActorDepartment crm.ID
	At              time.Time
	Note            string
}

// Outcome is the result of an allowed move: the new stage, the history
// including this move, and the actions the caller performs. The caller
// attaches History to what it creates, so the receiving department sees
// what happened before, and stores [Outcome.Event] in the same unit of
// work.
type Outcome struct {
	Stage   string
	History []Handoff
	Actions []ActionSpec

	machine    string
	recordType crm.RecordType
}

// EventHandedOff is the verb of hand-off events, written after the
// machine's record type: a move of a lead is [EventLeadHandedOff]; any
// record type's is [HandedOffEventType]. The payload is [HandedOffPayload].
const EventHandedOff = "handed_off"

// EventLeadHandedOff is the hand-off event of a lead ([Outcome.Event] of a
// machine for leads), with the lead as subject and the mover as actor;
// payload [HandedOffPayload].
const EventLeadHandedOff crm.EventType = "lead.handed_off"

// HandedOffEventType returns the type of the hand-off event of a record
// type: "<record type>.handed_off".
func HandedOffEventType(rt crm.RecordType) crm.EventType {
	return crm.EventType(string(rt) + "." + EventHandedOff)
}

// HandedOffPayload is the payload of hand-off events ([HandedOffEventType]): the
// machine, the stages moved from and to, the mover's department, the note
// and the actions the receiving side is asked for.
type HandedOffPayload struct {
	Machine    string       `json:"machine"`
	From       string       `json:"from"`
	To         string       `json:"to"`
	Department crm.ID       `json:"department,omitzero"`
	Note       string       `json:"note,omitempty"`
	Actions    []ActionSpec `json:"actions,omitempty"`
}

// Event returns the outbox event of the move for the record with ID
// record: type "<record type>.handed_off", subject the record, actor the
// mover, time the move's, and a payload with the machine, the stages, the
// mover's department, the note and the actions asked for. Relays use it to
// tell the receiving department.
func (o *Outcome) Event(ids crm.IDGenerator, record crm.ID) (crm.Event, error) {
	if ids == nil {
		return crm.Event{}, crm.Invalid("ids", "is required")
	}
	if record == crm.NilID || len(o.History) == 0 {
		return crm.Event{}, crm.Invalid("record", "is required")
	}
	h := o.History[len(o.History)-1]
	typ := HandedOffEventType(o.recordType)
	payload, err := json.Marshal(HandedOffPayload{Machine: o.machine, From: h.From, To: h.To, Department: h.Department, Note: h.Note, Actions: o.Actions})
	if err != nil {
		return crm.Event{}, fmt.Errorf("workflow: encode %s payload: %w", typ, err)
	}
	e := crm.Event{ID: ids.NewID(), Type: typ, Subject: crm.Ref{Type: o.recordType, ID: record}, ActorID: h.Actor, OccurredAt: h.At, Payload: payload}
	return e, e.Validate()
}

// Transition checks a move against the machine and returns its outcome. A
// move that is not a transition, whose guard fails, misses required fields
// or is made from a department not allowed, returns an error matching
// [crm.ErrFailedPrecondition] (or [crm.ErrPermissionDenied] for the
// department) that names the reason. It is pure.
func (m *Machine) Transition(mv *Move) (*Outcome, error) {
	switch {
	case mv == nil || mv.Record == nil:
		return nil, crm.Invalid("record", "is required")
	case mv.Record.Schema() != m.schema:
		return nil, crm.Invalid("record", "was built from another schema than the machine's")
	case mv.Actor == crm.NilID:
		return nil, crm.Invalid("actor", "is required: the history names who moved the record")
	case mv.At.IsZero():
		return nil, crm.Invalid("at", "is required")
	}
	var t *compiledTransition
	for i := range m.trans {
		if m.trans[i].spec.From == mv.Stage && m.trans[i].spec.To == mv.To {
			t = &m.trans[i]
			break
		}
	}
	if t == nil {
		return nil, fmt.Errorf("workflow: %s: no transition from %q to %q: %w", m.spec.Name, mv.Stage, mv.To, crm.ErrFailedPrecondition)
	}
	if len(t.spec.Departments) > 0 && !m.allowed(t.spec.Departments, mv.ActorDepartment) {
		return nil, fmt.Errorf("workflow: %s: department %s may not move %q to %q: %w", m.spec.Name, mv.ActorDepartment, mv.Stage, mv.To, crm.ErrPermissionDenied)
	}
	for _, f := range t.spec.Required {
		if !mv.Record.Has(f) {
			return nil, fmt.Errorf("workflow: %s: field %s is required to move to %q: %w", m.spec.Name, f, mv.To, crm.ErrFailedPrecondition)
		}
	}
	if !t.guard.Match(mv.Record) {
		return nil, fmt.Errorf("workflow: %s: the record does not meet the guard from %q to %q: %w", m.spec.Name, mv.Stage, mv.To, crm.ErrFailedPrecondition)
	}
	h := append(slices.Clone(mv.History), Handoff{From: mv.Stage, To: mv.To, Actor: mv.Actor, Department: mv.ActorDepartment, At: mv.At, Note: mv.Note})
	return &Outcome{Stage: mv.To, History: h, Actions: slices.Clone(t.spec.Actions), machine: m.spec.Name, recordType: m.spec.RecordType}, nil
}

func (m *Machine) allowed(depts []crm.ID, d crm.ID) bool {
	for _, root := range depts {
		if root == d || m.tree != nil && m.tree.Contains(root, d) {
			return true
		}
	}
	return false
}

// Initial returns the machine's initial stage.
func (m *Machine) Initial() string { return m.spec.Initial }
