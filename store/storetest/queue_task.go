package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/task"
)

// taskQueueEnv is a queueEnv's organisation with a task service.
type taskQueueEnv struct {
	*queueEnv
	tasks   *task.Service
	subject crm.Ref
}

func newTaskQueueEnv(t *testing.T, h Harness) *taskQueueEnv {
	t.Helper()
	e := &taskQueueEnv{queueEnv: newQueueEnv(t, h)}
	svc, err := task.New(e.store, &task.Config{Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	e.tasks = svc
	c := crmtest.Customer(e.ids)
	require.NoError(t, e.store.Customers().Create(e.ctx, c))
	e.subject = crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
	return e
}

// task stores a task assigned to u in dept, due after the clock's time
// by in.
func (e *taskQueueEnv) task(ctx context.Context, u *crm.User, dept *crm.Department, in time.Duration, edit func(*crm.Task)) *crm.Task {
	e.t.Helper()
	tk := crmtest.Task(e.ids, e.subject, u.ID, func(t *crm.Task) {
		t.DueAt = e.clock.Now().Add(in)
		if dept != nil {
			t.DepartmentID = dept.ID
		}
	})
	if edit != nil {
		edit(tk)
	}
	require.NoError(e.t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return tx.Tasks().Create(ctx, tk) }))
	return tk
}

// allDue reads every page of a request, limit at a time, checking that
// every task listed is open.
func (e *taskQueueEnv) allDue(req task.DueRequest, limit int) []crm.ID {
	e.t.Helper()
	return readQueue(e.t, limit, func(page crm.PageRequest) (crm.Page[crm.Task], error) {
		req.Page = page
		return e.tasks.Due(e.ctx, req)
	}, func(t *crm.Task) crm.ID {
		require.True(e.t, t.Open())
		return t.ID
	})
}

func dueOrder(ts ...*crm.Task) []crm.ID {
	return queueOrder(ts, func(t *crm.Task) (time.Time, crm.ID) { return t.DueAt, t.ID })
}

// RunTasksDue checks the due-tasks work queue ([task.DueQueue]) through
// [task.Service.Due]. Its organisation is built on the pool group's
// environment, so [Run] runs it with Features.Pools.
func RunTasksDue(t *testing.T, h Harness) {
	const day = 24 * time.Hour
	probe := newPoolEnv(t, h, nil)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[task.DueQueue](tx)
		return nil
	}))
	if !has {
		require.False(t, h.Features.DueTasksQueue, "Features.DueTasksQueue is declared, but the adapter's Tx does not implement task.DueQueue")
		return
	}

	t.Run("ListsTheActorsOpenTasksDueEarliestFirstWithTiesByIDAcrossPages", func(t *testing.T) {
		t.Parallel()
		e := newTaskQueueEnv(t, h)
		a := e.inRoot
		overdue := e.task(e.ctx, a, e.root, -3*time.Hour, nil)
		tie1 := e.task(e.ctx, a, e.root, day, nil)
		tie2 := e.task(e.ctx, a, e.root, day, nil)
		tie3 := e.task(e.ctx, a, e.root, day, func(t *crm.Task) { t.ID = crmtest.NewIDs().NewID() })
		edge := e.task(e.ctx, a, e.root, 2*day, nil)
		e.task(e.ctx, a, e.root, 2*day+time.Microsecond, nil) // after the bound
		e.task(e.ctx, a, e.root, day, func(t *crm.Task) { t.Status = crm.TaskCancelled })
		e.task(e.ctx, a, e.root, day, func(t *crm.Task) {
			done := e.clock.Now()
			t.Status, t.CompletedAt = crm.TaskDone, &done
		})
		e.task(e.ctx, e.inChild, e.child, day, nil) // someone else's
		before := e.clock.Now().Add(2 * day)
		want := dueOrder(overdue, tie1, tie2, tie3, edge)
		for _, limit := range []int{1, 2, 3, 50} {
			require.Equal(t, want, e.allDue(task.DueRequest{Actor: a.ID, Before: before}, limit), "limit %d", limit)
		}
		// Zero Before is now: the overdue tasks.
		require.Equal(t, dueOrder(overdue), e.allDue(task.DueRequest{Actor: a.ID}, 10))
		// Completing a task takes it off the queue; rescheduling moves it.
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			got, err := tx.Tasks().Get(ctx, tie2.ID)
			if err != nil {
				return err
			}
			got.Status = crm.TaskCancelled
			return tx.Tasks().Update(ctx, got)
		}))
		_, err := e.tasks.Reschedule(e.ctx, task.RescheduleRequest{TaskID: overdue.ID, DueAt: e.clock.Now().Add(day + time.Hour)})
		require.NoError(t, err)
		overdue.DueAt = crm.StorageTime(e.clock.Now().Add(day + time.Hour))
		require.Equal(t, dueOrder(tie1, tie3, overdue, edge), e.allDue(task.DueRequest{Actor: a.ID, Before: before}, 2))
	})

	t.Run("ListsATeamByScopeDepartmentTreesAndManagedDepartments", func(t *testing.T) {
		t.Parallel()
		e := newTaskQueueEnv(t, h)
		r1 := e.task(e.ctx, e.inRoot, e.root, day, nil)
		m1 := e.task(e.ctx, e.manager, e.root, 2*day, nil)
		c1 := e.task(e.ctx, e.inChild, e.child, day, nil)
		c2 := e.task(e.ctx, e.inChild, e.child, -day, nil)
		o1 := e.task(e.ctx, e.inOther, e.other, day, nil)
		moved := e.task(e.ctx, e.inOther, e.child, 2*day, nil) // the task's department decides
		before := e.clock.Now().Add(3 * day)
		tree := dueOrder(r1, m1, c1, c2, moved)
		require.Equal(t, tree, e.allDue(task.DueRequest{Actor: e.manager.ID, Team: true, Before: before}, 2))
		require.Equal(t, tree, e.allDue(task.DueRequest{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{e.root.ID}}, Before: before}, 4))
		require.Equal(t, dueOrder(c1, c2, moved), e.allDue(task.DueRequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{e.child.ID}}, Before: before}, 50))
		both := &crm.DataScope{OwnerIDs: []crm.ID{e.inOther.ID}, DepartmentIDs: []crm.ID{e.other.ID, e.child.ID}}
		require.Equal(t, dueOrder(c1, c2, o1, moved), e.allDue(task.DueRequest{Scope: both, Before: before}, 2))
		require.Equal(t, dueOrder(r1, m1, c1, c2, o1, moved), e.allDue(task.DueRequest{Scope: &crm.DataScope{All: true}, Before: before}, 4))
		require.Empty(t, e.allDue(task.DueRequest{Scope: &crm.DataScope{}, Before: before}, 4), "an empty scope matches nothing")
		require.Empty(t, e.allDue(task.DueRequest{Actor: e.inRoot.ID, Team: true, Before: before}, 4), "a manager of nothing has an empty team")
	})

	t.Run("KeepsTenantsApart", func(t *testing.T) {
		t.Parallel()
		e := newTaskQueueEnv(t, h)
		mine := e.task(e.ctx, e.inRoot, e.root, day, nil)
		ctxB := crm.WithTenant(e.ctx, "b")
		c := crmtest.Customer(e.ids)
		require.NoError(t, e.store.Customers().Create(ctxB, c))
		e.subject = crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
		other := crmtest.User(e.ids)
		require.NoError(t, e.store.Users().Create(ctxB, other))
		e.task(ctxB, other, nil, day, nil)
		before := e.clock.Now().Add(2 * day)
		require.Equal(t, dueOrder(mine), e.allDue(task.DueRequest{Scope: &crm.DataScope{All: true}, Before: before}, 1))
		p, err := e.tasks.Due(ctxB, task.DueRequest{Actor: e.inRoot.ID, Before: before})
		require.NoError(t, err)
		require.Empty(t, p.Items)
	})

	t.Run("RefusesBadInputNamingTheField", func(t *testing.T) {
		t.Parallel()
		e := newTaskQueueEnv(t, h)
		e.task(e.ctx, e.inRoot, e.root, day, nil)
		e.task(e.ctx, e.inRoot, e.root, day, nil)
		ok := task.DueRequest{Actor: e.inRoot.ID, Before: e.clock.Now().Add(2 * day)}
		first, err := e.tasks.Due(e.ctx, task.DueRequest{Actor: ok.Actor, Before: ok.Before, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.NotEmpty(t, first.NextCursor)
		for name, tc := range map[string]struct {
			edit  func(*task.DueRequest)
			field string
		}{
			"no actor":                 {func(r *task.DueRequest) { r.Actor = crm.NilID }, "actor"},
			"limit too big":            {func(r *task.DueRequest) { r.Page.Limit = crm.MaxPageLimit + 1 }, "page.limit"},
			"a list's cursor":          {func(r *task.DueRequest) { r.Page.Cursor = crm.CursorAfter(e.inRoot.ID) }, "page.cursor"},
			"the falling-back cursor":  {func(r *task.DueRequest) { r.Page.Cursor = "pfb" + first.NextCursor[3:] }, "page.cursor"},
			"a truncated cursor":       {func(r *task.DueRequest) { r.Page.Cursor = first.NextCursor[:10] }, "page.cursor"},
			"too many scope owner IDs": {func(r *task.DueRequest) { r.Scope = &crm.DataScope{OwnerIDs: make([]crm.ID, 1001)} }, "scope.owner_ids"},
		} {
			req := ok
			tc.edit(&req)
			_, err := e.tasks.Due(e.ctx, req)
			requireInvalid(t, err, tc.field)
			require.ErrorContains(t, err, tc.field, name)
		}
	})
}
