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
	"github.com/crmkit/crmkit/workflow"
)

// approvalServiceFixture is a [workflow.ApprovalService] on the adapter
// under test. The chain has one step: the manager approves, or the step
// approves itself after an hour of silence.
type approvalServiceFixture struct {
	e                   *env
	svc                 *workflow.ApprovalService
	def                 *workflow.Definition
	schema              *cond.Schema
	rep, boss, outsider crm.ID
}

// approvalAuthorizerFunc adapts a function to workflow.ApprovalAuthorizer.
type approvalAuthorizerFunc func(ctx context.Context, tx crm.Tx, a *workflow.ApprovalAccess) error

func (fn approvalAuthorizerFunc) AuthorizeApproval(ctx context.Context, tx crm.Tx, a *workflow.ApprovalAccess) error {
	return fn(ctx, tx, a)
}

// newApprovalServiceFixture builds the service; its authorizer refuses
// everything outsider does.
func newApprovalServiceFixture(t *testing.T, e *env) *approvalServiceFixture {
	t.Helper()
	f := &approvalServiceFixture{e: e, rep: e.ids.NewID(), boss: e.ids.NewID(), outsider: e.ids.NewID()}
	org, err := workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: f.rep}, Name: "Li Wei", Active: true},
		{Meta: crm.Meta{ID: f.boss}, Name: "Liu Yang", Roles: []string{"manager"}, Active: true},
		{Meta: crm.Meta{ID: f.outsider}, Name: "Outsider", Active: true},
	}, nil, nil)
	require.NoError(t, err)
	f.schema, err = cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	require.NoError(t, err)
	f.def, err = workflow.ParseDefinition(f.schema, org, []byte(`{"key": "quote_discount", "version": 1, "record_type": "opportunity",
		"steps": [{"name": "manager", "approvers": [{"role": "manager"}], "timeout": "1h", "on_timeout": {"action": "approve"}}]}`))
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: e.ids, Clock: e.clock})
	require.NoError(t, err)
	auth := approvalAuthorizerFunc(func(_ context.Context, _ crm.Tx, a *workflow.ApprovalAccess) error {
		if a.Actor == f.outsider {
			return fmt.Errorf("storetest: %s is not involved: %w", a.Actor, crm.ErrPermissionDenied)
		}
		return nil
	})
	f.svc, err = workflow.NewApprovalService(e.store, engine, &workflow.ApprovalServiceConfig{Authorizer: auth})
	require.NoError(t, err)
	return f
}

func (f *approvalServiceFixture) submit(t *testing.T, ctx context.Context) *workflow.Instance {
	t.Helper()
	in, err := f.svc.Submit(ctx, workflow.SubmitRequest{Definition: f.def, Record: f.schema.NewRecord(),
		Ref: f.e.opportunityRef(), Submitter: f.rep})
	require.NoError(t, err)
	return in
}

// events returns the types of the stored events about request id, oldest
// first.
func (f *approvalServiceFixture) events(t *testing.T, id crm.ID) []crm.EventType {
	t.Helper()
	evs, err := f.e.store.Outbox().Pending(f.e.ctx, 1000)
	require.NoError(t, err)
	var out []crm.EventType
	for _, ev := range evs {
		if ev.Subject.ID == id {
			out = append(out, ev.Type)
		}
	}
	return out
}

func runWorkflowApprovalService(t *testing.T, h Harness) {
	test(t, h, "ADecisionStoresTheRequestAndItsEventsTogether", func(t *testing.T, e *env) {
		f := newApprovalServiceFixture(t, e)
		in := f.submit(t, e.ctxA)
		require.Equal(t, int64(1), in.Version)
		require.Equal(t, "a", in.TenantID)
		got, err := f.svc.Approve(e.ctxA, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Comment: "fine", Version: 1})
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalApproved, got.Status)
		require.Equal(t, int64(2), got.Version)
		stored, err := f.svc.Get(e.ctxA, in.ID)
		require.NoError(t, err)
		requireSame(t, got, stored)
		_, err = f.svc.Get(e.ctxB, in.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "another tenant does not see it")
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, workflow.EventApprovalStepApproved, workflow.EventApprovalApproved},
			f.events(t, in.ID))
	})
	test(t, h, "RefusalsAndAFailedUnitOfWorkKeepNothing", func(t *testing.T, e *env) {
		f := newApprovalServiceFixture(t, e)
		in := f.submit(t, e.ctx)
		_, err := f.svc.Comment(e.ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.outsider, Comment: "hello"})
		require.ErrorIs(t, err, crm.ErrPermissionDenied, "the authorizer refuses")
		_, err = f.svc.Approve(e.ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Version: 2})
		require.ErrorIs(t, err, crm.ErrConflict, "a stale version is refused")
		_, err = f.svc.Approve(e.ctx, workflow.DecisionRequest{InstanceID: e.ids.NewID(), Actor: f.boss})
		require.ErrorIs(t, err, crm.ErrNotFound)
		_, err = f.svc.Approve(e.ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.rep})
		require.ErrorIs(t, err, crm.ErrPermissionDenied, "the submitter holds no task")

		err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			if _, err := f.svc.ApproveTx(ctx, tx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Version: 1}); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		stored, err := f.svc.Get(e.ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), stored.Version)
		require.Equal(t, workflow.ApprovalPending, stored.Status)
		require.Empty(t, stored.Comments)
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted}, f.events(t, in.ID))
	})
	test(t, h, "OfEightConcurrentApprovalsOfOneTaskExactlyOneWins", func(t *testing.T, e *env) {
		f := newApprovalServiceFixture(t, e)
		in := f.submit(t, e.ctx)
		errs := race(8, func(int) error {
			_, err := f.svc.Approve(e.ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss})
			return err
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, crm.ErrConflict), errors.Is(err, crm.ErrFailedPrecondition):
				// Lost: a stale save, or the request was approved already.
			default:
				require.NoError(t, err, "unexpected error")
			}
		}
		require.Equal(t, 1, ok)
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, workflow.EventApprovalStepApproved, workflow.EventApprovalApproved},
			f.events(t, in.ID), "one approval is stored")
		stored, err := f.svc.Get(e.ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), stored.Version)
	})
	test(t, h, "TickDueFiresTimeoutsInAUnitOfWork", func(t *testing.T, e *env) {
		f := newApprovalServiceFixture(t, e)
		if e.tickDueUnsupported(t, h, func() error {
			_, err := f.svc.TickDue(e.ctx, e.clock.Now().Add(time.Hour), 10)
			return err
		}) {
			return
		}
		in := f.submit(t, e.ctx)
		res, err := f.svc.TickDue(e.ctx, e.clock.Now().Add(59*time.Minute), 10)
		require.NoError(t, err)
		require.Zero(t, res.Claimed)
		res, err = f.svc.TickDue(e.ctx, e.clock.Now().Add(time.Hour+time.Microsecond), 10)
		require.NoError(t, err)
		require.Equal(t, 1, res.Claimed)
		stored, err := f.svc.Get(e.ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalApproved, stored.Status, "the step approved itself")
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, workflow.EventApprovalStepApproved, workflow.EventApprovalApproved},
			f.events(t, in.ID))
	})
}
