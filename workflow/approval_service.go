package workflow

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// ApprovalAction names an approval operation, for the
// [ApprovalAuthorizer].
type ApprovalAction string

// Approval actions checked by the [ApprovalService].
const (
	ApprovalActionSubmit   ApprovalAction = "submit"
	ApprovalActionApprove  ApprovalAction = "approve"
	ApprovalActionReject   ApprovalAction = "reject"
	ApprovalActionRecall   ApprovalAction = "recall"
	ApprovalActionDelegate ApprovalAction = "delegate"
	ApprovalActionReassign ApprovalAction = "reassign"
	ApprovalActionComment  ApprovalAction = "comment"
)

// ApprovalAccess describes one permission question of the
// [ApprovalService]. Fields that do not apply are zero.
type ApprovalAccess struct {
	// Action is what Actor wants to do.
	Action ApprovalAction
	// Actor is the acting user: the submitter of a submit, the approver
	// of a decision, whoever recalls, comments, delegates or reassigns.
	Actor crm.ID
	// Instance is the request as it stood before the operation (a copy:
	// changing it changes nothing stored); nil for a submit.
	Instance *Instance
	// Record is the record under approval.
	Record crm.Ref
	// Definition is the key of the approval chain.
	Definition string
	// From and To are whose task moves to whom, for a delegate (From is
	// Actor) and a reassign.
	From, To crm.ID
}

// ApprovalAuthorizer is asked before every approval operation by an actor,
// after the engine's own rules (only a task holder may decide, only the
// submitter may recall, a delegate must be active, ...) have accepted it,
// inside the operation's unit of work (tx is that unit of work, for
// reads). Return nil to allow, or an error matching
// [crm.ErrPermissionDenied] to refuse: the [ApprovalService] returns it
// as is and stores nothing. Timeouts ([ApprovalService.TickDue]) have no
// actor and are not checked. Implementations must be safe for concurrent
// use; a host typically wraps the permission package here.
type ApprovalAuthorizer interface {
	AuthorizeApproval(ctx context.Context, tx crm.Tx, a *ApprovalAccess) error
}

// ApprovalServiceConfig configures an [ApprovalService]. Nil means
// defaults.
type ApprovalServiceConfig struct {
	// Clock tells the time when [ApprovalService.TickDue] is given a zero
	// now, and is the clock of the engines [ApprovalService.SetOrg]
	// builds. Defaults to the clock of the engine passed to
	// [NewApprovalService].
	Clock crm.Clock
	// IDs makes request and event IDs in the engines
	// [ApprovalService.SetOrg] builds. Defaults to the ID generator of the
	// engine passed to [NewApprovalService].
	IDs crm.IDGenerator
	// Authorizer is asked before every operation by an actor. Defaults to
	// nil: the engine's rules alone decide who may do what.
	Authorizer ApprovalAuthorizer
}

func (c *ApprovalServiceConfig) withDefaults(engine *Approvals) ApprovalServiceConfig {
	out := ApprovalServiceConfig{}
	if c != nil {
		out = *c
	}
	if out.Clock == nil {
		out.Clock = engine.cfg.Clock
	}
	if out.IDs == nil {
		out.IDs = engine.cfg.IDs
	}
	return out
}

// ApprovalService runs approval requests against a store: each operation
// loads the request, checks the caller's expected Version, asks the
// [ApprovalAuthorizer], applies the [Approvals] engine and stores the
// request with its events, all in one unit of work. Every operation has a
// Tx form that joins a unit of work the caller opened (the plain form is
// [crm.Store.InTx] plus it), so an approval can commit together with the
// host's own writes. It is safe for concurrent use; concurrent decisions
// on one request are serialised by the request's Version, and all but one
// of them fail with [crm.ErrConflict] or with the engine's refusal of a
// decision already made.
//
// # The organisation is a snapshot
//
// The engine resolves approvers against the [Org] it was built with, an
// immutable snapshot of users, roles, the department tree and
// delegations. A long-lived service does not see later changes on its
// own: a new user cannot submit or receive a delegated task, a
// deactivated user still receives tasks, a new department manager or role
// holder is not asked, and a new delegation is not followed. Rebuild the
// organisation when users, roles, departments or delegations change (on
// the host's own change events, or periodically) and hand it over with
// [ApprovalService.SetOrg], or a whole new engine with
// [ApprovalService.SetEngine]; the swap is atomic, and an operation
// already running finishes with the engine it started with. A delegation
// stored in advance needs no rebuild when its period begins: periods are
// compared with the time a step starts.
//
// Requests already running keep the approvers resolved when they were
// submitted; only steps that start later (and delegations and
// escalations applied then) use the new organisation.
type ApprovalService struct {
	store  crm.Store
	engine atomic.Pointer[Approvals]
	cfg    ApprovalServiceConfig
}

// NewApprovalService returns a service running engine's approvals against
// store. A nil store or engine is a [*crm.ValidationError].
func NewApprovalService(store crm.Store, engine *Approvals, cfg *ApprovalServiceConfig) (*ApprovalService, error) {
	switch {
	case store == nil:
		return nil, crm.Invalid("store", "is required")
	case engine == nil:
		return nil, crm.Invalid("engine", "is required")
	}
	s := &ApprovalService{store: store, cfg: cfg.withDefaults(engine)}
	s.engine.Store(engine)
	return s, nil
}

// Engine returns the engine operations use now, for the pure operations
// it offers (a dry-run Submit, Explain-style checks) or to read its
// configuration.
func (s *ApprovalService) Engine() *Approvals { return s.engine.Load() }

// SetEngine makes operations that start from now on use engine; running
// operations finish with the engine they started with. A nil engine is a
// [*crm.ValidationError] and changes nothing.
func (s *ApprovalService) SetEngine(engine *Approvals) error {
	if engine == nil {
		return crm.Invalid("engine", "is required")
	}
	s.engine.Store(engine)
	return nil
}

// SetOrg swaps in an engine resolving approvers in org, with the
// configuration (calendar, comment length) of the current engine and the
// service's Clock and IDs. Call it when the organisation changes. A nil
// org is a [*crm.ValidationError] and changes nothing.
func (s *ApprovalService) SetOrg(org *Org) error {
	if org == nil {
		return crm.Invalid("org", "is required")
	}
	cur := s.engine.Load()
	c := cur.cfg
	c.IDs, c.Clock = s.cfg.IDs, s.cfg.Clock
	next, err := NewApprovals(org, &c)
	if err != nil {
		return err
	}
	// A concurrent SetEngine or SetOrg may have run meanwhile; the last
	// swap wins, as the host's last call would.
	s.engine.Store(next)
	return nil
}

// SubmitRequest asks for an approval of a record.
type SubmitRequest struct {
	// Definition is the compiled approval chain. Required.
	Definition *Definition
	// Record is the rule view of the record: the values thresholds and
	// record-field approvers are read from. Required, of the definition's
	// schema.
	Record *cond.Record
	// Ref is the record under approval. Required.
	Ref crm.Ref
	// Submitter asks for the approval. Required; never one of the
	// approvers.
	Submitter crm.ID
}

// DecisionRequest is one actor's decision, recall or comment on a
// request.
type DecisionRequest struct {
	// InstanceID is the request. Required.
	InstanceID crm.ID
	// Actor is who decides, recalls or comments. Required.
	Actor crm.ID
	// Comment goes with an approval or a rejection; it is the reason of a
	// recall and the text of a comment.
	Comment string
	// Version is the request version the actor saw. 0 accepts any;
	// otherwise a different stored version is [crm.ErrConflict], so an
	// actor never decides on a request that changed under their eyes.
	Version int64
}

// HandOverRequest moves an open task to another user.
type HandOverRequest struct {
	// InstanceID is the request. Required.
	InstanceID crm.ID
	// Actor is who hands over: for a delegate the holder of the task, for
	// a reassign whoever the host allows to (an administrator, the
	// submitter's manager). Required.
	Actor crm.ID
	// From is whose open task moves, for a reassign. A delegate moves
	// Actor's own task: From must be empty or Actor.
	From crm.ID
	// To is the user who gets the task. Required.
	To crm.ID
	// Version is as in [DecisionRequest].
	Version int64
}

// inTx runs fn in one unit of work of the store.
func (s *ApprovalService) inTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) (*Instance, error)) (*Instance, error) {
	var out *Instance
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// approvalTx returns the approval port of tx, or [crm.ErrUnsupported].
func approvalTx(tx crm.Tx) (ApprovalTx, error) {
	if tx == nil {
		return nil, crm.Invalid("tx", "is required")
	}
	atx, ok := crm.As[ApprovalTx](tx)
	if !ok {
		return nil, fmt.Errorf("storage adapter %T has no approval ports: %w", tx, crm.ErrUnsupported)
	}
	return atx, nil
}

func (s *ApprovalService) authorize(ctx context.Context, tx crm.Tx, a *ApprovalAccess) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	return s.cfg.Authorizer.AuthorizeApproval(ctx, tx, a)
}

// Submit is [ApprovalService.SubmitTx] in a unit of work of its own.
func (s *ApprovalService) Submit(ctx context.Context, req SubmitRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.SubmitTx(ctx, tx, req) })
}

// SubmitTx starts an approval of req.Ref in the unit of work tx: it
// refuses a record already under approval ([crm.ErrFailedPrecondition]),
// submits with the engine ([Approvals.Submit] explains its errors), asks
// the authorizer, then stores the new request and its events. It returns
// a copy of the stored request; a refusal by the authorizer is returned
// as is and stores nothing. A tx without approval ports is
// [crm.ErrUnsupported].
func (s *ApprovalService) SubmitTx(ctx context.Context, tx crm.Tx, req SubmitRequest) (*Instance, error) {
	fail := func(err error) (*Instance, error) {
		return nil, fmt.Errorf("workflow: submit %s %s: %w", req.Ref.Type, req.Ref.ID, err)
	}
	atx, err := approvalTx(tx)
	if err != nil {
		return fail(err)
	}
	if err := CheckUnlocked(ctx, atx.ApprovalInstances(), req.Ref); err != nil {
		return fail(err)
	}
	in, events, err := s.engine.Load().Submit(req.Definition, req.Record, req.Ref, req.Submitter)
	if err != nil {
		return fail(err)
	}
	access := &ApprovalAccess{Action: ApprovalActionSubmit, Actor: req.Submitter, Record: req.Ref, Definition: in.Definition}
	if err := s.authorize(ctx, tx, access); err != nil {
		return nil, err
	}
	if err := createSubmitted(ctx, atx, in, events); err != nil {
		return fail(err)
	}
	return in, nil
}

// Approve is [ApprovalService.ApproveTx] in a unit of work of its own.
func (s *ApprovalService) Approve(ctx context.Context, req DecisionRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.ApproveTx(ctx, tx, req) })
}

// ApproveTx records req.Actor's approval ([Approvals.Approve]) in the
// unit of work tx and returns a copy of the stored request. Errors:
// [crm.ErrNotFound] for an unknown request, [crm.ErrConflict] for a stale
// req.Version or a concurrent change, [crm.ErrFailedPrecondition] for a
// finished request, [crm.ErrPermissionDenied] for an actor without an
// open task or refused by the authorizer (returned as is), and
// [crm.ErrUnsupported] for a tx without approval ports. On error nothing
// is stored.
func (s *ApprovalService) ApproveTx(ctx context.Context, tx crm.Tx, req DecisionRequest) (*Instance, error) {
	return s.change(ctx, tx, ApprovalActionApprove, req.InstanceID, req.Version,
		ApprovalAccess{Actor: req.Actor},
		func(a *Approvals, in *Instance) ([]crm.Event, error) { return a.Approve(in, req.Actor, req.Comment) })
}

// Reject is [ApprovalService.RejectTx] in a unit of work of its own.
func (s *ApprovalService) Reject(ctx context.Context, req DecisionRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.RejectTx(ctx, tx, req) })
}

// RejectTx records req.Actor's rejection ([Approvals.Reject]) in the unit
// of work tx; its errors are those of [ApprovalService.ApproveTx].
func (s *ApprovalService) RejectTx(ctx context.Context, tx crm.Tx, req DecisionRequest) (*Instance, error) {
	return s.change(ctx, tx, ApprovalActionReject, req.InstanceID, req.Version,
		ApprovalAccess{Actor: req.Actor},
		func(a *Approvals, in *Instance) ([]crm.Event, error) { return a.Reject(in, req.Actor, req.Comment) })
}

// Recall is [ApprovalService.RecallTx] in a unit of work of its own.
func (s *ApprovalService) Recall(ctx context.Context, req DecisionRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.RecallTx(ctx, tx, req) })
}

// RecallTx withdraws the request ([Approvals.Recall]) in the unit of work
// tx, req.Comment being the reason; only the submitter may
// ([crm.ErrPermissionDenied]). Other errors are those of
// [ApprovalService.ApproveTx].
func (s *ApprovalService) RecallTx(ctx context.Context, tx crm.Tx, req DecisionRequest) (*Instance, error) {
	return s.change(ctx, tx, ApprovalActionRecall, req.InstanceID, req.Version,
		ApprovalAccess{Actor: req.Actor},
		func(a *Approvals, in *Instance) ([]crm.Event, error) { return a.Recall(in, req.Actor, req.Comment) })
}

// Comment is [ApprovalService.CommentTx] in a unit of work of its own.
func (s *ApprovalService) Comment(ctx context.Context, req DecisionRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.CommentTx(ctx, tx, req) })
}

// CommentTx adds req.Comment by req.Actor to a pending request
// ([Approvals.AddComment]) in the unit of work tx. The engine lets anyone
// comment; who counts as involved is the authorizer's to decide. An empty
// comment is a [*crm.ValidationError]; other errors are those of
// [ApprovalService.ApproveTx].
func (s *ApprovalService) CommentTx(ctx context.Context, tx crm.Tx, req DecisionRequest) (*Instance, error) {
	return s.change(ctx, tx, ApprovalActionComment, req.InstanceID, req.Version,
		ApprovalAccess{Actor: req.Actor},
		func(a *Approvals, in *Instance) ([]crm.Event, error) { return a.AddComment(in, req.Actor, req.Comment) })
}

// Delegate is [ApprovalService.DelegateTx] in a unit of work of its own.
func (s *ApprovalService) Delegate(ctx context.Context, req HandOverRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.DelegateTx(ctx, tx, req) })
}

// DelegateTx hands req.Actor's open task to req.To ([Approvals.Delegate])
// in the unit of work tx. A req.From other than empty or req.Actor, or a
// To who is inactive, the submitter or already holds a task in the step,
// is a [*crm.ValidationError]; other errors are those of
// [ApprovalService.ApproveTx].
func (s *ApprovalService) DelegateTx(ctx context.Context, tx crm.Tx, req HandOverRequest) (*Instance, error) {
	if req.From != crm.NilID && req.From != req.Actor {
		return nil, fmt.Errorf("workflow: delegate %s: %w", req.InstanceID,
			crm.Invalid("from", "a delegate hands over the actor's own task; use reassign to move %s's", req.From))
	}
	return s.change(ctx, tx, ApprovalActionDelegate, req.InstanceID, req.Version,
		ApprovalAccess{Actor: req.Actor, From: req.Actor, To: req.To},
		func(a *Approvals, in *Instance) ([]crm.Event, error) { return a.Delegate(in, req.Actor, req.To) })
}

// Reassign is [ApprovalService.ReassignTx] in a unit of work of its own.
func (s *ApprovalService) Reassign(ctx context.Context, req HandOverRequest) (*Instance, error) {
	return s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) { return s.ReassignTx(ctx, tx, req) })
}

// ReassignTx moves req.From's open task to req.To on req.Actor's word
// ([Approvals.Reassign]) in the unit of work tx. The engine does not
// restrict who may reassign: without an authorizer anyone can, so hosts
// that offer reassignment configure one. A From without an open task is
// [crm.ErrPermissionDenied]; other errors are those of
// [ApprovalService.DelegateTx].
func (s *ApprovalService) ReassignTx(ctx context.Context, tx crm.Tx, req HandOverRequest) (*Instance, error) {
	return s.change(ctx, tx, ApprovalActionReassign, req.InstanceID, req.Version,
		ApprovalAccess{Actor: req.Actor, From: req.From, To: req.To},
		func(a *Approvals, in *Instance) ([]crm.Event, error) {
			return a.Reassign(in, req.Actor, req.From, req.To)
		})
}

// change runs one operation on a stored request in tx: load, check the
// expected version, apply op with the current engine on the loaded copy,
// ask the authorizer about the request as it was (access completed with
// it), store the request and its events.
func (s *ApprovalService) change(ctx context.Context, tx crm.Tx, action ApprovalAction, id crm.ID, version int64,
	access ApprovalAccess, op func(a *Approvals, in *Instance) ([]crm.Event, error)) (*Instance, error) {
	fail := func(err error) (*Instance, error) {
		if strings.HasPrefix(err.Error(), "workflow: ") {
			return nil, err // the engine's errors name the request already
		}
		return nil, fmt.Errorf("workflow: %s %s: %w", action, id, err)
	}
	atx, err := approvalTx(tx)
	if err != nil {
		return fail(err)
	}
	if version < 0 {
		return fail(crm.Invalid("version", "must not be negative"))
	}
	in, err := atx.ApprovalInstances().GetInstance(ctx, id)
	if err != nil {
		return fail(err)
	}
	if version != 0 && in.Version != version {
		return fail(fmt.Errorf("expected version %d, stored %d: %w", version, in.Version, crm.ErrConflict))
	}
	var before *Instance
	if s.cfg.Authorizer != nil {
		before = in.Clone() // op changes in; the authorizer sees it as it was
	}
	events, err := op(s.engine.Load(), in)
	if err != nil {
		return fail(err)
	}
	if before != nil {
		access.Action, access.Instance, access.Record, access.Definition = action, before, before.Record, before.Definition
		if err := s.cfg.Authorizer.AuthorizeApproval(ctx, tx, &access); err != nil {
			return nil, err
		}
	}
	if err := SaveTx(ctx, atx, in, events); err != nil {
		return fail(err)
	}
	return in, nil
}

// Get returns a copy of the request id, or [crm.ErrNotFound]. It is not
// checked by the authorizer: hosts filter what they show.
func (s *ApprovalService) Get(ctx context.Context, id crm.ID) (*Instance, error) {
	out, err := s.inTx(ctx, func(ctx context.Context, tx crm.Tx) (*Instance, error) {
		atx, err := approvalTx(tx)
		if err != nil {
			return nil, err
		}
		return atx.ApprovalInstances().GetInstance(ctx, id)
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: get approval %s: %w", id, err)
	}
	return out, nil
}

// TickDue is [Approvals.TickDue] with the current engine in a unit of
// work of its own: it fires the step timeouts of the context's tenant due
// at now (the service's Clock when now is zero), up to limit requests,
// and stores them with their events or nothing. Hosts call it from their
// scheduler in a loop while [ApprovalTickResult.More]; many application
// instances may call it at once.
func (s *ApprovalService) TickDue(ctx context.Context, now time.Time, limit int) (ApprovalTickResult, error) {
	if now.IsZero() {
		now = s.cfg.Clock.Now()
	}
	engine := s.engine.Load()
	var res ApprovalTickResult
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		atx, err := approvalTx(tx)
		if err != nil {
			return fmt.Errorf("workflow: tick approvals: %w", err)
		}
		res, err = engine.TickDue(ctx, atx, now, limit)
		return err
	})
	if err != nil {
		return ApprovalTickResult{}, err
	}
	return res, nil
}
