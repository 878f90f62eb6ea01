package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func TestInstanceWaitingOn(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	ids := crmtest.NewIDs()
	a, b, c := ids.NewID(), ids.NewID(), ids.NewID()
	step := func(status workflow.StepStatus, started time.Time, tasks ...workflow.Task) workflow.StepState {
		return workflow.StepState{Name: "s", Status: status, StartedAt: started, Tasks: tasks}
	}
	open := func(u crm.ID) workflow.Task { return workflow.Task{Approver: u} }
	tests := []struct {
		name   string
		status workflow.ApprovalStatus
		steps  []workflow.StepState
		// since is WaitingSince; waits the approvers waited on.
		since time.Time
		waits []crm.ID
	}{
		{"ARunningStepWaitsOnItsOpenTasks", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at, open(a), open(b))}, at, []crm.ID{a, b}},
		{"ADecidedTaskWaitsNoMore", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at, workflow.Task{Approver: a, Decision: workflow.Approved}, open(b))}, at, []crm.ID{b}},
		{"AStepNotStartedWaitsOnNobody", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepApproved, at.Add(-time.Hour), open(c)), step(workflow.StepActive, at, open(a)),
				step(workflow.StepWaiting, time.Time{}, open(b))}, at, []crm.ID{a}},
		{"ADelegatedTaskWaitsOnItsHolder", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at, workflow.Task{Approver: c, OnBehalfOf: a})}, at, []crm.ID{c}},
		{"ParallelStepsWaitSinceTheEarliestStart", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at.Add(time.Hour), open(a)), step(workflow.StepActive, at, open(b))}, at, []crm.ID{a, b}},
		{"NanosecondsAreCutAndTheZoneIsUTC", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at.Add(999*time.Nanosecond).In(time.FixedZone("CST", 8*3600)), open(a))}, at, []crm.ID{a}},
		{"AFinishedRequestWaitsOnNobody", workflow.ApprovalApproved,
			[]workflow.StepState{step(workflow.StepActive, at, open(a))}, time.Time{}, nil},
		{"AllTasksDecidedWaitsOnNobody", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at, workflow.Task{Approver: a, Decision: workflow.Rejected})}, at, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &workflow.Instance{Status: tc.status, Steps: tc.steps}
			require.True(t, tc.since.Equal(in.WaitingSince()), "want %s, got %s", tc.since, in.WaitingSince())
			if !tc.since.IsZero() {
				require.Equal(t, time.UTC, in.WaitingSince().Location())
			}
			for _, u := range []crm.ID{a, b, c, crm.NilID} {
				since, ok := in.WaitingOn(u)
				require.Equal(t, containsID(tc.waits, u), ok, "waits on %s", u)
				if ok {
					require.Equal(t, in.WaitingSince(), since)
				}
			}
			item, ok := workflow.NewInboxItem(in, (&workflow.InboxQuery{Approvers: []crm.ID{c, b, a}}).ApproverSet())
			require.Equal(t, len(tc.waits) > 0, ok)
			if ok {
				require.Equal(t, tc.waits, item.Approvers, "named in step order, not the query's")
				require.Equal(t, in.WaitingSince(), item.WaitingSince)
				require.Same(t, in, item.Instance)
			}
			_, ok = workflow.NewInboxItem(in, (&workflow.InboxQuery{Approvers: []crm.ID{ids.NewID()}}).ApproverSet())
			require.False(t, ok, "an inbox of somebody else")
		})
	}
}

func containsID(ids []crm.ID, id crm.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestInboxQueryValidateAndCursor(t *testing.T) {
	t.Parallel()
	ids := crmtest.NewIDs()
	a := ids.NewID()
	many := make([]crm.ID, workflow.MaxInboxApprovers+1)
	for i := range many {
		many[i] = ids.NewID()
	}
	require.NoError(t, (&workflow.InboxQuery{Approvers: many[:workflow.MaxInboxApprovers]}).Validate())
	for field, q := range map[string]workflow.InboxQuery{
		"approvers":    {},
		"approvers[1]": {Approvers: []crm.ID{a, crm.NilID}},
		"page.limit":   {Approvers: []crm.ID{a}, Page: crm.PageRequest{Limit: crm.MaxPageLimit + 1}},
		"page.cursor":  {Approvers: []crm.ID{a}, Page: crm.PageRequest{Cursor: crm.CursorAfter(a)}},
	} {
		requireField(t, q.Validate(), field)
	}
	requireField(t, (&workflow.InboxQuery{Approvers: many}).Validate(), "approvers")

	at := time.Date(2026, 6, 1, 9, 0, 0, 123456000, time.UTC)
	it := &workflow.InboxItem{Instance: &workflow.Instance{ID: ids.NewID()}, WaitingSince: at}
	limit, after, err := workflow.ResolveInboxPage(crm.PageRequest{Limit: 7, Cursor: workflow.InboxCursor(it)})
	require.NoError(t, err)
	require.Equal(t, 7, limit)
	require.Equal(t, crm.QueueKey{DueAt: at, ID: it.Instance.ID}, *after)
	_, _, err = crm.ResolveQueuePage("tdu", "due-tasks", crm.PageRequest{Cursor: workflow.InboxCursor(it)})
	requireField(t, err, "page.cursor")
}

// TestApprovalServiceInboxWithoutThePort shows the fallback: a store
// whose approval port lacks workflow.ApprovalInbox makes Inbox report
// crm.ErrUnsupported, after checking the request.
func TestApprovalServiceInboxWithoutThePort(t *testing.T) {
	t.Parallel()
	org, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(org, nil)
	require.NoError(t, err)
	svc, err := workflow.NewApprovalService(noInbox{memstore.New(nil)}, engine, nil)
	require.NoError(t, err)
	a := crmtest.NewIDs().NewID()
	_, err = svc.Inbox(context.Background(), workflow.InboxRequest{Approver: a})
	require.ErrorIs(t, err, crm.ErrUnsupported)
	_, err = svc.Inbox(context.Background(), workflow.InboxRequest{})
	requireField(t, err, "approver")
	_, err = svc.Inbox(context.Background(), workflow.InboxRequest{Approver: a, Approvers: []crm.ID{crm.NilID}})
	requireField(t, err, "approvers[0]")
}

// noInbox is a store whose units of work have an approval port with
// ApprovalInstances' methods only, as an adapter's that predates the
// inbox.
type noInbox struct{ crm.Store }

func (s noInbox) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(ctx, noInboxTx{tx}) })
}

type noInboxTx struct{ crm.Tx }

func (t noInboxTx) ApprovalInstances() workflow.ApprovalInstances {
	return struct{ workflow.ApprovalInstances }{t.Tx.(workflow.ApprovalTx).ApprovalInstances()}
}
