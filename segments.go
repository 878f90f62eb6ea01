package crmkit

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/segment"
)

// Segments: the CRM's layer over package segment that keeps a viewer
// within the data scope of [Config.Permissions].

// Segments returns the segment service over the CRM's store and clock:
// RFM computation ([segment.Service.Compute]) and segment members without a
// viewer. The store must have the segment port (memstore and pgstore
// do); otherwise its methods report [crm.ErrUnsupported].
func (c *CRM) Segments() (*segment.Service, error) {
	return segment.New(c.store, &segment.Config{Clock: c.cfg.Clock})
}

// SegmentMembersRequest asks for a page of a segment's members as a viewer
// may see them.
type SegmentMembersRequest struct {
	// Viewer is the user reading the list. Required.
	Viewer crm.ID
	// Segment is the compiled rule. Required.
	Segment *segment.Segment
	Page    crm.PageRequest
}

// SegmentMembers returns a page of the segment's members, in customer ID
// order, within the viewer's data scope: with a [*permission.Policy] or
// [*permission.Registry] in [Config.Permissions], the policy's list filter
// for customers is the scope, and when the filter is wider than the policy
// ([permission.Filter.PostFilter]) each member is checked and the denied
// ones dropped, so a page may hold fewer than its limit while NextCursor
// continues. Without a policy every customer of the tenant is in scope.
// Errors: a [*crm.ValidationError] naming the field ("viewer", "segment",
// "page.limit", "page.cursor"), and those of [segment.Service.Members].
func (c *CRM) SegmentMembers(ctx context.Context, req SegmentMembersRequest) (crm.Page[segment.Member], error) {
	fail := func(err error) (crm.Page[segment.Member], error) {
		return crm.Page[segment.Member]{}, fmt.Errorf("crmkit: segment members: %w", err)
	}
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	svc, err := c.Segments()
	if err != nil {
		return fail(err)
	}
	v, err := c.viewFilter(ctx, req.Viewer, crm.TypeCustomer)
	if err != nil {
		return fail(err)
	}
	mreq := segment.MembersRequest{Segment: req.Segment, Page: req.Page}
	if v != nil {
		mreq.Scope = v.filter.Scope
	}
	page, err := svc.Members(ctx, mreq)
	if err != nil || v == nil {
		return page, err
	}
	page.Items, err = keepVisible(ctx, c, v, true, page.Items, func(m *segment.Member) (crm.ID, crm.ID) { return m.Customer.OwnerID, m.Customer.DepartmentID },
		func(ctx context.Context, tx crm.Tx, m *segment.Member) (any, error) {
			return tx.Customers().Get(ctx, m.Customer.ID)
		})
	if err != nil {
		return fail(err)
	}
	return page, nil
}
