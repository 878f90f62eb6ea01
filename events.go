package crmkit

import (
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// EventTypes returns every event type crmkit writes, in a fixed order:
// the change events of every shared record type ("lead.created",
// "lead.updated", "lead.deleted", "customer.created", ...; see
// [crm.ChangedPayload]), [crm.EventActivityRecorded] (reserved for hosts:
// crmkit does not write it), then the domain events of lead, pool,
// workflow, dedupe, ticket, remind and pipeline. Routing and hand-off
// events are named after their record type ([workflow.RoutedEventType]); the lead ones stand for them
// here.
func EventTypes() []crm.EventType {
	var out []crm.EventType
	for _, t := range crm.RecordTypes() {
		for _, verb := range []string{crm.VerbCreated, crm.VerbUpdated, crm.VerbDeleted} {
			out = append(out, crm.ChangeEventType(t, verb))
		}
	}
	return append(out, crm.EventActivityRecorded,
		lead.EventLeadContacted, lead.EventLeadQualified, lead.EventLeadDisqualified, lead.EventLeadReopened,
		lead.EventLeadConverted, lead.EventLeadRegraded,
		pool.EventAcquired, pool.EventClaimed, pool.EventReleased, pool.EventAssigned, pool.EventTransferred,
		pool.EventLocked, pool.EventUnlocked, pool.EventMoved, pool.EventPooled, pool.EventRecycled,
		pool.EventOwnershipMerged, pool.EventOwnershipUnmerged, pool.EventUserMoved,
		workflow.EventApprovalSubmitted, workflow.EventApprovalStepApproved, workflow.EventApprovalApproved,
		workflow.EventApprovalRejected, workflow.EventApprovalSentBack, workflow.EventApprovalRecalled,
		workflow.EventApprovalDelegated, workflow.EventApprovalReassigned, workflow.EventApprovalCommented,
		workflow.EventApprovalReminded, workflow.EventApprovalEscalated,
		workflow.EventSLAWarned, workflow.EventSLABreached, workflow.EventLeadRouted, workflow.EventLeadHandedOff,
		dedupe.EventCustomerMerged, dedupe.EventCustomerMergeUndone,
		ticket.EventTicketRaised, ticket.EventTicketOpened, ticket.EventTicketSuspended, ticket.EventTicketResolved,
		ticket.EventTicketClosed, ticket.EventTicketReopened, ticket.EventTicketResponded,
		ticket.EventTicketReassigned, ticket.EventTicketEscalated,
		remind.EventFired,
		pipeline.EventStageChanged,
	)
}

// PayloadOf returns a pointer to a new zero value of the payload struct of
// events of type t (a *[pool.ClaimedPayload] for [pool.EventClaimed], a
// *[crm.NoPayload] for types without a payload), and false for a type
// crmkit does not write. Any "<record type>.routed" and
// "<record type>.handed_off" type is known.
func PayloadOf(t crm.EventType) (any, bool) {
	dec := payloadDecoder(t)
	if dec == nil {
		return nil, false
	}
	v, _ := dec(crm.Event{Type: t}) // an empty payload decodes to the zero value
	return v, true
}

// DecodeEvent decodes e's payload strictly ([crm.DecodePayload]) into the
// payload struct of its type and returns a pointer to it, for a consumer
// that switches on the type:
//
//	switch p := v.(type) {
//	case *pool.ClaimedPayload: ...
//	case *workflow.ApprovalSubmittedPayload: ...
//	}
//
// A type crmkit does not write is an error matching [crm.ErrUnsupported];
// a payload that does not fit its type's struct one matching
// [crm.ErrInvalidArgument].
func DecodeEvent(e crm.Event) (any, error) {
	dec := payloadDecoder(e.Type)
	if dec == nil {
		return nil, fmt.Errorf("crmkit: decode event %s: unknown type %q: %w", e.ID, e.Type, crm.ErrUnsupported)
	}
	return dec(e)
}

func payloadDecoder(t crm.EventType) func(crm.Event) (any, error) {
	if t.IsChange() {
		return decode[crm.ChangedPayload]
	}
	switch t {
	case crm.EventActivityRecorded:
		return decode[crm.NoPayload]
	case lead.EventLeadContacted, lead.EventLeadQualified, lead.EventLeadDisqualified, lead.EventLeadReopened:
		return decode[lead.HistoryEntry]
	case pipeline.EventStageChanged:
		return decode[pipeline.StageChangedPayload]
	case lead.EventLeadConverted:
		return decode[lead.ConversionPayload]
	case lead.EventLeadRegraded:
		return decode[lead.RegradedPayload]
	case pool.EventAcquired, pool.EventClaimed, pool.EventReleased, pool.EventAssigned, pool.EventTransferred, pool.EventLocked,
		pool.EventUnlocked, pool.EventMoved, pool.EventPooled, pool.EventRecycled,
		pool.EventOwnershipMerged, pool.EventOwnershipUnmerged:
		return decode[pool.EntryPayload]
	case pool.EventUserMoved:
		return decode[pool.UserMovedPayload]
	case workflow.EventApprovalSubmitted:
		return decode[workflow.ApprovalSubmittedPayload]
	case workflow.EventApprovalStepApproved:
		return decode[workflow.ApprovalStepApprovedPayload]
	case workflow.EventApprovalApproved:
		return decode[workflow.ApprovalApprovedPayload]
	case workflow.EventApprovalRejected:
		return decode[workflow.ApprovalRejectedPayload]
	case workflow.EventApprovalSentBack:
		return decode[workflow.ApprovalSentBackPayload]
	case workflow.EventApprovalRecalled:
		return decode[workflow.ApprovalRecalledPayload]
	case workflow.EventApprovalDelegated:
		return decode[workflow.ApprovalDelegatedPayload]
	case workflow.EventApprovalReassigned:
		return decode[workflow.ApprovalReassignedPayload]
	case workflow.EventApprovalCommented:
		return decode[workflow.ApprovalCommentedPayload]
	case workflow.EventApprovalReminded:
		return decode[workflow.ApprovalRemindedPayload]
	case workflow.EventApprovalEscalated:
		return decode[workflow.ApprovalEscalatedPayload]
	case workflow.EventSLAWarned, workflow.EventSLABreached:
		return decode[workflow.SLAPayload]
	case dedupe.EventCustomerMerged, dedupe.EventCustomerMergeUndone:
		return decode[dedupe.CustomerMerge]
	case ticket.EventTicketRaised:
		return decode[ticket.RaisedPayload]
	case ticket.EventTicketOpened, ticket.EventTicketSuspended, ticket.EventTicketResolved, ticket.EventTicketClosed,
		ticket.EventTicketReopened, ticket.EventTicketResponded:
		return decode[ticket.MovedPayload]
	case ticket.EventTicketReassigned:
		return decode[ticket.ReassignedPayload]
	case ticket.EventTicketEscalated:
		return decode[ticket.EscalatedPayload]
	case remind.EventFired:
		return decode[remind.FiredPayload]
	}
	switch t.Verb() {
	case workflow.EventRouted:
		return decode[workflow.RoutedPayload]
	case workflow.EventHandedOff:
		return decode[workflow.HandedOffPayload]
	}
	return nil
}

func decode[T any](e crm.Event) (any, error) {
	v, err := crm.DecodePayload[T](e)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
