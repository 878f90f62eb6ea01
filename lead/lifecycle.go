package lead

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Guard is a named condition a lead must meet before a transition.
type Guard string

// The guards a lifecycle may use.
const (
	// GuardContactChannel needs a phone number or an email address.
	GuardContactChannel Guard = "contact_channel"
	// GuardReason needs a non-empty reason on the transition.
	GuardReason Guard = "reason"
	// GuardOwner needs the lead to have an owner.
	GuardOwner Guard = "owner"
)

// TransitionSpec allows moving a lead from one status to another when every
// guard holds.
type TransitionSpec struct {
	From   crm.LeadStatus `json:"from"`
	To     crm.LeadStatus `json:"to"`
	Guards []Guard        `json:"guards,omitempty"`
}

// LifecycleSpec is the JSON form of a [Lifecycle]: the allowed transitions.
type LifecycleSpec struct {
	Transitions []TransitionSpec `json:"transitions"`
}

// DefaultLifecycleSpec is the lifecycle most CRMs use: a lead moves forward
// through contacted and the qualified stages (sales-qualified needs a phone
// or email), may step back from sales- to marketing-qualified, is
// disqualified with a reason from any open stage and reopened with a reason,
// and is converted from any open stage. Converted is final.
func DefaultLifecycleSpec() LifecycleSpec {
	open := []crm.LeadStatus{crm.LeadNew, crm.LeadContacted, crm.LeadMQL, crm.LeadSQL}
	var ts []TransitionSpec
	add := func(from, to crm.LeadStatus, guards ...Guard) {
		ts = append(ts, TransitionSpec{From: from, To: to, Guards: guards})
	}
	add(crm.LeadNew, crm.LeadContacted)
	add(crm.LeadNew, crm.LeadMQL)
	add(crm.LeadContacted, crm.LeadMQL)
	add(crm.LeadSQL, crm.LeadMQL)
	for _, from := range []crm.LeadStatus{crm.LeadNew, crm.LeadContacted, crm.LeadMQL} {
		add(from, crm.LeadSQL, GuardContactChannel)
	}
	for _, from := range open {
		add(from, crm.LeadDisqualified, GuardReason)
		add(from, crm.LeadConverted)
	}
	add(crm.LeadDisqualified, crm.LeadNew, GuardReason)
	add(crm.LeadDisqualified, crm.LeadContacted, GuardReason)
	return LifecycleSpec{Transitions: ts}
}

// Lifecycle is a validated lead state machine. It is immutable and safe for
// concurrent use.
type Lifecycle struct {
	spec    LifecycleSpec
	allowed map[[2]crm.LeadStatus][]Guard
}

// DefaultLifecycle returns the lifecycle of [DefaultLifecycleSpec].
func DefaultLifecycle() *Lifecycle {
	lc, err := NewLifecycle(DefaultLifecycleSpec())
	if err != nil {
		panic(fmt.Sprintf("lead: default lifecycle is invalid: %v", err)) // a bug in this package, not bad input
	}
	return lc
}

// ParseLifecycle parses and validates a lifecycle from JSON.
func ParseLifecycle(data []byte) (*Lifecycle, error) {
	var spec LifecycleSpec
	if err := decodeStrict(data, &spec); err != nil {
		return nil, fmt.Errorf("lead: parse lifecycle: %w", err)
	}
	return NewLifecycle(spec)
}

// NewLifecycle validates spec: known statuses, no self-transitions or
// repeats, known guards, and no way out of converted.
func NewLifecycle(spec LifecycleSpec) (*Lifecycle, error) {
	var probs crm.Problems
	add := probs.Add
	lc := &Lifecycle{allowed: map[[2]crm.LeadStatus][]Guard{}}
	if len(spec.Transitions) == 0 {
		add("transitions", "is empty")
	}
	for i, t := range spec.Transitions {
		p := idx("transitions", i)
		if !t.From.Valid() {
			add(p+".from", "unknown lead status %q", truncate(string(t.From), 32))
		}
		if !t.To.Valid() {
			add(p+".to", "unknown lead status %q", truncate(string(t.To), 32))
		}
		switch {
		case t.From == t.To:
			add(p+".to", "a status cannot move to itself")
		case t.From == crm.LeadConverted:
			add(p+".from", "converted is final")
		}
		key := [2]crm.LeadStatus{t.From, t.To}
		if _, dup := lc.allowed[key]; dup {
			add(p, "repeats %s -> %s", t.From, t.To)
		}
		for j, g := range t.Guards {
			switch g {
			case GuardContactChannel, GuardReason, GuardOwner:
			default:
				add(idx(p+".guards", j), "unknown guard %q: want contact_channel, reason or owner", truncate(string(g), 32))
			}
		}
		if t.To == crm.LeadDisqualified && !slices.Contains(t.Guards, GuardReason) {
			add(p+".guards", "disqualifying needs the reason guard")
		}
		lc.allowed[key] = slices.Clone(t.Guards)
	}
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("lead: lifecycle: %w", err)
	}
	lc.spec = LifecycleSpec{Transitions: slices.Clone(spec.Transitions)}
	return lc, nil
}

// Spec returns the lifecycle's transitions.
func (lc *Lifecycle) Spec() LifecycleSpec {
	out := LifecycleSpec{Transitions: slices.Clone(lc.spec.Transitions)}
	for i := range out.Transitions {
		out.Transitions[i].Guards = slices.Clone(out.Transitions[i].Guards)
	}
	return out
}

// Next returns the statuses a lead in from may move to, in spec order.
func (lc *Lifecycle) Next(from crm.LeadStatus) []crm.LeadStatus {
	var out []crm.LeadStatus
	for _, t := range lc.spec.Transitions {
		if t.From == from {
			out = append(out, t.To)
		}
	}
	return out
}

// TransitionError reports a transition the lifecycle does not allow, or
// whose guard fails. It matches [crm.ErrFailedPrecondition].
type TransitionError struct {
	From, To crm.LeadStatus
	// Guard is the failed guard; empty when the transition is not allowed
	// at all.
	Guard  Guard
	Reason string
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("lead: cannot move from %s to %s: %s", e.From, e.To, e.Reason)
}

// Is reports whether target is [crm.ErrFailedPrecondition].
func (e *TransitionError) Is(target error) bool { return target == crm.ErrFailedPrecondition }

// Check reports whether l may move to status to with reason. An unknown
// status is a [*crm.ValidationError] on "to"; a missing reason one on
// "reason"; a transition that is not allowed, or whose guard fails, a
// [*TransitionError].
func (lc *Lifecycle) Check(l *crm.Lead, to crm.LeadStatus, reason string) error {
	from := l.Status
	if from == "" {
		from = crm.LeadNew
	}
	if !to.Valid() {
		return fmt.Errorf("lead: transition: %w", crm.Invalid("to", "unknown lead status %q", truncate(string(to), 32)))
	}
	guards, ok := lc.allowed[[2]crm.LeadStatus{from, to}]
	if !ok {
		why := "the lifecycle does not allow it"
		switch {
		case from == crm.LeadConverted:
			why = "the lead is already converted"
		case from == to:
			why = "the lead is already " + string(to)
		case len(lc.Next(from)) > 0:
			next := lc.Next(from)
			names := make([]string, len(next))
			for i, n := range next {
				names[i] = string(n)
			}
			why += "; allowed: " + strings.Join(names, ", ")
		}
		return &TransitionError{From: from, To: to, Reason: why}
	}
	for _, g := range guards {
		switch g {
		case GuardReason:
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("lead: transition to %s: %w", to, crm.Invalid("reason", "is required"))
			}
		case GuardContactChannel:
			if strings.TrimSpace(l.Phone) == "" && strings.TrimSpace(l.Email) == "" {
				return &TransitionError{From: from, To: to, Guard: g, Reason: "the lead needs a phone number or an email address"}
			}
		case GuardOwner:
			if l.OwnerID == crm.NilID {
				return &TransitionError{From: from, To: to, Guard: g, Reason: "the lead needs an owner"}
			}
		}
	}
	return nil
}

// HistoryEntry records one transition. It is the payload of the transition's
// event.
type HistoryEntry struct {
	// ID identifies the entry; entries of a lead list in ID order, which is
	// the order they were made in for UUIDv7 IDs.
	ID     crm.ID         `json:"id,omitzero"`
	LeadID crm.ID         `json:"lead_id"`
	From   crm.LeadStatus `json:"from"`
	To     crm.LeadStatus `json:"to"`
	Actor  crm.ID         `json:"actor,omitzero"`
	At     time.Time      `json:"at"`
	Reason string         `json:"reason,omitempty"`
}

// Lead event types written by [Service]. A transition ([Service.Transition])
// writes one of the first four with its [HistoryEntry] as payload;
// [Service.Convert] writes [EventLeadConverted] with a [ConversionPayload].
const (
	// EventLeadContacted: the lead moved to contacted; payload [HistoryEntry].
	EventLeadContacted crm.EventType = "lead.contacted"
	// EventLeadQualified: the lead moved to MQL or SQL; payload
	// [HistoryEntry].
	EventLeadQualified crm.EventType = "lead.qualified"
	// EventLeadDisqualified: the lead was disqualified; payload
	// [HistoryEntry], whose Reason is the reason given.
	EventLeadDisqualified crm.EventType = "lead.disqualified"
	// EventLeadReopened: the lead moved back to new or to another status
	// not named above; payload [HistoryEntry].
	EventLeadReopened crm.EventType = "lead.reopened"
	// EventLeadConverted: the lead became a customer; payload
	// [ConversionPayload].
	EventLeadConverted crm.EventType = "lead.converted"
)

// EventType returns the event type of a transition to status to.
func EventType(to crm.LeadStatus) crm.EventType {
	switch to {
	case crm.LeadContacted:
		return EventLeadContacted
	case crm.LeadMQL, crm.LeadSQL:
		return EventLeadQualified
	case crm.LeadDisqualified:
		return EventLeadDisqualified
	case crm.LeadConverted:
		return EventLeadConverted
	}
	return EventLeadReopened
}
