package crmkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/task"
)

// Work queues: the CRM's thin layer over the domain packages' queues
// ([pool.Service.FallingBack], [task.Service.Due]) that keeps a viewer
// within the data scope of [Config.Permissions].

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
	page.Items, err = keepVisible(ctx, c, v, req.Team, page.Items, func(h *pool.Holding) (crm.ID, crm.ID) { return h.OwnerID, h.OwnerDepartmentID },
		func(ctx context.Context, tx crm.Tx, h *pool.Holding) (any, error) {
			return tx.Customers().Get(ctx, h.CustomerID)
		})
	if err != nil {
		return fail(err)
	}
	return page, nil
}

// TasksDueRequest asks for a page of a viewer's due-tasks queue.
type TasksDueRequest struct {
	// Viewer is the user reading the queue. Required.
	Viewer crm.ID
	// Team lists the viewer's team instead of the tasks assigned to the
	// viewer: with a [*permission.Policy] or [*permission.Registry] in
	// [Config.Permissions], the tasks the viewer may view (the policy's
	// list filter for record type "task", whose owner is the assignee);
	// otherwise those of the departments the viewer manages and below.
	Team bool
	// Before is the latest due time listed; zero means now (the overdue
	// tasks).
	Before time.Time
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// TasksDue returns a page of the open tasks due by req.Before (the
// overdue ones when zero), earliest first: the viewer's own, or the
// viewer's team's ([TasksDueRequest.Team]), kept within the viewer's
// permission scope as [CRM.FallingBack] keeps customers (a policy that
// declares no "task" record type lets its subjects view no tasks, so
// their queues are empty). Errors: a [*crm.ValidationError] naming the
// field ("viewer", "page.limit", "page.cursor"), and those of
// [task.Service.Due].
func (c *CRM) TasksDue(ctx context.Context, req TasksDueRequest) (crm.Page[crm.Task], error) {
	fail := func(err error) (crm.Page[crm.Task], error) {
		return crm.Page[crm.Task]{}, fmt.Errorf("crmkit: tasks due: %w", err)
	}
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	treq := task.DueRequest{Actor: req.Viewer, Team: req.Team, Before: req.Before, Page: req.Page}
	v, err := c.viewFilter(ctx, req.Viewer, crm.TypeTask)
	if err != nil {
		return fail(err)
	}
	if v == nil {
		return c.Tasks.Due(ctx, treq)
	}
	if req.Team {
		treq.Scope = v.filter.Scope
	}
	page, err := c.Tasks.Due(ctx, treq)
	if err != nil {
		return page, err
	}
	page.Items, err = keepVisible(ctx, c, v, req.Team, page.Items, func(t *crm.Task) (crm.ID, crm.ID) { return t.AssigneeID, t.DepartmentID },
		func(_ context.Context, _ crm.Tx, t *crm.Task) (any, error) { return t, nil })
	if err != nil {
		return fail(err)
	}
	return page, nil
}

// keepVisible drops from a queue's page what the viewer may not view: for
// the viewer's own queue (team false) the items outside the list filter's
// scope (placed by owner and department), and when the filter is wider
// than the policy the records (read by record) that Check denies.
func keepVisible[T any](ctx context.Context, c *CRM, v *viewer, team bool, items []*T, place func(*T) (crm.ID, crm.ID),
	record func(context.Context, crm.Tx, *T) (any, error)) ([]*T, error) {
	kept := items[:0]
	err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, it := range items {
			if owner, dept := place(it); !team && !v.filter.Scope.Match(owner, dept, crm.NilID, noTree) {
				continue
			}
			if v.filter.PostFilter {
				rec, err := record(ctx, tx, it)
				if errors.Is(err, crm.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				ok, err := v.allows(ctx, tx, rec)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			kept = append(kept, it)
		}
		return nil
	})
	return kept, err
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
	p := c.seams.compiledPolicy()
	if p == nil {
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

// allows checks one stored record (see resourceOf; a task's owner is its
// assignee) with the policy.
func (v *viewer) allows(ctx context.Context, tx crm.Tx, rec any) (bool, error) {
	var r permission.Resource
	if t, ok := rec.(*crm.Task); ok {
		r = permission.TaskResource(t)
	} else {
		var err error
		if r, err = resourceOf(ctx, tx, rec); err != nil {
			return false, err
		}
	}
	return v.policy.Check(&v.subject, permission.ActionView, &r).Allowed, nil
}
