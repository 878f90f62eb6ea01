package permission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// DecisionSink receives decisions for an access log. Record is called
// synchronously on the checking goroutine, possibly from many goroutines
// at once, so implementations must be safe for concurrent use and fast
// (buffer and write elsewhere).
type DecisionSink interface {
	Record(e DecisionEvent)
}

// DecisionEvent is one decision with what it was about; a plain value.
type DecisionEvent struct {
	// UserID and DepartmentID identify the subject.
	UserID, DepartmentID crm.ID
	Action               Action
	RecordType           crm.RecordType
	// OwnerID and ResourceDepartmentID identify whose record it was.
	OwnerID, ResourceDepartmentID crm.ID
	Decision                      Decision
}

// emit is kept out of line so Check's fast path stays small and the
// resource never escapes when no sink is set.
//
//go:noinline
func (p *Policy) emit(s *Subject, a Action, r *Resource, d Decision) {
	e := DecisionEvent{Action: a, Decision: d}
	if s != nil {
		e.UserID, e.DepartmentID = s.user, s.dept
	}
	if r != nil {
		e.RecordType, e.OwnerID, e.ResourceDepartmentID = r.Type, r.OwnerID, r.DepartmentID
	}
	p.sink.Record(e)
}

// AuditSink records changes to the policy. Implementations must be safe
// for concurrent use; an error aborts the change, so no change takes effect
// without its record.
type AuditSink interface {
	RecordPolicyChange(ctx context.Context, c PolicyChange) error
}

// PolicyChange is one audited change: who, when, and the policy before and
// after. The documents are copies the sink may keep.
type PolicyChange struct {
	// Actor is the user who made the change.
	Actor crm.ID
	// At is when the change took effect, from the registry's clock.
	At time.Time
	// Before and After are the documents; Before is nil for the first
	// policy.
	Before, After *Document
	// DepartmentsChanged is true when the change re-organised departments
	// rather than (or as well as) editing the document.
	DepartmentsChanged bool
	// Note is the actor's free-text explanation, if any.
	Note string
}

// RegistryConfig tunes a [Registry].
type RegistryConfig struct {
	// Audit records every change. Defaults to nil: changes are not
	// recorded (use only in tests).
	Audit AuditSink
	// Clock stamps changes. Defaults to [crm.SystemClock].
	Clock crm.Clock
	// Policy configures every policy the registry compiles. Defaults to
	// nil (policy defaults).
	Policy *Config
}

func (c *RegistryConfig) validate() error { return nil }

// Registry holds the current policy of an application and swaps it
// atomically on change, recording each change with the [AuditSink] before
// it takes effect. Readers call [Registry.Policy] (or use the registry as
// an [Authorizer]) without locking. It is safe for concurrent use.
type Registry struct {
	cur   atomic.Pointer[registryState]
	mu    sync.Mutex // serialises changes
	audit AuditSink
	clock crm.Clock
	cfg   *Config
}

type registryState struct {
	policy *Policy
	depts  []crm.Department
}

// NewRegistry compiles the initial policy and records it as a change by
// actor. A nil cfg means defaults.
func NewRegistry(ctx context.Context, actor crm.ID, doc *Document, departments []crm.Department, cfg *RegistryConfig) (*Registry, error) {
	if cfg == nil {
		cfg = &RegistryConfig{}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Registry{audit: cfg.Audit, clock: cfg.Clock, cfg: cfg.Policy}
	if r.clock == nil {
		r.clock = crm.SystemClock{}
	}
	if err := r.change(ctx, actor, doc, departments, true, ""); err != nil {
		return nil, err
	}
	return r, nil
}

// Policy returns the current policy.
func (r *Registry) Policy() *Policy { return r.cur.Load().policy }

// Replace compiles doc against the current departments and, once the
// change is recorded, makes it current. An invalid document or a failing
// audit sink leaves the current policy in place.
func (r *Registry) Replace(ctx context.Context, actor crm.ID, doc *Document, note string) (*Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.cur.Load()
	if err := r.changeLocked(ctx, actor, doc, st.depts, false, note); err != nil {
		return nil, err
	}
	return r.Policy(), nil
}

// Reorganise recompiles the current document against new departments (a
// department was added, moved or removed) and records the change.
func (r *Registry) Reorganise(ctx context.Context, actor crm.ID, departments []crm.Department, note string) (*Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.cur.Load()
	if err := r.changeLocked(ctx, actor, st.policy.doc, departments, true, note); err != nil {
		return nil, err
	}
	return r.Policy(), nil
}

func (r *Registry) change(ctx context.Context, actor crm.ID, doc *Document, depts []crm.Department, deptsChanged bool, note string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changeLocked(ctx, actor, doc, depts, deptsChanged, note)
}

func (r *Registry) changeLocked(ctx context.Context, actor crm.ID, doc *Document, depts []crm.Department, deptsChanged bool, note string) error {
	if actor == crm.NilID {
		return fmt.Errorf("permission: %w", crm.Invalid("actor", "is required"))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("permission: change policy: %w", err)
	}
	p, err := New(doc, depts, r.cfg)
	if err != nil {
		return err
	}
	var before *Document
	if st := r.cur.Load(); st != nil {
		before = st.policy.Document()
	}
	if r.audit != nil {
		c := PolicyChange{Actor: actor, At: r.clock.Now(), Before: before, After: p.Document(), DepartmentsChanged: deptsChanged, Note: note}
		if err := r.audit.RecordPolicyChange(ctx, c); err != nil {
			return fmt.Errorf("permission: record policy change: %w", err)
		}
	}
	kept := make([]crm.Department, len(depts))
	for i := range depts {
		kept[i] = *depts[i].Clone()
	}
	r.cur.Store(&registryState{policy: p, depts: kept})
	return nil
}

// Authorizer is the seam other packages and hosts ask permission through:
// pool claims, lead edits, approvals. It returns nil to allow, or an error
// matching [crm.ErrPermissionDenied] (a [*DeniedError] with the reason).
// [*Registry] and [*Policy] implement it.
type Authorizer interface {
	Authorize(ctx context.Context, user *crm.User, a Action, r *Resource) error
}

var (
	_ Authorizer = (*Policy)(nil)
	_ Authorizer = (*Registry)(nil)
)

// Authorize implements [Authorizer]: it resolves user and checks a on r.
// A done context is returned as its error, wrapped.
func (p *Policy) Authorize(ctx context.Context, user *crm.User, a Action, r *Resource) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("permission: authorize: %w", err)
	}
	s := p.Subject(user)
	return p.Check(&s, a, r).Err()
}

// Authorize implements [Authorizer] with the current policy.
func (r *Registry) Authorize(ctx context.Context, user *crm.User, a Action, res *Resource) error {
	return r.Policy().Authorize(ctx, user, a, res)
}

// IsDenied reports whether err is a permission denial and, if it carries
// one, returns the decision.
func IsDenied(err error) (Decision, bool) {
	var de *DeniedError
	if errors.As(err, &de) {
		return de.Decision, true
	}
	return Decision{}, errors.Is(err, crm.ErrPermissionDenied)
}
