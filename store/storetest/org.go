package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// runUsers checks the per-tenant, case-insensitive uniqueness of emails.
func runUsers(t *testing.T, h Harness) {
	user := func(e *env, email string) *crm.User {
		return &crm.User{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Li Wei", Email: email, Active: true}
	}
	test(t, h, "CreateRefusesAnEmailTakenInTheTenantInAnyCase", func(t *testing.T, e *env) {
		first := user(e, "li.wei@example.com")
		require.NoError(t, e.store.Users().Create(e.ctxA, first))
		for _, email := range []string{"li.wei@example.com", "LI.WEI@EXAMPLE.COM", "Li.Wei@Example.com"} {
			dup := user(e, email)
			require.ErrorIs(t, e.store.Users().Create(e.ctxA, dup), crm.ErrAlreadyExists, email)
			userKind().requireMissing(t, e.ctxA, e.store, dup.ID)
		}
	})
	test(t, h, "AllowsTheSameEmailInAnotherTenant", func(t *testing.T, e *env) {
		require.NoError(t, e.store.Users().Create(e.ctxA, user(e, "li.wei@example.com")))
		require.NoError(t, e.store.Users().Create(e.ctxB, user(e, "Li.Wei@example.com")))
		require.NoError(t, e.store.Users().Create(e.ctx, user(e, "LI.WEI@example.com")))
	})
	test(t, h, "UpdateRefusesTakingAnotherUsersEmail", func(t *testing.T, e *env) {
		a, b := user(e, "a@example.com"), user(e, "b@example.com")
		require.NoError(t, e.store.Users().Create(e.ctxA, a))
		require.NoError(t, e.store.Users().Create(e.ctxA, b))
		want := userKind().stored(b)
		b.Email = "A@Example.com"
		require.ErrorIs(t, e.store.Users().Update(e.ctxA, b), crm.ErrAlreadyExists)
		requireSame(t, want, userKind().get(t, e.ctxA, e.store, b.ID))
		// Changing the case of one's own email is no clash.
		a.Email = "A@EXAMPLE.COM"
		require.NoError(t, e.store.Users().Update(e.ctxA, a))
	})
	test(t, h, "FreesAnEmailWhenItsUserChangesItOrIsDeleted", func(t *testing.T, e *env) {
		a, b := user(e, "a@example.com"), user(e, "b@example.com")
		require.NoError(t, e.store.Users().Create(e.ctxA, a))
		require.NoError(t, e.store.Users().Create(e.ctxA, b))
		a.Email = "a.new@example.com"
		require.NoError(t, e.store.Users().Update(e.ctxA, a))
		require.NoError(t, e.store.Users().Create(e.ctxA, user(e, "a@example.com")))
		require.NoError(t, e.store.Users().Delete(e.ctxA, b.ID, b.Version))
		require.NoError(t, e.store.Users().Create(e.ctxA, user(e, "B@example.com")))
	})
	test(t, h, "RollsBackAnEmailClaimedInAFailedUnitOfWork", func(t *testing.T, e *env) {
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Users().Create(ctx, user(e, "a@example.com")); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.NoError(t, e.store.Users().Create(e.ctxA, user(e, "a@example.com")))
	})
}

// runDepartments checks the tree rules: known parents, no cycles, no
// orphans, also under concurrent moves.
func runDepartments(t *testing.T, h Harness) {
	dept := func(e *env, name string, parent crm.ID) *crm.Department {
		return &crm.Department{Meta: crm.Meta{ID: e.ids.NewID()}, Name: name, ParentID: parent}
	}
	create := func(t *testing.T, e *env, ctx context.Context, d *crm.Department) *crm.Department {
		t.Helper()
		require.NoError(t, e.store.Departments().Create(ctx, d), "create %s", d.Name)
		return d
	}
	test(t, h, "CreateRefusesAnUnknownParent", func(t *testing.T, e *env) {
		d := dept(e, "Sales", e.ids.NewID())
		requireInvalid(t, e.store.Departments().Create(e.ctx, d), "parent_id")
		departmentKind().requireMissing(t, e.ctx, e.store, d.ID)
	})
	test(t, h, "CreateRefusesAParentOfAnotherTenant", func(t *testing.T, e *env) {
		other := create(t, e, e.ctxB, dept(e, "Other tenant", crm.NilID))
		d := dept(e, "Sales", other.ID)
		requireInvalid(t, e.store.Departments().Create(e.ctxA, d), "parent_id")
		departmentKind().requireMissing(t, e.ctxA, e.store, d.ID)
	})
	test(t, h, "UpdateRefusesAMoveThatWouldMakeACycle", func(t *testing.T, e *env) {
		root := create(t, e, e.ctx, dept(e, "Company", crm.NilID))
		mid := create(t, e, e.ctx, dept(e, "Sales", root.ID))
		leaf := create(t, e, e.ctx, dept(e, "Sales East", mid.ID))
		for _, parent := range []crm.ID{leaf.ID, mid.ID, root.ID} {
			moved := *root
			moved.ParentID = parent
			requireInvalid(t, e.store.Departments().Update(e.ctx, &moved), "parent_id")
		}
		moved := *mid
		moved.ParentID = leaf.ID
		requireInvalid(t, e.store.Departments().Update(e.ctx, &moved), "parent_id")
		moved.ParentID = e.ids.NewID()
		requireInvalid(t, e.store.Departments().Update(e.ctx, &moved), "parent_id")
		requireAcyclic(t, e, e.ctx, 3)
		requireSame(t, departmentKind().stored(root), departmentKind().get(t, e.ctx, e.store, root.ID))
		requireSame(t, departmentKind().stored(mid), departmentKind().get(t, e.ctx, e.store, mid.ID))
		// A legal move still works: the leaf moves up to the root.
		leaf.ParentID = root.ID
		require.NoError(t, e.store.Departments().Update(e.ctx, leaf))
	})
	test(t, h, "DeleteRefusesADepartmentWithChildren", func(t *testing.T, e *env) {
		root := create(t, e, e.ctxA, dept(e, "Company", crm.NilID))
		child := create(t, e, e.ctxA, dept(e, "Sales", root.ID))
		// A child in another tenant cannot exist, but a department of the
		// same name there must not matter either.
		create(t, e, e.ctxB, dept(e, "Company", crm.NilID))
		err := e.store.Departments().Delete(e.ctxA, root.ID, root.Version)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
		departmentKind().get(t, e.ctxA, e.store, root.ID)
		require.NoError(t, e.store.Departments().Delete(e.ctxA, child.ID, child.Version))
		require.NoError(t, e.store.Departments().Delete(e.ctxA, root.ID, root.Version))
	})
	test(t, h, "ConcurrentOppositeMovesNeverMakeACycle", func(t *testing.T, e *env) {
		root := create(t, e, e.ctx, dept(e, "Company", crm.NilID))
		a := create(t, e, e.ctx, dept(e, "A", root.ID))
		b := create(t, e, e.ctx, dept(e, "B", root.ID))
		// move sets d's parent, retrying on version conflicts; a refused
		// cycle is a fine outcome.
		move := func(d, parent crm.ID) error {
			for {
				cur, err := e.store.Departments().Get(e.ctx, d)
				if err != nil {
					return err
				}
				cur.ParentID = parent
				err = e.store.Departments().Update(e.ctx, cur)
				var ve *crm.ValidationError
				switch {
				case errors.Is(err, crm.ErrConflict):
					continue
				case errors.As(err, &ve) && ve.Field == "parent_id":
					return nil
				}
				return err
			}
		}
		const rounds = 25
		for round := range rounds {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			wg.Add(2)
			go func() { defer wg.Done(); <-start; errs[0] = move(a.ID, b.ID) }()
			go func() { defer wg.Done(); <-start; errs[1] = move(b.ID, a.ID) }()
			close(start)
			wg.Wait()
			require.NoError(t, errors.Join(errs...), "round %d", round)
			requireAcyclic(t, e, e.ctx, 3)
			// Put both back under the root for the next round.
			require.NoError(t, move(a.ID, root.ID))
			require.NoError(t, move(b.ID, root.ID))
		}
	})
}

// requireAcyclic lists the tenant's departments and checks that they form a
// tree (every parent known, no cycle).
func requireAcyclic(t *testing.T, e *env, ctx context.Context, want int) {
	t.Helper()
	all := listAll[crm.Department, crm.DepartmentFilter, *crm.Department](t, ctx, e.store.Departments(), crm.DepartmentFilter{}, 0)
	require.Len(t, all, want)
	ds := make([]crm.Department, len(all))
	for i, d := range all {
		ds[i] = *d
	}
	_, err := crm.NewDepartmentTree(ds)
	if err != nil {
		var names []string
		for _, d := range ds {
			names = append(names, d.Name+"->"+d.ParentID.String())
		}
		require.NoError(t, err, "stored departments: %s", strings.Join(names, ", "))
	}
}
