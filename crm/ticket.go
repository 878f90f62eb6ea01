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

// TicketStatus is where a service case stands.
type TicketStatus string

// Ticket statuses.
const (
	TicketOpen     TicketStatus = "open"
	TicketPending  TicketStatus = "pending" // waiting on the customer
	TicketResolved TicketStatus = "resolved"
	TicketClosed   TicketStatus = "closed"
)

// Valid reports whether s is a known status.
func (s TicketStatus) Valid() bool {
	switch s {
	case TicketOpen, TicketPending, TicketResolved, TicketClosed:
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
	ResolvedAt   *time.Time     `json:"resolved_at,omitempty"`
	Fields       Fields         `json:"fields,omitempty"`
}

// RecordType returns [TypeTicket].
func (*Ticket) RecordType() RecordType { return TypeTicket }

// Clone returns a deep copy.
func (t *Ticket) Clone() *Ticket {
	out := *t
	out.ResolvedAt = clonePtr(t.ResolvedAt)
	out.Fields = t.Fields.Clone()
	return &out
}

// Normalise defaults priority and status and brings times to storage
// precision.
func (t *Ticket) Normalise() {
	if t.Priority == "" {
		t.Priority = PriorityNormal
	}
	if t.Status == "" {
		t.Status = TicketOpen
	}
	t.ResolvedAt = storageTimePtr(t.ResolvedAt)
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
	v.Prefix = "fields."
	v.Merge(t.Fields.Validate())
	return v.Err()
}
