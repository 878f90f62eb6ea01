package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

var _ workflow.ApprovalRecords = instanceRepo{}

// RecordInstances implements [workflow.ApprovalRecords] from the
// record-to-requests index (workflowState.byRecord).
func (r instanceRepo) RecordInstances(ctx context.Context, records []crm.ID, page crm.PageRequest) (crm.Page[workflow.Instance], error) {
	fail := func(err error) (crm.Page[workflow.Instance], error) {
		return crm.Page[workflow.Instance]{}, fmt.Errorf("memstore: approvals of records: %w", err)
	}
	limit, after, err := workflow.ResolveRecordInstancesPage(records, page)
	if err != nil {
		return fail(err)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	ws := r.tx.workflowState()
	tenant := crm.TenantFrom(ctx)
	var ids []crm.ID
	for _, rec := range records {
		for _, id := range ws.byRecord[rec] {
			if ws.tenants[id] == tenant && (after == nil || bytes.Compare(id[:], after[:]) > 0) {
				ids = append(ids, id)
			}
		}
	}
	slices.SortFunc(ids, func(a, b crm.ID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	var out crm.Page[workflow.Instance]
	for i, id := range ids {
		if i == limit {
			out.NextCursor = workflow.RecordInstancesCursor(ids[i-1])
			break
		}
		in, err := decodeInstance(ws.instances[id])
		if err != nil {
			return fail(err)
		}
		out.Items = append(out.Items, in)
	}
	return out, nil
}
