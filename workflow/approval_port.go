package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// ApprovalDefinitions is the storage port for approval chains: every
// version of every [DefinitionSpec], keyed by (Key, Version). Versions are
// immutable once stored, so a running [Instance] can always load the version
// it started with. Implementations are safe for concurrent use; tenancy
// comes from the context as for every crm port, and every method returns
// the context's error (wrapped) when ctx ends, writing nothing.
type ApprovalDefinitions interface {
	// GetDefinition returns a copy of the spec of key at version, or the
	// highest stored version when version is 0; [crm.ErrNotFound] when
	// there is none. The copy shares nothing with stored data.
	GetDefinition(ctx context.Context, key string, version int) (*DefinitionSpec, error)
	// CreateDefinition stores a new version of a chain. The spec is
	// checked with [DefinitionSpec.CheckStorable] ([*crm.ValidationError]);
	// a repeated (Key, Version) is [crm.ErrAlreadyExists]. Nothing the
	// caller changes in spec afterwards reaches the store.
	CreateDefinition(ctx context.Context, spec *DefinitionSpec) error
}

// ApprovalInstances is the storage port for running and finished approval
// requests ([Instance]). At most one pending request exists per record:
// that request locks the record ([Instance.IsLocked]), and the port keeps
// the rule under concurrency. Implementations are safe for concurrent use;
// tenancy comes from the context; every method returns the context's error
// (wrapped) when ctx ends, writing nothing. Results are copies the caller
// owns, and values passed in are copied.
type ApprovalInstances interface {
	// GetInstance returns a copy of the request, or [crm.ErrNotFound].
	GetInstance(ctx context.Context, id crm.ID) (*Instance, error)
	// CreateInstance stores a new request, setting TenantID from the
	// context when empty and Version to 1 (written back). It is checked
	// with [Instance.CheckStorable]. A repeated ID, or a pending request
	// for a record that already has one, is [crm.ErrAlreadyExists].
	CreateInstance(ctx context.Context, in *Instance) error
	// UpdateInstance stores in if in.Version equals the stored version
	// (compare-and-swap), then increments Version (written back); a stale
	// version is [crm.ErrConflict] and writes nothing; [crm.ErrNotFound]
	// if it does not exist. The record, definition and submitter of a
	// request never change: an update that changes them is a
	// [*crm.ValidationError].
	UpdateInstance(ctx context.Context, in *Instance) error
	// PendingInstance returns the pending request of record, or
	// [crm.ErrNotFound] when the record is not under approval.
	PendingInstance(ctx context.Context, record crm.Ref) (*Instance, error)
}

// CheckStorable reports what makes spec unfit to store, whatever its
// schema: a bad key, a version below 1, a missing record type. Adapters
// call it; [NewDefinition] checks much more.
func (s *DefinitionSpec) CheckStorable() error {
	var probs crm.Problems
	if !crm.ValidName(s.Key) {
		probs.Add("key", "must be 1-64 lower-case letters, digits or underscores, starting with a letter")
	}
	if s.Version < 1 {
		probs.Add("version", "must be at least 1")
	}
	if s.RecordType == "" {
		probs.Add("record_type", "is required")
	}
	return probs.Err()
}

// CheckStorable reports what makes in unfit to store: a missing ID,
// record, submitter, definition, or an unknown status. Adapters call it.
func (in *Instance) CheckStorable() error {
	var probs crm.Problems
	if in.ID == crm.NilID {
		probs.Add("id", "is required")
	}
	if in.Record.Type == "" || in.Record.ID == crm.NilID {
		probs.Add("record", "type and id are required")
	}
	if in.Submitter == crm.NilID {
		probs.Add("submitter", "is required")
	}
	if !crm.ValidName(in.Definition) || in.DefinitionVersion < 1 {
		probs.Add("definition", "a definition key and a version of at least 1 are required")
	}
	switch in.Status {
	case ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalRecalled:
	default:
		probs.Add("status", "unknown status %q", truncate(string(in.Status)))
	}
	return probs.Err()
}

// CheckImmutable reports an update that changes what a request is about:
// its record, definition version or submitter. Adapters call it in
// UpdateInstance with the stored request.
func (in *Instance) CheckImmutable(stored *Instance) error {
	if in.Record != stored.Record || in.Definition != stored.Definition ||
		in.DefinitionVersion != stored.DefinitionVersion || in.Submitter != stored.Submitter {
		return crm.Invalid("record", "the record, definition and submitter of approval %s cannot change", in.ID)
	}
	return nil
}

// ApprovalTx is what the approval helpers need of a unit of work: the
// instance port and the outbox. [Tx] satisfies it.
type ApprovalTx interface {
	ApprovalInstances() ApprovalInstances
	Events() crm.EventWriter
}

// CheckUnlocked returns an error matching [crm.ErrFailedPrecondition] when
// record is under approval, so hosts refuse edits of a locked record; nil
// when it is not.
func CheckUnlocked(ctx context.Context, store ApprovalInstances, record crm.Ref) error {
	in, err := store.PendingInstance(ctx, record)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("workflow: check lock of %s %s: %w", record.Type, record.ID, err)
	}
	return fmt.Errorf("workflow: %s %s is locked by pending approval %s: %w", record.Type, record.ID, in.ID, crm.ErrFailedPrecondition)
}

// SubmitTx is [Approvals.Submit] inside the unit of work tx: it refuses a
// record already under approval ([crm.ErrFailedPrecondition]), submits,
// stores the new request and appends its events, all in tx.
func (a *Approvals) SubmitTx(ctx context.Context, tx ApprovalTx, def *Definition, rec *cond.Record, ref crm.Ref, submitter crm.ID) (*Instance, error) {
	if tx == nil {
		return nil, crm.Invalid("tx", "is required")
	}
	if err := CheckUnlocked(ctx, tx.ApprovalInstances(), ref); err != nil {
		return nil, err
	}
	in, events, err := a.Submit(def, rec, ref, submitter)
	if err != nil {
		return nil, err
	}
	if err := createSubmitted(ctx, tx, in, events); err != nil {
		return nil, err
	}
	return in, nil
}

// createSubmitted stores a request Submit just made, in the context's
// tenant, and appends its events.
func createSubmitted(ctx context.Context, tx ApprovalTx, in *Instance, events []crm.Event) error {
	if in.TenantID == "" {
		in.TenantID = crm.TenantFrom(ctx)
	}
	if err := tx.ApprovalInstances().CreateInstance(ctx, in); err != nil {
		return fmt.Errorf("workflow: store approval %s: %w", in.ID, err)
	}
	return appendEvents(ctx, tx.Events(), events)
}

// SaveTx stores a changed request (compare-and-swap on its Version) and
// appends the events the change returned, in the unit of work tx. Call it
// with the instance and events of Approve, Reject, Recall, Delegate,
// Reassign, AddComment or Tick; a stale instance is [crm.ErrConflict].
func SaveTx(ctx context.Context, tx ApprovalTx, in *Instance, events []crm.Event) error {
	if tx == nil || in == nil {
		return crm.Invalid("tx", "tx and instance are required")
	}
	if err := tx.ApprovalInstances().UpdateInstance(ctx, in); err != nil {
		return fmt.Errorf("workflow: store approval %s: %w", in.ID, err)
	}
	return appendEvents(ctx, tx.Events(), events)
}

func appendEvents(ctx context.Context, w crm.EventWriter, events []crm.Event) error {
	if len(events) == 0 {
		return nil
	}
	ptrs := make([]*crm.Event, len(events))
	for i := range events {
		ptrs[i] = &events[i]
	}
	if err := w.Append(ctx, ptrs...); err != nil {
		return fmt.Errorf("workflow: append events: %w", err)
	}
	return nil
}
