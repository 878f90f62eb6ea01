package crmkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/workflow"
)

// The approver's inbox: the CRM's layer over [workflow.ApprovalService.Inbox]
// that finds a viewer's team and keeps the viewer within the data scope of
// [Config.Permissions].

// InboxRequest asks for a page of a viewer's approval inbox.
type InboxRequest struct {
	// Viewer is the user reading the inbox. Required.
	Viewer crm.ID
	// Team lists the inbox of the viewer's team instead of the viewer's
	// own: the requests waiting on any user of the departments the viewer
	// manages ([crm.Department.ManagerID]) and the departments below them,
	// active or not (a deactivated user's tasks still wait), each request
	// once. The viewer is in the team only when their own department is.
	// A manager of no department has an empty team. Permissions do not
	// widen it: the team is the managed departments' users whatever the
	// policy grants.
	Team bool
	// Page is the page to read; its cursor comes from a previous page of
	// this inbox.
	Page crm.PageRequest
}

// Inbox returns a page of the approval requests waiting on the viewer, or
// on the viewer's team ([InboxRequest.Team]), the longest waiting first:
// [workflow.ApprovalService.Inbox] tells who a request waits on (a
// delegated task is in the delegate's inbox, not the delegator's) and
// names them in each item. With a [*permission.Policy] or
// [*permission.Registry] in [Config.Permissions], the page holds only
// requests on records the viewer may view: each request's record is
// checked and the others dropped (as is a request whose record is gone),
// so a page may hold fewer than its limit while NextCursor continues the
// inbox. An authorizer of the host's own cannot be asked about a page; it
// filters nothing.
//
// Errors: [crm.ErrFailedPrecondition] without [Config.Approvals]; a
// [*crm.ValidationError] naming the field ("viewer", "page.limit",
// "page.cursor"); a [*crm.LimitError] when the team has more than
// [workflow.MaxInboxApprovers] users; and those of
// [workflow.ApprovalService.Inbox].
func (c *CRM) Inbox(ctx context.Context, req InboxRequest) (crm.Page[workflow.InboxItem], error) {
	fail := func(err error) (crm.Page[workflow.InboxItem], error) {
		return crm.Page[workflow.InboxItem]{}, fmt.Errorf("crmkit: inbox: %w", err)
	}
	if c.Approvals == nil {
		return fail(fmt.Errorf("no approvals configured (Config.Approvals): %w", crm.ErrFailedPrecondition))
	}
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	if _, _, err := workflow.ResolveInboxPage(req.Page); err != nil {
		return fail(err)
	}
	var p *permission.Policy
	var subject permission.Subject
	if p = c.seams.compiledPolicy(); p != nil {
		u, err := c.store.Users().Get(ctx, req.Viewer)
		if errors.Is(err, crm.ErrNotFound) {
			return fail(crm.Invalid("viewer", "unknown user %s", req.Viewer))
		}
		if err != nil {
			return fail(err)
		}
		subject = p.Subject(u)
	}
	approvers := []crm.ID{req.Viewer}
	if req.Team {
		var err error
		if approvers, err = c.team(ctx, req.Viewer); err != nil {
			return fail(err)
		}
		if len(approvers) == 0 {
			return crm.Page[workflow.InboxItem]{}, nil
		}
	}
	page, err := c.Approvals.Inbox(ctx, workflow.InboxRequest{Approvers: approvers, Page: req.Page})
	if err != nil || p == nil {
		return page, err
	}
	kept := page.Items[:0]
	err = c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, it := range page.Items {
			r, err := refResource(ctx, tx, it.Instance.Record)
			if errors.Is(err, crm.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p.Check(&subject, permission.ActionView, &r).Allowed {
				kept = append(kept, it)
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	page.Items = kept
	return page, nil
}

// team returns the users of the departments viewer manages and below, in
// one unit of work: at most [workflow.MaxInboxApprovers] of them, or a
// [*crm.LimitError].
func (c *CRM) team(ctx context.Context, viewer crm.ID) ([]crm.ID, error) {
	var out []crm.ID
	err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		scope, err := crm.QueueScope(ctx, tx, viewer, true, nil)
		if err != nil || len(scope.DepartmentTrees) == 0 {
			return err
		}
		depts, err := allDepartments(ctx, tx)
		if err != nil {
			return err
		}
		children := make(map[crm.ID][]crm.ID, len(depts))
		for _, d := range depts {
			children[d.ParentID] = append(children[d.ParentID], d.ID)
		}
		seen := map[crm.ID]bool{}
		var tree []crm.ID
		for next := scope.DepartmentTrees; len(next) > 0; {
			id := next[len(next)-1]
			next = next[:len(next)-1]
			if seen[id] {
				continue
			}
			seen[id] = true
			tree = append(tree, id)
			next = append(next, children[id]...)
		}
		// A user filter takes a bounded list of departments: a big tree
		// is read in slices of it.
		const chunk = 500
		for start := 0; start < len(tree); start += chunk {
			f := crm.UserFilter{DepartmentIDs: tree[start:min(start+chunk, len(tree))]}
			page := crm.PageRequest{Limit: crm.MaxPageLimit}
			for {
				users, err := tx.Users().List(ctx, f, page)
				if err != nil {
					return err
				}
				for _, u := range users.Items {
					out = append(out, u.ID)
				}
				if len(out) > workflow.MaxInboxApprovers {
					return &crm.LimitError{Limit: "inbox_team_users", Max: workflow.MaxInboxApprovers, Current: int64(len(out))}
				}
				if users.NextCursor == "" {
					break
				}
				page.Cursor = users.NextCursor
			}
		}
		return nil
	})
	return out, err
}
