package crmkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
)

// hotModel grades by industry (manufacturing A, any other D) and by web
// visits (ten points each: 8 or more give 1).
const hotModel = `{"id": "hot", "version": 1,
  "fit": {"groups": [{"name": "industry", "rules": [
    {"id": "mfg", "when": {"field": "industry", "equals": "manufacturing"}, "points": 80}]}]},
  "engagement": {"groups": [{"name": "web", "rules": [
    {"id": "visits", "when": {"event": {"kind": "web_visit"}}, "points_each": 10, "max_points": 100}]}]}}`

// rise stores a lead owned by u (in u's department) with status st, and
// scores it A1 with c's lead service a minute after the previous one: a
// rise from nothing.
func (w *queueWorld) rise(t *testing.T, c *crmkit.CRM, u *crm.User, st crm.LeadStatus) crm.ID {
	t.Helper()
	l := crmtest.Lead(w.ids, func(l *crm.Lead) {
		l.OwnerID, l.DepartmentID, l.Industry, l.Status = u.ID, u.DepartmentID, "manufacturing", st
	})
	require.NoError(t, w.store.Leads().Create(w.ctx, l))
	w.clock.Advance(time.Minute)
	_, err := c.Leads.ScoreLead(w.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "hot",
		Events: []lead.Engagement{{Kind: "web_visit", At: w.clock.Now(), Count: 8}}})
	require.NoError(t, err)
	return l.ID
}

func (w *queueWorld) leadPolicy(t *testing.T) *permission.Policy {
	t.Helper()
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "lead", "fields": ["name"]}],
	  "roles": [
	    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "lead", "actions": ["view"], "scope": "own"}]},
	    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "lead", "actions": ["view"], "scope": "department_tree"}]},
	    {"name": "picky", "rules": [{"id": "picky.own", "record_type": "lead", "actions": ["view"], "scope": "own",
	      "when": {"field": "status", "in": ["contacted"]}}]}]
	}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
	require.NoError(t, err)
	return p
}

func risingIDs(t *testing.T, c *crmkit.CRM, req crmkit.RisingLeadsRequest) []crm.ID {
	t.Helper()
	req.ModelID = "hot"
	p, err := c.RisingLeads(context.Background(), req)
	require.NoError(t, err)
	out := []crm.ID{}
	for _, r := range p.Items {
		require.Equal(t, r.Lead.ID, r.Score.LeadID)
		require.Equal(t, "A1", r.Score.Grade)
		out = append(out, r.Lead.ID)
	}
	return out
}

func TestRisingLeadsListsMineAndTheTeamWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	for _, policy := range []bool{false, true} {
		w := newQueueWorld(t)
		var perms permission.Authorizer
		if policy {
			perms = w.leadPolicy(t)
		}
		c := w.crm(t, perms)
		m, err := lead.ParseModel([]byte(hotModel))
		require.NoError(t, err)
		require.NoError(t, c.Leads.SaveModel(w.ctx, m))
		r1 := w.rise(t, c, w.rep, crm.LeadNew)
		e1 := w.rise(t, c, w.east1, crm.LeadNew)
		s1 := w.rise(t, c, w.svc1, crm.LeadNew)
		p1 := w.rise(t, c, w.picky, crm.LeadNew)
		p2 := w.rise(t, c, w.picky, crm.LeadContacted)
		m1 := w.rise(t, c, w.manager, crm.LeadNew)
		// Newest rise first: the viewer's own, or the team's.
		require.Equal(t, []crm.ID{r1}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.rep.ID}))
		require.Equal(t, []crm.ID{s1}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.svc1.ID}))
		require.Equal(t, []crm.ID{m1, p2, p1, e1, r1}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.manager.ID, Team: true}))
		require.Equal(t, []crm.ID{m1, p2}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.manager.ID, Team: true, Since: w.clock.Now().Add(-time.Minute)}))
		if !policy {
			require.Equal(t, []crm.ID{p2, p1}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.picky.ID}))
			require.Empty(t, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.rep.ID, Team: true}), "a rep manages no department")
			continue
		}
		// With the policy a rep's team is what the rep may view: the rep's
		// own; and a scope wider than the policy (a status condition) is
		// checked lead by lead: the picky viewer sees only the contacted
		// lead.
		require.Equal(t, []crm.ID{r1}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.rep.ID, Team: true}))
		require.Equal(t, []crm.ID{p2}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.picky.ID}))
		require.Equal(t, []crm.ID{p2}, risingIDs(t, c, crmkit.RisingLeadsRequest{Viewer: w.picky.ID, Team: true}))
	}
}

func TestRisingLeadsRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	for _, c := range []*crmkit.CRM{w.crm(t, nil), w.crm(t, w.leadPolicy(t))} {
		for field, req := range map[string]crmkit.RisingLeadsRequest{
			"viewer":      {ModelID: "hot"},
			"model_id":    {Viewer: w.rep.ID},
			"page.cursor": {Viewer: w.rep.ID, ModelID: "hot", Page: crm.PageRequest{Cursor: crm.CursorAfter(w.rep.ID)}},
			"page.limit":  {Viewer: w.rep.ID, ModelID: "hot", Page: crm.PageRequest{Limit: -1}},
		} {
			_, err := c.RisingLeads(w.ctx, req)
			requireFieldIn(t, err, field)
		}
	}
	_, err := w.crm(t, w.leadPolicy(t)).RisingLeads(w.ctx, crmkit.RisingLeadsRequest{Viewer: w.ids.NewID(), ModelID: "hot"})
	requireFieldIn(t, err, "viewer")
}
