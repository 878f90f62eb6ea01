package ticket

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// SLAQueue is an optional port of a unit of work (memstore and pgstore
// implement it), found with [crm.As]: the work queue of tickets by SLA
// due time. Without it [Service.BySLA] reports [crm.ErrUnsupported]: a
// queue read by scanning every ticket would not be a work queue.
type SLAQueue interface {
	// TicketsBySLA returns one page of the context tenant's tickets with
	// an SLA due time ([crm.Ticket.SLADueAt] set: a timer runs on them)
	// at or before q.Before (every one when zero), within q.Scope (a
	// ticket's AssigneeID is its owner, its DepartmentID its department;
	// DepartmentTrees are expanded as for lists, PoolIDs are ignored; nil
	// is every ticket), earliest SLADueAt first, ties by ticket ID. The
	// adapter reads the page with [ResolveSLAPage], bounds it with
	// [SLAQuery.Until] and makes NextCursor with [SLACursor]; a cursor of
	// another query is a [*crm.ValidationError] on "page.cursor". It locks
	// nothing; the tickets are copies the caller owns.
	TicketsBySLA(ctx context.Context, q SLAQuery) (crm.Page[crm.Ticket], error)
}

// SLAQuery asks [SLAQueue.TicketsBySLA] for a page.
type SLAQuery struct {
	Scope *crm.DataScope
	// Before is the latest SLA due time listed (inclusive); zero lists
	// every ticket with a running timer.
	Before time.Time
	Page   crm.PageRequest
}

// noBound is the bound of a query without one: later than any SLA due
// time stored (PostgreSQL's timestamptz and Go's time both hold it).
var noBound = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

// Until returns the latest SLA due time the query lists, at storage
// precision: Before, or for a zero Before a time later than any due time
// stored.
func (q SLAQuery) Until() time.Time {
	if q.Before.IsZero() {
		return noBound
	}
	return crm.StorageTime(q.Before)
}

// slaTag tags cursors of the tickets-by-SLA queue.
const slaTag = "tsla"

// SLACursor returns the cursor that continues the queue after t.
func SLACursor(t *crm.Ticket) string {
	k := crm.QueueKey{ID: t.ID}
	if t.SLADueAt != nil {
		k.DueAt = *t.SLADueAt
	}
	return crm.QueueCursor(slaTag, k)
}

// ResolveSLAPage validates a page of the tickets-by-SLA queue and returns
// its limit and the key (SLA due time, ticket ID) after which it starts
// (nil for the first page). A bad limit is a [*crm.ValidationError] on
// "page.limit", a cursor not made by [SLACursor] one on "page.cursor".
func ResolveSLAPage(p crm.PageRequest) (limit int, after *crm.QueueKey, err error) {
	return crm.ResolveQueuePage(slaTag, "tickets-by-SLA", p)
}

// SLARequest asks for a page of the tickets by SLA due time.
type SLARequest struct {
	// Actor is the user whose queue it is: the tickets assigned to the
	// actor. Required unless Scope is set.
	Actor crm.ID
	// Team lists the team's tickets instead of the actor's own: those of
	// Scope when set, otherwise those of the departments the actor
	// manages and the departments below them (by the ticket's
	// DepartmentID).
	Team bool
	// Scope, when set, is the team: the data scope to list (a permission
	// policy's list filter). It implies Team.
	Scope *crm.DataScope
	// Before, when set, is the latest SLA due time listed (inclusive);
	// zero lists every ticket whose SLA timer runs.
	Before time.Time
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// BySLA returns a page of the tickets whose SLA timer runs
// ([crm.Ticket.SLADueAt] set: not paused while pending, not stopped at
// resolution), earliest due first (ties by ticket ID), those due after
// req.Before left out when it is set: the actor's own (assigned to the
// actor), or the team's (see [SLARequest.Team]). Breached tickets keep
// the deadline they missed and come first. It reads in a unit of work of
// its own and locks nothing. Errors: a [*crm.ValidationError] naming the
// field ("actor", "page.limit", "page.cursor", "scope...."),
// [crm.ErrUnsupported] when the adapter lacks [SLAQueue].
func (s *Service) BySLA(ctx context.Context, req SLARequest) (crm.Page[crm.Ticket], error) {
	fail := func(err error) (crm.Page[crm.Ticket], error) {
		return crm.Page[crm.Ticket]{}, fmt.Errorf("ticket: by sla: %w", err)
	}
	if req.Scope == nil && req.Actor == crm.NilID {
		return fail(crm.Invalid("actor", "is required without a scope"))
	}
	if err := crm.ValidateScope(req.Scope); err != nil {
		return fail(err)
	}
	if _, _, err := ResolveSLAPage(req.Page); err != nil {
		return fail(err)
	}
	var page crm.Page[crm.Ticket]
	err := s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		q, ok := crm.As[SLAQueue](t)
		if !ok {
			return fmt.Errorf("storage adapter %T has no tickets-by-SLA queue: %w", t, crm.ErrUnsupported)
		}
		scope, err := crm.QueueScope(ctx, t, req.Actor, req.Team, req.Scope)
		if err != nil {
			return err
		}
		page, err = q.TicketsBySLA(ctx, SLAQuery{Scope: scope, Before: req.Before, Page: req.Page})
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}
