package crm

import (
	"strings"
	"time"
)

// TicketPriority orders service cases by urgency.
type TicketPriority string

// Ticket priorities.
const (
	PriorityLow    TicketPriority = "low"
	PriorityNormal TicketPriority = "normal"
	PriorityHigh   TicketPriority = "high"
	PriorityUrgent TicketPriority = "urgent"
)

// Valid reports whether p is a known priority.
func (p TicketPriority) Valid() bool {
	switch p {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return true
	}
	return false
}

// TicketStatus is where a service case stands. A ticket moves new → open
// → pending → resolved → closed; package ticket holds the rules of which
// moves are allowed.
type TicketStatus string

// Ticket statuses.
const (
	// TicketNew is a ticket nobody has answered yet: the status of a new
	// ticket.
	TicketNew      TicketStatus = "new"
	TicketOpen     TicketStatus = "open"
	TicketPending  TicketStatus = "pending" // waiting on the customer
	TicketResolved TicketStatus = "resolved"
	TicketClosed   TicketStatus = "closed"
)

// Valid reports whether s is a known status.
func (s TicketStatus) Valid() bool {
	switch s {
	case TicketNew, TicketOpen, TicketPending, TicketResolved, TicketClosed:
		return true
	}
	return false
}

// Ticket is a service case raised by or for a customer. Safe for concurrent
// reads.
type Ticket struct {
	Meta
	CustomerID   ID             `json:"customer_id,omitzero"`
	ContactID    ID             `json:"contact_id,omitzero"`
	Subject      string         `json:"subject"`
	Description  string         `json:"description,omitempty"`
	Priority     TicketPriority `json:"priority"`
	Status       TicketStatus   `json:"status"`
	AssigneeID   ID             `json:"assignee_id,omitzero"`
	TeamID       ID             `json:"team_id,omitzero"`
	DepartmentID ID             `json:"department_id,omitzero"`
	// ResolvedAt is when the ticket was last resolved; ClosedAt when it
	// was closed; FirstResponseAt when an agent first answered it.
	ResolvedAt      *time.Time `json:"resolved_at,omitempty"`
	ClosedAt        *time.Time `json:"closed_at,omitempty"`
	FirstResponseAt *time.Time `json:"first_response_at,omitempty"`
	// Satisfaction is the customer's score given at close, from 1 (worst)
	// to 5 (best); 0 when none was given.
	Satisfaction int `json:"satisfaction,omitempty"`
	// SLATimerID names the SLA timer (package workflow) that measures the
	// ticket's current run; NilID when no timer runs on it. It is a timer,
	// not a record: [References] does not list it.
	SLATimerID ID `json:"sla_timer_id,omitzero"`
	// SLADueAt is the deadline of the SLA timer running on the ticket,
	// its place in the work queue of tickets by SLA due time; nil while no
	// timer runs (no policy, paused while pending, stopped at resolution).
	// A breached timer that still runs keeps the deadline it missed, so
	// overdue tickets head the queue. Package ticket's service owns it and
	// sets it with every change of the timer; hosts that write tickets
	// directly leave it as they read it. Storage keeps it at storage
	// precision and checks nothing else.
	SLADueAt *time.Time `json:"sla_due_at,omitempty"`
	Fields   Fields     `json:"fields,omitempty"`
}

// Satisfaction scores: a ticket's [Ticket.Satisfaction] is 0 (none) or
// between these.
const (
	MinSatisfaction = 1
	MaxSatisfaction = 5
)

// RecordType returns [TypeTicket].
func (*Ticket) RecordType() RecordType { return TypeTicket }

// Clone returns a deep copy.
func (t *Ticket) Clone() *Ticket {
	out := *t
	out.ResolvedAt = clonePtr(t.ResolvedAt)
	out.ClosedAt = clonePtr(t.ClosedAt)
	out.FirstResponseAt = clonePtr(t.FirstResponseAt)
	out.SLADueAt = clonePtr(t.SLADueAt)
	out.Fields = t.Fields.Clone()
	return &out
}

// Normalise defaults priority (normal) and status ([TicketNew]) and brings
// times to storage precision.
func (t *Ticket) Normalise() {
	if t.Priority == "" {
		t.Priority = PriorityNormal
	}
	if t.Status == "" {
		t.Status = TicketNew
	}
	t.ResolvedAt = storageTimePtr(t.ResolvedAt)
	t.ClosedAt = storageTimePtr(t.ClosedAt)
	t.FirstResponseAt = storageTimePtr(t.FirstResponseAt)
	t.SLADueAt = storageTimePtr(t.SLADueAt)
}

// Validate reports every invalid field.
func (t *Ticket) Validate() error {
	var v Problems
	t.Meta.validate(&v)
	if strings.TrimSpace(t.Subject) == "" {
		v.Add("subject", "is required")
	} else {
		checkText(&v, "subject", t.Subject, maxName)
	}
	optional(&v, "description", t.Description, maxText)
	if t.Priority != "" && !t.Priority.Valid() {
		v.Add("priority", "unknown priority %q", truncate(string(t.Priority), 32))
	}
	if t.Status != "" && !t.Status.Valid() {
		v.Add("status", "unknown ticket status %q", truncate(string(t.Status), 32))
	}
	if t.Satisfaction != 0 && (t.Satisfaction < MinSatisfaction || t.Satisfaction > MaxSatisfaction) {
		v.Add("satisfaction", "must be between %d and %d, or 0 for none, got %d", MinSatisfaction, MaxSatisfaction, t.Satisfaction)
	}
	v.Prefix = "fields."
	v.Merge(t.Fields.Validate())
	return v.Err()
}
