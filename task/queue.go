package task

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// DueQueue is an optional port of a unit of work (memstore and pgstore
// implement it), found with [crm.As]: the work queue of open tasks due by
// a time. Without it [Service.Due] reports [crm.ErrUnsupported]: a queue
// read by scanning every task would not be a work queue.
type DueQueue interface {
	// TasksDue returns one page of the context tenant's open tasks with
	// DueAt at or before q.Before, within q.Scope (a task's AssigneeID is
	// its owner, its DepartmentID its department; DepartmentTrees are
	// expanded as for lists, PoolIDs are ignored; nil is every task),
	// earliest DueAt first, ties by task ID. The adapter reads the page
	// with [ResolveDuePage] and makes NextCursor with [DueCursor]; a cursor
	// of another query is a [*crm.ValidationError] on "page.cursor". It
	// locks nothing; the tasks are copies the caller owns.
	TasksDue(ctx context.Context, q DueQuery) (crm.Page[crm.Task], error)
}

// DueQuery asks [DueQueue.TasksDue] for a page.
type DueQuery struct {
	Scope *crm.DataScope
	// Before is the latest due time listed (inclusive).
	Before time.Time
	Page   crm.PageRequest
}

// dueTag tags cursors of the due-tasks queue.
const dueTag = "tdu"

// DueCursor returns the cursor that continues the queue after t.
func DueCursor(t *crm.Task) string {
	return crm.QueueCursor(dueTag, crm.QueueKey{DueAt: t.DueAt, ID: t.ID})
}

// ResolveDuePage validates a page of the due-tasks queue and returns its
// limit and the key (due time, task ID) after which it starts (nil for
// the first page). A bad limit is a [*crm.ValidationError] on
// "page.limit", a cursor not made by [DueCursor] one on "page.cursor".
func ResolveDuePage(p crm.PageRequest) (limit int, after *crm.QueueKey, err error) {
	return crm.ResolveQueuePage(dueTag, "due-tasks", p)
}

// DueRequest asks for a page of open tasks due by a time.
type DueRequest struct {
	// Actor is the user whose queue it is. Required unless Scope is set.
	Actor crm.ID
	// Team lists the team's tasks instead of the actor's own: those of
	// Scope when set, otherwise those of the departments the actor
	// manages and the departments below them.
	Team bool
	// Scope, when set, is the team: the data scope to list (a permission
	// policy's list filter). It implies Team.
	Scope *crm.DataScope
	// Before is the latest due time listed (inclusive). Zero means now:
	// the overdue tasks.
	Before time.Time
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// Due returns a page of the open tasks due at or before req.Before (the
// overdue ones when zero), earliest first (ties by task ID): the actor's
// own (assigned to the actor), or the team's (see [DueRequest.Team]). It
// reads in a unit of work of its own and locks nothing. Errors: a
// [*crm.ValidationError] naming the field ("actor", "page.limit",
// "page.cursor", "scope...."), [crm.ErrUnsupported] when the adapter
// lacks [DueQueue].
func (s *Service) Due(ctx context.Context, req DueRequest) (crm.Page[crm.Task], error) {
	fail := func(err error) (crm.Page[crm.Task], error) {
		return crm.Page[crm.Task]{}, fmt.Errorf("task: due: %w", err)
	}
	if req.Scope == nil && req.Actor == crm.NilID {
		return fail(crm.Invalid("actor", "is required without a scope"))
	}
	if err := crm.ValidateScope(req.Scope); err != nil {
		return fail(err)
	}
	if _, _, err := ResolveDuePage(req.Page); err != nil {
		return fail(err)
	}
	before := req.Before
	if before.IsZero() {
		before = s.now()
	}
	var page crm.Page[crm.Task]
	err := s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		q, ok := crm.As[DueQueue](t)
		if !ok {
			return fmt.Errorf("storage adapter %T has no due-tasks queue: %w", t, crm.ErrUnsupported)
		}
		scope, err := crm.QueueScope(ctx, t, req.Actor, req.Team, req.Scope)
		if err != nil {
			return err
		}
		page, err = q.TasksDue(ctx, DueQuery{Scope: scope, Before: before, Page: req.Page})
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}
