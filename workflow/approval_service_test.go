package workflow_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// svcFixture is an approval service over memstore. The two-step chain
// asks the manager, then the director; the one-step chain only the
// manager, who approves on their own after an hour of silence.
type svcFixture struct {
	clock                                   *crmtest.Clock
	ids                                     *crmtest.IDs
	users                                   []crm.User
	schema                                  *cond.Schema
	twoStep, oneStep                        *workflow.Definition
	store                                   *memstore.Store
	engine                                  *workflow.Approvals
	rep, boss, direct, deputy, admin, other crm.ID
}

func newSvcFixture(t *testing.T) *svcFixture {
	t.Helper()
	f := &svcFixture{rep: uid(1), boss: uid(2), direct: uid(3), deputy: uid(4), admin: uid(5), other: uid(6),
		clock: crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)), ids: crmtest.NewIDs()}
	f.users = []crm.User{
		{Meta: crm.Meta{ID: f.rep}, Name: "Li Wei", Active: true},
		{Meta: crm.Meta{ID: f.boss}, Name: "Liu Yang", Roles: []string{"manager"}, Active: true},
		{Meta: crm.Meta{ID: f.direct}, Name: "Chen Jie", Roles: []string{"director"}, Active: true},
		{Meta: crm.Meta{ID: f.deputy}, Name: "Wu Lan", Active: true},
		{Meta: crm.Meta{ID: f.admin}, Name: "Admin", Roles: []string{"admin"}, Active: true},
	}
	org, err := workflow.NewOrg(f.users, nil, nil)
	require.NoError(t, err)
	f.schema, err = cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	require.NoError(t, err)
	f.twoStep, err = workflow.ParseDefinition(f.schema, org, []byte(`{"key": "discount", "version": 1, "record_type": "opportunity",
		"steps": [{"name": "manager", "approvers": [{"role": "manager"}]},
		          {"name": "director", "approvers": [{"role": "director"}]}]}`))
	require.NoError(t, err)
	f.oneStep, err = workflow.ParseDefinition(f.schema, org, []byte(`{"key": "small_discount", "version": 1, "record_type": "opportunity",
		"steps": [{"name": "manager", "approvers": [{"role": "manager"}], "timeout": "1h", "on_timeout": {"action": "approve"}}]}`))
	require.NoError(t, err)
	f.store = memstore.New(&memstore.Config{Clock: f.clock})
	f.engine, err = workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: f.ids, Clock: f.clock})
	require.NoError(t, err)
	return f
}

func (f *svcFixture) service(t *testing.T, auth workflow.ApprovalAuthorizer) *workflow.ApprovalService {
	t.Helper()
	s, err := workflow.NewApprovalService(f.store, f.engine, &workflow.ApprovalServiceConfig{Authorizer: auth})
	require.NoError(t, err)
	return s
}

func (f *svcFixture) submitRequest(def *workflow.Definition) workflow.SubmitRequest {
	return workflow.SubmitRequest{Definition: def, Record: f.schema.NewRecord(),
		Ref: crm.Ref{Type: crm.TypeOpportunity, ID: f.ids.NewID()}, Submitter: f.rep}
}

func (f *svcFixture) submit(t *testing.T, s *workflow.ApprovalService, def *workflow.Definition) *workflow.Instance {
	t.Helper()
	in, err := s.Submit(context.Background(), f.submitRequest(def))
	require.NoError(t, err)
	return in
}

// outbox returns the types of every stored event, oldest first.
func (f *svcFixture) outbox(t *testing.T) []crm.EventType {
	t.Helper()
	evs, err := f.store.Outbox().Pending(context.Background(), 1000)
	require.NoError(t, err)
	return eventTypes(evs)
}

// authorizerFunc adapts a function to workflow.ApprovalAuthorizer.
type authorizerFunc func(ctx context.Context, tx crm.Tx, a *workflow.ApprovalAccess) error

func (fn authorizerFunc) AuthorizeApproval(ctx context.Context, tx crm.Tx, a *workflow.ApprovalAccess) error {
	return fn(ctx, tx, a)
}

// denied is the authorizer's refusal; it matches crm.ErrPermissionDenied.
type denied struct{ action workflow.ApprovalAction }

func (d *denied) Error() string        { return "test: " + string(d.action) + " is not allowed" }
func (d *denied) Is(target error) bool { return target == crm.ErrPermissionDenied }

func TestNewApprovalService(t *testing.T) {
	t.Parallel()
	f := newSvcFixture(t)
	_, err := workflow.NewApprovalService(nil, f.engine, nil)
	requireField(t, err, "store")
	_, err = workflow.NewApprovalService(f.store, nil, nil)
	requireField(t, err, "engine")
	s, err := workflow.NewApprovalService(f.store, f.engine, nil)
	require.NoError(t, err)
	require.Same(t, f.engine, s.Engine())
	requireField(t, s.SetEngine(nil), "engine")
	requireField(t, s.SetOrg(nil), "org")
	require.Same(t, f.engine, s.Engine(), "a refused swap changes nothing")
}

func TestApprovalServiceOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		op   func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error)
		// access is what the authorizer must be asked, Instance aside.
		access workflow.ApprovalAccess
		event  crm.EventType
		check  func(t *testing.T, f *svcFixture, got *workflow.Instance)
	}{
		{"ApproveMovesTheRequestToTheNextStep",
			func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Approve(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Comment: "fine", Version: in.Version})
			},
			workflow.ApprovalAccess{Action: workflow.ApprovalActionApprove}, workflow.EventApprovalStepApproved,
			func(t *testing.T, f *svcFixture, got *workflow.Instance) {
				require.Equal(t, workflow.ApprovalPending, got.Status)
				require.Equal(t, []crm.ID{f.direct}, got.PendingApprovers())
				require.Equal(t, "fine", got.Steps[0].Tasks[0].Comment)
			}},
		{"RejectFinishesTheRequest",
			func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Reject(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Comment: "too much"})
			},
			workflow.ApprovalAccess{Action: workflow.ApprovalActionReject}, workflow.EventApprovalRejected,
			func(t *testing.T, f *svcFixture, got *workflow.Instance) {
				require.Equal(t, workflow.ApprovalRejected, got.Status)
				require.False(t, got.IsLocked())
			}},
		{"RecallByTheSubmitterWithdrawsTheRequest",
			func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Recall(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.rep, Comment: "wrong amount"})
			},
			workflow.ApprovalAccess{Action: workflow.ApprovalActionRecall}, workflow.EventApprovalRecalled,
			func(t *testing.T, f *svcFixture, got *workflow.Instance) {
				require.Equal(t, workflow.ApprovalRecalled, got.Status)
			}},
		{"CommentAddsARemarkWithoutMovingTheFlow",
			func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Comment(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.direct, Comment: "please hurry"})
			},
			workflow.ApprovalAccess{Action: workflow.ApprovalActionComment}, workflow.EventApprovalCommented,
			func(t *testing.T, f *svcFixture, got *workflow.Instance) {
				require.Equal(t, []crm.ID{f.boss}, got.PendingApprovers())
				require.Len(t, got.Comments, 1)
				require.Equal(t, "please hurry", got.Comments[0].Text)
			}},
		{"DelegateHandsTheActorsTaskOver",
			func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Delegate(ctx, workflow.HandOverRequest{InstanceID: in.ID, Actor: f.boss, To: f.deputy, Version: 1})
			},
			workflow.ApprovalAccess{Action: workflow.ApprovalActionDelegate}, workflow.EventApprovalDelegated,
			func(t *testing.T, f *svcFixture, got *workflow.Instance) {
				require.Equal(t, []crm.ID{f.deputy}, got.PendingApprovers())
				require.Equal(t, f.boss, got.Steps[0].Tasks[0].OnBehalfOf)
			}},
		{"ReassignMovesAnotherUsersTask",
			func(s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Reassign(ctx, workflow.HandOverRequest{InstanceID: in.ID, Actor: f.admin, From: f.boss, To: f.deputy})
			},
			workflow.ApprovalAccess{Action: workflow.ApprovalActionReassign}, workflow.EventApprovalReassigned,
			func(t *testing.T, f *svcFixture, got *workflow.Instance) {
				require.Equal(t, []crm.ID{f.deputy}, got.PendingApprovers())
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSvcFixture(t)
			var asked []workflow.ApprovalAccess
			s := f.service(t, authorizerFunc(func(_ context.Context, tx crm.Tx, a *workflow.ApprovalAccess) error {
				require.NotNil(t, tx, "the authorizer reads in the unit of work")
				c := *a
				if c.Instance != nil {
					c.Instance = c.Instance.Clone()
				}
				asked = append(asked, c)
				return nil
			}))
			in := f.submit(t, s, f.twoStep)
			require.Len(t, asked, 1)
			require.Equal(t, workflow.ApprovalAccess{Action: workflow.ApprovalActionSubmit, Actor: f.rep,
				Record: in.Record, Definition: "discount"}, asked[0], "a submit is asked without an instance")

			got, err := tc.op(s, f, in)
			require.NoError(t, err)
			require.Equal(t, int64(2), got.Version, "the returned request carries its new version")
			tc.check(t, f, got)

			require.Len(t, asked, 2)
			a := asked[1]
			require.Equal(t, tc.access.Action, a.Action)
			require.Equal(t, in.Record, a.Record)
			require.Equal(t, "discount", a.Definition)
			require.Equal(t, in, a.Instance, "the authorizer sees the request as it was before the operation")
			switch a.Action {
			case workflow.ApprovalActionDelegate:
				require.Equal(t, [2]crm.ID{f.boss, f.deputy}, [2]crm.ID{a.From, a.To})
			case workflow.ApprovalActionReassign:
				require.Equal(t, [3]crm.ID{f.admin, f.boss, f.deputy}, [3]crm.ID{a.Actor, a.From, a.To})
			default:
				require.Zero(t, a.From)
				require.Zero(t, a.To)
			}

			stored, err := s.Get(ctx, in.ID)
			require.NoError(t, err)
			require.Equal(t, got, stored, "what it returns is what it stored")
			got.Comments = append(got.Comments, workflow.Comment{Text: "changed by the caller"})
			again, err := s.Get(ctx, in.ID)
			require.NoError(t, err)
			require.Equal(t, stored, again, "the returned request is a copy")
			require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, tc.event}, f.outbox(t)[:2])
		})
	}
}

func TestApprovalServiceRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// deny makes the authorizer refuse this action.
		deny    workflow.ApprovalAction
		op      func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error)
		want    error
		field   string
		message string
	}{
		{"TheAuthorizersRefusalOfAnApprovalIsReturnedAsIs", workflow.ApprovalActionApprove,
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Approve(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss})
			}, crm.ErrPermissionDenied, "", "test: approve is not allowed"},
		{"TheAuthorizersRefusalOfAReassignIsReturnedAsIs", workflow.ApprovalActionReassign,
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Reassign(ctx, workflow.HandOverRequest{InstanceID: in.ID, Actor: f.deputy, From: f.boss, To: f.deputy})
			}, crm.ErrPermissionDenied, "", "test: reassign is not allowed"},
		{"TheAuthorizersRefusalOfACommentIsReturnedAsIs", workflow.ApprovalActionComment,
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Comment(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.other, Comment: "hi"})
			}, crm.ErrPermissionDenied, "", "test: comment is not allowed"},
		{"AStaleVersionIsAConflict", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Approve(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Version: in.Version + 1})
			}, crm.ErrConflict, "", "workflow: approve "},
		{"ANegativeVersionIsBadInput", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Reject(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Version: -1})
			}, crm.ErrInvalidArgument, "version", "workflow: reject "},
		{"AnUnknownRequestIsNotFound", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Approve(ctx, workflow.DecisionRequest{InstanceID: f.ids.NewID(), Actor: f.boss})
			}, crm.ErrNotFound, "", "workflow: approve "},
		{"AnActorWithoutATaskIsRefusedByTheEngineBeforeTheAuthorizerIsAsked", workflow.ApprovalActionApprove,
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Approve(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.direct})
			}, crm.ErrPermissionDenied, "", "no open task"},
		{"OnlyTheSubmitterMayRecall", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Recall(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss})
			}, crm.ErrPermissionDenied, "", "only the submitter may recall"},
		{"ADelegateMovesOnlyTheActorsOwnTask", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Delegate(ctx, workflow.HandOverRequest{InstanceID: in.ID, Actor: f.direct, From: f.boss, To: f.deputy})
			}, crm.ErrInvalidArgument, "from", "workflow: delegate "},
		{"NobodyDelegatesToTheSubmitter", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Delegate(ctx, workflow.HandOverRequest{InstanceID: in.ID, Actor: f.boss, To: f.rep})
			}, crm.ErrInvalidArgument, "to", "workflow: delegate "},
		{"AnEmptyCommentIsBadInput", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.Comment(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Comment: " "})
			}, crm.ErrInvalidArgument, "text", "workflow: comment "},
		{"ADecisionOnAFinishedRequestIsAFailedPrecondition", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				_, err := s.Recall(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.rep})
				require.NoError(t, err)
				return s.Approve(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss})
			}, crm.ErrFailedPrecondition, "", "is recalled"},
		{"AUnitOfWorkWithoutApprovalPortsIsUnsupported", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				var out *workflow.Instance
				err := f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
					var err error
					out, err = s.ApproveTx(ctx, struct{ crm.Tx }{tx}, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss})
					return err
				})
				return out, err
			}, crm.ErrUnsupported, "", "workflow: approve "},
		{"ANilUnitOfWorkIsBadInput", "",
			func(t *testing.T, s *workflow.ApprovalService, f *svcFixture, in *workflow.Instance) (*workflow.Instance, error) {
				return s.RecallTx(ctx, nil, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.rep})
			}, crm.ErrInvalidArgument, "tx", "workflow: recall "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newSvcFixture(t)
			var asked atomic.Int32
			s := f.service(t, authorizerFunc(func(_ context.Context, _ crm.Tx, a *workflow.ApprovalAccess) error {
				asked.Add(1)
				if a.Action == tc.deny {
					return &denied{a.Action}
				}
				return nil
			}))
			in := f.submit(t, s, f.twoStep)
			before := f.outbox(t)
			askedBefore := asked.Load()

			got, err := tc.op(t, s, f, in)
			require.Nil(t, got)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), tc.message)
			if tc.field != "" {
				var ve *crm.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tc.field, ve.Field)
			}
			var d *denied
			if tc.deny != "" && errors.As(err, &d) {
				require.Equal(t, &denied{tc.deny}, err, "the refusal is returned as is, not wrapped")
			}
			if tc.name == "AnActorWithoutATaskIsRefusedByTheEngineBeforeTheAuthorizerIsAsked" {
				require.Equal(t, askedBefore, asked.Load())
			}
			if tc.want == crm.ErrFailedPrecondition {
				return // the recall before it was stored
			}
			stored, err := s.Get(ctx, in.ID)
			require.NoError(t, err)
			require.Equal(t, in, stored, "a refused operation stores nothing")
			require.Equal(t, before, f.outbox(t), "and appends no event")
		})
	}
}

func TestApprovalServiceSubmit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("ARefusedSubmitStoresNothingAndLeavesTheRecordUnlocked", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, authorizerFunc(func(context.Context, crm.Tx, *workflow.ApprovalAccess) error {
			return &denied{workflow.ApprovalActionSubmit}
		}))
		req := f.submitRequest(f.twoStep)
		_, err := s.Submit(ctx, req)
		require.Equal(t, &denied{workflow.ApprovalActionSubmit}, err)
		require.Empty(t, f.outbox(t))
		err = f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			require.NoError(t, err)
			return workflow.CheckUnlocked(ctx, w.ApprovalInstances(), req.Ref)
		})
		require.NoError(t, err)
	})
	t.Run("ARecordUnderApprovalCannotBeSubmittedAgain", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		req := f.submitRequest(f.twoStep)
		first, err := s.Submit(ctx, req)
		require.NoError(t, err)
		require.Equal(t, int64(1), first.Version)
		_, err = s.Submit(ctx, req)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
		require.ErrorContains(t, err, "workflow: submit opportunity ")
	})
	t.Run("BadInputNamesTheField", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		req := f.submitRequest(nil)
		_, err := s.Submit(ctx, req)
		requireField(t, err, "definition")
	})
	t.Run("TheTenantComesFromTheContext", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		in, err := s.Submit(crm.WithTenant(ctx, "acme"), f.submitRequest(f.twoStep))
		require.NoError(t, err)
		require.Equal(t, "acme", in.TenantID)
		_, err = s.Get(ctx, in.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "another tenant does not see it")
		_, err = s.Get(crm.WithTenant(ctx, "acme"), in.ID)
		require.NoError(t, err)
	})
}

func TestApprovalServiceTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("AFailedUnitOfWorkKeepsNothingOfAnApproval", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		in := f.submit(t, s, f.twoStep)
		errHost := errors.New("host: writing the discount failed")
		err := f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			got, err := s.ApproveTx(ctx, tx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Version: 1})
			require.NoError(t, err)
			require.Equal(t, int64(2), got.Version)
			return errHost
		})
		require.ErrorIs(t, err, errHost)
		stored, err := s.Get(ctx, in.ID)
		require.NoError(t, err)
		require.Equal(t, in, stored)
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted}, f.outbox(t))
	})
	t.Run("SubmitAndApproveCommitTogetherInOneUnitOfWork", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		var id crm.ID
		err := f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			in, err := s.SubmitTx(ctx, tx, f.submitRequest(f.oneStep))
			if err != nil {
				return err
			}
			id = in.ID
			_, err = s.ApproveTx(ctx, tx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Version: in.Version})
			return err
		})
		require.NoError(t, err)
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalApproved, got.Status)
		require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, workflow.EventApprovalStepApproved, workflow.EventApprovalApproved}, f.outbox(t))
	})
}

func TestApprovalServiceConcurrentApprovals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSvcFixture(t)
	s := f.service(t, nil)
	in := f.submit(t, s, f.oneStep)
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Approve(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, crm.ErrConflict), errors.Is(err, crm.ErrFailedPrecondition):
			// Lost the race: a stale save, or the request was already
			// approved when this one loaded it.
		default:
			require.NoError(t, err, "unexpected error")
		}
	}
	require.Equal(t, 1, ok, "exactly one approval wins")
	approved := 0
	for _, typ := range f.outbox(t) {
		if typ == workflow.EventApprovalApproved {
			approved++
		}
	}
	require.Equal(t, 1, approved, "one approved event is stored")
	got, err := s.Get(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
}

func TestApprovalServiceEngineSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("SetOrgLetsANewUserTakeATask", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		in := f.submit(t, s, f.twoStep)
		newcomer := uid(7)
		req := workflow.HandOverRequest{InstanceID: in.ID, Actor: f.boss, To: newcomer}
		_, err := s.Delegate(ctx, req)
		requireField(t, err, "to")

		org, err := workflow.NewOrg(append(f.users, crm.User{Meta: crm.Meta{ID: newcomer}, Name: "Zhao Lei", Active: true}), nil, nil)
		require.NoError(t, err)
		require.NoError(t, s.SetOrg(org))
		require.NotSame(t, f.engine, s.Engine())
		got, err := s.Delegate(ctx, req)
		require.NoError(t, err)
		require.Equal(t, []crm.ID{newcomer}, got.PendingApprovers())
	})
	t.Run("SetEngineReplacesTheEngine", func(t *testing.T) {
		t.Parallel()
		f := newSvcFixture(t)
		s := f.service(t, nil)
		in := f.submit(t, s, f.twoStep)
		org, err := workflow.NewOrg(f.users, nil, nil)
		require.NoError(t, err)
		short, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: f.ids, Clock: f.clock, MaxCommentLength: 3})
		require.NoError(t, err)
		require.NoError(t, s.SetEngine(short))
		require.Same(t, short, s.Engine())
		_, err = s.Comment(ctx, workflow.DecisionRequest{InstanceID: in.ID, Actor: f.boss, Comment: "too long"})
		requireField(t, err, "text")
	})
}

func TestApprovalServiceTickDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSvcFixture(t)
	s := f.service(t, authorizerFunc(func(context.Context, crm.Tx, *workflow.ApprovalAccess) error { return nil }))
	in := f.submit(t, s, f.oneStep)

	res, err := s.TickDue(ctx, f.clock.Now(), 10)
	require.NoError(t, err)
	require.Zero(t, res.Claimed, "nothing is due yet")

	f.clock.Advance(time.Hour)
	res, err = s.TickDue(ctx, time.Time{}, 10)
	require.NoError(t, err, "a zero now is the service's clock")
	require.Equal(t, 1, res.Claimed)
	require.Equal(t, []crm.EventType{workflow.EventApprovalStepApproved, workflow.EventApprovalApproved}, eventTypes(res.Events))
	got, err := s.Get(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, workflow.ApprovalApproved, got.Status)

	_, err = s.TickDue(ctx, f.clock.Now(), 0)
	requireField(t, err, "limit")
}
