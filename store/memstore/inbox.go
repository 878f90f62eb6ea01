package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// This file serves approval inboxes ([workflow.ApprovalInbox]): per
// tenant and approver, an ordered index of the pending requests waiting
// on them (workflow.Instance.WaitingSince, then ID), kept up to date by
// every create and update of a request, so a page costs a binary search
// and a merge of the inbox's approvers' indexes rather than a scan.

// inboxKey names one approver's inbox index.
type inboxKey struct {
	tenant   string
	approver crm.ID
}

// waiting is what a stored request has in the inbox indexes: its time and
// the approvers it waits on, and the request as decoded from its stored
// JSON, which a page clones rather than decoding again.
type waiting struct {
	tenant    string
	at        int64
	approvers []crm.ID
	in        *workflow.Instance
}

// inboxBound is later than any stored request's WaitingSince (JSON, in
// which requests are stored, encodes no year after 9999): an inbox lists
// every request waiting, however late.
var inboxBound = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

// inboxCopy returns what the inbox keeps of request c stored as body: the
// request decoded from body, when it waits on anybody; nil otherwise.
func inboxCopy(c *workflow.Instance, body []byte) (*workflow.Instance, error) {
	if len(c.PendingApprovers()) == 0 {
		return nil, nil
	}
	return decodeInstance(body)
}

// setInbox moves the inbox entries of request id from what was indexed
// for it to what stored (its stored JSON decoded, or nil when it waits on
// nobody) waits on, in tenant. Callers hold the lock.
func (ws *workflowState) setInbox(tenant string, id crm.ID, stored *workflow.Instance) {
	ws.unsetInbox(id)
	if stored == nil {
		return
	}
	approvers := stored.PendingApprovers()
	if len(approvers) == 0 {
		return
	}
	w := waiting{tenant: tenant, at: stored.WaitingSince().UnixMicro(), approvers: approvers, in: stored}
	e := queueEntry{at: w.at, id: id}
	for _, a := range approvers {
		k := inboxKey{tenant, a}
		x := ws.inbox[k]
		if x == nil {
			x = &queueIndex{}
			ws.inbox[k] = x
		}
		x.insert(e)
	}
	ws.waiting[id] = w
}

// unsetInbox removes the inbox entries of request id. Callers hold the
// lock.
func (ws *workflowState) unsetInbox(id crm.ID) {
	w, ok := ws.waiting[id]
	if !ok {
		return
	}
	e := queueEntry{at: w.at, id: id}
	for _, a := range w.approvers {
		k := inboxKey{w.tenant, a}
		if x := ws.inbox[k]; x != nil {
			if x.remove(e); len(x.blocks) == 0 {
				delete(ws.inbox, k)
			}
		}
	}
	delete(ws.waiting, id)
}

// ApprovalInbox implements [workflow.ApprovalInbox]: it merges the
// ordered indexes of the query's approvers and copies only the requests
// of the page.
func (r instanceRepo) ApprovalInbox(ctx context.Context, q workflow.InboxQuery) (crm.Page[workflow.InboxItem], error) {
	fail := func(err error) (crm.Page[workflow.InboxItem], error) {
		return crm.Page[workflow.InboxItem]{}, fmt.Errorf("memstore: approval inbox: %w", err)
	}
	if err := q.Validate(); err != nil {
		return fail(err)
	}
	limit, after, err := workflow.ResolveInboxPage(q.Page)
	if err != nil {
		return fail(err)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	idx := make([]*queueIndex, 0, len(q.Approvers))
	for _, a := range q.Approvers {
		if x := ws.inbox[inboxKey{tenant, a}]; x != nil {
			idx = append(idx, x)
		}
	}
	set := q.ApproverSet()
	var out crm.Page[workflow.InboxItem]
	mergeQueues(idx, after, inboxBound, limit+1, func(id crm.ID) bool {
		w, ok := ws.waiting[id]
		if !ok || w.tenant != tenant {
			return false
		}
		item, ok := workflow.NewInboxItem(w.in.Clone(), set)
		if ok {
			out.Items = append(out.Items, item)
		}
		return ok
	})
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = workflow.InboxCursor(out.Items[limit-1])
	}
	return out, nil
}
