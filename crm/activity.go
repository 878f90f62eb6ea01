package crm

import "time"

// ActivityKind is the kind of a follow-up record.
type ActivityKind string

// Activity kinds.
const (
	ActivityCall    ActivityKind = "call"
	ActivityVisit   ActivityKind = "visit"
	ActivityEmail   ActivityKind = "email"
	ActivityMeeting ActivityKind = "meeting"
	ActivityMessage ActivityKind = "message"
	ActivityNote    ActivityKind = "note"
	ActivityTask    ActivityKind = "task"
)

// Valid reports whether k is a known kind.
func (k ActivityKind) Valid() bool {
	switch k {
	case ActivityCall, ActivityVisit, ActivityEmail, ActivityMeeting, ActivityMessage, ActivityNote, ActivityTask:
		return true
	}
	return false
}

// Activity is a follow-up (跟进记录): a call, visit, email or note about a
// lead, customer, contact, opportunity or ticket. Safe for concurrent reads.
type Activity struct {
	Meta
	Kind ActivityKind `json:"kind"`
	// Subject is the record the activity is about.
	Subject Ref `json:"subject"`
	// ActorID is the user who did it.
	ActorID    ID        `json:"actor_id"`
	OccurredAt time.Time `json:"occurred_at"`
	Note       string    `json:"note,omitempty"`
	// NextFollowUpAt plans the next contact, if any.
	NextFollowUpAt *time.Time `json:"next_follow_up_at,omitempty"`
	Fields         Fields     `json:"fields,omitempty"`
}

// RecordType returns [TypeActivity].
func (*Activity) RecordType() RecordType { return TypeActivity }

// Clone returns a deep copy.
func (a *Activity) Clone() *Activity {
	out := *a
	out.NextFollowUpAt = clonePtr(a.NextFollowUpAt)
	out.Fields = a.Fields.Clone()
	return &out
}

// Normalise brings times to storage precision.
func (a *Activity) Normalise() {
	a.OccurredAt = StorageTime(a.OccurredAt)
	a.NextFollowUpAt = storageTimePtr(a.NextFollowUpAt)
}

// Validate reports every invalid field.
func (a *Activity) Validate() error {
	var v Problems
	a.Meta.validate(&v)
	if !a.Kind.Valid() {
		v.Add("kind", "unknown activity kind %q", truncate(string(a.Kind), 32))
	}
	switch a.Subject.Type {
	case TypeLead, TypeCustomer, TypeContact, TypeOpportunity, TypeTicket:
	default:
		v.Add("subject.type", "must be lead, customer, contact, opportunity or ticket, got %q", truncate(string(a.Subject.Type), 32))
	}
	if a.Subject.ID == NilID {
		v.Add("subject.id", "is required")
	}
	if a.ActorID == NilID {
		v.Add("actor_id", "is required")
	}
	if a.OccurredAt.IsZero() {
		v.Add("occurred_at", "is required")
	}
	optional(&v, "note", a.Note, maxText)
	if a.NextFollowUpAt != nil && !a.OccurredAt.IsZero() && a.NextFollowUpAt.Before(a.OccurredAt) {
		v.Add("next_follow_up_at", "is before occurred_at")
	}
	v.Prefix = "fields."
	v.Merge(a.Fields.Validate())
	return v.Err()
}
