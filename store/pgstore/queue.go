package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// This file serves the work queues from the indexes of migration
// 0018_work_queues. A scoped page is one index range per owner and per
// department of the scope, each read in queue order and stopped by the
// page's LIMIT (a LATERAL subquery per key), merged and cut to the page:
// the cost follows the page and the number of keys, not the number of
// due rows.

var _ pool.FallingBackQueue = view{}

// PoolFallingBack implements [pool.FallingBackQueue].
func (v view) PoolFallingBack(ctx context.Context, q pool.FallingBackQuery) (crm.Page[pool.Holding], error) {
	fail := func(err error) (crm.Page[pool.Holding], error) {
		return crm.Page[pool.Holding]{}, fmt.Errorf("pgstore: falling back: %w", err)
	}
	limit, after, err := pool.ResolveFallingBackPage(q.Page)
	if err != nil {
		return fail(err)
	}
	if err := v.check(ctx); err != nil {
		return fail(err)
	}
	sql, args, ok := fallingBackQuery(v.s.schema, crm.TenantFrom(ctx), q, limit+1, after)
	if !ok {
		return crm.Page[pool.Holding]{}, nil
	}
	rows, err := v.q.Query(ctx, sql, args...)
	if err != nil {
		return fail(dbError(ctx, err))
	}
	defer rows.Close()
	var out crm.Page[pool.Holding]
	for rows.Next() {
		h, err := scanHolding(rows)
		if err != nil {
			return fail(dbError(ctx, err))
		}
		out.Items = append(out.Items, h)
	}
	if err := rows.Err(); err != nil {
		return fail(dbError(ctx, err))
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = pool.FallingBackCursor(out.Items[limit-1])
	}
	return out, nil
}

// fallingBackQuery returns the statement of a page of n rows, or false
// when the scope matches nothing.
func fallingBackQuery(schema, tenant string, q pool.FallingBackQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	holdings := pgx.Identifier{schema, "crm_pool_holdings"}.Sanitize()
	deps := pgx.Identifier{schema, "crm_departments"}.Sanitize()
	// Stored due times are microseconds; PostgreSQL would round a finer
	// bound, so it is truncated here.
	args := []any{tenant, q.By.UTC().Truncate(time.Microsecond), n}
	cond := " AND NOT locked AND due_at IS NOT NULL AND due_at <= $2"
	if after != nil {
		args = append(args, after.DueAt, key(after.ID))
		cond += " AND (due_at, customer_id) > ($4, $5)"
	}
	s := q.Scope
	if s == nil || s.All {
		return "SELECT " + holdingCols + " FROM " + holdings + " WHERE tenant_id = $1 AND owner_id IS NOT NULL" + cond +
			" ORDER BY due_at, customer_id LIMIT $3", args, true
	}
	if len(s.OwnerIDs) == 0 && len(s.DepartmentIDs) == 0 && len(s.DepartmentTrees) == 0 {
		return "", nil, false
	}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	lateral := func(col, keys string) string {
		return "SELECT k.due_at, k.customer_id FROM (" + keys + ") AS x(id) CROSS JOIN LATERAL (SELECT due_at, customer_id FROM " + holdings +
			" WHERE tenant_id = $1 AND " + col + " = x.id AND owner_id IS NOT NULL" + cond + " ORDER BY due_at, customer_id LIMIT $3) AS k"
	}
	var parts []string
	if len(s.OwnerIDs) > 0 {
		parts = append(parts, lateral("owner_id", "SELECT unnest("+arg(uuidArray(s.OwnerIDs))+"::uuid[])"))
	}
	with := ""
	if len(s.DepartmentIDs) > 0 || len(s.DepartmentTrees) > 0 {
		keys := "SELECT unnest(" + arg(uuidArray(s.DepartmentIDs)) + "::uuid[])"
		if len(s.DepartmentTrees) > 0 {
			with = "WITH RECURSIVE tree(id) AS (SELECT unnest(" + arg(uuidArray(s.DepartmentTrees)) + "::uuid[]) UNION SELECT d.id FROM " + deps +
				" d JOIN tree ON d.parent_id = tree.id WHERE d.tenant_id = $1) "
			keys += " UNION SELECT id FROM tree"
		}
		parts = append(parts, lateral("owner_department_id", keys))
	}
	union := parts[0]
	if len(parts) > 1 {
		union = "(" + parts[0] + ") UNION (" + parts[1] + ")"
	} else {
		// One kind of key still unions the rows of several keys: UNION
		// drops a holding met twice.
		union = "SELECT DISTINCT due_at, customer_id FROM (" + union + ") AS u"
	}
	cols := strings.Split(holdingCols, ",")
	for i, c := range cols {
		cols[i] = "h." + strings.TrimSpace(c)
	}
	return with + "SELECT " + strings.Join(cols, ", ") + " FROM (" + union + " ORDER BY due_at, customer_id LIMIT $3) AS p JOIN " + holdings +
		" h ON h.customer_id = p.customer_id AND h.tenant_id = $1 ORDER BY p.due_at, p.customer_id", args, true
}
