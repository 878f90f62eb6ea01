package pool_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

func TestMoveUser(t *testing.T) {
	t.Parallel()
	// setup adds a second department with its own manager, and gives
	// alice two customers.
	setup := func(t *testing.T) (*fixture, *crm.Department, *crm.User, []*crm.Customer) {
		f := newFixture(t, nil)
		westManager := f.user(crm.NilID)
		west := crmtest.Department(f.ids, "West sales", crm.NilID, func(d *crm.Department) { d.ManagerID = westManager.ID })
		require.NoError(t, f.store.Departments().Create(f.ctx, west))
		cs := []*crm.Customer{f.pooled(), f.pooled()}
		for _, c := range cs {
			_, err := f.claim(f.alice, c)
			require.NoError(t, err)
		}
		return f, west, westManager, cs
	}
	t.Run("MovesTheUsersCustomersAndHoldingsAlong", func(t *testing.T) {
		t.Parallel()
		f, west, _, cs := setup(t)
		_, err := f.claim(f.bob, f.pooled())
		require.NoError(t, err)
		res, err := f.svc.MoveUser(f.ctx, pool.MoveUserRequest{UserID: f.alice.ID, DepartmentID: west.ID, Actor: f.admin.ID})
		require.NoError(t, err)
		require.Equal(t, west.ID, res.User.DepartmentID)
		require.Equal(t, 2, res.Customers)
		stored, err := f.store.Users().Get(f.ctx, f.alice.ID)
		require.NoError(t, err)
		require.Equal(t, west.ID, stored.DepartmentID)
		for _, c := range cs {
			require.Equal(t, west.ID, f.customer(c.ID).DepartmentID)
			require.Equal(t, west.ID, f.holding(c.ID).OwnerDepartmentID)
		}
		f.requireOwnership()
		evs, err := f.store.Outbox().Pending(f.ctx, 1000)
		require.NoError(t, err)
		last := evs[len(evs)-1]
		require.Equal(t, pool.EventUserMoved, last.Type)
		require.Equal(t, f.admin.ID, last.ActorID)
		var p pool.UserMovedPayload
		require.NoError(t, json.Unmarshal(last.Payload, &p))
		require.Equal(t, pool.UserMovedPayload{UserID: f.alice.ID, FromDepartmentID: f.dept.ID, ToDepartmentID: west.ID, Customers: 2}, p)
	})
	t.Run("TheNewDepartmentsManagerMayTransferAndTheOldOneMayNot", func(t *testing.T) {
		t.Parallel()
		f, west, westManager, cs := setup(t)
		_, err := f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: westManager.ID, CustomerID: cs[0].ID, To: f.bob.ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied, "before the move")
		_, err = f.svc.MoveUser(f.ctx, pool.MoveUserRequest{UserID: f.alice.ID, DepartmentID: west.ID})
		require.NoError(t, err)
		_, err = f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: f.manager.ID, CustomerID: cs[0].ID, To: f.bob.ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied, "the old manager")
		_, err = f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: westManager.ID, CustomerID: cs[0].ID, To: f.bob.ID})
		require.NoError(t, err, "the new manager")
		st, err := f.svc.Status(f.ctx, westManager.ID, cs[1].ID)
		require.NoError(t, err)
		require.Equal(t, f.alice.ID, st.OwnerID, "the new manager sees the owner")
		f.requireOwnership()
	})
	t.Run("TheAuthorizerReadsTheOwnersCurrentDepartment", func(t *testing.T) {
		t.Parallel()
		f, west, westManager, cs := setup(t)
		// A host moves alice by hand, without MoveUser: holdings keep the
		// old department, the authorizer goes by the user.
		u, err := f.store.Users().Get(f.ctx, f.alice.ID)
		require.NoError(t, err)
		u.DepartmentID = west.ID
		require.NoError(t, f.store.Users().Update(f.ctx, u))
		require.Equal(t, f.dept.ID, f.holding(cs[0].ID).OwnerDepartmentID)
		_, err = f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: f.manager.ID, CustomerID: cs[0].ID, To: f.bob.ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		_, err = f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: westManager.ID, CustomerID: cs[0].ID, To: f.bob.ID})
		require.NoError(t, err)
	})
	t.Run("RefusesUnknownUsersAndDepartments", func(t *testing.T) {
		t.Parallel()
		f, _, _, cs := setup(t)
		_, err := f.svc.MoveUser(f.ctx, pool.MoveUserRequest{UserID: f.alice.ID, DepartmentID: f.ids.NewID()})
		requireField(t, err, "department_id")
		_, err = f.svc.MoveUser(f.ctx, pool.MoveUserRequest{UserID: f.ids.NewID(), DepartmentID: f.dept.ID})
		requireField(t, err, "user_id")
		_, err = f.svc.MoveUser(f.ctx, pool.MoveUserRequest{DepartmentID: f.dept.ID})
		requireField(t, err, "user_id")
		require.Equal(t, f.dept.ID, f.customer(cs[0].ID).DepartmentID)
	})
	t.Run("MoveUserTxKeepsNothingWhenTheUnitOfWorkFails", func(t *testing.T) {
		t.Parallel()
		f, west, _, cs := setup(t)
		before := f.state()
		err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
			res, err := f.svc.MoveUserTx(ctx, tx, pool.MoveUserRequest{UserID: f.alice.ID, DepartmentID: west.ID})
			require.NoError(t, err)
			require.Equal(t, 2, res.Customers)
			return crm.ErrConflict
		})
		require.ErrorIs(t, err, crm.ErrConflict)
		require.Equal(t, before, f.state())
		require.Equal(t, f.dept.ID, f.customer(cs[0].ID).DepartmentID)
		u, err := f.store.Users().Get(f.ctx, f.alice.ID)
		require.NoError(t, err)
		require.Equal(t, f.dept.ID, u.DepartmentID)
	})
	t.Run("NoDepartmentLeavesTheCustomersWithoutOne", func(t *testing.T) {
		t.Parallel()
		f, _, _, cs := setup(t)
		res, err := f.svc.MoveUser(f.ctx, pool.MoveUserRequest{UserID: f.alice.ID})
		require.NoError(t, err)
		require.Equal(t, 2, res.Customers)
		require.Equal(t, crm.NilID, f.customer(cs[1].ID).DepartmentID)
		f.requireOwnership()
	})
}
