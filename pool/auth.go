package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// Action names what an actor wants to do, for the [Authorizer].
type Action string

// Actions checked by the [Service].
const (
	ActionClaim    Action = "claim"
	ActionRelease  Action = "release"
	ActionAssign   Action = "assign"
	ActionTransfer Action = "transfer"
	ActionLock     Action = "lock"
	ActionUnlock   Action = "unlock"
	ActionMove     Action = "move"
	ActionEnter    Action = "enter"
	// ActionSeeOwner asks whether the actor may learn who owns a customer
	// and which pool holds it (anti-collision answers and [Service.Status]).
	ActionSeeOwner Action = "see_owner"
)

// Access describes one permission question. Fields that do not apply are
// nil.
type Access struct {
	Action Action
	// Actor is the acting user; never nil (system operations are not
	// checked).
	Actor *crm.User
	// Pool is the customer's pool; Target is the destination of a move or
	// an entry.
	Pool, Target *Pool
	Holding      *Holding
	Customer     *crm.Customer
	// Assignee is the new owner of an assign or a transfer.
	Assignee *crm.User
}

// Authorizer decides whether an actor may perform an action. The Service
// calls it inside the operation's unit of work (tx is that unit of work,
// for reads) after its own state checks. Return nil to allow, or an error
// matching [crm.ErrPermissionDenied] to refuse. Implementations must be safe
// for concurrent use. A host typically wraps the permission package here.
type Authorizer interface {
	Authorize(ctx context.Context, tx crm.Tx, a *Access) error
}

// DefaultAuthorizer is the [Authorizer] used when [Config.Authorizer] is nil:
//
//   - claim: members and admins of the pool;
//   - release, lock, unlock: the owner and admins of the customer's pool;
//   - assign: admins of the pool and managers of the assignee's department
//     (or one above it);
//   - transfer: admins of the customer's pool and managers of the current
//     owner's department (or one above it), the department the owner is in
//     now (read in the unit of work), not the one stored in the holding;
//   - move, enter: admins of the destination pool (and of the source pool,
//     if any);
//   - see owner: the owner, admins of the customer's pool and managers of
//     the owner's current department (or one above it).
//
// Users holding one of AdminRoles may do everything. It is safe for
// concurrent use.
type DefaultAuthorizer struct {
	// AdminRoles are roles allowed every action. Defaults to none.
	AdminRoles []string
}

// Authorize implements [Authorizer].
func (d DefaultAuthorizer) Authorize(ctx context.Context, tx crm.Tx, a *Access) error {
	u := a.Actor
	for _, r := range d.AdminRoles {
		if u.HasRole(r) {
			return nil
		}
	}
	ok := false
	var err error
	switch a.Action {
	case ActionClaim:
		ok = isAdmin(a.Pool, u) || a.Pool != nil && isMember(ctx, tx, &a.Pool.Members, u)
	case ActionRelease, ActionLock, ActionUnlock:
		ok = (a.Holding != nil && a.Holding.OwnerID == u.ID) || isAdmin(a.Pool, u)
	case ActionAssign:
		ok = isAdmin(a.Pool, u)
		if !ok && a.Assignee != nil {
			ok, err = manages(ctx, tx, u.ID, a.Assignee.DepartmentID)
		}
	case ActionTransfer, ActionSeeOwner:
		ok = isAdmin(a.Pool, u) || (a.Action == ActionSeeOwner && a.Holding != nil && a.Holding.OwnerID == u.ID)
		if !ok && a.Holding != nil && a.Holding.Owned() {
			var dept crm.ID
			if dept, err = ownerDepartment(ctx, tx, a.Holding); err == nil {
				ok, err = manages(ctx, tx, u.ID, dept)
			}
		}
	case ActionMove, ActionEnter:
		ok = isAdmin(a.Target, u) && (a.Pool == nil || isAdmin(a.Pool, u))
	}
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("pool: user %s may not %s: %w", u.ID, a.Action, crm.ErrPermissionDenied)
	}
	return nil
}

// ownerDepartment returns the current department of h's owner, read in
// tx: a user moved to another department takes the say over their
// customers along ([Service.MoveUser]). An owner unknown to tx falls back
// to the department stored in the holding.
func ownerDepartment(ctx context.Context, tx crm.Tx, h *Holding) (crm.ID, error) {
	owner, err := tx.Users().Get(ctx, h.OwnerID)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return h.OwnerDepartmentID, nil
	case err != nil:
		return crm.NilID, err
	}
	return owner.DepartmentID, nil
}

func isAdmin(p *Pool, u *crm.User) bool { return p != nil && slices.Contains(p.Admins, u.ID) }

// isMember reports whether u may claim from a pool with members m.
func isMember(ctx context.Context, tx crm.Tx, m *Members, u *crm.User) bool {
	if m.All || slices.Contains(m.Users, u.ID) {
		return true
	}
	if u.DepartmentID == crm.NilID {
		return false
	}
	if slices.Contains(m.Departments, u.DepartmentID) || slices.Contains(m.DepartmentTrees, u.DepartmentID) {
		return true
	}
	if len(m.DepartmentTrees) == 0 {
		return false
	}
	found := false
	_ = walkUp(ctx, tx, u.DepartmentID, func(d *crm.Department) bool {
		found = slices.Contains(m.DepartmentTrees, d.ID)
		return !found
	})
	return found
}

// manages reports whether user manages dept or a department above it.
func manages(ctx context.Context, tx crm.Tx, user, dept crm.ID) (bool, error) {
	if dept == crm.NilID {
		return false, nil
	}
	found := false
	err := walkUp(ctx, tx, dept, func(d *crm.Department) bool {
		found = d.ManagerID == user
		return !found
	})
	return found, err
}

// walkUp visits dept and its ancestors, nearest first, while visit returns
// true. A missing department ends the walk quietly.
func walkUp(ctx context.Context, tx crm.Tx, dept crm.ID, visit func(*crm.Department) bool) error {
	for depth := 0; dept != crm.NilID && depth < 1000; depth++ {
		d, err := tx.Departments().Get(ctx, dept)
		if errors.Is(err, crm.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !visit(d) {
			return nil
		}
		dept = d.ParentID
	}
	return nil
}
