package pgstore_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/pgstore"
	"github.com/crmkit/crmkit/task"
)

var queueBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// loadHoldings fills the store's holdings with n owned customers of
// owners owners spread over depts departments (owner k in department
// k % depts), due at scattered seconds after queueBase, one in fifty
// locked, and analyzes the table. It returns one owner and one
// department.
func loadHoldings(tb testing.TB, s *pgstore.Store, n, owners, depts int) (owner, dept crm.ID) {
	tb.Helper()
	return loadQueue(tb, s, "crm_pool_holdings", "INSERT INTO {table} (customer_id, tenant_id, version, created_at, updated_at, owner_id, owner_department_id, locked, due_at)"+
		" SELECT md5('c' || i)::uuid, '', 1, now(), now(), md5('o' || (i % $2))::uuid, md5('d' || (i % $2 % $3))::uuid, i % 50 = 0,"+
		" $4::timestamptz + ((i::bigint * 7919) % 1000000) * interval '1 second' FROM generate_series(1, $1) AS i", n, owners, depts)
}

// loadQueue fills a queue's table with insert, a generate_series of n
// rows ($1) whose owner k of owners ($2) is md5('o' || k) in department
// md5('d' || k % depts) ($3), due after queueBase ($4); {table} names the
// table. It analyzes the table and returns owner 1 and department 1.
func loadQueue(tb testing.TB, s *pgstore.Store, table, insert string, n, owners, depts int) (owner, dept crm.ID) {
	tb.Helper()
	ctx := context.Background()
	db := testPool(tb)
	name := pgx.Identifier{s.Schema(), table}.Sanitize()
	_, err := db.Exec(ctx, strings.ReplaceAll(insert, "{table}", name), n, owners, depts, queueBase)
	require.NoError(tb, err)
	_, err = db.Exec(ctx, "ANALYZE "+name)
	require.NoError(tb, err)
	return firstOwnerAndDepartment(tb)
}

// firstOwnerAndDepartment returns owner 1 and department 1 as the
// loaders name them.
func firstOwnerAndDepartment(tb testing.TB) (owner, dept crm.ID) {
	tb.Helper()
	var o, d [16]byte
	require.NoError(tb, testPool(tb).QueryRow(context.Background(), "SELECT md5('o1')::uuid, md5('d1')::uuid").Scan(&o, &d))
	return crm.ID(o), crm.ID(d)
}

// TestFallingBackPlansUseTheQueueIndexes shows that a page of one owner's
// and of one department's queue is an index scan on the queue's index,
// never a scan of the table.
func TestFallingBackPlansUseTheQueueIndexes(t *testing.T) {
	t.Parallel()
	s := newStore(t, crmtest.NewClock(queueBase))
	owner, dept := loadHoldings(t, s, 100_000, 200, 5)
	ctx := context.Background()
	by := queueBase.Add(30 * 24 * time.Hour)
	after := &crm.QueueKey{DueAt: queueBase.Add(time.Hour), ID: crm.NilID}
	for name, tc := range map[string]struct {
		scope *crm.DataScope
		index string
	}{
		"owner":           {&crm.DataScope{OwnerIDs: []crm.ID{owner}}, "crm_pool_holdings_owner_due_idx"},
		"department":      {&crm.DataScope{DepartmentIDs: []crm.ID{dept}}, "crm_pool_holdings_department_due_idx"},
		"department tree": {&crm.DataScope{DepartmentTrees: []crm.ID{dept}}, "crm_pool_holdings_department_due_idx"},
	} {
		for _, from := range []*crm.QueueKey{nil, after} {
			sql, args, ok := pgstore.FallingBackSQL(s.Schema(), "", pool.FallingBackQuery{Scope: tc.scope, By: by}, 51, from)
			require.True(t, ok)
			requireIndexPlan(t, sql, args, tc.index, fmt.Sprintf("%s (after %v)", name, from), "crm_pool_holdings")
		}
	}
	// And the page is right: one owner's first 50, in order, unlocked.
	svc, err := pool.New(s, &pool.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(t, err)
	page, err := svc.FallingBack(ctx, pool.FallingBackRequest{Scope: &crm.DataScope{OwnerIDs: []crm.ID{owner}}, Within: 30 * 24 * time.Hour})
	require.NoError(t, err)
	require.Len(t, page.Items, crm.DefaultPageLimit)
	require.NotEmpty(t, page.NextCursor)
	for i, h := range page.Items {
		require.Equal(t, owner, h.OwnerID)
		require.False(t, h.Locked)
		if i > 0 {
			require.False(t, h.DueAt.Before(page.Items[i-1].DueAt))
		}
	}
}

// BenchmarkFallingBackPage reads a page of 50 of one owner's and of one
// department's queue over 1,000,000 holdings (1,000 owners, 10
// departments), through pool.Service.FallingBack (one unit of work).
func BenchmarkFallingBackPage(b *testing.B) {
	s := newStore(b, crmtest.NewClock(queueBase))
	owner, dept := loadHoldings(b, s, 1_000_000, 1000, 10)
	svc, err := pool.New(s, &pool.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(b, err)
	benchPages(b, map[string]*crm.DataScope{"Owner": {OwnerIDs: []crm.ID{owner}}, "Department": {DepartmentIDs: []crm.ID{dept}}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.FallingBack(context.Background(), pool.FallingBackRequest{Scope: scope, Within: 30 * 24 * time.Hour, Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// loadTasks fills the store's tasks with n tasks of assignees assignees
// spread over depts departments (assignee k in department k % depts),
// due at scattered seconds after queueBase, one in five done, and
// analyzes the table. It returns one assignee and one department.
func loadTasks(tb testing.TB, s *pgstore.Store, n, assignees, depts int) (assignee, dept crm.ID) {
	tb.Helper()
	return loadQueue(tb, s, "crm_tasks", "INSERT INTO {table} (id, tenant_id, version, created_at, updated_at, kind, title, subject_type, subject_id,"+
		" assignee_id, department_id, status, due_at, completed_at)"+
		" SELECT md5('t' || i)::uuid, '', 1, now(), now(), 'task', 'Call back', 'customer', md5('c' || i)::uuid,"+
		" md5('o' || (i % $2))::uuid, md5('d' || (i % $2 % $3))::uuid, CASE WHEN i % 5 = 0 THEN 'done' ELSE 'open' END,"+
		" $4::timestamptz + ((i::bigint * 7919) % 1000000) * interval '1 second', CASE WHEN i % 5 = 0 THEN now() END"+
		" FROM generate_series(1, $1) AS i", n, assignees, depts)
}

// TestDueTasksPlansUseTheQueueIndexes shows that a page of one assignee's
// and of one department's due tasks is an index scan on the queue's
// index, never a scan of the table.
func TestDueTasksPlansUseTheQueueIndexes(t *testing.T) {
	t.Parallel()
	s := newStore(t, crmtest.NewClock(queueBase))
	assignee, dept := loadTasks(t, s, 100_000, 200, 5)
	ctx := context.Background()
	before := queueBase.Add(30 * 24 * time.Hour)
	after := &crm.QueueKey{DueAt: queueBase.Add(time.Hour), ID: crm.NilID}
	for name, tc := range map[string]struct {
		scope *crm.DataScope
		index string
	}{
		"assignee":        {&crm.DataScope{OwnerIDs: []crm.ID{assignee}}, "crm_tasks_assignee_due_idx"},
		"department":      {&crm.DataScope{DepartmentIDs: []crm.ID{dept}}, "crm_tasks_department_due_idx"},
		"department tree": {&crm.DataScope{DepartmentTrees: []crm.ID{dept}}, "crm_tasks_department_due_idx"},
	} {
		for _, from := range []*crm.QueueKey{nil, after} {
			sql, args, ok := pgstore.DueTasksSQL(s, "", task.DueQuery{Scope: tc.scope, Before: before}, 51, from)
			require.True(t, ok)
			requireIndexPlan(t, sql, args, tc.index, fmt.Sprintf("%s (after %v)", name, from), "crm_tasks")
		}
	}
	svc, err := task.New(s, &task.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(t, err)
	page, err := svc.Due(ctx, task.DueRequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{dept}}, Before: before})
	require.NoError(t, err)
	require.Len(t, page.Items, crm.DefaultPageLimit)
	for i, tk := range page.Items {
		require.Equal(t, dept, tk.DepartmentID)
		require.True(t, tk.Open())
		if i > 0 {
			require.False(t, tk.DueAt.Before(page.Items[i-1].DueAt))
		}
	}
}

// BenchmarkDueTasksPage reads a page of 50 of one assignee's and of one
// department's due tasks over 1,000,000 tasks (1,000 assignees, 10
// departments, one in five done), through task.Service.Due (one unit of
// work).
func BenchmarkDueTasksPage(b *testing.B) {
	s := newStore(b, crmtest.NewClock(queueBase))
	assignee, dept := loadTasks(b, s, 1_000_000, 1000, 10)
	svc, err := task.New(s, &task.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(b, err)
	benchPages(b, map[string]*crm.DataScope{"Assignee": {OwnerIDs: []crm.ID{assignee}}, "Department": {DepartmentIDs: []crm.ID{dept}}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.Due(context.Background(), task.DueRequest{Scope: scope, Before: queueBase.Add(30 * 24 * time.Hour), Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// requireIndexPlan explains a work queue's statement and requires a plan
// that reads index and never scans tables whole (what names the case).
func requireIndexPlan(t *testing.T, sql string, args []any, index, what string, tables ...string) {
	t.Helper()
	rows, err := testPool(t).Query(context.Background(), "EXPLAIN "+sql, args...)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := strings.Join(lines, "\n")
	require.Regexp(t, `Index (Only )?Scan using `+index, plan, "%s:\n%s", what, plan)
	for _, table := range tables {
		require.NotContains(t, plan, "Seq Scan on "+table, "%s:\n%s", what, plan)
		require.NotContains(t, plan, "Bitmap Heap Scan on "+table, "%s:\n%s", what, plan)
	}
	if testing.Verbose() {
		t.Logf("%s:\n%s", what, plan)
	}
}

// benchPages runs one sub-benchmark per named scope, in name order, each
// reading with page a page of 50 (page returns how many entries it held).
func benchPages(b *testing.B, scopes map[string]*crm.DataScope, page func(*crm.DataScope) (int, error)) {
	for _, name := range slices.Sorted(maps.Keys(scopes)) {
		scope := scopes[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n, err := page(scope); err != nil || n != 50 {
					b.Fatalf("page: %d items, %v", n, err)
				}
			}
		})
	}
}
