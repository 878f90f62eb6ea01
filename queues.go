package crmkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
)

// Work queues: the CRM's thin layer over the domain packages' queues
// ([pool.Service.FallingBack]) that keeps a viewer within the data scope
// of [Config.Permissions].

// FallingBackRequest asks for a page of a viewer's falling-back queue.
type FallingBackRequest struct {
	// Viewer is the user reading the queue. Required.
	Viewer crm.ID
	// Team lists the viewer's team instead of the viewer's own customers:
	// with a [*permission.Policy] or [*permission.Registry] in
	// [Config.Permissions], the customers the viewer may view (the
	// policy's list filter); otherwise those owned in the departments the
	// viewer manages and below.
	Team bool
	// Within is how far ahead to look; see [pool.FallingBackRequest].
	Within time.Duration
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// FallingBack returns a page of the customers that fall back into their
// pools within req.Within, earliest first: the viewer's own, or the
// viewer's team's ([FallingBackRequest.Team]). With a permission policy
// the page holds only holdings the viewer may view: the policy's list
// filter is the team's scope, a holding of the viewer's own outside it is
// left out, and when the filter is wider than the policy
// ([permission.Filter.PostFilter]) each customer is checked and the
// denied ones dropped, so such a page may hold fewer than its limit while
// NextCursor continues the queue. An authorizer of the host's own
// (neither a Policy nor a Registry) cannot compile list filters; the pool
// service's default scopes apply. Errors: a [*crm.ValidationError] naming
// the field ("viewer", "within", "page.limit", "page.cursor"), and those
// of [pool.Service.FallingBack].
func (c *CRM) FallingBack(ctx context.Context, req FallingBackRequest) (crm.Page[pool.Holding], error) {
	fail := func(err error) (crm.Page[pool.Holding], error) {
		return crm.Page[pool.Holding]{}, fmt.Errorf("crmkit: falling back: %w", err)
	}
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	preq := pool.FallingBackRequest{Actor: req.Viewer, Team: req.Team, Within: req.Within, Page: req.Page}
	v, err := c.viewFilter(ctx, req.Viewer, crm.TypeCustomer)
	if err != nil {
		return fail(err)
	}
	if v == nil {
		return c.Pools.FallingBack(ctx, preq)
	}
	if req.Team {
		preq.Scope = v.filter.Scope
	}
	page, err := c.Pools.FallingBack(ctx, preq)
	if err != nil {
		return page, err
	}
	kept := page.Items[:0]
	err = c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, h := range page.Items {
			if !req.Team && !v.filter.Scope.Match(h.OwnerID, h.OwnerDepartmentID, crm.NilID, noTree) {
				continue
			}
			if v.filter.PostFilter {
				cust, err := tx.Customers().Get(ctx, h.CustomerID)
				if errors.Is(err, crm.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				ok, err := v.allows(ctx, tx, cust)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			kept = append(kept, h)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	page.Items = kept
	return page, nil
}

// noTree is the InTree of scopes compiled by a permission policy, which
// name departments, never subtree roots.
func noTree(_, _ crm.ID) bool { return false }

// viewer is a viewer's compiled list filter for one record type.
type viewer struct {
	policy  *permission.Policy
	subject permission.Subject
	filter  permission.Filter
}

// viewFilter compiles the view list filter of user for rt with the CRM's
// policy, nil when there is no policy to compile one (no permissions, or
// an authorizer of the host's own). An unknown user is a
// [*crm.ValidationError] on "viewer".
func (c *CRM) viewFilter(ctx context.Context, user crm.ID, rt crm.RecordType) (*viewer, error) {
	var p *permission.Policy
	switch a := c.cfg.Permissions.(type) {
	case *permission.Policy:
		p = a
	case *permission.Registry:
		p = a.Policy()
	default:
		return nil, nil
	}
	u, err := c.store.Users().Get(ctx, user)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, crm.Invalid("viewer", "unknown user %s", user)
	}
	if err != nil {
		return nil, err
	}
	v := &viewer{policy: p, subject: p.Subject(u)}
	v.filter = p.ListFilter(&v.subject, rt, permission.ActionView)
	return v, nil
}

// allows checks one stored record (see resourceOf) with the policy.
func (v *viewer) allows(ctx context.Context, tx crm.Tx, rec any) (bool, error) {
	r, err := resourceOf(ctx, tx, rec)
	if err != nil {
		return false, err
	}
	return v.policy.Check(&v.subject, permission.ActionView, &r).Allowed, nil
}
