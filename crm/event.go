package crm

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event records a state change that happened, named in the past tense
// ("customer.claimed"). Domain operations write events in the same unit of
// work as the change (a transactional outbox), so an event is stored if and
// only if its change is. Safe for concurrent reads.
type Event struct {
	// ID identifies the event; consumers use it to de-duplicate.
	ID       ID     `json:"id"`
	TenantID string `json:"tenant_id,omitempty"`
	// Seq is assigned by the store when the event is written and increases
	// with every event. Events of one subject are stored in change order, so
	// their Seqs increase in that order. Across subjects, events of
	// concurrently committed units of work may become visible out of Seq
	// order, so relays acknowledge by ID, never by a Seq watermark.
	Seq int64 `json:"seq"`
	// Type is "<record type>.<past-tense verb>", e.g. "lead.converted"; it
	// names the payload's type.
	Type EventType `json:"type"`
	// Subject is the record that changed.
	Subject Ref `json:"subject"`
	// ActorID is the user who caused the change, NilID for the system.
	ActorID    ID        `json:"actor_id,omitzero"`
	OccurredAt time.Time `json:"occurred_at"`
	// Payload is the event's JSON body, defined by the event type; empty
	// for types without one. Decode it with [DecodePayload].
	Payload json.RawMessage `json:"payload,omitempty"`
}

// EventType names a kind of event: "<record type>.<past-tense verb>" in
// lower-case letters, digits and underscores, such as "customer.claimed".
// Each type crmkit writes is a documented constant of the package that
// writes it, next to the exported struct its payload decodes into (the
// root package crmkit lists them all: crmkit.EventTypes, crmkit.PayloadOf).
// Stored events keep the plain string.
type EventType string

// Record returns the record type before the first dot ("lead" for
// "lead.routed").
func (t EventType) Record() RecordType {
	rec, _, _ := strings.Cut(string(t), ".")
	return RecordType(rec)
}

// Verb returns what happened, after the first dot ("routed" for
// "lead.routed"); empty when there is no dot.
func (t EventType) Verb() string {
	_, verb, _ := strings.Cut(string(t), ".")
	return verb
}

// RecordTypes returns the shared record types, in a fixed order.
func RecordTypes() []RecordType {
	return []RecordType{TypeLead, TypeCustomer, TypeContact, TypeOpportunity, TypeActivity,
		TypeTicket, TypeUser, TypeDepartment, TypeTeam, TypeTask}
}

// The verbs of change events.
const (
	VerbCreated = "created"
	VerbUpdated = "updated"
	VerbDeleted = "deleted"
)

// ChangeEventType returns the change event type of record type t and verb
// ([VerbCreated], [VerbUpdated] or [VerbDeleted]): "customer.updated".
func ChangeEventType(t RecordType, verb string) EventType {
	return EventType(string(t) + "." + verb)
}

// IsChange reports whether t is a change event of a shared record:
// "<record type>.created", ".updated" or ".deleted", whose payload is a
// [ChangedPayload].
func (t EventType) IsChange() bool {
	switch t.Verb() {
	case VerbCreated, VerbUpdated, VerbDeleted:
		return t.Record().Valid()
	}
	return false
}

// Change events: every create, update and delete of a shared record made
// through a recording unit of work (package history; crmkit's CRM records
// every write it makes) appends "<record type>.created", ".updated" or
// ".deleted" with a [ChangedPayload] listing the changed fields, in the
// unit of work of the change. The constants name the common ones; the
// rest are [ChangeEventType] of any type of [RecordTypes]. Domain events
// say why a record changed ("customer.claimed", "lead.converted") and
// carry their own payloads.
const (
	EventLeadCreated        EventType = "lead.created"
	EventLeadUpdated        EventType = "lead.updated"
	EventCustomerCreated    EventType = "customer.created"
	EventCustomerUpdated    EventType = "customer.updated"
	EventCustomerDeleted    EventType = "customer.deleted"
	EventContactCreated     EventType = "contact.created"
	EventContactUpdated     EventType = "contact.updated"
	EventOpportunityCreated EventType = "opportunity.created"
	EventOpportunityUpdated EventType = "opportunity.updated"
	EventActivityCreated    EventType = "activity.created"
	EventTicketCreated      EventType = "ticket.created"
	EventTicketUpdated      EventType = "ticket.updated"
)

// EventActivityRecorded is reserved for hosts that announce follow-ups in
// their own words; crmkit itself does not write it (a stored activity's
// change event is [EventActivityCreated]).
const EventActivityRecorded EventType = "activity.recorded"

// NoPayload is the payload type of events that carry none: their Payload
// is empty, and [DecodePayload] into NoPayload accepts only an empty
// payload or {}.
type NoPayload struct{}

// DecodePayload decodes e's payload into a T, strictly ([DecodeStrict]): a
// key that names no field of T, a repeated key or a value of the wrong JSON
// type is an error matching [ErrInvalidArgument]. An empty payload decodes
// to T's zero value. T is the payload struct the event type's constant
// names (e.g. pool.ClaimedPayload for "customer.claimed"); decoding into
// the wrong struct usually fails on the first unknown key.
func DecodePayload[T any](e Event) (T, error) {
	var v T
	if len(e.Payload) == 0 {
		return v, nil
	}
	if err := DecodeStrict(e.Payload, &v); err != nil {
		return v, fmt.Errorf("crm: decode %s payload of event %s: %w", truncate(string(e.Type), 64), e.ID, err)
	}
	return v, nil
}

const maxEventPayload = 1 << 20

// NewEvent builds an event with an ID from ids and a time from clock;
// payload is encoded as JSON (nil means no payload).
func NewEvent(ids IDGenerator, clock Clock, typ EventType, subject Ref, actor ID, payload any) (Event, error) {
	e := Event{ID: ids.NewID(), Type: typ, Subject: subject, ActorID: actor, OccurredAt: clock.Now()}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return Event{}, fmt.Errorf("crm: encode %s payload: %w", typ, err)
		}
		e.Payload = b
	}
	return e, e.Validate()
}

// Validate reports every invalid field.
func (e *Event) Validate() error {
	var v Problems
	if e.ID == NilID {
		v.Add("id", "is required")
	}
	if !validEventType(string(e.Type)) {
		v.Add("type", "must be \"<record>.<verb>\" in lower-case letters, digits and underscores, got %q", truncate(string(e.Type), 64))
	}
	if e.Subject.Type == "" {
		v.Add("subject.type", "is required")
	}
	if e.Subject.ID == NilID {
		v.Add("subject.id", "is required")
	}
	if e.OccurredAt.IsZero() {
		v.Add("occurred_at", "is required")
	}
	if len(e.Payload) > maxEventPayload {
		v.Add("payload", "larger than %d bytes", maxEventPayload)
	} else if len(e.Payload) > 0 && !json.Valid(e.Payload) {
		v.Add("payload", "is not valid JSON")
	}
	return v.Err()
}

func validEventType(s string) bool {
	if len(s) < 3 || len(s) > 100 {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '.' && i > 0 && i < len(s)-1 && s[i-1] != '.':
			dots++
		default:
			return false
		}
	}
	return dots >= 1
}
