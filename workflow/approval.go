package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// RecordTypeApproval is the subject type of approval events.
const RecordTypeApproval crm.RecordType = "approval"

// Approval event types, with the approval request ([RecordTypeApproval],
// the [Instance]'s ID) as subject. Each payload is the struct of the same
// name without "Event" and with "Payload" ([ApprovalSubmittedPayload] for [EventApprovalSubmitted]),
// which embeds the [ApprovalSubject].
const (
	// EventApprovalSubmitted: a request was submitted; actor the submitter.
	EventApprovalSubmitted crm.EventType = "approval.submitted"
	// EventApprovalStepApproved: a step was approved; actor the approver
	// who completed it.
	EventApprovalStepApproved crm.EventType = "approval.step_approved"
	// EventApprovalApproved: the request was approved, by its last step or,
	// with no step applying, on submission (actor the system).
	EventApprovalApproved crm.EventType = "approval.approved"
	// EventApprovalRejected: a step rejected the request.
	EventApprovalRejected crm.EventType = "approval.rejected"
	// EventApprovalSentBack: a step's rejection sent the request back to
	// an earlier step.
	EventApprovalSentBack crm.EventType = "approval.sent_back"
	// EventApprovalRecalled: the submitter recalled the request.
	EventApprovalRecalled crm.EventType = "approval.recalled"
	// EventApprovalDelegated: an approver handed their task to someone.
	EventApprovalDelegated crm.EventType = "approval.delegated"
	// EventApprovalReassigned: an administrator moved a task to someone.
	EventApprovalReassigned crm.EventType = "approval.reassigned"
	// EventApprovalCommented: someone commented on the request.
	EventApprovalCommented crm.EventType = "approval.commented"
	// EventApprovalReminded: a step timed out and its pending approvers
	// are reminded ([TimeoutRemind]); actor the system.
	EventApprovalReminded crm.EventType = "approval.reminded"
	// EventApprovalEscalated: a step timed out and was escalated
	// ([TimeoutEscalate]); actor the system.
	EventApprovalEscalated crm.EventType = "approval.escalated"
)

// ApprovalSubject is the part every approval event's payload shares: the
// record under approval and the definition it follows.
type ApprovalSubject struct {
	Record            crm.Ref `json:"record"`
	Definition        string  `json:"definition"`
	DefinitionVersion int     `json:"definition_version"`
}

// ApprovalSubmittedPayload is the payload of [EventApprovalSubmitted].
type ApprovalSubmittedPayload struct {
	ApprovalSubject
	// Steps names the steps that apply, in order; empty when none does
	// (the request is approved at once).
	Steps []string `json:"steps"`
}

// ApprovalStepApprovedPayload is the payload of [EventApprovalStepApproved].
type ApprovalStepApprovedPayload struct {
	ApprovalSubject
	Step string `json:"step"`
}

// ApprovalApprovedPayload is the payload of [EventApprovalApproved].
type ApprovalApprovedPayload struct {
	ApprovalSubject
	// Reason is "no step applies" for a request approved on submission,
	// empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// ApprovalRejectedPayload is the payload of [EventApprovalRejected].
type ApprovalRejectedPayload struct {
	ApprovalSubject
	Step string `json:"step"`
}

// ApprovalSentBackPayload is the payload of [EventApprovalSentBack].
type ApprovalSentBackPayload struct {
	ApprovalSubject
	// Step is the step whose rejection sent the request back.
	Step string `json:"step"`
}

// ApprovalRecalledPayload is the payload of [EventApprovalRecalled].
type ApprovalRecalledPayload struct {
	ApprovalSubject
	Reason string `json:"reason"`
}

// ApprovalDelegatedPayload is the payload of [EventApprovalDelegated].
type ApprovalDelegatedPayload struct {
	ApprovalSubject
	Step string `json:"step"`
	From crm.ID `json:"from"`
	To   crm.ID `json:"to"`
}

// ApprovalReassignedPayload is the payload of [EventApprovalReassigned].
type ApprovalReassignedPayload struct {
	ApprovalSubject
	Step string `json:"step"`
	From crm.ID `json:"from"`
	To   crm.ID `json:"to"`
}

// ApprovalCommentedPayload is the payload of [EventApprovalCommented].
type ApprovalCommentedPayload struct {
	ApprovalSubject
	Text string `json:"text"`
}

// ApprovalRemindedPayload is the payload of [EventApprovalReminded].
type ApprovalRemindedPayload struct {
	ApprovalSubject
	Step string `json:"step"`
	// Approvers are the step's approvers who have not decided.
	Approvers []crm.ID `json:"approvers"`
}

// ApprovalEscalatedPayload is the payload of [EventApprovalEscalated].
type ApprovalEscalatedPayload struct {
	ApprovalSubject
	Step string `json:"step"`
	// To are the users the step escalated to.
	To []crm.ID `json:"to"`
	// WaitingOn are the step's approvers who had not decided.
	WaitingOn []crm.ID `json:"waiting_on"`
}

// ApprovalStatus is where an approval request stands.
type ApprovalStatus string

// Approval statuses. Only pending requests accept decisions.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalRejected ApprovalStatus = "rejected"
	ApprovalRecalled ApprovalStatus = "recalled"
)

// StepStatus is where one step stands.
type StepStatus string

// Step statuses.
const (
	StepWaiting  StepStatus = "waiting"
	StepActive   StepStatus = "active"
	StepApproved StepStatus = "approved"
	StepRejected StepStatus = "rejected"
)

// Decision values of a task.
const (
	Approved = "approved"
	Rejected = "rejected"
)

// Task is one approver's part of a step.
type Task struct {
	Approver crm.ID `json:"approver"`
	// OnBehalfOf is the original approver when Approver acts by delegation
	// or reassignment.
	OnBehalfOf crm.ID    `json:"on_behalf_of,omitzero"`
	Decision   string    `json:"decision,omitempty"`
	DecidedAt  time.Time `json:"decided_at,omitzero"`
	Comment    string    `json:"comment,omitempty"`
	// Escalated marks a task added by a timeout escalation.
	Escalated bool `json:"escalated,omitempty"`
}

// StepState is one step of a running request, with everything it needs
// copied in at submission so later edits of the definition do not change
// it.
type StepState struct {
	Name      string   `json:"name"`
	Stage     int      `json:"stage"`
	Rule      string   `json:"rule"`
	Quorum    int      `json:"quorum,omitempty"`
	OnReject  string   `json:"on_reject"`
	Approvers []crm.ID `json:"approvers"`
	Timeout   Duration `json:"timeout,omitempty"`
	OnTimeout string   `json:"on_timeout,omitempty"`
	// RemindEvery repeats a timeout reminder this often; 0 reminds once.
	RemindEvery Duration   `json:"remind_every,omitempty"`
	Escalate    []crm.ID   `json:"escalate,omitempty"`
	Status      StepStatus `json:"status"`
	Tasks       []Task     `json:"tasks,omitempty"`
	StartedAt   time.Time  `json:"started_at,omitzero"`
	DueAt       time.Time  `json:"due_at,omitzero"`
	TimedOut    bool       `json:"timed_out,omitempty"`
}

// Comment is a remark on a request by anyone involved.
type Comment struct {
	Author crm.ID    `json:"author"`
	At     time.Time `json:"at"`
	Text   string    `json:"text"`
}

// Instance is one approval request. Methods of [Approvals] change it; on
// error it is left exactly as it was. Not safe for concurrent mutation:
// storage adapters serialise changes by Version.
type Instance struct {
	ID                crm.ID         `json:"id"`
	TenantID          string         `json:"tenant_id,omitempty"`
	Version           int64          `json:"version"`
	Definition        string         `json:"definition"`
	DefinitionVersion int            `json:"definition_version"`
	Record            crm.Ref        `json:"record"`
	Submitter         crm.ID         `json:"submitter"`
	Status            ApprovalStatus `json:"status"`
	// Stage is the index of the running stage (steps with equal Stage run in
	// parallel).
	Stage       int         `json:"stage"`
	Steps       []StepState `json:"steps"`
	Comments    []Comment   `json:"comments,omitempty"`
	SubmittedAt time.Time   `json:"submitted_at"`
	FinishedAt  time.Time   `json:"finished_at,omitzero"`
}

// IsLocked reports whether the record under approval is locked against
// edits: true while the request is pending.
func (in *Instance) IsLocked() bool { return in.Status == ApprovalPending }

// Finished reports whether the request reached a final status.
func (in *Instance) Finished() bool { return in.Status != ApprovalPending }

// Clone returns a deep copy.
func (in *Instance) Clone() *Instance {
	out := *in
	out.Steps = slices.Clone(in.Steps)
	for i := range out.Steps {
		s := &out.Steps[i]
		s.Approvers = slices.Clone(s.Approvers)
		s.Escalate = slices.Clone(s.Escalate)
		s.Tasks = slices.Clone(s.Tasks)
	}
	out.Comments = slices.Clone(in.Comments)
	return &out
}

// PendingApprovers returns who may decide now, in step order.
func (in *Instance) PendingApprovers() []crm.ID {
	var out []crm.ID
	if in.Finished() {
		return nil
	}
	for i := range in.Steps {
		s := &in.Steps[i]
		if s.Status != StepActive {
			continue
		}
		for _, t := range s.Tasks {
			if t.Decision == "" && !containsID(out, t.Approver) {
				out = append(out, t.Approver)
			}
		}
	}
	return out
}

// ApprovalsConfig configures [Approvals]. The zero value and nil are valid.
type ApprovalsConfig struct {
	// Clock tells the time of decisions and deadlines. Defaults to
	// crm.SystemClock.
	Clock crm.Clock
	// IDs makes event IDs. Defaults to crm.UUIDv7 on Clock.
	IDs crm.IDGenerator
	// Calendar measures step timeouts in business hours. Defaults to nil:
	// timeouts in elapsed time.
	Calendar *calendar.Calendar
	// MaxCommentLength bounds comments, in characters. Defaults to 2000.
	MaxCommentLength int
}

func (c *ApprovalsConfig) validate() error {
	if c.MaxCommentLength < 0 {
		return crm.Invalid("max_comment_length", "must not be negative")
	}
	return nil
}

// Approvals runs approval requests: submission, decisions, delegation,
// recall and timeouts. Its methods are pure apart from the injected clock
// and ID generator: they change the [Instance] and return the [crm.Event]
// values the caller stores in the same unit of work. It is safe for
// concurrent use.
type Approvals struct {
	ids   crm.IDGenerator
	clock crm.Clock
	org   *Org
	cfg   ApprovalsConfig
}

// NewApprovals returns an approval engine resolving approvers in org,
// with the clock, IDs and limits of cfg (nil for the defaults).
func NewApprovals(org *Org, cfg *ApprovalsConfig) (*Approvals, error) {
	if org == nil {
		return nil, crm.Invalid("org", "is required")
	}
	c := ApprovalsConfig{}
	if cfg != nil {
		c = *cfg
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("workflow: approvals config: %w", err)
	}
	if c.MaxCommentLength == 0 {
		c.MaxCommentLength = 2000
	}
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	return &Approvals{ids: c.IDs, clock: c.Clock, org: org, cfg: c}, nil
}

// change runs fn on a copy of in and commits the copy only when fn
// succeeds, so a failed operation leaves nothing half-done.
func (a *Approvals) change(in *Instance, fn func(x *Instance, ev *events) error) ([]crm.Event, error) {
	if in == nil {
		return nil, crm.Invalid("instance", "is required")
	}
	if in.Finished() {
		return nil, fmt.Errorf("workflow: approval %s is %s: %w", in.ID, in.Status, crm.ErrFailedPrecondition)
	}
	x := in.Clone()
	ev := &events{a: a, in: x}
	if err := fn(x, ev); err != nil {
		return nil, err
	}
	if ev.err != nil {
		return nil, ev.err
	}
	*in = *x
	return ev.list, nil
}

type events struct {
	a    *Approvals
	in   *Instance
	list []crm.Event
	err  error
}

// subject returns the shared part of the instance's event payloads.
func (e *events) subject() ApprovalSubject {
	return ApprovalSubject{Record: e.in.Record, Definition: e.in.Definition, DefinitionVersion: e.in.DefinitionVersion}
}

// add appends an event of typ; payload is typ's payload struct, built on
// [events.subject].
func (e *events) add(typ crm.EventType, actor crm.ID, payload any) {
	if e.err != nil {
		return
	}
	ev, err := crm.NewEvent(e.a.ids, e.a.clock, typ, crm.Ref{Type: RecordTypeApproval, ID: e.in.ID}, actor, payload)
	if err != nil {
		e.err = err
		return
	}
	ev.TenantID = e.in.TenantID
	e.list = append(e.list, ev)
}

// Submit starts an approval of the record ref (whose rule view is rec) by
// submitter under def. Steps whose When does not match are left out; the
// approvers of the remaining steps are resolved now and kept, as is the
// definition version. The submitter is never one of them, nor anyone's
// delegate: nobody approves their own request. It returns [crm.ErrFailedPrecondition] when the record
// does not meet the entry criteria, and a [*crm.ValidationError] naming the
// step when a step resolves to no active approver.
func (a *Approvals) Submit(def *Definition, rec *cond.Record, ref crm.Ref, submitter crm.ID) (*Instance, []crm.Event, error) {
	switch {
	case def == nil:
		return nil, nil, crm.Invalid("definition", "is required")
	case rec == nil || rec.Schema() != def.schema:
		return nil, nil, crm.Invalid("record", "is required and must be of the definition's schema")
	case ref.Type == "" || ref.ID == crm.NilID:
		return nil, nil, crm.Invalid("record_ref", "is required")
	case !a.org.active(submitter):
		return nil, nil, crm.Invalid("submitter", "%s is not an active user", submitter)
	case ref.Type != def.spec.RecordType:
		return nil, nil, crm.Invalid("record_ref.type", "definition %s approves %s records, not %s", def.spec.Key, def.spec.RecordType, ref.Type)
	}
	if !def.entry.Match(rec) {
		return nil, nil, fmt.Errorf("workflow: %s %s does not meet the entry criteria of %s: %w", ref.Type, ref.ID, def.spec.Key, crm.ErrFailedPrecondition)
	}
	now := a.clock.Now()
	in := &Instance{ID: a.ids.NewID(), Definition: def.spec.Key, DefinitionVersion: def.spec.Version, Record: ref,
		Submitter: submitter, Status: ApprovalPending, SubmittedAt: now}
	var errs crm.ValidationErrors
	stage, lastStage := -1, -1
	for i, cs := range def.steps {
		if !cs.when.Match(rec) {
			continue
		}
		s := cs.spec
		if cs.stage != lastStage {
			stage++
			lastStage = cs.stage
		}
		st := StepState{Name: s.Name, Stage: stage, Rule: s.Rule, Quorum: s.Quorum, OnReject: s.OnReject, Timeout: s.Timeout, Status: StepWaiting}
		if st.Rule == "" {
			st.Rule = RuleAny
		}
		if st.OnReject == "" {
			st.OnReject = RejectToSubmitter
		}
		for j := range s.Approvers {
			for _, id := range a.org.resolve(&s.Approvers[j], rec, submitter) {
				if !containsID(st.Approvers, id) {
					st.Approvers = append(st.Approvers, id)
				}
			}
		}
		p := fmt.Sprintf("steps[%d]", i)
		if len(st.Approvers) == 0 {
			names := make([]string, len(s.Approvers))
			for j := range s.Approvers {
				names[j] = describe(&s.Approvers[j])
			}
			errs = append(errs, crm.Invalid(p+".approvers", "no possible approver for step %s: %s resolve to no active user other than the submitter", s.Name, strings.Join(names, ", ")))
		}
		if st.Rule == RuleQuorum && st.Quorum > len(st.Approvers) {
			errs = append(errs, crm.Invalid(p+".quorum", "step %s needs %d approvals but only %d approvers resolve", s.Name, st.Quorum, len(st.Approvers)))
		}
		if t := s.OnTimeout; t != nil {
			st.OnTimeout, st.RemindEvery = t.Action, t.Every
			if t.To != nil {
				st.Escalate = a.org.resolve(t.To, rec, submitter)
				if len(st.Escalate) == 0 {
					errs = append(errs, crm.Invalid(p+".on_timeout.to", "step %s escalates to %s, who resolves to no active user other than the submitter", s.Name, describe(t.To)))
				}
			}
		}
		in.Steps = append(in.Steps, st)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	ev := &events{a: a, in: in}
	steps := make([]string, len(in.Steps))
	for i := range in.Steps {
		steps[i] = in.Steps[i].Name
	}
	ev.add(EventApprovalSubmitted, submitter, ApprovalSubmittedPayload{ApprovalSubject: ev.subject(), Steps: steps})
	if len(in.Steps) == 0 {
		// No threshold reached: approved on submission.
		in.Status, in.FinishedAt = ApprovalApproved, now
		ev.add(EventApprovalApproved, crm.NilID, ApprovalApprovedPayload{ApprovalSubject: ev.subject(), Reason: "no step applies"})
	} else if err := a.activate(in, 0, now); err != nil {
		return nil, nil, err
	}
	if ev.err != nil {
		return nil, nil, ev.err
	}
	return in, ev.list, nil
}

// activate starts every step of stage: tasks for its approvers (or their
// delegates) and its due time.
func (a *Approvals) activate(in *Instance, stage int, now time.Time) error {
	in.Stage = stage
	for i := range in.Steps {
		s := &in.Steps[i]
		if s.Stage != stage {
			continue
		}
		s.Status, s.StartedAt, s.DueAt, s.TimedOut = StepActive, now, time.Time{}, false
		s.Tasks = s.Tasks[:0]
		for _, u := range s.Approvers {
			t := Task{Approver: a.org.delegateOf(u, now, in.Submitter)}
			if t.Approver != u {
				t.OnBehalfOf = u
			}
			s.Tasks = append(s.Tasks, t)
		}
		if s.Timeout > 0 {
			due, err := a.after(now, s.Timeout)
			if err != nil {
				return fmt.Errorf("workflow: approval step %s due time: %w", s.Name, err)
			}
			s.DueAt = due
		}
	}
	return nil
}

// after returns the instant d after t, in business time when the engine
// has a calendar.
func (a *Approvals) after(t time.Time, d Duration) (time.Time, error) {
	if a.cfg.Calendar == nil {
		return t.Add(time.Duration(d)), nil
	}
	return a.cfg.Calendar.Add(t, time.Duration(d))
}

func (a *Approvals) comment(field, text string) error {
	if n := len([]rune(text)); n > a.cfg.MaxCommentLength {
		return crm.Invalid(field, "is %d characters, more than %d", n, a.cfg.MaxCommentLength)
	}
	return nil
}

// openTask finds actor's undecided task in an active step.
func openTask(in *Instance, actor crm.ID) (*StepState, *Task, error) {
	for i := range in.Steps {
		s := &in.Steps[i]
		if s.Status != StepActive {
			continue
		}
		for j := range s.Tasks {
			if t := &s.Tasks[j]; t.Approver == actor && t.Decision == "" {
				return s, t, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("workflow: approval %s has no open task for %s: %w", in.ID, actor, crm.ErrPermissionDenied)
}

// Approve records actor's approval. A finished request is
// [crm.ErrFailedPrecondition]; an actor with no open task is
// [crm.ErrPermissionDenied].
func (a *Approvals) Approve(in *Instance, actor crm.ID, comment string) ([]crm.Event, error) {
	return a.decide(in, actor, Approved, comment)
}

// Reject records actor's rejection; where the request goes depends on the
// step's OnReject.
func (a *Approvals) Reject(in *Instance, actor crm.ID, comment string) ([]crm.Event, error) {
	return a.decide(in, actor, Rejected, comment)
}

func (a *Approvals) decide(in *Instance, actor crm.ID, decision, comment string) ([]crm.Event, error) {
	if err := a.comment("comment", comment); err != nil {
		return nil, err
	}
	return a.change(in, func(x *Instance, ev *events) error {
		s, t, err := openTask(x, actor)
		if err != nil {
			return err
		}
		now := a.clock.Now()
		t.Decision, t.DecidedAt, t.Comment = decision, now, comment
		return a.settle(x, s, actor, now, ev)
	})
}

// settle applies the step's rule after a decision and moves the request on.
func (a *Approvals) settle(x *Instance, s *StepState, actor crm.ID, now time.Time, ev *events) error {
	approvals, rejections := 0, 0
	escalated := ""
	for _, t := range s.Tasks {
		switch t.Decision {
		case Approved:
			approvals++
		case Rejected:
			rejections++
		}
		if t.Escalated && t.Decision != "" && escalated == "" {
			escalated = t.Decision
		}
	}
	n := len(s.Tasks)
	outcome := ""
	switch {
	case escalated != "":
		// An escalation approver answers for everyone who stayed silent:
		// their decision settles the step whatever its rule, or an all
		// step would still wait on the approver it escalated from.
		outcome = escalated
	case s.Rule == RuleAny:
		if approvals > 0 {
			outcome = Approved
		} else if rejections > 0 {
			outcome = Rejected
		}
	case s.Rule == RuleAll:
		if rejections > 0 {
			outcome = Rejected
		} else if approvals == n {
			outcome = Approved
		}
	case s.Rule == RuleQuorum:
		if approvals >= s.Quorum {
			outcome = Approved
		} else if n-rejections < s.Quorum {
			outcome = Rejected
		}
	}
	switch outcome {
	case Approved:
		s.Status = StepApproved
		ev.add(EventApprovalStepApproved, actor, ApprovalStepApprovedPayload{ApprovalSubject: ev.subject(), Step: s.Name})
		for i := range x.Steps {
			if x.Steps[i].Stage == x.Stage && x.Steps[i].Status != StepApproved {
				return nil // a parallel step of this stage is still open
			}
		}
		if x.Stage+1 > x.Steps[len(x.Steps)-1].Stage {
			x.Status, x.FinishedAt = ApprovalApproved, now
			ev.add(EventApprovalApproved, actor, ApprovalApprovedPayload{ApprovalSubject: ev.subject()})
			return nil
		}
		return a.activate(x, x.Stage+1, now)
	case Rejected:
		s.Status = StepRejected
		if s.OnReject == RejectToPreviousStep && x.Stage > 0 {
			for i := range x.Steps {
				if x.Steps[i].Stage == x.Stage {
					x.Steps[i].Status = StepWaiting
				}
			}
			ev.add(EventApprovalSentBack, actor, ApprovalSentBackPayload{ApprovalSubject: ev.subject(), Step: s.Name})
			return a.activate(x, x.Stage-1, now)
		}
		for i := range x.Steps {
			if x.Steps[i].Status == StepActive {
				x.Steps[i].Status = StepWaiting
			}
		}
		x.Status, x.FinishedAt = ApprovalRejected, now
		ev.add(EventApprovalRejected, actor, ApprovalRejectedPayload{ApprovalSubject: ev.subject(), Step: s.Name})
	}
	return nil
}

// Recall withdraws a pending request; only the submitter may.
func (a *Approvals) Recall(in *Instance, actor crm.ID, reason string) ([]crm.Event, error) {
	if err := a.comment("reason", reason); err != nil {
		return nil, err
	}
	return a.change(in, func(x *Instance, ev *events) error {
		if actor != x.Submitter {
			return fmt.Errorf("workflow: only the submitter may recall approval %s: %w", x.ID, crm.ErrPermissionDenied)
		}
		x.Status, x.FinishedAt = ApprovalRecalled, a.clock.Now()
		for i := range x.Steps {
			if x.Steps[i].Status == StepActive {
				x.Steps[i].Status = StepWaiting
			}
		}
		ev.add(EventApprovalRecalled, actor, ApprovalRecalledPayload{ApprovalSubject: ev.subject(), Reason: reason})
		return nil
	})
}

// Delegate hands actor's open task to another active user, who then acts on
// actor's behalf.
func (a *Approvals) Delegate(in *Instance, actor, to crm.ID) ([]crm.Event, error) {
	return a.change(in, func(x *Instance, ev *events) error {
		s, t, err := openTask(x, actor)
		if err != nil {
			return err
		}
		if err := a.handOver(x, s, t, to); err != nil {
			return err
		}
		ev.add(EventApprovalDelegated, actor, ApprovalDelegatedPayload{ApprovalSubject: ev.subject(), Step: s.Name, From: actor, To: to})
		return nil
	})
}

// Reassign moves from's open task to another active user; actor is whoever
// the host allowed to do so (an administrator, the submitter's manager).
func (a *Approvals) Reassign(in *Instance, actor, from, to crm.ID) ([]crm.Event, error) {
	return a.change(in, func(x *Instance, ev *events) error {
		s, t, err := openTask(x, from)
		if err != nil {
			return err
		}
		if err := a.handOver(x, s, t, to); err != nil {
			return err
		}
		ev.add(EventApprovalReassigned, actor, ApprovalReassignedPayload{ApprovalSubject: ev.subject(), Step: s.Name, From: from, To: to})
		return nil
	})
}

// handOver gives task t of step s to another user. The new approver must
// be active, must not be the submitter (nobody approves their own request)
// and must hold no task in the step yet, decided or not: otherwise one
// person could count twice towards an all or quorum rule.
func (a *Approvals) handOver(x *Instance, s *StepState, t *Task, to crm.ID) error {
	if !a.org.active(to) {
		return crm.Invalid("to", "%s is not an active user", to)
	}
	if to == x.Submitter {
		return crm.Invalid("to", "%s submitted the request and cannot approve it", to)
	}
	if hasTask(s, to) {
		return crm.Invalid("to", "%s already has a task in step %s", to, s.Name)
	}
	if t.OnBehalfOf == crm.NilID {
		t.OnBehalfOf = t.Approver
	}
	t.Approver = to
	return nil
}

// hasTask reports whether user holds a task in step s, decided or not.
func hasTask(s *StepState, user crm.ID) bool {
	for i := range s.Tasks {
		if s.Tasks[i].Approver == user {
			return true
		}
	}
	return false
}

// AddComment adds a remark by anyone involved; it does not change the flow.
func (a *Approvals) AddComment(in *Instance, actor crm.ID, text string) ([]crm.Event, error) {
	if strings.TrimSpace(text) == "" {
		return nil, crm.Invalid("text", "is required")
	}
	if err := a.comment("text", text); err != nil {
		return nil, err
	}
	return a.change(in, func(x *Instance, ev *events) error {
		x.Comments = append(x.Comments, Comment{Author: actor, At: a.clock.Now(), Text: text})
		ev.add(EventApprovalCommented, actor, ApprovalCommentedPayload{ApprovalSubject: ev.subject(), Text: text})
		return nil
	})
}

// Tick applies step timeouts due at now: it reminds, escalates (adding the
// escalation approvers as tasks), or decides automatically, once per step
// activation; a reminder with on_timeout.every repeats that long after
// each one until the step settles. It is idempotent: a second Tick at the
// same now returns no events. A finished request is
// [crm.ErrFailedPrecondition].
func (a *Approvals) Tick(in *Instance, now time.Time) ([]crm.Event, error) {
	return a.change(in, func(x *Instance, ev *events) error {
		for i := range x.Steps {
			s := &x.Steps[i]
			if s.Status != StepActive || s.DueAt.IsZero() || now.Before(s.DueAt) || s.TimedOut || x.Finished() {
				continue
			}
			pending := make([]crm.ID, 0, len(s.Tasks))
			for _, t := range s.Tasks {
				if t.Decision == "" {
					pending = append(pending, t.Approver)
				}
			}
			if s.OnTimeout == TimeoutRemind && s.RemindEvery > 0 {
				// The next reminder counts from now, so a late Tick sends
				// one reminder, not one for every period it missed.
				next, err := a.after(now, s.RemindEvery)
				if err != nil {
					return fmt.Errorf("workflow: approval step %s next reminder: %w", s.Name, err)
				}
				s.DueAt = next
			} else {
				s.TimedOut = true
			}
			switch s.OnTimeout {
			case TimeoutRemind:
				ev.add(EventApprovalReminded, crm.NilID, ApprovalRemindedPayload{ApprovalSubject: ev.subject(), Step: s.Name, Approvers: pending})
			case TimeoutEscalate:
				for _, u := range s.Escalate {
					// Someone who already holds a task in the step, decided
					// or not, gets no second vote.
					if to := a.org.delegateOf(u, now, x.Submitter); !hasTask(s, to) {
						s.Tasks = append(s.Tasks, Task{Approver: to, Escalated: true})
					}
				}
				ev.add(EventApprovalEscalated, crm.NilID, ApprovalEscalatedPayload{ApprovalSubject: ev.subject(), Step: s.Name, To: s.Escalate, WaitingOn: pending})
			case TimeoutApprove, TimeoutReject:
				decision := Approved
				if s.OnTimeout == TimeoutReject {
					decision = Rejected
				}
				for j := range s.Tasks {
					if t := &s.Tasks[j]; t.Decision == "" {
						t.Decision, t.DecidedAt, t.Comment = decision, now, "decided automatically after the timeout"
					}
				}
				if err := a.settle(x, s, crm.NilID, now, ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
