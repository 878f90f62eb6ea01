package pgstore

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

var _ workflow.ApprovalRecords = instanceRepo{}

// RecordInstances implements [workflow.ApprovalRecords] from
// crm_approval_instances_record_idx (migration 0023).
func (r instanceRepo) RecordInstances(ctx context.Context, records []crm.ID, page crm.PageRequest) (crm.Page[workflow.Instance], error) {
	fail := func(err error) (crm.Page[workflow.Instance], error) {
		return crm.Page[workflow.Instance]{}, fmt.Errorf("pgstore: approvals of records: %w", err)
	}
	limit, after, err := workflow.ResolveRecordInstancesPage(records, page)
	if err != nil {
		return fail(err)
	}
	if err := r.v.check(ctx); err != nil {
		return fail(err)
	}
	sql := "SELECT tenant_id, version, body FROM " + r.v.wfTable("crm_approval_instances") +
		" WHERE tenant_id = $1 AND record_id = ANY($2::uuid[])"
	args := []any{crm.TenantFrom(ctx), uuidArray(records), limit + 1}
	if after != nil {
		sql += " AND id > $4"
		args = append(args, key(*after))
	}
	rows, err := r.v.q.Query(ctx, sql+" ORDER BY id LIMIT $3", args...)
	if err != nil {
		return fail(dbError(ctx, err))
	}
	defer rows.Close()
	var out crm.Page[workflow.Instance]
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return fail(dbError(ctx, err))
		}
		out.Items = append(out.Items, in)
	}
	if err := rows.Err(); err != nil {
		return fail(dbError(ctx, err))
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = workflow.RecordInstancesCursor(out.Items[limit-1].ID)
	}
	return out, nil
}
