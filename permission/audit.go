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
	// Actor is the user who made the change; crm.NilID for the system
	// (a [Registry.Sync] that found the department tree changed).
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
	// treeVersion is the store's department-tree version the policy was
	// last synced at ([Registry.Sync]), "" before the first sync.
	treeVersion string
}

// NewRegistry compiles the initial policy and records it as a change by
// actor. A nil cfg means defaults.
func NewRegistry(ctx context.Context, actor crm.ID, doc *Document, departments []*crm.Department, cfg *RegistryConfig) (*Registry, error) {
	depts, err := departmentValues(departments)
	if err != nil {
		return nil, fmt.Errorf("permission: %w", err)
	}
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
	if err := r.change(ctx, actor, doc, depts, true, ""); err != nil {
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
func (r *Registry) Reorganise(ctx context.Context, actor crm.ID, departments []*crm.Department, note string) (*Policy, error) {
	depts, err := departmentValues(departments)
	if err != nil {
		return nil, fmt.Errorf("permission: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.cur.Load()
	if err := r.changeLocked(ctx, actor, st.policy.doc, depts, true, note); err != nil {
		return nil, err
	}
	return r.Policy(), nil
}

// Sync keeps the policy in step with the store's department tree, for
// hosts that change departments in the store while the application runs.
// version is the store's tree version for the context's tenant
// ([crm.DepartmentTreeVersions]); when it differs from the version of the
// last sync, load reads the store's departments and, if they differ from
// the compiled ones (a department added, moved, renamed, given another
// manager or removed), the current document is recompiled against them and
// the change recorded with the system (crm.NilID) as its actor. It returns
// the policy to decide with. The same version costs one atomic load, so
// callers may sync before every decision; the composition root (package
// crmkit) does. A registry holds one tenant's policy: sync it with that
// tenant's tree only.
func (r *Registry) Sync(ctx context.Context, version string, load func(ctx context.Context) ([]*crm.Department, error)) (*Policy, error) {
	if st := r.cur.Load(); version != "" && st.treeVersion == version {
		return st.policy, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.cur.Load()
	if version != "" && st.treeVersion == version {
		return st.policy, nil
	}
	loaded, err := load(ctx)
	if err != nil {
		return nil, fmt.Errorf("permission: sync departments: %w", err)
	}
	depts, err := departmentValues(loaded)
	if err != nil {
		return nil, fmt.Errorf("permission: sync departments: %w", err)
	}
	if sameDepartments(st.depts, depts) {
		r.cur.Store(&registryState{policy: st.policy, depts: st.depts, treeVersion: version})
		return st.policy, nil
	}
	if err := r.apply(ctx, crm.NilID, st.policy.doc, depts, true, "department tree changed in the store"); err != nil {
		return nil, err
	}
	next := *r.cur.Load()
	next.treeVersion = version
	r.cur.Store(&next)
	return next.policy, nil
}

// sameDepartments reports whether a and b hold the same departments with
// the same parents, names and managers, in any order.
func sameDepartments(a, b []crm.Department) bool {
	if len(a) != len(b) {
		return false
	}
	type shape struct {
		parent, manager crm.ID
		name            string
	}
	of := make(map[crm.ID]shape, len(a))
	for _, d := range a {
		of[d.ID] = shape{d.ParentID, d.ManagerID, d.Name}
	}
	for _, d := range b {
		if s, ok := of[d.ID]; !ok || s != (shape{d.ParentID, d.ManagerID, d.Name}) {
			return false
		}
	}
	return true
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
	return r.apply(ctx, actor, doc, depts, deptsChanged, note)
}

// apply compiles doc against depts, records the change by actor (crm.NilID
// for the system) and makes it current. The caller holds r.mu.
func (r *Registry) apply(ctx context.Context, actor crm.ID, doc *Document, depts []crm.Department, deptsChanged bool, note string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("permission: change policy: %w", err)
	}
	p, err := compile(doc, depts, r.cfg)
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
