package crmkit_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pipeline"
)

func (w *queueWorld) opportunityPolicy(t *testing.T) *permission.Policy {
	t.Helper()
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "opportunity", "fields": ["name", "stage"]}],
	  "roles": [
	    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "opportunity", "actions": ["view"], "scope": "own"}]},
	    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "opportunity", "actions": ["view"], "scope": "department_tree"}]},
	    {"name": "picky", "rules": [{"id": "picky.own", "record_type": "opportunity", "actions": ["view"], "scope": "own",
	      "when": {"field": "status", "in": ["won"]}}]}]
	}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
	require.NoError(t, err)
	return p
}

func TestPipelineFiguresKeepTheViewerWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	deal := func(u *crm.User, amount string) {
		m, err := crm.ParseMoney(amount)
		require.NoError(t, err)
		o := crmtest.Opportunity(w.ids, w.ids.NewID(), func(o *crm.Opportunity) {
			o.OwnerID, o.DepartmentID, o.Amount, o.Stage, o.Probability = u.ID, u.DepartmentID, m, crm.StageProposal, 50
		})
		require.NoError(t, w.store.Opportunities().Create(w.ctx, o))
	}
	deal(w.rep, "100 CNY")
	deal(w.east1, "200 CNY")
	deal(w.svc1, "400 CNY")
	total := func(c *crmkit.CRM, viewer *crm.User, scope *crm.DataScope) string {
		v, err := c.PipelineValue(w.ctx, crmkit.FigureRequest{Viewer: viewer.ID, ReportRequest: pipeline.ReportRequest{Scope: scope}})
		require.NoError(t, err)
		if len(v.Total) == 0 {
			return ""
		}
		return v.Total[0].Amount.String() + " weighted " + v.Total[0].Weighted.String()
	}

	open := w.crm(t, nil)
	require.Equal(t, "700 CNY weighted 350 CNY", total(open, w.rep, nil), "without permissions every deal counts")
	require.Equal(t, "100 CNY weighted 50 CNY", total(open, w.rep, &crm.DataScope{OwnerIDs: []crm.ID{w.rep.ID}}))

	c := w.crm(t, w.opportunityPolicy(t))
	require.Equal(t, "100 CNY weighted 50 CNY", total(c, w.rep, nil), "a rep sees her own deals")
	require.Equal(t, "300 CNY weighted 150 CNY", total(c, w.manager, nil), "a manager sees her department tree")
	require.Equal(t, "400 CNY weighted 200 CNY", total(c, w.svc1, nil))

	_, err := c.PipelineValue(w.ctx, crmkit.FigureRequest{Viewer: w.rep.ID, ReportRequest: pipeline.ReportRequest{Scope: &crm.DataScope{All: true}}})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "a restricted viewer cannot widen the scope")
	_, err = c.Funnel(w.ctx, crmkit.FigureRequest{})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "the viewer is required")
	_, err = c.Forecast(w.ctx, crmkit.FigureRequest{Viewer: w.ids.NewID()})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "an unknown viewer")
	_, err = c.PipelinePerformance(w.ctx, crmkit.FigureRequest{Viewer: w.picky.ID})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition, "a conditional rule needs a check of each record")
}
