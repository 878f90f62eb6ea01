package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// This file serves the rising-leads queue ([lead.RisingQueue]) from the
// indexes of migration 0022_lead_grade_rises. Score snapshots carry
// copies of their lead's owner, department and status (kept by the
// snapshot's save and by a trigger on crm_leads), so a scoped page is,
// as for the other work queues, one index range per owner and per
// department read newest first and stopped by the page's LIMIT, merged
// and cut to the page; only the page's rows are joined to their leads.

var _ lead.RisingQueue = view{}

// risingIn is the condition of snapshots in the queue, after the tenant,
// model and scope key: the partial indexes' predicate (risen snapshots of
// open leads, as lead.Open decides), then the Since bound ($2).
const risingIn = " AND model_id = $4 AND rose_at IS NOT NULL AND lead_status NOT IN ('converted', 'disqualified') AND rose_at >= $2"

// risingQuery returns the statement of a page of n entries of the
// rising-leads queue of model q.ModelID since since, after after (nil:
// from the start) in the queue's newest-first order, or an empty
// statement and false when the scope matches nothing. leadCols are the
// lead table's columns.
func risingQuery(schema, leadCols, tenant string, q lead.RisingQuery, since time.Time, n int, after *crm.QueueKey) (string, []any, bool) {
	scores := pgx.Identifier{schema, "crm_lead_scores"}.Sanitize()
	leads := pgx.Identifier{schema, "crm_leads"}.Sanitize()
	deps := pgx.Identifier{schema, "crm_departments"}.Sanitize()
	args := []any{tenant, since, n, q.ModelID}
	cond := risingIn
	if after != nil {
		args = append(args, after.DueAt, key(after.ID))
		cond += " AND (rose_at, lead_id) < ($5, $6)"
	}
	const order = " ORDER BY rose_at DESC, lead_id DESC"
	// The snapshot's columns are renamed s_*, so the lead's keep their
	// names in the join.
	var sc []string
	for c := range strings.SplitSeq(leadScoreCols, ", ") {
		sc = append(sc, c+" AS s_"+c)
	}
	sel := "SELECT " + strings.Join(sc, ", ") + " FROM " + scores + " WHERE tenant_id = $1"
	var with, page string
	switch scope := q.Scope; {
	case scope == nil || scope.All:
		page = sel + cond + order + " LIMIT $3"
	case len(scope.OwnerIDs) == 0 && len(scope.DepartmentIDs) == 0 && len(scope.DepartmentTrees) == 0:
		return "", nil, false
	default:
		var union string
		with, union = scopeRanges(deps, scope, "owner_id", "department_id", &args, func(col, keys string) string {
			return "SELECT k.due_at, k.id FROM (" + keys + ") AS x(id) CROSS JOIN LATERAL (SELECT rose_at AS due_at, lead_id AS id FROM " + scores +
				" WHERE tenant_id = $1 AND " + col + " = x.id" + cond + order + " LIMIT $3) AS k"
		})
		page = sel + " AND model_id = $4 AND lead_id IN (SELECT id FROM (" + union + " ORDER BY due_at DESC, id DESC LIMIT $3) AS p)"
	}
	return with + "SELECT " + leadCols + ", s.* FROM (" + page + ") AS s JOIN " + leads + " ON tenant_id = $1 AND id = s.s_lead_id" +
		" ORDER BY s.s_rose_at DESC, s.s_lead_id DESC", args, true
}

// moreCols is a row whose first columns one scan reads (Scan's
// destinations) and whose last ones more reads.
type moreCols struct {
	pgx.Row
	more []any
}

// Scan implements pgx.Row.
func (r moreCols) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.more...)...) }

// scanRising reads a row of risingQuery: the lead, then its snapshot.
func (v view) scanRising(row pgx.Row) (*lead.RisingLead, error) {
	var s lead.ScoreSnapshot
	var lid key
	var stage string
	var rose *time.Time
	l, err := v.s.sql.leads.scan(moreCols{row, scoreDests(&s, &lid, &stage, &rose)})
	if err != nil {
		return nil, err
	}
	finishScore(&s, lid, stage, rose)
	return &lead.RisingLead{Lead: l, Score: &s}, nil
}

// LeadsRising implements [lead.RisingQueue].
func (v view) LeadsRising(ctx context.Context, q lead.RisingQuery) (crm.Page[lead.RisingLead], error) {
	limit, after, since, err := lead.ResolveRisingQuery(q)
	if err != nil {
		return crm.Page[lead.RisingLead]{}, fmt.Errorf("pgstore: leads rising: %w", err)
	}
	sql, args, _ := risingQuery(v.s.schema, taskCols(v.s.sql.leads.list), crm.TenantFrom(ctx), q, since, limit+1, after)
	page, err := readQueue(ctx, v, sql, args, limit, v.scanRising, lead.RisingCursor)
	if err != nil {
		return page, fmt.Errorf("pgstore: leads rising: %w", err)
	}
	return page, nil
}
