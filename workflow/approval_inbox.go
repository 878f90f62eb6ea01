package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// The approver's inbox: which pending requests wait on a person (or on
// anyone of a team), oldest first. Who is waited on and since when is
// decided here, once; adapters that offer [ApprovalInbox] keep an index
// of it beside each stored request and read pages by it.

// WaitingSince returns since when the request waits on its approvers: the
// earliest StartedAt of its active steps (the start of its running
// stage: the engine starts a stage's steps together), cut to the
// microseconds stores keep ([crm.StorageTime]). It is zero when the
// request is finished or no step is active. Every approver of a request
// waits since this one time, including escalation approvers added by a
// timeout and delegates handed a task later: the request has been
// waiting that long at its stage, and a team's inbox orders it once.
func (in *Instance) WaitingSince() time.Time {
	if in.Finished() {
		return time.Time{}
	}
	var since time.Time
	active := false
	for i := range in.Steps {
		s := &in.Steps[i]
		if s.Status != StepActive {
			continue
		}
		if !active || s.StartedAt.Before(since) {
			since, active = s.StartedAt, true
		}
	}
	return crm.StorageTime(since)
}

// WaitingOn reports whether the request waits on approver, and since
// when ([Instance.WaitingSince]): it does while it is pending and
// approver holds an undecided task in an active step (one of
// [Instance.PendingApprovers]). A task is the holder's: a delegate or a
// reassigned approver is waited on, the person whose task it was
// (Task.OnBehalfOf) is not.
func (in *Instance) WaitingOn(approver crm.ID) (since time.Time, ok bool) {
	if approver == crm.NilID || !containsID(in.PendingApprovers(), approver) {
		return time.Time{}, false
	}
	return in.WaitingSince(), true
}

// MaxInboxApprovers bounds the approvers of one inbox page: each is one
// range of the store's index, merged.
const MaxInboxApprovers = 1000

// InboxItem is one request of an inbox: listed once, however many of the
// inbox's approvers it waits on.
type InboxItem struct {
	// Instance is the request, a copy the caller owns.
	Instance *Instance
	// Approvers are the inbox's approvers the request waits on, in the
	// order of [Instance.PendingApprovers] (step order): the viewer alone
	// in a personal inbox, the members concerned in a team's.
	Approvers []crm.ID
	// WaitingSince is [Instance.WaitingSince]: the inbox's order.
	WaitingSince time.Time
}

// NewInboxItem returns the inbox item of in for an inbox of the
// approvers in set ([InboxQuery.ApproverSet]), or false when in waits on
// none of them. Adapters build their pages with it, so an item's
// approvers and time are decided here.
func NewInboxItem(in *Instance, set map[crm.ID]bool) (*InboxItem, bool) {
	var item *InboxItem
	for _, a := range in.PendingApprovers() {
		if !set[a] {
			continue
		}
		if item == nil {
			item = &InboxItem{Instance: in, WaitingSince: in.WaitingSince()}
		}
		item.Approvers = append(item.Approvers, a)
	}
	return item, item != nil
}

// InboxQuery asks [ApprovalInbox.ApprovalInbox] for a page.
type InboxQuery struct {
	// Approvers are whose inbox: the requests waiting on any of them. 1
	// to [MaxInboxApprovers] IDs, none of them nil; a repeated ID counts
	// once.
	Approvers []crm.ID
	// Page is the page to read; its cursor comes from a previous page of
	// the inbox ([InboxCursor]).
	Page crm.PageRequest
}

// ApproverSet returns the set of q's approvers, for [NewInboxItem].
func (q *InboxQuery) ApproverSet() map[crm.ID]bool {
	set := make(map[crm.ID]bool, len(q.Approvers))
	for _, a := range q.Approvers {
		set[a] = true
	}
	return set
}

// Validate reports a bad query: a [*crm.ValidationError] on "approvers"
// (none, or more than [MaxInboxApprovers]), "approvers[i]" (a nil ID),
// "page.limit" or "page.cursor".
func (q *InboxQuery) Validate() error {
	switch n := len(q.Approvers); {
	case n == 0:
		return crm.Invalid("approvers", "at least one approver is required")
	case n > MaxInboxApprovers:
		return crm.Invalid("approvers", "has %d approvers, more than %d", n, MaxInboxApprovers)
	}
	for i, a := range q.Approvers {
		if a == crm.NilID {
			return crm.Invalid(fmt.Sprintf("approvers[%d]", i), "is the nil ID")
		}
	}
	_, _, err := ResolveInboxPage(q.Page)
	return err
}

// ApprovalInbox is the optional part of an [ApprovalInstances] port that
// lists the requests waiting on a set of approvers, so an inbox page
// reads an index rather than every request. Adapters offer it by
// implementing it on the value ApprovalInstances returns, as
// [ApprovalDeadlines]; [ApprovalService.Inbox] finds it by type
// assertion and reports [crm.ErrUnsupported] without it (an inbox read
// by scanning every request would not be a work queue). crmkit's
// memstore and pgstore implement it: they keep, with every create and
// update of a request, one entry per approver it waits on
// ([Instance.PendingApprovers], at [Instance.WaitingSince]); a finished
// request has none. Implementations are safe for concurrent use; tenancy
// comes from the context; a context that ends makes it return the
// context's error (wrapped).
type ApprovalInbox interface {
	// ApprovalInbox returns one page of the context tenant's pending
	// requests that wait on any of q.Approvers, each once, built with
	// [NewInboxItem] on [InboxQuery.ApproverSet], oldest WaitingSince
	// first, ties by request ID. The adapter checks q with
	// [InboxQuery.Validate], reads the page with [ResolveInboxPage] and
	// makes NextCursor with [InboxCursor]; a cursor of a list or of
	// another queue is a [*crm.ValidationError] on "page.cursor". It
	// locks nothing; items are copies the caller owns.
	ApprovalInbox(ctx context.Context, q InboxQuery) (crm.Page[InboxItem], error)
}

// inboxTag tags cursors of approval inboxes.
const inboxTag = "ain"

// InboxCursor returns the cursor that continues an inbox after it.
func InboxCursor(it *InboxItem) string {
	return crm.QueueCursor(inboxTag, crm.QueueKey{DueAt: it.WaitingSince, ID: it.Instance.ID})
}

// ResolveInboxPage validates a page of an approval inbox and returns its
// limit and the key (waiting since, request ID) after which it starts
// (nil for the first page). A bad limit is a [*crm.ValidationError] on
// "page.limit", a cursor not made by [InboxCursor] one on "page.cursor".
func ResolveInboxPage(p crm.PageRequest) (limit int, after *crm.QueueKey, err error) {
	return crm.ResolveQueuePage(inboxTag, "approval inbox", p)
}

// InboxRequest asks [ApprovalService.Inbox] for a page of an inbox.
type InboxRequest struct {
	// Approver is whose inbox it is: the requests waiting on them.
	// Required unless Approvers is set.
	Approver crm.ID
	// Approvers, when set, is a team: the inbox lists the requests
	// waiting on any of them (and on Approver, when set too), each once,
	// naming whom it waits on. At most [MaxInboxApprovers] with Approver.
	Approvers []crm.ID
	// Page is the page to read; its cursor comes from a previous page of
	// this inbox.
	Page crm.PageRequest
}

// Inbox returns a page of the pending requests waiting on req.Approver
// or any of req.Approvers, the longest waiting first (by
// [Instance.WaitingSince], ties by request ID). A request waits on
// whoever holds an undecided task in one of its active steps: a task
// delegated or reassigned is in the inbox of whom it went to, not of
// Task.OnBehalfOf; a decided task, a finished request and a step not yet
// started are in no inbox. A request waiting on several of the team is
// listed once, with [InboxItem.Approvers] naming them.
//
// It reads in a unit of work of its own, locks nothing, and is not
// checked by the authorizer: hosts filter what they show (crmkit's
// CRM.Inbox does). Errors: a [*crm.ValidationError] naming the field
// ("approver", "approvers", "approvers[i]", "page.limit",
// "page.cursor"), [crm.ErrUnsupported] when the adapter lacks
// [ApprovalInbox].
func (s *ApprovalService) Inbox(ctx context.Context, req InboxRequest) (crm.Page[InboxItem], error) {
	fail := func(err error) (crm.Page[InboxItem], error) {
		return crm.Page[InboxItem]{}, fmt.Errorf("workflow: inbox: %w", err)
	}
	if req.Approver == crm.NilID && len(req.Approvers) == 0 {
		return fail(crm.Invalid("approver", "an approver or a team of approvers is required"))
	}
	for i, a := range req.Approvers {
		if a == crm.NilID {
			return fail(crm.Invalid(fmt.Sprintf("approvers[%d]", i), "is the nil ID"))
		}
	}
	q := InboxQuery{Approvers: req.Approvers, Page: req.Page}
	if req.Approver != crm.NilID {
		q.Approvers = append([]crm.ID{req.Approver}, req.Approvers...)
	}
	if err := q.Validate(); err != nil {
		return fail(err)
	}
	var page crm.Page[InboxItem]
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		atx, err := approvalTx(tx)
		if err != nil {
			return err
		}
		store := atx.ApprovalInstances()
		box, ok := store.(ApprovalInbox)
		if !ok {
			return fmt.Errorf("port %T has no approval inbox: %w", store, crm.ErrUnsupported)
		}
		page, err = box.ApprovalInbox(ctx, q)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}
