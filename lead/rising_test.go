package lead_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// gradeModel grades by industry (manufacturing A, retail B, any other D)
// and by web visits, ten points each (8 or more: 1, 6: 2, 3: 3, none: 4).
const gradeModel = `{"id": "hot", "version": 1,
  "fit": {"groups": [{"name": "industry", "rules": [
    {"id": "mfg", "when": {"field": "industry", "equals": "manufacturing"}, "points": 80},
    {"id": "retail", "when": {"field": "industry", "equals": "retail"}, "points": 60}]}]},
  "engagement": {"groups": [{"name": "web", "rules": [
    {"id": "visits", "when": {"event": {"kind": "web_visit"}}, "points_each": 10, "max_points": 100}]}]}}`

func TestModelRises(t *testing.T) {
	t.Parallel()
	m := mustModel(t, gradeModel)
	for _, tc := range []struct {
		from, to string
		rises    bool
	}{
		{"B3", "A3", true},  // fit better, engagement the same
		{"B3", "B1", true},  // engagement better
		{"D4", "A1", true},  // both better
		{"", "D3", true},    // a first grade above the lowest
		{"", "A1", true},    // a first grade above the lowest
		{"", "D4", false},   // a first grade that is the lowest
		{"D4", "D4", false}, // the same
		{"A2", "A2", false}, // the same
		{"A1", "A2", false}, // engagement fell
		{"A1", "B1", false}, // fit fell
		{"B1", "A4", false}, // fit rose but engagement fell: no rise
		{"A4", "B1", false}, // engagement rose but fit fell: no rise
		{"C3", "x", false},  // not a grade
		{"x", "A1", false},  // not a grade
		{"E5", "A1", false}, // out of range
		{"B3", "", false},   // no grade
	} {
		require.Equal(t, tc.rises, m.Rises(tc.from, tc.to), "%q -> %q", tc.from, tc.to)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	for st, open := range map[crm.LeadStatus]bool{
		crm.LeadNew: true, crm.LeadContacted: true, crm.LeadMQL: true, crm.LeadSQL: true,
		crm.LeadConverted: false, crm.LeadDisqualified: false,
	} {
		require.Equal(t, open, lead.Open(&crm.Lead{Status: st}), st)
	}
}

func TestScoreLeadMarksRises(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, gradeModel)))
	l := f.lead(t, func(l *crm.Lead) { l.Industry = "retail" })
	score := func(visits int) *lead.ScoreSnapshot {
		t.Helper()
		var events []lead.Engagement
		if visits > 0 {
			events = []lead.Engagement{{Kind: "web_visit", At: f.clock.Now(), Count: visits}}
		}
		s, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "hot", Events: events})
		require.NoError(t, err)
		return s
	}
	rose := func(s *lead.ScoreSnapshot, grade string, at time.Time, from string) {
		t.Helper()
		require.Equal(t, grade, s.Grade)
		require.Equal(t, at, s.RoseAt)
		require.Equal(t, from, s.RoseFrom)
	}
	t1 := f.clock.Now()
	rose(score(3), "B3", t1, "") // first: above D4
	f.clock.Advance(time.Hour)
	rose(score(3), "B3", t1, "") // the same grade keeps the rise
	t3 := f.clock.Advance(time.Hour)
	rose(score(8), "B1", t3, "B3") // rose
	f.clock.Advance(time.Hour)
	rose(score(6), "B2", time.Time{}, "") // fell: no longer rising
	f.clock.Advance(time.Hour)
	rose(score(6), "B2", time.Time{}, "") // and stays so
	l.Industry = "manufacturing"
	require.NoError(t, f.store.Leads().Update(f.ctx, l))
	t6 := f.clock.Advance(time.Hour)
	rose(score(6), "A2", t6, "B2")
	f.clock.Advance(time.Hour)
	rose(score(0), "A4", time.Time{}, "") // fell

	dull := f.lead(t, func(l *crm.Lead) { l.Industry = "other" })
	s, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: dull.ID, ModelID: "hot"})
	require.NoError(t, err)
	rose(s, "D4", time.Time{}, "") // a first grade at the bottom did not rise
}

func TestScoreSnapshotValidatesTheRise(t *testing.T) {
	t.Parallel()
	ok := lead.ScoreSnapshot{LeadID: crm.ID{1}, ModelID: "hot", ModelVersion: 1, Grade: "A1", ComputedAt: t0, RoseAt: t0, RoseFrom: "B2"}
	require.NoError(t, ok.Validate())
	for field, edit := range map[string]func(*lead.ScoreSnapshot){
		"rose_from": func(s *lead.ScoreSnapshot) { s.RoseAt = time.Time{} },
	} {
		bad := ok
		edit(&bad)
		requireNilInvalid(t, bad.Validate(), field)
	}
	bad := ok
	bad.RoseFrom = "far too long"
	requireNilInvalid(t, bad.Validate(), "rose_from")
}

func TestServiceRising(t *testing.T) {
	t.Parallel()

	t.Run("ListsTheActorsRisenLeadsNewestFirst", func(t *testing.T) {
		f := newFixture(t, nil)
		require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, gradeModel)))
		owner := crm.ID{9}
		a := f.lead(t, func(l *crm.Lead) { l.Industry, l.OwnerID = "retail", owner })
		b := f.lead(t, func(l *crm.Lead) { l.Industry, l.OwnerID = "manufacturing", owner })
		_, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: a.ID, ModelID: "hot"})
		require.NoError(t, err)
		f.clock.Advance(time.Minute)
		_, err = f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: b.ID, ModelID: "hot"})
		require.NoError(t, err)
		p, err := f.svc.Rising(f.ctx, lead.RisingRequest{Actor: owner, ModelID: "hot"})
		require.NoError(t, err)
		require.Len(t, p.Items, 2)
		require.Equal(t, b.ID, p.Items[0].Lead.ID)
		require.Equal(t, "A4", p.Items[0].Score.Grade)
		require.Equal(t, a.ID, p.Items[1].Lead.ID)
		p, err = f.svc.Rising(f.ctx, lead.RisingRequest{Actor: owner, ModelID: "hot", Since: f.clock.Now()})
		require.NoError(t, err)
		require.Len(t, p.Items, 1)
	})

	t.Run("RefusesBadInputNamingTheField", func(t *testing.T) {
		f := newFixture(t, nil)
		for field, req := range map[string]lead.RisingRequest{
			"model_id":    {Actor: crm.ID{1}},
			"actor":       {ModelID: "hot"},
			"page.cursor": {Actor: crm.ID{1}, ModelID: "hot", Page: crm.PageRequest{Cursor: "tdu.AAAA"}},
			"page.limit":  {Actor: crm.ID{1}, ModelID: "hot", Page: crm.PageRequest{Limit: -1}},
		} {
			_, err := f.svc.Rising(f.ctx, req)
			requireInvalidField(t, err, field)
		}
	})

	t.Run("ReportsErrUnsupportedWithoutTheQueue", func(t *testing.T) {
		f := newFixture(t, nil)
		svc, err := lead.New(portlessStore{f.store}, &lead.Config{Clock: f.clock, IDs: f.ids})
		require.NoError(t, err)
		_, err = svc.Rising(f.ctx, lead.RisingRequest{Actor: crm.ID{1}, ModelID: "hot"})
		require.ErrorIs(t, err, crm.ErrUnsupported)
	})

	t.Run("CursorsContinueAfterTheLastEntry", func(t *testing.T) {
		at := t0.Add(90 * time.Second)
		r := &lead.RisingLead{Score: &lead.ScoreSnapshot{LeadID: crm.ID{7}, RoseAt: at}}
		limit, after, since, err := lead.ResolveRisingQuery(lead.RisingQuery{ModelID: "hot", Since: t0.Add(1500 * time.Nanosecond),
			Page: crm.PageRequest{Cursor: lead.RisingCursor(r)}})
		require.NoError(t, err)
		require.Equal(t, crm.DefaultPageLimit, limit)
		require.Equal(t, &crm.QueueKey{DueAt: at, ID: crm.ID{7}}, after)
		require.Equal(t, t0.Add(2*time.Microsecond), since, "since rounds up to stored precision")
	})
}
