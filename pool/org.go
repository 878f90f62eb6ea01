package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// EventUserMoved is written by [Service.MoveUser], with a
// [UserMovedPayload].
const EventUserMoved crm.EventType = "user.moved"

// UserMovedPayload is the payload of an [EventUserMoved] event.
type UserMovedPayload struct {
	UserID           crm.ID `json:"user_id"`
	FromDepartmentID crm.ID `json:"from_department_id,omitzero"`
	ToDepartmentID   crm.ID `json:"to_department_id,omitzero"`
	// Customers is how many of the user's customers changed department.
	Customers int `json:"customers"`
}

// MoveUserRequest asks to move a user to another department.
type MoveUserRequest struct {
	UserID crm.ID
	// DepartmentID is the user's new department; NilID takes the user out
	// of every department.
	DepartmentID crm.ID
	// Actor is who moved the user, recorded on the event; NilID for the
	// system. Moving people is an administrative task: the host decides
	// who may do it.
	Actor crm.ID
}

// MoveUserResult is the outcome of [Service.MoveUser].
type MoveUserResult struct {
	// User is the user as stored after the move.
	User *crm.User
	// Customers is how many customers the user owns whose department (or
	// whose holding's owner department) changed.
	Customers int
}

// MoveUser moves a user to another department, and their customers with
// them: in the same unit of work it sets the DepartmentID of every
// customer the user owns and the OwnerDepartmentID of their holdings, so
// department-scoped lists show exactly what each department's people own
// and the new department's managers take over ([DefaultAuthorizer]). An
// unknown user or department is a [*crm.ValidationError] on "user_id" or
// "department_id"; an [EventUserMoved] event is written. Moving a user to
// the department they are in repairs their customers' departments and
// changes nothing else.
func (s *Service) MoveUser(ctx context.Context, req MoveUserRequest) (*MoveUserResult, error) {
	return s.moveUser(ctx, nil, req)
}

// MoveUserTx is [Service.MoveUser] inside tx, a unit of work the caller
// holds; see [Service.ClaimTx].
func (s *Service) MoveUserTx(ctx context.Context, tx crm.Tx, req MoveUserRequest) (*MoveUserResult, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "move_user")
	return s.moveUser(ctx, joined(tx), req)
}

func (s *Service) moveUser(ctx context.Context, t crm.Tx, req MoveUserRequest) (*MoveUserResult, error) {
	name := "move user " + req.UserID.String()
	var v crm.Problems
	required(&v, "user_id", req.UserID)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("pool: %s: %w", name, err)
	}
	var out *MoveUserResult
	err := s.exec(ctx, t, name, func(ctx context.Context, u *unit) error {
		out = nil
		usr, err := u.tx.Users().Get(ctx, req.UserID)
		if errors.Is(err, crm.ErrNotFound) {
			return crm.Invalid("user_id", "unknown user %s", req.UserID)
		}
		if err != nil {
			return err
		}
		if req.DepartmentID != crm.NilID {
			_, err := u.tx.Departments().Get(ctx, req.DepartmentID)
			if errors.Is(err, crm.ErrNotFound) {
				return crm.Invalid("department_id", "unknown department %s", req.DepartmentID)
			}
			if err != nil {
				return err
			}
		}
		from := usr.DepartmentID
		if from != req.DepartmentID {
			usr.DepartmentID = req.DepartmentID
			if err := u.tx.Users().Update(ctx, usr); err != nil {
				return err
			}
		}
		n, err := u.followOwner(ctx, usr)
		if err != nil {
			return err
		}
		payload, err := json.Marshal(UserMovedPayload{UserID: usr.ID, FromDepartmentID: from, ToDepartmentID: usr.DepartmentID, Customers: n})
		if err != nil {
			return err
		}
		ev := crm.Event{ID: u.s.cfg.IDs.NewID(), Type: EventUserMoved, Subject: crm.Ref{Type: crm.TypeUser, ID: usr.ID},
			ActorID: req.Actor, OccurredAt: u.now, Payload: payload}
		if err := u.tx.Events().Append(ctx, &ev); err != nil {
			return err
		}
		out = &MoveUserResult{User: usr, Customers: n}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// followOwner gives every customer usr owns, and its holding, usr's
// department, and returns how many changed. Each customer is read again
// after its holding is locked, so a concurrent release or transfer either
// finished before (and the customer is skipped) or waits.
func (u *unit) followOwner(ctx context.Context, usr *crm.User) (int, error) {
	dept, n := usr.DepartmentID, 0
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := u.tx.Customers().List(ctx, crm.CustomerFilter{OwnerIDs: []crm.ID{usr.ID}}, page)
		if err != nil {
			return 0, err
		}
		for _, listed := range got.Items {
			h, err := u.tx.PoolHoldings().Get(ctx, listed.ID)
			switch {
			case errors.Is(err, crm.ErrNotFound):
				h = nil
			case err != nil:
				return 0, err
			}
			c, err := u.customer(ctx, listed.ID)
			if err != nil {
				return 0, err
			}
			if c.OwnerID != usr.ID {
				continue
			}
			changed := false
			if h != nil && h.OwnerID == usr.ID && h.OwnerDepartmentID != dept {
				h.OwnerDepartmentID = dept
				if err := u.tx.PoolHoldings().Update(ctx, h); err != nil {
					return 0, err
				}
				changed = true
			}
			if c.DepartmentID != dept {
				c.DepartmentID = dept
				if err := u.tx.Customers().Update(ctx, c); err != nil {
					return 0, err
				}
				changed = true
			}
			if changed {
				n++
			}
		}
		if got.NextCursor == "" {
			return n, nil
		}
		page.Cursor = got.NextCursor
	}
}
