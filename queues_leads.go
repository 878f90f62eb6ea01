package crmkit

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// RisingLeadsRequest asks for a page of a viewer's rising-leads queue:
// "which leads just turned hot?"
type RisingLeadsRequest struct {
	// Viewer is the user reading the queue. Required.
	Viewer crm.ID
	// Team lists the viewer's team instead of the leads the viewer owns:
	// with a [*permission.Policy] or [*permission.Registry] in
	// [Config.Permissions], the leads the viewer may view (the policy's
	// list filter for record type "lead"); otherwise those of the
	// departments the viewer manages and below.
	Team bool
	// ModelID names the scoring model whose grades count. Required.
	ModelID string
	// Since is the earliest rise listed (inclusive); zero lists every
	// lead whose current grade was reached by a rise.
	Since time.Time
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// RisingLeads returns a page of the open leads whose grade under model
// req.ModelID rose at or after req.Since ([lead.Service.Rising]), newest
// rise first, each with its score snapshot: the viewer's own, or the
// viewer's team's ([RisingLeadsRequest.Team]), kept within the viewer's
// permission scope as [CRM.FallingBack] keeps customers (a lead's owner
// and department place it; a filter wider than the policy checks each
// lead, so such a page may hold fewer than its limit while NextCursor
// continues the queue). Errors: a [*crm.ValidationError] naming the
// field ("viewer", "model_id", "page.limit", "page.cursor"), and those of
// [lead.Service.Rising].
func (c *CRM) RisingLeads(ctx context.Context, req RisingLeadsRequest) (crm.Page[lead.RisingLead], error) {
	fail := func(err error) (crm.Page[lead.RisingLead], error) {
		return crm.Page[lead.RisingLead]{}, fmt.Errorf("crmkit: rising leads: %w", err)
	}
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	lreq := lead.RisingRequest{Actor: req.Viewer, Team: req.Team, ModelID: req.ModelID, Since: req.Since, Page: req.Page}
	v, err := c.viewFilter(ctx, req.Viewer, crm.TypeLead)
	if err != nil {
		return fail(err)
	}
	if v == nil {
		return c.Leads.Rising(ctx, lreq)
	}
	if req.Team {
		lreq.Scope = v.filter.Scope
	}
	page, err := c.Leads.Rising(ctx, lreq)
	if err != nil {
		return page, err
	}
	page.Items, err = keepVisible(ctx, c, v, req.Team, page.Items, func(r *lead.RisingLead) (crm.ID, crm.ID) { return r.Lead.OwnerID, r.Lead.DepartmentID },
		func(_ context.Context, _ crm.Tx, r *lead.RisingLead) (any, error) { return r.Lead, nil })
	if err != nil {
		return fail(err)
	}
	return page, nil
}
