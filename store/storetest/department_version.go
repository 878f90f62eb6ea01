package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

// runDepartmentTreeVersions checks the optional crm.DepartmentTreeVersions
// port whenever the adapter has it: its token changes with every create,
// move, rename and delete of the tenant's departments, and with nothing
// else. (A tree put back exactly as it was may give back an earlier
// token: it is the same tree.)
func runDepartmentTreeVersions(t *testing.T, h Harness) {
	test(t, h, "DepartmentTreeVersionChangesWithEveryDepartmentWrite", func(t *testing.T, e *env) {
		version := func(ctx context.Context) (string, bool) {
			var out string
			var has bool
			err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				dv, ok := tx.(crm.DepartmentTreeVersions)
				if !ok {
					return nil
				}
				has = true
				var err error
				out, err = dv.DepartmentTreeVersion(ctx)
				return err
			})
			require.NoError(t, err)
			return out, has
		}
		v0, has := version(e.ctxA)
		if !has {
			// Optional: sync-free policies are the host's to recompile.
			require.False(t, h.Features.DepartmentTreeVersions, "Features.DepartmentTreeVersions is declared, but the unit of work does not implement crm.DepartmentTreeVersions")
			return
		}
		prev := v0
		step := func(what string, fn func() error) {
			t.Helper()
			require.NoError(t, fn(), what)
			v, _ := version(e.ctxA)
			require.NotEqual(t, prev, v, "the version did not change after %s", what)
			prev = v
		}
		root := crmtest.Department(e.ids, "Root", crm.NilID)
		hr := crmtest.Department(e.ids, "HR", root.ID)
		team := crmtest.Department(e.ids, "Team", root.ID)
		step("a create", func() error { return e.store.Departments().Create(e.ctxA, root) })
		step("a second create", func() error { return e.store.Departments().Create(e.ctxA, hr) })
		step("a third create", func() error { return e.store.Departments().Create(e.ctxA, team) })
		team.ParentID = hr.ID
		step("a move", func() error { return e.store.Departments().Update(e.ctxA, team) })
		team.Name = "Team B"
		step("a rename", func() error { return e.store.Departments().Update(e.ctxA, team) })
		step("a delete", func() error { return e.store.Departments().Delete(e.ctxA, team.ID, team.Version) })

		before, _ := version(e.ctxA)
		require.NoError(t, e.store.Customers().Create(e.ctxA, crmtest.Customer(e.ids)))
		require.NoError(t, e.store.Departments().Create(e.ctxB, crmtest.Department(e.ids, "B's", crm.NilID)))
		after, _ := version(e.ctxA)
		require.Equal(t, before, after, "a customer or another tenant's department changed the version")
	})
}
