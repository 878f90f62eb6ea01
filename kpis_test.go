package crmkit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
)

func TestKPIsKeepTheViewerWithinThePolicy(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	for _, u := range []*crm.User{w.manager, w.rep, w.east1, w.svc1} {
		l := crmtest.Lead(w.ids, func(l *crm.Lead) { l.OwnerID, l.DepartmentID, l.Source = u.ID, u.DepartmentID, "web_form" })
		require.NoError(t, w.store.Leads().Create(w.ctx, l))
	}
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "lead", "fields": ["source"]}],
	  "roles": [
	    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "lead", "actions": ["view"], "scope": "own"}]},
	    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "lead", "actions": ["view"], "scope": "department_tree"}]},
	    {"name": "picky", "rules": [{"id": "picky.own", "record_type": "lead", "actions": ["view"], "scope": "own",
	      "when": {"field": "status", "in": ["new"]}}]}]
	}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
	require.NoError(t, err)
	period := crm.Period{From: w.clock.Now().Add(-time.Hour), To: w.clock.Now().Add(time.Hour), Bucket: crm.BucketMonth}
	created := func(c *crmkit.CRM, viewer crm.ID) int64 {
		t.Helper()
		r, err := c.KPIs(w.ctx, crmkit.KPIRequest{Viewer: viewer, Period: period})
		require.NoError(t, err)
		var n int64
		for _, row := range r.Leads {
			n += row.Created
		}
		require.Empty(t, r.Tickets, "the policy declares no tickets: none are counted")
		return n
	}
	c := w.crm(t, p)
	require.Equal(t, int64(3), created(c, w.manager.ID), "the manager sees her department tree: Sales and East")
	require.Equal(t, int64(1), created(c, w.rep.ID), "a rep sees her own")
	require.Equal(t, int64(4), created(w.crm(t, nil), w.rep.ID), "without a policy the figures cover the tenant")

	_, err = c.KPIs(w.ctx, crmkit.KPIRequest{Viewer: w.picky.ID, Period: period})
	require.ErrorIs(t, err, crm.ErrPermissionDenied, "a scope wider than the policy is refused, not widened")
	_, err = c.KPIs(w.ctx, crmkit.KPIRequest{Period: period})
	requireField(t, err, "viewer")
	_, err = c.KPIs(w.ctx, crmkit.KPIRequest{Viewer: w.rep.ID, Period: crm.Period{From: period.To, To: period.From, Bucket: crm.BucketDay}})
	requireField(t, err, "period.to")
}
