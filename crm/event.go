package crm

import (
	"encoding/json"
	"fmt"
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
	// Type is "<record type>.<past-tense verb>", e.g. "lead.converted".
	Type string `json:"type"`
	// Subject is the record that changed.
	Subject Ref `json:"subject"`
	// ActorID is the user who caused the change, NilID for the system.
	ActorID    ID        `json:"actor_id,omitzero"`
	OccurredAt time.Time `json:"occurred_at"`
	// Payload is the event's JSON body, defined by the event type.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Event types for the shared records. Domain packages define their own in
// the same "<record>.<verb>" form.
const (
	EventLeadCreated        = "lead.created"
	EventCustomerCreated    = "customer.created"
	EventCustomerUpdated    = "customer.updated"
	EventContactCreated     = "contact.created"
	EventOpportunityCreated = "opportunity.created"
	EventActivityRecorded   = "activity.recorded"
	EventTicketCreated      = "ticket.created"
)

const maxEventPayload = 1 << 20

// NewEvent builds an event with an ID from ids and a time from clock;
// payload is encoded as JSON (nil means no payload).
func NewEvent(ids IDGenerator, clock Clock, typ string, subject Ref, actor ID, payload any) (Event, error) {
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
	var v validator
	if e.ID == NilID {
		v.add("id", "is required")
	}
	if !validEventType(e.Type) {
		v.add("type", "must be \"<record>.<verb>\" in lower-case letters, digits and underscores, got %q", truncate(e.Type, 64))
	}
	if e.Subject.Type == "" {
		v.add("subject.type", "is required")
	}
	if e.Subject.ID == NilID {
		v.add("subject.id", "is required")
	}
	if e.OccurredAt.IsZero() {
		v.add("occurred_at", "is required")
	}
	if len(e.Payload) > maxEventPayload {
		v.add("payload", "larger than %d bytes", maxEventPayload)
	} else if len(e.Payload) > 0 && !json.Valid(e.Payload) {
		v.add("payload", "is not valid JSON")
	}
	return v.err()
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
