package remind

import (
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Kind names a source of reminders. It is part of every firing's key and
// of the [FiredPayload], so a notifier picks its message by it.
type Kind string

// The kinds of reminders a [Sweeper] fires.
const (
	// KindTaskReminder fires once an open task's RemindAt has come, once
	// per RemindAt: a task whose RemindAt moves fires again.
	KindTaskReminder Kind = "task.reminder"
	// KindTaskOverdue fires once an open task's DueAt has passed, once per
	// DueAt: a task whose DueAt moves fires again when the new one passes.
	KindTaskOverdue Kind = "task.overdue"
	// KindApprovalWaiting fires once an active approval step has waited
	// longer than [Config.ApprovalWaiting] on an approver who has not
	// decided, once per step start and approver: a step that starts again
	// (sent back) fires again.
	KindApprovalWaiting Kind = "approval.waiting"
	// KindPoolNotice fires once an owned, unlocked customer of a pool with
	// [pool.Pool.NoticeDays] set will fall back into it
	// ([pool.Holding.DueAt]) within that many days, once per DueAt: a
	// customer whose DueAt moves is told again.
	KindPoolNotice Kind = "pool.notice"
)

// Kinds returns the kinds a [Sweeper] fires, in the order it sweeps them.
func Kinds() []Kind {
	return []Kind{KindTaskReminder, KindTaskOverdue, KindApprovalWaiting, KindPoolNotice}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindTaskReminder, KindTaskOverdue, KindApprovalWaiting, KindPoolNotice:
		return true
	}
	return false
}

// EventFired is written once for every reminder fired, in the unit of
// work that stores its [Firing]. Its subject is the task, the approval
// request or the customer reminded of, and its payload a [FiredPayload].
const EventFired crm.EventType = "reminder.fired"

// FiredPayload is the payload of [EventFired]: what a notifier needs to
// tell the recipient, without loading anything. A plain value: safe for
// concurrent reads.
type FiredPayload struct {
	// Kind is the source of the reminder.
	Kind Kind `json:"kind"`
	// Subject is the task, the approval request or the customer (pool
	// notices) reminded of; the event's subject too.
	Subject crm.Ref `json:"subject"`
	// About is the record the task is about, the record under approval,
	// or for pool notices the customer again.
	About crm.Ref `json:"about"`
	// RecipientID is the task's assignee, the waiting approver or the
	// customer's owner.
	RecipientID crm.ID `json:"recipient_id"`
	// At is the time reminded of: the task's RemindAt, its DueAt, when
	// the approval step started waiting, or when the customer falls back
	// into its pool. A moved time is a new reminder.
	At time.Time `json:"at"`
	// Title is the task's title; empty for approvals and pool notices.
	Title string `json:"title,omitempty"`
	// Step names the waiting approval step; empty for tasks and pool
	// notices.
	Step string `json:"step,omitempty"`
	// PoolID is the pool a noticed customer falls back into; NilID for
	// other kinds.
	PoolID crm.ID `json:"pool_id,omitzero"`
	// NoticeDays is the pool's [pool.Pool.NoticeDays] when the notice
	// fired: the "N days" of "falls back within N days". 0 for other
	// kinds.
	NoticeDays int `json:"notice_days,omitempty"`
}

// Due is one reminder due to fire: what a [Store] lists for tasks and
// pool notices and what the [Sweeper] derives from waiting approvals. Its key (the
// context's tenant, Kind, Subject.ID, At, Part) is what fires once. A
// plain value: safe for concurrent reads.
type Due struct {
	Kind Kind
	// Subject is the task, the approval request or the customer.
	Subject crm.Ref
	// About is the record the subject is about.
	About crm.Ref
	// RecipientID is who is reminded.
	RecipientID crm.ID
	// At is the time the reminder is for (see [FiredPayload.At]).
	At time.Time
	// Part tells apart reminders of one subject at one At: "<step>/<approver
	// ID>" for approvals, empty for tasks and pool notices.
	Part string
	// Title is the task's title; empty for approvals and pool notices.
	Title string
	// Step names the waiting approval step; empty for tasks and pool
	// notices.
	Step string
	// PoolID is the noticed customer's pool; NilID for other kinds.
	PoolID crm.ID
	// NoticeDays is the pool's notice period (see
	// [FiredPayload.NoticeDays]); 0 for other kinds.
	NoticeDays int
}

// Firing is the stored record that a reminder fired. Its key is (TenantID,
// Kind, SubjectID, At, Part), unique in storage, so a reminder fires at
// most once whatever number of sweeps run. A plain value: safe for
// concurrent reads.
type Firing struct {
	// TenantID is set by the store from the context.
	TenantID  string    `json:"tenant_id,omitempty"`
	Kind      Kind      `json:"kind"`
	SubjectID crm.ID    `json:"subject_id"`
	At        time.Time `json:"at"`
	Part      string    `json:"part,omitempty"`
	// RecipientID is who was reminded.
	RecipientID crm.ID `json:"recipient_id"`
	// EventID is the [EventFired] event written with the firing.
	EventID crm.ID `json:"event_id"`
	// FiredAt is the sweep's now.
	FiredAt time.Time `json:"fired_at"`
}

// MaxPart bounds [Firing.Part] in bytes.
const MaxPart = 200

// Validate reports every invalid field of f as [crm.ValidationErrors].
// Adapters call it before storing a firing.
func (f *Firing) Validate() error {
	var p crm.Problems
	if !f.Kind.Valid() {
		p.Add("kind", "unknown reminder kind %q", truncate(string(f.Kind), 32))
	}
	if f.SubjectID == crm.NilID {
		p.Add("subject.id", "is required")
	}
	if f.At.IsZero() {
		p.Add("at", "is required")
	}
	if len(f.Part) > MaxPart {
		p.Add("part", "is longer than %d bytes", MaxPart)
	}
	if f.EventID == crm.NilID {
		p.Add("event_id", "is required")
	}
	if f.FiredAt.IsZero() {
		p.Add("fired_at", "is required")
	}
	return p.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
