package crmkit

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/ticket"
)

// TicketsBySLARequest asks for a page of a viewer's tickets by SLA due
// time.
type TicketsBySLARequest struct {
	// Viewer is the user reading the queue. Required.
	Viewer crm.ID
	// Team lists the viewer's team instead of the tickets assigned to the
	// viewer: with a [*permission.Policy] or [*permission.Registry] in
	// [Config.Permissions], the tickets the viewer may view (the policy's
	// list filter for record type "ticket", whose owner is the assignee);
	// otherwise those of the departments the viewer manages and below.
	Team bool
	// Before, when set, is the latest SLA due time listed (inclusive);
	// zero lists every ticket whose SLA timer runs.
	Before time.Time
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// TicketsBySLA returns a page of the tickets whose SLA timer runs
// ([crm.Ticket.SLADueAt]), earliest due first (breached ones keep the
// deadline they missed): the viewer's own (assigned to the viewer), or the
// viewer's team's ([TicketsBySLARequest.Team]), kept within the viewer's
// permission scope as [CRM.TasksDue] keeps tasks (a policy that declares
// no "ticket" record type lets its subjects view no tickets, so their
// queues are empty; when its filter is wider than the policy each ticket
// is checked and the denied ones dropped, so a page may hold fewer than
// its limit while NextCursor continues the queue). Errors: a
// [*crm.ValidationError] naming the field ("viewer", "page.limit",
// "page.cursor"), and those of [ticket.Service.BySLA].
func (c *CRM) TicketsBySLA(ctx context.Context, req TicketsBySLARequest) (crm.Page[crm.Ticket], error) {
	fail := func(err error) (crm.Page[crm.Ticket], error) {
		return crm.Page[crm.Ticket]{}, fmt.Errorf("crmkit: tickets by sla: %w", err)
	}
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	treq := ticket.SLARequest{Actor: req.Viewer, Team: req.Team, Before: req.Before, Page: req.Page}
	v, err := c.viewFilter(ctx, req.Viewer, crm.TypeTicket)
	if err != nil {
		return fail(err)
	}
	if v == nil {
		return c.Tickets.BySLA(ctx, treq)
	}
	if req.Team {
		treq.Scope = v.filter.Scope
	}
	page, err := c.Tickets.BySLA(ctx, treq)
	if err != nil {
		return page, err
	}
	page.Items, err = keepVisible(ctx, c, v, req.Team, page.Items, func(t *crm.Ticket) (crm.ID, crm.ID) { return t.AssigneeID, t.DepartmentID },
		func(_ context.Context, _ crm.Tx, t *crm.Ticket) (any, error) { return t, nil })
	if err != nil {
		return fail(err)
	}
	return page, nil
}
