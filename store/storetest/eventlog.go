package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

// RunRecordReads checks what a customer's 360° view reads beyond the
// repositories: the event log (the optional crm.EventLog: a set of
// records' events, newest first, paged by a cursor of its own), the
// subject-set filters of activities and tasks, the converted-customer
// filter of leads, and, with Workflow, the approvals of a set of records
// (the optional workflow.ApprovalRecords). A port declared in Features
// must be implemented.
func RunRecordReads(t *testing.T, h Harness) {
	test(t, h, "EventLogNewestFirstPerSubjectSet", func(t *testing.T, e *env) {
		e.rawEvents = true
		var has bool
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			_, has = crm.As[crm.EventLog](tx)
			return nil
		}))
		if !has {
			require.False(t, h.Features.EventLog, "Features.EventLog is declared, but the adapter's Tx does not implement crm.EventLog")
			t.Skip("the adapter has no event log (Features.EventLog)")
		}
		a, b, c := e.ids.NewID(), e.ids.NewID(), e.ids.NewID()
		ev := func(subject crm.ID, typ crm.EventType) *crm.Event {
			return &crm.Event{ID: e.ids.NewID(), Type: typ, Subject: crm.Ref{Type: crm.TypeCustomer, ID: subject}, OccurredAt: e.tick()}
		}
		var want []*crm.Event // of a and b, oldest first
		for i := range 7 {
			x, y := ev(a, "customer.updated"), ev(c, "customer.updated")
			if i%3 == 1 {
				x = ev(b, "customer.claimed")
			}
			require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return tx.Events().Append(ctx, x, y) }))
			want = append(want, x)
		}
		// A rolled-back event is not in the log.
		require.Error(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			require.NoError(t, tx.Events().Append(ctx, ev(a, "customer.updated")))
			return errRollback
		}))
		// Another tenant's events of the same subject are not listed.
		require.NoError(t, e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error { return tx.Events().Append(ctx, ev(a, "customer.updated")) }))

		read := func(ctx context.Context, q crm.EventQuery) (crm.Page[crm.Event], error) {
			var p crm.Page[crm.Event]
			err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
				log, _ := crm.As[crm.EventLog](tx)
				p, err = log.SubjectEvents(ctx, q)
				return err
			})
			return p, err
		}
		var got []crm.ID
		q := crm.EventQuery{SubjectIDs: []crm.ID{b, a, e.ids.NewID(), a}, Page: crm.PageRequest{Limit: 3}}
		for {
			p, err := read(e.ctx, q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Items), 3)
			for _, x := range p.Items {
				got = append(got, x.ID)
			}
			if p.NextCursor == "" {
				break
			}
			q.Page.Cursor = p.NextCursor
		}
		var wantIDs []crm.ID
		for i := len(want) - 1; i >= 0; i-- {
			wantIDs = append(wantIDs, want[i].ID)
		}
		require.Equal(t, wantIDs, got, "the events of a and b, newest first, each once")

		p, err := read(e.ctx, crm.EventQuery{SubjectIDs: []crm.ID{a, b}, Types: []crm.EventType{"customer.claimed"}})
		require.NoError(t, err)
		require.Len(t, p.Items, 2)
		require.Equal(t, want[4].ID, p.Items[0].ID)
		require.Equal(t, crm.TypeCustomer, p.Items[0].Subject.Type)
		require.Equal(t, want[4].OccurredAt, p.Items[0].OccurredAt)

		p, err = read(e.ctxB, crm.EventQuery{SubjectIDs: []crm.ID{a}})
		require.NoError(t, err)
		require.Len(t, p.Items, 1, "tenant b sees its own event only")

		for name, bad := range map[string]struct {
			q     crm.EventQuery
			field string
		}{
			"no subjects":      {crm.EventQuery{}, "subject_ids"},
			"nil subject":      {crm.EventQuery{SubjectIDs: []crm.ID{a, crm.NilID}}, "subject_ids[1]"},
			"limit":            {crm.EventQuery{SubjectIDs: []crm.ID{a}, Page: crm.PageRequest{Limit: crm.MaxPageLimit + 1}}, "page.limit"},
			"a queue's cursor": {crm.EventQuery{SubjectIDs: []crm.ID{a}, Page: crm.PageRequest{Cursor: crm.QueueCursor("tdu", crm.QueueKey{ID: a})}}, "page.cursor"},
			"a seq cursor":     {crm.EventQuery{SubjectIDs: []crm.ID{a}, Page: crm.PageRequest{Cursor: crm.SeqCursor(5)}}, "page.cursor"},
		} {
			_, err := read(e.ctx, bad.q)
			require.Error(t, err, name)
			requireInvalid(t, err, bad.field)
		}
	})

	test(t, h, "SubjectSetAndConvertedCustomerFilters", func(t *testing.T, e *env) {
		cust, other := crmtest.Customer(e.ids), crmtest.Customer(e.ids)
		require.NoError(t, e.store.Customers().Create(e.ctx, cust))
		require.NoError(t, e.store.Customers().Create(e.ctx, other))
		ct := crmtest.Contact(e.ids, cust.ID)
		require.NoError(t, e.store.Contacts().Create(e.ctx, ct))
		subjects := []crm.Ref{{Type: crm.TypeCustomer, ID: cust.ID}, {Type: crm.TypeContact, ID: ct.ID}, {Type: crm.TypeCustomer, ID: other.ID}}
		var acts, tasks []crm.ID
		for _, s := range subjects {
			a := crmtest.Activity(e.ids, s, e.ids.NewID())
			require.NoError(t, e.store.Activities().Create(e.ctx, a))
			k := crmtest.Task(e.ids, s, e.ids.NewID())
			require.NoError(t, e.store.Tasks().Create(e.ctx, k))
			acts, tasks = append(acts, a.ID), append(tasks, k.ID)
		}
		ap, err := e.store.Activities().List(e.ctx, crm.ActivityFilter{SubjectIDs: []crm.ID{ct.ID, cust.ID}}, crm.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, acts[:2], recordIDs(ap.Items, func(a *crm.Activity) crm.ID { return a.ID }))
		tp, err := e.store.Tasks().List(e.ctx, crm.TaskFilter{SubjectIDs: []crm.ID{ct.ID, cust.ID}}, crm.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, tasks[:2], recordIDs(tp.Items, func(k *crm.Task) crm.ID { return k.ID }))

		l := crmtest.Lead(e.ids)
		l.Status, l.ConvertedCustomerID = crm.LeadConverted, cust.ID
		l2 := crmtest.Lead(e.ids)
		require.NoError(t, e.store.Leads().Create(e.ctx, l))
		require.NoError(t, e.store.Leads().Create(e.ctx, l2))
		lp, err := e.store.Leads().List(e.ctx, crm.LeadFilter{ConvertedCustomerIDs: []crm.ID{cust.ID}}, crm.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []crm.ID{l.ID}, recordIDs(lp.Items, func(l *crm.Lead) crm.ID { return l.ID }))
	})

	if !h.Features.Workflow {
		return
	}
	test(t, h, "ApprovalsOfRecords", func(t *testing.T, e *env) {
		var ok bool
		require.NoError(t, inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			_, ok = w.ApprovalInstances().(workflow.ApprovalRecords)
			return nil
		}))
		if !ok {
			require.False(t, h.Features.ApprovalRecords, "Features.ApprovalRecords is declared, but the approval port does not implement workflow.ApprovalRecords")
			t.Skip("the adapter does not list approvals by record (Features.ApprovalRecords)")
		}
		r1, r2, r3 := e.opportunityRef(), e.opportunityRef(), e.opportunityRef()
		var want []crm.ID
		for i, r := range []crm.Ref{r1, r2, r3, r1} {
			in := e.approvalInstance(r, e.ids.NewID())
			if i == 0 {
				in.Status, in.FinishedAt = workflow.ApprovalApproved, e.now()
			}
			require.NoError(t, e.createInstance(e.ctx, in))
			if r != r3 {
				want = append(want, in.ID)
			}
		}
		require.NoError(t, e.createInstance(e.ctxB, e.approvalInstance(r1, e.ids.NewID())))
		var got []crm.ID
		page := crm.PageRequest{Limit: 2}
		for {
			var p crm.Page[workflow.Instance]
			require.NoError(t, inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) (err error) {
				p, err = w.ApprovalInstances().(workflow.ApprovalRecords).RecordInstances(ctx, []crm.ID{r1.ID, r2.ID}, page)
				return err
			}))
			got = append(got, recordIDs(p.Items, func(in *workflow.Instance) crm.ID { return in.ID })...)
			if p.NextCursor == "" {
				break
			}
			page.Cursor = p.NextCursor
		}
		require.Equal(t, want, got, "pending and finished, in ID order, of this tenant")
		err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			_, err := w.ApprovalInstances().(workflow.ApprovalRecords).RecordInstances(ctx, nil, crm.PageRequest{})
			return err
		})
		requireInvalid(t, err, "records")
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			_, err := w.ApprovalInstances().(workflow.ApprovalRecords).RecordInstances(ctx, []crm.ID{r1.ID}, crm.PageRequest{Cursor: crm.EventLogCursor(3)})
			return err
		})
		requireInvalid(t, err, "page.cursor")
	})
}

// recordIDs lists the IDs of items.
func recordIDs[T any](items []*T, id func(*T) crm.ID) []crm.ID {
	var out []crm.ID
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}
