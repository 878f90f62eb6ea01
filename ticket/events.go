package ticket

import (
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Ticket event types written by [Service], each with the ticket as subject
// and the acting user (NilID for the system) as actor. They say why a
// ticket changed; what changed is in the change events ("ticket.created",
// "ticket.updated", [crm.ChangedPayload]) a recording unit of work
// appends.
const (
	// EventTicketRaised: a ticket was stored through [Service.Create];
	// payload [RaisedPayload].
	EventTicketRaised crm.EventType = "ticket.raised"
	// EventTicketOpened: a new or pending ticket moved to open; payload
	// [OpenedPayload].
	EventTicketOpened crm.EventType = "ticket.opened"
	// EventTicketSuspended: the ticket waits on the customer and its SLA
	// timer is paused; payload [SuspendedPayload].
	EventTicketSuspended crm.EventType = "ticket.suspended"
	// EventTicketResolved: the ticket was resolved and its SLA timer
	// stopped; payload [ResolvedPayload].
	EventTicketResolved crm.EventType = "ticket.resolved"
	// EventTicketClosed: the ticket was closed, with the customer's
	// satisfaction score if one was given; payload [ClosedPayload].
	EventTicketClosed crm.EventType = "ticket.closed"
	// EventTicketReopened: a resolved ticket moved back to open within
	// the reopen window and a new SLA timer started; payload
	// [ReopenedPayload].
	EventTicketReopened crm.EventType = "ticket.reopened"
	// EventTicketResponded: an agent answered the ticket for the first
	// time ([Service.Respond]); payload [RespondedPayload].
	EventTicketResponded crm.EventType = "ticket.responded"
	// EventTicketReassigned: an SLA firing's route action gave the ticket
	// to another agent or a queue; payload [ReassignedPayload].
	EventTicketReassigned crm.EventType = "ticket.reassigned"
	// EventTicketEscalated: an SLA firing's escalate action raised the
	// ticket's priority or handed it to a manager; payload
	// [EscalatedPayload].
	EventTicketEscalated crm.EventType = "ticket.escalated"
)

// What a move did to the ticket's SLA timer ([MovedPayload.Timer]).
const (
	TimerStarted = "started"
	TimerPaused  = "paused"
	TimerResumed = "resumed"
	TimerStopped = "stopped"
)

// MovedPayload is the payload of a status move: from where to where, who
// made it and when, and what it did to the ticket's SLA timer.
type MovedPayload struct {
	TicketID crm.ID           `json:"ticket_id"`
	From     crm.TicketStatus `json:"from"`
	To       crm.TicketStatus `json:"to"`
	Actor    crm.ID           `json:"actor,omitzero"`
	At       time.Time        `json:"at"`
	Reason   string           `json:"reason,omitempty"`
	// Satisfaction is the score given at close (1-5); 0 when none was.
	Satisfaction int `json:"satisfaction,omitempty"`
	// FirstResponse is true when the move was the ticket's first answer
	// by an agent (FirstResponseAt was set to At).
	FirstResponse bool `json:"first_response,omitempty"`
	// TimerID is the SLA timer the move started, paused, resumed or
	// stopped, as Timer says; empty when the move left every timer alone.
	TimerID crm.ID `json:"timer_id,omitzero"`
	Timer   string `json:"timer,omitempty"`
}

// Payload types of the status events, one name per event type.
type (
	// OpenedPayload is the payload of [EventTicketOpened].
	OpenedPayload = MovedPayload
	// SuspendedPayload is the payload of [EventTicketSuspended].
	SuspendedPayload = MovedPayload
	// ResolvedPayload is the payload of [EventTicketResolved].
	ResolvedPayload = MovedPayload
	// ClosedPayload is the payload of [EventTicketClosed].
	ClosedPayload = MovedPayload
	// ReopenedPayload is the payload of [EventTicketReopened].
	ReopenedPayload = MovedPayload
	// RespondedPayload is the payload of [EventTicketResponded]; From and
	// To are equal unless the answer opened a new ticket.
	RespondedPayload = MovedPayload
)

// RaisedPayload is the payload of [EventTicketRaised]: the ticket's
// priority and the SLA timer that started with it.
type RaisedPayload struct {
	TicketID crm.ID             `json:"ticket_id"`
	Priority crm.TicketPriority `json:"priority"`
	Actor    crm.ID             `json:"actor,omitzero"`
	// Policy and TimerID name the SLA policy and the timer started under
	// it; empty when no policy applies. DueAt is when it breaches.
	Policy  string     `json:"policy,omitempty"`
	TimerID crm.ID     `json:"timer_id,omitzero"`
	DueAt   *time.Time `json:"due_at,omitempty"`
}

// FiringRef names the SLA firing an action carried out.
type FiringRef struct {
	TimerID crm.ID `json:"timer_id"`
	Policy  string `json:"policy"`
	// Kind is workflow.FiringWarning or workflow.FiringBreach.
	Kind string `json:"kind"`
}

// ReassignedPayload is the payload of [EventTicketReassigned]: who had the
// ticket, who has it now (NilID: nobody; Queue then names the queue the
// router chose), and the routing decision.
type ReassignedPayload struct {
	TicketID crm.ID    `json:"ticket_id"`
	Firing   FiringRef `json:"firing"`
	From     crm.ID    `json:"from,omitzero"`
	To       crm.ID    `json:"to,omitzero"`
	Queue    string    `json:"queue,omitempty"`
	RuleSet  string    `json:"rule_set"`
	Rule     string    `json:"rule,omitempty"`
}

// EscalatedPayload is the payload of [EventTicketEscalated]: the priority
// and the assignee before and after.
type EscalatedPayload struct {
	TicketID     crm.ID             `json:"ticket_id"`
	Firing       FiringRef          `json:"firing"`
	FromPriority crm.TicketPriority `json:"from_priority"`
	ToPriority   crm.TicketPriority `json:"to_priority"`
	FromAssignee crm.ID             `json:"from_assignee,omitzero"`
	ToAssignee   crm.ID             `json:"to_assignee,omitzero"`
}

// EventType returns the event type of a move from from to to:
// [EventTicketReopened] for resolved → open, else the event of the
// status moved to.
func EventType(from, to crm.TicketStatus) crm.EventType {
	switch to {
	case crm.TicketOpen:
		if statusOr(from) == crm.TicketResolved {
			return EventTicketReopened
		}
		return EventTicketOpened
	case crm.TicketPending:
		return EventTicketSuspended
	case crm.TicketResolved:
		return EventTicketResolved
	case crm.TicketClosed:
		return EventTicketClosed
	}
	return EventTicketOpened
}
