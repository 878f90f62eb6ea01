package permission_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
)

// A department moved into a denied subtree after the policy compiled is
// denied once the registry syncs with the store's tree version; the same
// version costs no reload, and an unchanged tree records no change.
func TestRegistrySyncFollowsDepartmentsMovedInTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	doc, err := permission.ParseDocument([]byte(`{
	  "record_types": [{"name": "lead", "fields": ["name"]}],
	  "roles": [{"name": "viewer", "rules": [
	    {"record_type": "lead", "actions": ["view"], "scope": "all"},
	    {"id": "no_service", "effect": "deny", "record_type": "lead", "actions": ["view"], "scope": "all", "when": {"field": "department_id", "under": ["` + service.String() + `"]}}
	  ]}]
	}`))
	require.NoError(t, err)
	audit := &memAudit{}
	reg, err := permission.NewRegistry(ctx, id(0x9000), doc, departments(), &permission.RegistryConfig{Audit: audit})
	require.NoError(t, err)
	viewer := &crm.User{Meta: crm.Meta{ID: id(0x1001)}, DepartmentID: marketing, Roles: []string{"viewer"}, Active: true}
	leadIn := func(dept crm.ID) *permission.Resource {
		return &permission.Resource{Type: crm.TypeLead, DepartmentID: dept}
	}
	store := departments()
	var loads atomic.Int32
	load := func(context.Context) ([]*crm.Department, error) {
		loads.Add(1)
		return slices.Clone(store), nil
	}

	// The first sync reads the tree; it is the compiled one, so nothing
	// is recorded. The same version again reads nothing.
	p, err := reg.Sync(ctx, "v1", load)
	require.NoError(t, err)
	require.Same(t, reg.Policy(), p)
	_, err = reg.Sync(ctx, "v1", load)
	require.NoError(t, err)
	require.Equal(t, int32(1), loads.Load())
	require.Len(t, audit.changes, 1, "only the first policy is recorded")
	require.NoError(t, reg.Authorize(ctx, viewer, permission.ActionView, leadIn(salesWest)))

	// Sales West moves below Service in the store.
	for i := range store {
		if store[i].ID == salesWest {
			store[i].ParentID = service
		}
	}
	require.NoError(t, reg.Authorize(ctx, viewer, permission.ActionView, leadIn(salesWest)), "not synced yet: decided on the compiled tree")
	_, err = reg.Sync(ctx, "v2", load)
	require.NoError(t, err)
	err = reg.Authorize(ctx, viewer, permission.ActionView, leadIn(salesWest))
	d, denied := permission.IsDenied(err)
	require.True(t, denied, "a department moved into a denied subtree is denied after the sync")
	require.Equal(t, "no_service", d.Rule())
	require.Len(t, audit.changes, 2)
	require.Equal(t, crm.NilID, audit.changes[1].Actor, "the system recorded the reorganisation")
	require.True(t, audit.changes[1].DepartmentsChanged)
}
