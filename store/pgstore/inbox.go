package pgstore

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// This file serves approval inboxes ([workflow.ApprovalInbox]) from the
// crm_approval_inbox table of migration 0020_approval_inbox, which
// CreateInstance, UpdateInstance and UpdateInstances rewrite in the
// statement that stores a request. A page is the work queues' query
// (queueQuery: one index range per approver, merged), whose page of
// request IDs selects the requests' bodies.

var _ workflow.ApprovalInbox = instanceRepo{}

// inboxSpec is the inbox table as a work queue: approvers are its owners,
// every row is in the queue, ordered by waiting_since.
var inboxSpec = queueSpec{table: "crm_approval_inbox", cols: "instance_id", id: "instance_id", due: "waiting_since", owner: "approver_id", in: "true"}

// inboxBound is later than any stored request's WaitingSince (requests
// are stored as JSON, which encodes no year after 9999): an inbox lists
// every request waiting, however late.
var inboxBound = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

// inboxQuery returns the statement of the requests of an inbox page of
// n requests after after (nil: from the start), in no order.
func inboxQuery(schema, tenant string, approvers []crm.ID, n int, after *crm.QueueKey) (string, []any) {
	page, args, _ := queueQuery(schema, inboxSpec, tenant, &crm.DataScope{OwnerIDs: approvers}, inboxBound, n, after)
	return "SELECT tenant_id, version, body FROM " + pgx.Identifier{schema, "crm_approval_instances"}.Sanitize() +
		" WHERE tenant_id = $1 AND id IN (" + page + ")", args
}

// ApprovalInbox implements [workflow.ApprovalInbox].
func (r instanceRepo) ApprovalInbox(ctx context.Context, q workflow.InboxQuery) (crm.Page[workflow.InboxItem], error) {
	fail := func(err error) (crm.Page[workflow.InboxItem], error) {
		return crm.Page[workflow.InboxItem]{}, wfFail(ctx, "approval inbox", err)
	}
	if err := q.Validate(); err != nil {
		return fail(err)
	}
	limit, after, err := workflow.ResolveInboxPage(q.Page)
	if err != nil {
		return fail(err)
	}
	if err := r.v.check(ctx); err != nil {
		return fail(err)
	}
	sql, args := inboxQuery(r.v.s.schema, crm.TenantFrom(ctx), q.Approvers, limit+1, after)
	rows, err := r.v.q.Query(ctx, sql, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	set := q.ApproverSet()
	var out crm.Page[workflow.InboxItem]
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return fail(err)
		}
		// The inbox rows were written from the body in the same
		// statement, so every request read waits on the inbox.
		if item, ok := workflow.NewInboxItem(in, set); ok {
			out.Items = append(out.Items, item)
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	slices.SortFunc(out.Items, func(a, b *workflow.InboxItem) int {
		ka, kb := inboxKey(a), inboxKey(b)
		switch {
		case ka.Less(kb):
			return -1
		case kb.Less(ka):
			return 1
		}
		return 0
	})
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = workflow.InboxCursor(out.Items[limit-1])
	}
	return out, nil
}

// inboxKey is an item's place in its inbox.
func inboxKey(it *workflow.InboxItem) crm.QueueKey {
	return crm.QueueKey{DueAt: it.WaitingSince, ID: it.Instance.ID}
}
