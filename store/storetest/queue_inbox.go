package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

// inboxEnv is an approval service over a two-stage chain: stage one
// needs both a1 and a2 (rule all), stage two a3, and a3's step escalates
// to boss after an hour of silence. d is nobody's approver until a task
// is delegated to them.
type inboxEnv struct {
	*env
	svc                      *workflow.ApprovalService
	def                      *workflow.Definition
	schema                   *cond.Schema
	rep, a1, a2, a3, boss, d crm.ID
	// made are the requests the test stored, the oracle's universe.
	made []crm.ID
}

func newInboxEnv(t *testing.T, h Harness) *inboxEnv {
	t.Helper()
	e := &inboxEnv{env: newEnv(t, h)}
	e.rep, e.a1, e.a2, e.a3, e.boss, e.d = e.ids.NewID(), e.ids.NewID(), e.ids.NewID(), e.ids.NewID(), e.ids.NewID(), e.ids.NewID()
	var users []crm.User
	for i, id := range []crm.ID{e.rep, e.a1, e.a2, e.a3, e.boss, e.d} {
		users = append(users, crm.User{Meta: crm.Meta{ID: id}, Name: fmt.Sprintf("User %d", i), Active: true})
	}
	org, err := workflow.NewOrg(users, nil, nil)
	require.NoError(t, err)
	e.schema, err = cond.NewSchema(cond.Field{Name: "amount", Kind: cond.KindNumber})
	require.NoError(t, err)
	e.def, err = workflow.ParseDefinition(e.schema, org, fmt.Appendf(nil, `{"key": "deal_review", "version": 1, "record_type": "opportunity",
		"steps": [
		  {"name": "managers", "approvers": [{"user": %q}, {"user": %q}], "rule": "all"},
		  {"name": "finance", "approvers": [{"user": %q}], "timeout": "1h", "on_timeout": {"action": "escalate", "to": {"user": %q}}}]}`,
		e.a1, e.a2, e.a3, e.boss))
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: e.ids, Clock: e.clock})
	require.NoError(t, err)
	e.svc, err = workflow.NewApprovalService(e.store, engine, nil)
	require.NoError(t, err)
	return e
}

// submit asks for a review of a new opportunity in ctx's tenant.
func (e *inboxEnv) submit(ctx context.Context) *workflow.Instance {
	e.t.Helper()
	in, err := e.svc.Submit(ctx, workflow.SubmitRequest{Definition: e.def, Record: e.schema.NewRecord(), Ref: e.opportunityRef(), Submitter: e.rep})
	require.NoError(e.t, err)
	e.made = append(e.made, in.ID)
	return in
}

// handMade stores a pending request of one active step started at
// started, with tasks as given.
func (e *inboxEnv) handMade(ctx context.Context, started time.Time, id crm.ID, edit func(*workflow.Instance), tasks ...workflow.Task) *workflow.Instance {
	e.t.Helper()
	in := e.approvalInstance(e.opportunityRef(), e.rep)
	if id != crm.NilID {
		in.ID = id
	}
	s := &in.Steps[0]
	s.StartedAt, s.Tasks, s.Approvers = started, tasks, nil
	for _, t := range tasks {
		s.Approvers = append(s.Approvers, t.Approver)
	}
	if edit != nil {
		edit(in)
	}
	require.NoError(e.t, e.createInstance(ctx, in))
	e.made = append(e.made, in.ID)
	return in
}

// decide runs a decision of actor on request id and fails on error.
func (e *inboxEnv) decide(ctx context.Context, id, actor crm.ID, approve bool) *workflow.Instance {
	e.t.Helper()
	op := e.svc.Approve
	if !approve {
		op = e.svc.Reject
	}
	in, err := op(ctx, workflow.DecisionRequest{InstanceID: id, Actor: actor})
	require.NoError(e.t, err)
	return in
}

// inbox reads every page of the inbox of approvers in ctx's tenant, limit
// at a time, checks each item against its request, and returns the
// request IDs in order.
func (e *inboxEnv) inbox(ctx context.Context, limit int, approvers ...crm.ID) []crm.ID {
	e.t.Helper()
	return readQueue(e.t, limit, func(page crm.PageRequest) (crm.Page[workflow.InboxItem], error) {
		return e.svc.Inbox(ctx, workflow.InboxRequest{Approvers: approvers, Page: page})
	}, func(it *workflow.InboxItem) crm.ID {
		require.NotEmpty(e.t, it.Approvers)
		for _, a := range it.Approvers {
			require.Contains(e.t, approvers, a, "an item names only the inbox's approvers")
			_, ok := it.Instance.WaitingOn(a)
			require.True(e.t, ok, "request %s does not wait on %s", it.Instance.ID, a)
		}
		require.Equal(e.t, it.Instance.WaitingSince(), it.WaitingSince)
		require.Equal(e.t, workflow.ApprovalPending, it.Instance.Status)
		return it.Instance.ID
	})
}

// item returns the first page's item of request id in the inbox of
// approvers.
func (e *inboxEnv) item(ctx context.Context, id crm.ID, approvers ...crm.ID) *workflow.InboxItem {
	e.t.Helper()
	p, err := e.svc.Inbox(ctx, workflow.InboxRequest{Approvers: approvers, Page: crm.PageRequest{Limit: crm.MaxPageLimit}})
	require.NoError(e.t, err)
	for _, it := range p.Items {
		if it.Instance.ID == id {
			return it
		}
	}
	require.Failf(e.t, "not in the inbox", "request %s is not in the inbox of %v", id, approvers)
	return nil
}

// expect is the oracle: the inbox of approvers in ctx's tenant as the
// stored requests the test made say it is, in inbox order.
func (e *inboxEnv) expect(ctx context.Context, approvers ...crm.ID) []crm.ID {
	e.t.Helper()
	set := (&workflow.InboxQuery{Approvers: approvers}).ApproverSet()
	var items []*workflow.InboxItem
	for _, id := range e.made {
		in, err := e.getInstance(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			continue // another tenant's
		}
		require.NoError(e.t, err)
		if it, ok := workflow.NewInboxItem(in, set); ok {
			items = append(items, it)
		}
	}
	return queueOrder(items, func(it *workflow.InboxItem) (time.Time, crm.ID) { return it.WaitingSince, it.Instance.ID })
}

// requireInboxes checks the inbox of each approver, and of all of them
// together, against the oracle, reading with a small limit.
func (e *inboxEnv) requireInboxes(ctx context.Context, approvers ...crm.ID) {
	e.t.Helper()
	for _, a := range approvers {
		require.Equal(e.t, e.expect(ctx, a), e.inbox(ctx, 2, a), "the inbox of %s", a)
	}
	require.Equal(e.t, e.expect(ctx, approvers...), e.inbox(ctx, 3, approvers...), "the team's inbox")
}

// hasApprovalInbox reports whether the adapter's approval instance store
// implements workflow.ApprovalInbox.
func hasApprovalInbox(t *testing.T, h Harness) bool {
	t.Helper()
	e := newEnv(t, h)
	has := false
	require.NoError(t, e.store.InTx(e.ctx, func(_ context.Context, tx crm.Tx) error {
		if w, ok := crm.As[workflow.ApprovalTx](tx); ok {
			_, has = w.ApprovalInstances().(workflow.ApprovalInbox)
		}
		return nil
	}))
	return has
}

// RunApprovalInbox checks the approver's inbox ([workflow.ApprovalInbox])
// through [workflow.ApprovalService.Inbox]: who a request waits on as it
// moves through its stages, is decided, delegated, escalated, recalled or
// rejected; the order (oldest waiting first, ties by request ID) across
// pages; a team's inbox listing a request once; a rolled-back unit of
// work and concurrent decisions leaving the inbox as the stored requests
// say; tenancy; and bad input. Without the port (and without declaring
// it) it checks that Inbox reports [crm.ErrUnsupported]. [Run] runs it
// with Features.Workflow.
func RunApprovalInbox(t *testing.T, h Harness) {
	const hour = time.Hour
	if !hasApprovalInbox(t, h) {
		require.False(t, h.Features.ApprovalInbox, "Features.ApprovalInbox is declared, but the approval instance store does not implement workflow.ApprovalInbox")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			e := newInboxEnv(t, h)
			_, err := e.svc.Inbox(e.ctx, workflow.InboxRequest{Approver: e.a1})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}

	test(t, h, "ListsTheRequestsWaitingOnAnApproverOldestFirstWithTiesByIDAcrossPages", func(t *testing.T, e *env) {
		x := &inboxEnv{env: e}
		x.rep, x.a1, x.a2, x.d = e.ids.NewID(), e.ids.NewID(), e.ids.NewID(), e.ids.NewID()
		t0 := e.clock.Now() // nanoseconds in a non-UTC zone: stores keep microseconds
		open := func(u crm.ID) workflow.Task { return workflow.Task{Approver: u} }
		older := x.handMade(e.ctx, t0.Add(-2*hour), crm.NilID, nil, open(x.a1), open(x.a2))
		tie1 := x.handMade(e.ctx, t0, crm.NilID, nil, open(x.a1))
		tie2 := x.handMade(e.ctx, t0.Add(-300*time.Nanosecond), crm.NilID, nil, open(x.a1)) // the same microsecond
		tie3 := x.handMade(e.ctx, t0, crmtest.NewIDs().NewID(), nil, open(x.a2), open(x.a1))
		later := x.handMade(e.ctx, t0.Add(hour), crm.NilID, nil, open(x.a1))
		// Requests that do not wait on a1.
		decided := x.handMade(e.ctx, t0, crm.NilID, nil, workflow.Task{Approver: x.a1, Decision: workflow.Approved, DecidedAt: t0}, open(x.a2))
		x.handMade(e.ctx, t0, crm.NilID, func(in *workflow.Instance) { in.Steps[0].Status = workflow.StepWaiting }, open(x.a1))
		x.handMade(e.ctx, t0, crm.NilID, func(in *workflow.Instance) { in.Status, in.FinishedAt = workflow.ApprovalRecalled, t0 }, open(x.a1))
		handed := x.handMade(e.ctx, t0.Add(-hour), crm.NilID, nil, workflow.Task{Approver: x.d, OnBehalfOf: x.a1})
		// Two active steps of one stage: the earlier start counts.
		twoSteps := x.handMade(e.ctx, t0.Add(3*hour), crm.NilID, func(in *workflow.Instance) {
			in.Steps = append(in.Steps, in.Steps[0])
			in.Steps[1].Name, in.Steps[1].StartedAt = "legal", t0.Add(-3*hour)
			in.Steps[1].Tasks, in.Steps[1].Approvers = []workflow.Task{open(x.a2)}, []crm.ID{x.a2}
		}, open(x.a1))

		key := func(in *workflow.Instance) (time.Time, crm.ID) { return in.WaitingSince(), in.ID }
		want := queueOrder([]*workflow.Instance{older, tie1, tie2, tie3, later, twoSteps}, key)
		require.Equal(t, []crm.ID{twoSteps.ID, older.ID, tie3.ID, tie1.ID, tie2.ID, later.ID}, want, "the fixture's ties are not in creation order")
		require.Equal(t, crm.StorageTime(t0), tie2.WaitingSince())
		svc, err := workflow.NewApprovalService(e.store, e.approvals(t), nil)
		require.NoError(t, err)
		x.svc = svc
		for _, limit := range []int{1, 2, 3, 50} {
			require.Equal(t, want, x.inbox(e.ctx, limit, x.a1), "limit %d", limit)
		}
		require.Equal(t, want, x.expect(e.ctx, x.a1), "the oracle agrees")
		require.Equal(t, queueOrder([]*workflow.Instance{twoSteps, older, tie3, decided}, key), x.inbox(e.ctx, 1, x.a2))
		require.Equal(t, []crm.ID{handed.ID}, x.inbox(e.ctx, 5, x.d), "a task is its holder's, not whom it is held for")
		it := x.item(e.ctx, twoSteps.ID, x.a1)
		require.Equal(t, crm.StorageTime(t0.Add(-3*hour)), it.WaitingSince)
		require.Equal(t, []crm.ID{x.a1}, it.Approvers)
		p, err := svc.Inbox(e.ctx, workflow.InboxRequest{Approver: x.a1})
		require.NoError(t, err)
		require.Len(t, p.Items, len(want))
		require.Empty(t, p.NextCursor)
		requireSame(t, twoSteps, p.Items[0].Instance)
		require.Empty(t, x.inbox(e.ctx, 5, e.ids.NewID()), "an approver nothing waits on")
	})

	t.Run("FollowsARequestThroughItsStagesUntilItIsDecided", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		r1 := e.submit(e.ctx)
		e.tick()
		r2 := e.submit(e.ctx)
		require.Equal(t, []crm.ID{r1.ID, r2.ID}, e.inbox(e.ctx, 1, e.a1))
		require.Equal(t, []crm.ID{r1.ID, r2.ID}, e.inbox(e.ctx, 1, e.a2))
		require.Empty(t, e.inbox(e.ctx, 1, e.a3), "a stage not started waits on nobody")
		require.Empty(t, e.inbox(e.ctx, 1, e.rep), "nobody approves their own request")

		e.decide(e.ctx, r1.ID, e.a1, true)
		require.Equal(t, []crm.ID{r2.ID}, e.inbox(e.ctx, 1, e.a1), "a decided approver drops out")
		require.Equal(t, []crm.ID{r1.ID, r2.ID}, e.inbox(e.ctx, 1, e.a2), "the step still waits on a2")

		stage2 := e.tick()
		e.decide(e.ctx, r1.ID, e.a2, true)
		require.Equal(t, []crm.ID{r2.ID}, e.inbox(e.ctx, 1, e.a2))
		require.Equal(t, []crm.ID{r1.ID}, e.inbox(e.ctx, 1, e.a3), "the next stage's approver appears once it starts")
		require.Equal(t, stage2, e.item(e.ctx, r1.ID, e.a3).WaitingSince, "waiting since the stage started")
		// A team: r2 waits on a1 and a2 (listed once), r1 on a3.
		require.Equal(t, []crm.ID{r2.ID, r1.ID}, e.inbox(e.ctx, 1, e.a3, e.a1, e.a2))
		require.Equal(t, []crm.ID{e.a1, e.a2}, e.item(e.ctx, r2.ID, e.a2, e.a3, e.a1).Approvers, "named in step order")
		require.Equal(t, []crm.ID{e.a3}, e.item(e.ctx, r1.ID, e.a2, e.a3, e.a1).Approvers)
		e.requireInboxes(e.ctx, e.a1, e.a2, e.a3)

		e.decide(e.ctx, r1.ID, e.a3, true)
		require.Empty(t, e.inbox(e.ctx, 1, e.a3), "an approved request drops out")
		r3 := e.submit(e.ctx)
		e.decide(e.ctx, r3.ID, e.a2, false)
		_, err := e.svc.Recall(e.ctx, workflow.DecisionRequest{InstanceID: r2.ID, Actor: e.rep, Comment: "changed my mind"})
		require.NoError(t, err)
		for _, a := range []crm.ID{e.a1, e.a2, e.a3} {
			require.Empty(t, e.inbox(e.ctx, 1, a), "rejected and recalled requests drop out")
		}
	})

	t.Run("ADelegatedTaskMovesToTheDelegatesInbox", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		r := e.submit(e.ctx)
		since := e.now()
		e.tick()
		_, err := e.svc.Delegate(e.ctx, workflow.HandOverRequest{InstanceID: r.ID, Actor: e.a1, To: e.d})
		require.NoError(t, err)
		require.Empty(t, e.inbox(e.ctx, 1, e.a1))
		require.Equal(t, []crm.ID{r.ID}, e.inbox(e.ctx, 1, e.d))
		it := e.item(e.ctx, r.ID, e.a1, e.d, e.a2)
		require.Equal(t, []crm.ID{e.d, e.a2}, it.Approvers)
		require.Equal(t, since, it.WaitingSince, "a hand-over does not restart the wait")
		e.decide(e.ctx, r.ID, e.d, true)
		require.Empty(t, e.inbox(e.ctx, 1, e.d))
		e.requireInboxes(e.ctx, e.a1, e.a2, e.d)
	})

	t.Run("AnEscalationAndABatchUpdateRewriteTheInbox", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		if !hasApprovalDeadlines(t, h) {
			t.Skip("the adapter has no workflow.ApprovalDeadlines: no batch updates")
		}
		r1, r2, r3 := e.submit(e.ctx), e.submit(e.ctx), e.submit(e.ctx)
		for _, r := range []*workflow.Instance{r1, r2} {
			e.decide(e.ctx, r.ID, e.a1, true)
			e.decide(e.ctx, r.ID, e.a2, true)
		}
		started := e.now()
		e.clock.Advance(2 * hour)
		res, err := e.svc.TickDue(e.ctx, time.Time{}, 10)
		require.NoError(t, err)
		require.Len(t, res.Saved, 2)
		require.Equal(t, []crm.ID{r1.ID, r2.ID}, e.inbox(e.ctx, 1, e.boss), "the escalated approver is waited on")
		require.Equal(t, started, e.item(e.ctx, r1.ID, e.boss).WaitingSince, "since the stage started")
		require.Equal(t, []crm.ID{e.a3, e.boss}, e.item(e.ctx, r2.ID, e.boss, e.a3).Approvers)

		// One batch: r1 approved by a3 (finished), r3 handed from a1 to d.
		eng := e.svc.Engine()
		var stale *workflow.Instance
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			a, err := w.ApprovalInstances().GetInstance(ctx, r1.ID)
			require.NoError(t, err)
			b, err := w.ApprovalInstances().GetInstance(ctx, r3.ID)
			require.NoError(t, err)
			stale = b.Clone()
			_, err = eng.Approve(a, e.a3, "")
			require.NoError(t, err)
			_, err = eng.Delegate(b, e.a1, e.d)
			require.NoError(t, err)
			return deadlines(t, w).UpdateInstances(ctx, []*workflow.Instance{a, b})
		})
		require.Equal(t, []crm.ID{r2.ID}, e.inbox(e.ctx, 1, e.boss))
		require.Equal(t, []crm.ID{r2.ID}, e.inbox(e.ctx, 1, e.a3))
		require.Equal(t, []crm.ID{r3.ID}, e.inbox(e.ctx, 1, e.d))
		require.Empty(t, e.inbox(e.ctx, 1, e.a1))

		// A refused batch changes no inbox.
		_, err = eng.Approve(stale, e.a1, "")
		require.NoError(t, err)
		err = inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			fresh, err := w.ApprovalInstances().GetInstance(ctx, r2.ID)
			require.NoError(t, err)
			_, err = eng.Approve(fresh, e.a3, "")
			require.NoError(t, err)
			return deadlines(t, w).UpdateInstances(ctx, []*workflow.Instance{fresh, stale})
		})
		require.ErrorIs(t, err, crm.ErrConflict)
		require.Equal(t, []crm.ID{r2.ID}, e.inbox(e.ctx, 1, e.a3))
		require.Equal(t, []crm.ID{r3.ID}, e.inbox(e.ctx, 1, e.d))
		e.requireInboxes(e.ctx, e.a1, e.a2, e.a3, e.boss, e.d)
	})

	t.Run("ARolledBackUnitOfWorkLeavesTheInboxAsItWas", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		r := e.submit(e.ctx)
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			if _, err := e.svc.ApproveTx(ctx, tx, workflow.DecisionRequest{InstanceID: r.ID, Actor: e.a1}); err != nil {
				return err
			}
			if _, err := e.svc.SubmitTx(ctx, tx, workflow.SubmitRequest{Definition: e.def, Record: e.schema.NewRecord(),
				Ref: e.opportunityRef(), Submitter: e.rep}); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Equal(t, []crm.ID{r.ID}, e.inbox(e.ctx, 1, e.a1))
		require.Equal(t, []crm.ID{r.ID}, e.inbox(e.ctx, 1, e.a2))
	})

	t.Run("ConcurrentDecisionsLeaveTheInboxAsTheStoredRequestsSay", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		const n = 6
		rs := make([]*workflow.Instance, n)
		for i := range rs {
			rs[i] = e.submit(e.ctx)
		}
		// Each request gets a1's and a2's approvals at once, and a
		// delegation by a1 races them; who loses a race is refused.
		errs := race(3*n, func(i int) error {
			r := rs[i%n]
			var err error
			switch i / n {
			case 0:
				_, err = e.svc.Approve(e.ctx, workflow.DecisionRequest{InstanceID: r.ID, Actor: e.a1})
			case 1:
				_, err = e.svc.Approve(e.ctx, workflow.DecisionRequest{InstanceID: r.ID, Actor: e.a2})
			default:
				_, err = e.svc.Delegate(e.ctx, workflow.HandOverRequest{InstanceID: r.ID, Actor: e.a1, To: e.d})
			}
			return err
		})
		for _, err := range errs {
			if err != nil && !errors.Is(err, crm.ErrConflict) && !errors.Is(err, crm.ErrPermissionDenied) {
				require.NoError(t, err)
			}
		}
		e.requireInboxes(e.ctx, e.a1, e.a2, e.a3, e.d)
	})

	t.Run("KeepsTenantsApart", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		ra, rb := e.submit(e.ctxA), e.submit(e.ctxB)
		require.Equal(t, []crm.ID{ra.ID}, e.inbox(e.ctxA, 5, e.a1, e.a2))
		require.Equal(t, []crm.ID{rb.ID}, e.inbox(e.ctxB, 5, e.a1))
		require.Empty(t, e.inbox(e.ctx, 5, e.a1, e.a2, e.a3))
		e.decide(e.ctxB, rb.ID, e.a1, true)
		require.Equal(t, []crm.ID{ra.ID}, e.inbox(e.ctxA, 5, e.a1), "a decision in b leaves a alone")
		require.Empty(t, e.inbox(e.ctxB, 5, e.a1))
	})

	t.Run("RefusesBadInputNamingTheField", func(t *testing.T) {
		t.Parallel()
		e := newInboxEnv(t, h)
		e.submit(e.ctx)
		e.submit(e.ctx)
		first, err := e.svc.Inbox(e.ctx, workflow.InboxRequest{Approver: e.a1, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.NotEmpty(t, first.NextCursor)
		ok := workflow.InboxRequest{Approver: e.a1}
		many := make([]crm.ID, workflow.MaxInboxApprovers)
		for i := range many {
			many[i] = e.ids.NewID()
		}
		for name, tc := range map[string]struct {
			edit  func(*workflow.InboxRequest)
			field string
		}{
			"no approver":           {func(r *workflow.InboxRequest) { r.Approver = crm.NilID }, "approver"},
			"a nil team member":     {func(r *workflow.InboxRequest) { r.Approvers = []crm.ID{e.a2, crm.NilID} }, "approvers[1]"},
			"too many approvers":    {func(r *workflow.InboxRequest) { r.Approvers = many }, "approvers"},
			"limit too big":         {func(r *workflow.InboxRequest) { r.Page.Limit = crm.MaxPageLimit + 1 }, "page.limit"},
			"negative limit":        {func(r *workflow.InboxRequest) { r.Page.Limit = -1 }, "page.limit"},
			"a list's cursor":       {func(r *workflow.InboxRequest) { r.Page.Cursor = crm.CursorAfter(e.a1) }, "page.cursor"},
			"another queue's":       {func(r *workflow.InboxRequest) { r.Page.Cursor = "tdu" + first.NextCursor[3:] }, "page.cursor"},
			"a truncated cursor":    {func(r *workflow.InboxRequest) { r.Page.Cursor = first.NextCursor[:len(first.NextCursor)-3] }, "page.cursor"},
			"a cursor with garbage": {func(r *workflow.InboxRequest) { r.Page.Cursor = "ain.%%%" }, "page.cursor"},
		} {
			req := ok
			tc.edit(&req)
			_, err := e.svc.Inbox(e.ctx, req)
			requireInvalid(t, err, tc.field)
			require.ErrorContains(t, err, tc.field, name)
		}
		// The port checks its query too, whoever calls it.
		mustWorkflow(t, e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
			box := w.ApprovalInstances().(workflow.ApprovalInbox)
			_, err := box.ApprovalInbox(ctx, workflow.InboxQuery{Approvers: []crm.ID{e.a1}, Page: crm.PageRequest{Cursor: crm.CursorAfter(e.a1)}})
			requireInvalid(t, err, "page.cursor")
			_, err = box.ApprovalInbox(ctx, workflow.InboxQuery{})
			requireInvalid(t, err, "approvers")
			return nil
		})
	})
}
