package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/task"
)

// This file serves the work queues from the indexes of migrations
// 0016_tasks and 0018_work_queues. A scoped page is one index range per
// owner and per department of the scope, each read in queue order and
// stopped by the page's LIMIT (a LATERAL subquery per key), merged and
// cut to the page: the cost follows the page and the number of keys, not
// the number of due rows.

var (
	_ pool.FallingBackQueue = view{}
	_ task.DueQueue         = view{}
)

// queueSpec describes one queue's table.
type queueSpec struct {
	table      string // without schema
	cols       string // the columns selected, unqualified
	id         string // the ID column, the queue's tie-breaker
	due        string // the column the queue is ordered by; "due_at" when empty
	owner      string // the owner column of data scopes
	department string // the department column of data scopes
	in         string // the condition of rows in the queue (ANDed)
}

var (
	fallingBackSpec = queueSpec{
		table: "crm_pool_holdings", cols: holdingCols, id: "customer_id", owner: "owner_id", department: "owner_department_id",
		in: "owner_id IS NOT NULL AND NOT locked AND due_at IS NOT NULL",
	}
	dueTasksSpec = queueSpec{table: "crm_tasks", id: "id", owner: "assignee_id", department: "department_id", in: "status = 'open'"}
)

// queueQuery returns the statement of a page of n rows due at or before
// by after after (nil: from the start), or false when the scope matches
// nothing.
func queueQuery(schema string, sp queueSpec, tenant string, scope *crm.DataScope, by time.Time, n int, after *crm.QueueKey) (string, []any, bool) {
	table := pgx.Identifier{schema, sp.table}.Sanitize()
	due := sp.due
	if due == "" {
		due = "due_at"
	}
	deps := pgx.Identifier{schema, "crm_departments"}.Sanitize()
	// Stored due times are microseconds; PostgreSQL would round a finer
	// bound, so it is truncated here.
	args := []any{tenant, by.UTC().Truncate(time.Microsecond), n}
	cond := " AND " + sp.in + " AND " + due + " <= $2"
	if after != nil {
		args = append(args, after.DueAt, key(after.ID))
		cond += " AND (" + due + ", " + sp.id + ") > ($4, $5)"
	}
	order := " ORDER BY " + due + ", " + sp.id
	if scope == nil || scope.All {
		return "SELECT " + sp.cols + " FROM " + table + " WHERE tenant_id = $1" + cond + order + " LIMIT $3", args, true
	}
	if len(scope.OwnerIDs) == 0 && len(scope.DepartmentIDs) == 0 && len(scope.DepartmentTrees) == 0 {
		return "", nil, false
	}
	lateral := func(col, keys string) string {
		return "SELECT k.due_at, k.id FROM (" + keys + ") AS x(id) CROSS JOIN LATERAL (SELECT " + due + " AS due_at, " + sp.id + " AS id FROM " + table +
			" WHERE tenant_id = $1 AND " + col + " = x.id" + cond + order + " LIMIT $3) AS k"
	}
	with, union := scopeRanges(deps, scope, sp.owner, sp.department, &args, lateral)
	return with + "SELECT " + sp.cols + " FROM " + table + " WHERE tenant_id = $1 AND " + sp.id + " IN (SELECT id FROM (" + union +
		" ORDER BY due_at, id LIMIT $3) AS p)" + order, args, true
}

// scopeRanges renders the rows of a work queue within a scope that names
// owners or departments (neither nil nor All): rangeOf(col, keys) is one
// index range per key, selecting (due_at, id), for the owners (col owner)
// and for the departments with their trees expanded (col department); the
// ranges are merged into one relation in which a row met twice is listed
// once. deps is the departments table, which the WITH clause it returns
// reads to expand the trees; the tenant is $1; the scope's IDs are
// appended to args.
func scopeRanges(deps string, scope *crm.DataScope, owner, department string, args *[]any, rangeOf func(col, keys string) string) (with, union string) {
	arg := func(v any) string {
		*args = append(*args, v)
		return fmt.Sprintf("$%d", len(*args))
	}
	var parts []string
	if len(scope.OwnerIDs) > 0 {
		parts = append(parts, rangeOf(owner, "SELECT unnest("+arg(uuidArray(scope.OwnerIDs))+"::uuid[])"))
	}
	if len(scope.DepartmentIDs) > 0 || len(scope.DepartmentTrees) > 0 {
		keys := "SELECT unnest(" + arg(uuidArray(scope.DepartmentIDs)) + "::uuid[])"
		if len(scope.DepartmentTrees) > 0 {
			with = "WITH RECURSIVE tree(id) AS (SELECT unnest(" + arg(uuidArray(scope.DepartmentTrees)) + "::uuid[]) UNION SELECT d.id FROM " + deps +
				" d JOIN tree ON d.parent_id = tree.id WHERE d.tenant_id = $1) "
			keys += " UNION SELECT id FROM tree"
		}
		parts = append(parts, rangeOf(department, keys))
	}
	if len(parts) > 1 {
		return with, "(" + parts[0] + ") UNION (" + parts[1] + ")"
	}
	// One kind of key still unions the rows of several keys: a row met
	// twice is listed once.
	return with, "SELECT DISTINCT due_at, id FROM (" + parts[0] + ") AS u"
}

// fallingBackQuery is queueQuery for the falling-back queue.
func fallingBackQuery(schema, tenant string, q pool.FallingBackQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	return queueQuery(schema, fallingBackSpec, tenant, q.Scope, q.By, n, after)
}

// dueTasksQuery is queueQuery for the due-tasks queue; cols are the task
// table's columns.
func dueTasksQuery(schema, cols, tenant string, q task.DueQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	sp := dueTasksSpec
	sp.cols = cols
	return queueQuery(schema, sp, tenant, q.Scope, q.Before, n, after)
}

// readQueue runs a queue's statement and cuts the page at limit; an
// empty statement (a scope that matches nothing) reads nothing.
func readQueue[T any](ctx context.Context, v view, sql string, args []any, limit int, scan func(pgx.Row) (*T, error), cursor func(*T) string) (crm.Page[T], error) {
	var out crm.Page[T]
	if err := v.check(ctx); err != nil {
		return out, err
	}
	if sql == "" {
		return out, nil
	}
	rows, err := v.q.Query(ctx, sql, args...)
	if err != nil {
		return out, dbError(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return crm.Page[T]{}, dbError(ctx, err)
		}
		out.Items = append(out.Items, r)
	}
	if err := rows.Err(); err != nil {
		return crm.Page[T]{}, dbError(ctx, err)
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = cursor(out.Items[limit-1])
	}
	return out, nil
}

// PoolFallingBack implements [pool.FallingBackQueue].
func (v view) PoolFallingBack(ctx context.Context, q pool.FallingBackQuery) (crm.Page[pool.Holding], error) {
	limit, after, err := pool.ResolveFallingBackPage(q.Page)
	if err != nil {
		return crm.Page[pool.Holding]{}, fmt.Errorf("pgstore: falling back: %w", err)
	}
	sql, args, _ := fallingBackQuery(v.s.schema, crm.TenantFrom(ctx), q, limit+1, after)
	page, err := readQueue(ctx, v, sql, args, limit, scanHolding, pool.FallingBackCursor)
	if err != nil {
		return page, fmt.Errorf("pgstore: falling back: %w", err)
	}
	return page, nil
}

// TasksDue implements [task.DueQueue].
func (v view) TasksDue(ctx context.Context, q task.DueQuery) (crm.Page[crm.Task], error) {
	limit, after, err := task.ResolveDuePage(q.Page)
	if err != nil {
		return crm.Page[crm.Task]{}, fmt.Errorf("pgstore: tasks due: %w", err)
	}
	t := v.s.sql.tasks
	sql, args, _ := dueTasksQuery(v.s.schema, taskCols(t.list), crm.TenantFrom(ctx), q, limit+1, after)
	page, err := readQueue(ctx, v, sql, args, limit, t.scan, task.DueCursor)
	if err != nil {
		return page, fmt.Errorf("pgstore: tasks due: %w", err)
	}
	return page, nil
}

// taskCols returns the columns of a table's list statement.
func taskCols(list string) string {
	cols, _, _ := strings.Cut(strings.TrimPrefix(list, "SELECT "), " FROM ")
	return cols
}
