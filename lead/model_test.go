package lead_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// smallModel is the model most tests score with.
const smallModel = `{
  "id": "smb-inbound", "version": 2, "name": "SMB inbound",
  "fit": {
    "cap": 100,
    "groups": [
      {"name": "industry", "cap": 30, "rules": [
        {"id": "target-industry", "when": {"field": "industry", "in": ["manufacturing", "retail"]}, "points": 25},
        {"id": "big-company", "when": {"field": "company_size", "range": {"gte": 200}}, "points": 15}
      ]},
      {"name": "person", "rules": [
        {"id": "decision-maker", "when": {"any": [
          {"field": "title", "contains": "director"},
          {"field": "title", "contains": "vp"}]}, "points": 20},
        {"id": "free-mail", "when": {"field": "email", "contains": "@gmail."}, "points": -10},
        {"id": "budget", "when": {"field": "fields.budget", "range": {"gte": 10000}}, "points": 10}
      ]}
    ]
  },
  "engagement": {
    "cap": 60,
    "groups": [
      {"name": "activity", "rules": [
        {"id": "visits", "when": {"event": {"kind": "web_visit"}}, "points_each": 2, "max_points": 20},
        {"id": "recent-form", "when": {"event": {"kind": "form_fill", "within_days": 30}}, "points": 30},
        {"id": "clicks", "when": {"event": {"kind": "email_click", "min_count": 3}}, "points": 10}
      ]}
    ]
  },
  "decay": {"half_life_days": 30},
  "grades": {"fit": [40, 25, 10], "engagement": [40, 20, 5]},
  "stages": [
    {"stage": "sales_qualified", "min_fit": 40, "requires": ["marketing_qualified"]},
    {"stage": "marketing_qualified", "min_total": 50},
    {"stage": "disqualified", "max_total": -5}
  ]
}`

func mustModel(t testing.TB, js string) *lead.Model {
	t.Helper()
	m, err := lead.ParseModel([]byte(js))
	require.NoError(t, err)
	return m
}

func TestModelScore(t *testing.T) {
	t.Parallel()
	m := mustModel(t, smallModel)
	require.Equal(t, "smb-inbound", m.ID())
	require.Equal(t, 2, m.Version())

	hot := &crm.Lead{Name: "Li Wei", Title: "Sales Director", Industry: "Manufacturing", CompanySize: 500,
		Email: "li.wei@huateng.cn", Fields: crm.Fields{"budget": crm.Number(decimal.NewFromInt(50000))}}
	events := []lead.Engagement{
		{Kind: "form_fill", At: t0},                   // fresh: full 30
		{Kind: "web_visit", At: t0.Add(-30 * day)},    // one half-life: 2 * 0.5
		{Kind: "web_visit", At: t0, Count: 3},         // 3 * 2
		{Kind: "email_click", At: t0.Add(-60 * day)},  // only 1 click: no points
		{Kind: "form_fill", At: t0.Add(day)},          // in the future: ignored
		{Kind: "web_visit", At: t0.Add(-time.Minute)}, // almost fresh
	}

	t.Run("SumsCapsAndGrades", func(t *testing.T) {
		r := m.Score(hot, events, t0)
		// industry 25+15 capped at 30; person 20+10.
		require.InDelta(t, 60, r.Fit, 1e-9)
		require.InDelta(t, 30+1+6+2, r.Engagement, 1e-3)
		require.InDelta(t, r.Fit+r.Engagement, r.Total, 1e-9)
		require.Equal(t, "A2", r.Grade)
		require.Equal(t, crm.LeadSQL, r.Stage)
	})

	t.Run("GivesTheSameAnswerWhenRecomputedAtTheSameTime", func(t *testing.T) {
		require.Equal(t, m.Score(hot, events, t0), m.Score(hot, events, t0))
	})

	t.Run("DecaysEngagementWithTime", func(t *testing.T) {
		later := t0.Add(60 * day)
		r := m.Score(hot, events, later)
		// The form fill is now outside its 30-day window; visits decayed.
		require.Less(t, r.Engagement, 10.0)
		require.Greater(t, r.Engagement, 0.0)
		require.Equal(t, "A4", r.Grade)
	})

	t.Run("NegativePointsCanDisqualify", func(t *testing.T) {
		cold := &crm.Lead{Name: "Anon", Email: "anon@gmail.com"}
		r := m.Score(cold, nil, t0)
		require.InDelta(t, -10, r.Fit, 1e-9)
		require.Equal(t, "D4", r.Grade)
		require.Equal(t, crm.LeadDisqualified, r.Stage)
	})

	t.Run("RequiredStagesMustHoldToo", func(t *testing.T) {
		fitOnly := &crm.Lead{Name: "X", Title: "VP Sales", Industry: "retail"} // fit 45, no engagement
		r := m.Score(fitOnly, nil, t0)
		require.InDelta(t, 45, r.Fit, 1e-9)
		require.Equal(t, crm.LeadStatus(""), r.Stage, "sales_qualified requires marketing_qualified (total >= 50)")
	})
}

func TestModelExplain(t *testing.T) {
	t.Parallel()
	m := mustModel(t, smallModel)
	l := &crm.Lead{Name: "Li Wei", Industry: "retail", CompanySize: 300}
	ex := m.Explain(l, []lead.Engagement{{Kind: "form_fill", At: t0.Add(-30 * day)}}, t0)
	require.Equal(t, m.Score(l, []lead.Engagement{{Kind: "form_fill", At: t0.Add(-30 * day)}}, t0), ex.Result)
	rules := map[string]lead.Contribution{}
	for _, c := range ex.Contributions {
		rules[c.Rule] = c
	}
	require.Len(t, rules, 3)
	require.Equal(t, 25.0, rules["target-industry"].Points)
	require.Equal(t, 15.0, rules["big-company"].Points)
	require.Equal(t, 30.0, rules["recent-form"].Base)
	require.InDelta(t, 15, rules["recent-form"].Points, 1e-9)
	require.Equal(t, lead.GroupTotal{Section: lead.SectionFit, Group: "industry", Raw: 40, Points: 30}, ex.Groups[0])
	require.Equal(t, `smb-inbound v2: fit 30, engagement 15, total 45, grade B3
  fit/industry target-industry: +25  when industry in ["manufacturing", "retail"]
  fit/industry big-company: +15  when company_size range >= 200
  engagement/activity recent-form: +15 (of +30)  when event "form_fill" at least 1 within 30 days
  fit/industry capped at 30 (from 40)`, ex.String())
	// Each rule's condition is explained in the one explanation format of
	// conditions, with what the lead held.
	require.Equal(t, `company_size range >= 200`, rules["big-company"].When)
	require.Equal(t, `true    company_size range >= 200  (company_size = 300)`, rules["big-company"].Outcome.String())
	require.Equal(t, `true    event "form_fill" at least 1 within 30 days  (1 counted)`, rules["recent-form"].Outcome.String())
}

// Engagement rules may mix event tests with tests of the lead in all, any
// and not groups: the lead's part decides whether the rule holds, and the
// events the rule counted decide its decay.
func TestModelMixesEventAndFieldTests(t *testing.T) {
	t.Parallel()
	m := mustModel(t, `{"id":"mixed","version":1,
	  "engagement":{"groups":[{"name":"g","rules":[
	    {"id":"east-recent","when":{"all":[{"field":"region","equals":"cn-east"},{"event":{"kind":"web_visit","within_days":30}}]},"points":10},
	    {"id":"talked","when":{"any":[{"event":{"kind":"call"}},{"event":{"kind":"demo_request"}},{"field":"tags","equals":"never"}]},"points":20},
	    {"id":"still-subscribed","when":{"all":[{"event":{"kind":"web_visit"}},{"not":{"any":[{"event":{"kind":"unsubscribe"}},{"field":"status","equals":"disqualified"}]}}]},"points":5},
	    {"id":"east","when":{"field":"region","equals":"cn-east"},"points":4}]}]},
	  "decay":{"half_life_days":30}}`)
	ev := []lead.Engagement{
		{Kind: "web_visit", At: t0.Add(-30 * day), Count: 2},
		{Kind: "web_visit", At: t0.Add(-60 * day)},
		{Kind: "call", At: t0.Add(-10 * day)},
		{Kind: "demo_request", At: t0.Add(-30 * day)},
	}
	east := &crm.Lead{Name: "x", Region: "CN-East"}
	ex := m.Explain(east, ev, t0)
	require.Equal(t, m.Score(east, ev, t0), ex.Result)
	got := map[string]lead.Contribution{}
	for _, c := range ex.Contributions {
		got[c.Rule] = c
	}
	require.InDelta(t, 5, got["east-recent"].Points, 1e-9, "decayed by the age of the youngest visit in the window")
	require.Equal(t, 2, got["east-recent"].Events)
	require.InDelta(t, 20*math.Exp2(-10.0/30), got["talked"].Points, 1e-9, "decayed by the youngest of the call and the demo")
	require.Equal(t, 2, got["talked"].Events)
	require.InDelta(t, 2.5, got["still-subscribed"].Points, 1e-9)
	require.Equal(t, 3, got["still-subscribed"].Events)
	require.Equal(t, 4.0, got["east"].Points, "a rule without events does not decay")
	require.Equal(t, `all(region equals "cn-east", event "web_visit" at least 1 within 30 days)`, got["east-recent"].When)
	require.Equal(t, `true    all
  true    region equals "cn-east"  (region = "CN-East")
  true    event "web_visit" at least 1 within 30 days  (2 counted)`, got["east-recent"].Outcome.String())

	west := &crm.Lead{Name: "x", Region: "cn-west", Status: crm.LeadDisqualified}
	ex = m.Explain(west, ev, t0)
	require.Len(t, ex.Contributions, 1)
	require.Equal(t, "talked", ex.Contributions[0].Rule)
	unsubscribed := append(slices.Clone(ev), lead.Engagement{Kind: "unsubscribe", At: t0.Add(-day)})
	require.InDelta(t, 5+20*math.Exp2(-10.0/30)+4, m.Score(east, unsubscribed, t0).Engagement, 1e-9,
		"an unsubscribe ends still-subscribed and is not counted by the other rules")
}

// A condition that holds an event test is decided in the logic of the one
// condition language: a test that cannot be decided (a custom field of
// another type than the literal) is unknown, a not keeps it unknown, and
// the rule holds only when the whole condition is true.
func TestModelEventConditionsUseTheLogicOfConditions(t *testing.T) {
	t.Parallel()
	m := mustModel(t, `{"id":"logic","version":1,"engagement":{"groups":[{"name":"g","rules":[
	  {"id":"r","when":{"all":[{"event":{"kind":"call"}},{"not":{"all":[{"event":{"kind":"demo_request"}},{"field":"fields.budget","range":{"gte":1000}}]}}]},"points":10}]}]}}`)
	ev := []lead.Engagement{{Kind: "call", At: t0}, {Kind: "demo_request", At: t0}}
	for _, tc := range []struct {
		budget crm.FieldValue
		want   float64
	}{
		{crm.Number(decimal.NewFromInt(500)), 10}, // below: not(all(true, false)) holds
		{crm.Number(decimal.NewFromInt(5000)), 0}, // above: not(all(true, true)) does not
		{crm.String("a lot"), 0},                  // text tested with a range is unknown, and so is its not
	} {
		l := &crm.Lead{Name: "x", Fields: crm.Fields{"budget": tc.budget}}
		require.Equal(t, tc.want, m.Score(l, ev, t0).Engagement, "%v", tc.budget)
	}
}

// A model of the retired {"field", "op", "value"} condition form is refused
// with what to write instead.
func TestParseModelRefusesTheRetiredConditionForm(t *testing.T) {
	t.Parallel()
	_, err := lead.ParseModel([]byte(`{"id":"old","version":1,"fit":{"groups":[{"name":"g","rules":[
	  {"id":"r","when":{"all":[{"field":"region","op":"in","values":["cn-east"]},{"field":"company_size","op":"range","min":10}]},"points":1}]}]}}`))
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var es crm.ValidationErrors
	require.True(t, errors.As(err, &es), "%v", err)
	reasons := map[string]string{}
	for _, e := range es {
		reasons[e.Field] = e.Reason
	}
	require.Contains(t, reasons["fit.groups[0].rules[0].when.all[0].op"], "is retired")
	require.Contains(t, reasons["fit.groups[0].rules[0].when.all[0].values"], `write {"field": "region", "in": ["cn-east", "cn-north"]}`)
	require.Contains(t, reasons["fit.groups[0].rules[0].when.all[1].min"], `"range": {"gte": 10, "lte": 99}`)
}

func TestModelStepDecay(t *testing.T) {
	t.Parallel()
	m := mustModel(t, `{"id":"step","version":1,
	  "engagement":{"groups":[{"name":"g","rules":[{"id":"call","when":{"event":{"kind":"call"}},"points":40}]}]},
	  "decay":{"step_days":7,"step_factor":0.5}}`)
	ev := []lead.Engagement{{Kind: "call", At: t0}}
	for _, tc := range []struct {
		after time.Duration
		want  float64
	}{{0, 40}, {6 * day, 40}, {7 * day, 20}, {13 * day, 20}, {14 * day, 10}, {21 * day, 5}} {
		r := m.Score(&crm.Lead{Name: "x"}, ev, t0.Add(tc.after))
		require.InDelta(t, tc.want, r.Engagement, 1e-9, "after %v", tc.after)
	}
}

func TestModelStepDecayBeyondTheLookupTable(t *testing.T) {
	t.Parallel()
	m := mustModel(t, `{"id":"step","version":1,
	  "engagement":{"groups":[{"name":"g","rules":[{"id":"call","when":{"event":{"kind":"call"}},"points":40}]}]},
	  "decay":{"step_days":1,"step_factor":0.99}}`)
	ev := []lead.Engagement{{Kind: "call", At: t0}}
	for _, steps := range []int{0, 1, 511, 512, 513, 2000} {
		r := m.Score(&crm.Lead{Name: "x"}, ev, t0.Add(time.Duration(steps)*day))
		require.Equal(t, 40*math.Exp(float64(steps)*math.Log(0.99)), r.Engagement, "after %d steps", steps)
	}
}

// Event kinds of one length and last letter share a lookup bucket; each
// must still count only its own events.
func TestModelCountsKindsThatShareABucket(t *testing.T) {
	t.Parallel()
	m := mustModel(t, `{"id":"kinds","version":1,
	  "engagement":{"groups":[{"name":"g","rules":[
	    {"id":"a","when":{"event":{"kind":"aaa_x"}},"points_each":1},
	    {"id":"b","when":{"event":{"kind":"bbb_x"}},"points_each":10},
	    {"id":"all","when":{"event":{"kind":"*"}},"points_each":100}]}]}}`)
	ev := []lead.Engagement{{Kind: "bbb_x", At: t0}, {Kind: "aaa_x", At: t0}, {Kind: "bbb_x", At: t0}, {Kind: "ccc_x", At: t0}, {Kind: "", At: t0}}
	ex := m.Explain(&crm.Lead{Name: "x"}, ev, t0)
	got := map[string]float64{}
	for _, c := range ex.Contributions {
		got[c.Rule] = c.Points
	}
	require.Equal(t, map[string]float64{"a": 1, "b": 20, "all": 500}, got)
}

func TestModelFieldOperators(t *testing.T) {
	t.Parallel()
	l := &crm.Lead{
		Name: "Zhang San", Company: "Acme", Region: "CN-East", CompanySize: 50, Tags: []string{"expo-2026", "vip"},
		Fields: crm.Fields{
			"budget":  crm.Number(decimal.RequireFromString("12500.50")),
			"partner": crm.Bool(true),
			"plan":    crm.String("Enterprise"),
			"apps":    crm.Strings("erp", "wms"),
			"met_at":  crm.Time(t0),
		},
	}
	cases := []struct {
		cond string
		want bool
	}{
		{`{"field":"region","equals":"cn-east"}`, true},
		{`{"field":"region","equals":"cn-west"}`, false},
		{`{"field":"region","in":["cn-west","CN-EAST"]}`, true},
		{`{"field":"company","contains":"CM"}`, true},
		{`{"field":"phone","exists":true}`, false},
		{`{"field":"name","exists":true}`, true},
		{`{"field":"company_size","range":{"gte":10,"lte":50}}`, true},
		{`{"field":"company_size","range":{"lte":49}}`, false},
		{`{"field":"company_size","equals":50}`, true},
		{`{"field":"company_size","equals":"50"}`, true},
		{`{"field":"company_size","in":["10","50"]}`, true},
		{`{"field":"tags","equals":"VIP"}`, true},
		{`{"field":"tags","contains":"expo"}`, true},
		{`{"field":"tags","exists":true}`, true},
		{`{"field":"fields.budget","range":{"gte":12500.5}}`, true},
		{`{"field":"fields.budget","range":{"gte":12500.51}}`, false},
		{`{"field":"fields.budget","equals":12500.5}`, true},
		{`{"field":"fields.budget","equals":"12500.5"}`, true},
		{`{"field":"fields.partner","equals":true}`, true},
		{`{"field":"fields.partner","equals":false}`, false},
		{`{"field":"fields.partner","equals":"true"}`, false}, // text does not compare with a bool
		{`{"field":"fields.plan","equals":"ENTERPRISE"}`, true},
		{`{"field":"fields.plan","prefix":"ent"}`, true},
		{`{"field":"email","prefix":"x"}`, false}, // unset
		{`{"field":"fields.plan","in":["pro","enterprise"]}`, true},
		{`{"field":"fields.plan","range":{"gte":1}}`, false},
		{`{"field":"fields.apps","equals":"wms"}`, true},
		{`{"field":"fields.met_at","exists":true}`, true},
		{`{"field":"fields.missing","exists":true}`, false},
		{`{"not":{"field":"fields.missing","exists":true}}`, true},
		{`{"all":[{"field":"name","exists":true},{"field":"phone","exists":true}]}`, false},
		{`{"any":[{"field":"name","exists":true},{"field":"phone","exists":true}]}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			m := mustModel(t, `{"id":"ops","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":`+tc.cond+`,"points":1}]}]}}`)
			got := m.Score(l, nil, t0).Fit == 1
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseModelRejectsBadInput(t *testing.T) {
	t.Parallel()
	wrap := func(rule string) string {
		return `{"id":"bad","version":1,"fit":{"groups":[{"name":"g","rules":[` + rule + `]}]}}`
	}
	cases := []struct {
		name, js, field, reason string
	}{
		{"UnknownTopLevelField", `{"id":"bad","version":1,"colour":"red","fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]}}`, "colour", "unknown field"},
		{"UnknownNestedField", wrap(`{"id":"r","when":{"field":"name","exists":true},"pionts":1}`), "fit.groups[0].rules[0].pionts", "unknown field"},
		{"BadOperator", wrap(`{"id":"r","when":{"field":"name","like":"x"},"points":1}`), "fit.groups[0].rules[0].when.like", "unknown field"},
		{"NoOperator", wrap(`{"id":"r","when":{"field":"name"},"points":1}`), "fit.groups[0].rules[0].when", "exactly one operator"},
		{"NoCondition", wrap(`{"id":"r","points":1}`), "fit.groups[0].rules[0].when", "is required"},
		{"LiteralOfTheWrongType", wrap(`{"id":"r","when":{"any":[{"field":"name","exists":true},{"field":"region","in":["cn-east",5]}]},"points":1}`), "fit.groups[0].rules[0].when.any[1].in[1]", "compares with a string"},
		{"TextOnANumber", wrap(`{"id":"r","when":{"field":"company_size","equals":"big"},"points":1}`), "fit.groups[0].rules[0].when.equals", "decimal number"},
		{"UnknownLeadField", wrap(`{"id":"r","when":{"field":"salary","exists":true},"points":1}`), "fit.groups[0].rules[0].when.field", "unknown field"},
		{"RangeOnText", wrap(`{"id":"r","when":{"field":"region","range":{"gte":1}},"points":1}`), "fit.groups[0].rules[0].when.range", "range needs number"},
		{"MinAboveMax", wrap(`{"id":"r","when":{"field":"company_size","range":{"gte":10,"lte":5}},"points":1}`), "fit.groups[0].rules[0].when.range", "is not below upper bound"},
		{"EmptyIn", wrap(`{"id":"r","when":{"field":"region","in":[]},"points":1}`), "fit.groups[0].rules[0].when.in", "is empty"},
		{"TwoConditionKinds", wrap(`{"id":"r","when":{"field":"region","exists":true,"all":[]},"points":1}`), "fit.groups[0].rules[0].when", "exactly one"},
		{"EventInFit", wrap(`{"id":"r","when":{"event":{"kind":"call"}},"points":1}`), "fit.groups[0].rules[0].when.event", "engagement section"},
		{"EventInFitGroup", wrap(`{"id":"r","when":{"all":[{"field":"name","exists":true},{"not":{"event":{"kind":"call"}}}]},"points":1}`), "fit.groups[0].rules[0].when.all[1].not.event", "engagement section"},
		{"EventWithoutKind", `{"id":"bad","version":1,"engagement":{"groups":[{"name":"g","rules":[{"id":"r","when":{"event":{"kind":""}},"points":1}]}]}}`, "engagement.groups[0].rules[0].when.event.kind", "is required"},
		{"PointsEachOnAGroup", `{"id":"bad","version":1,"engagement":{"groups":[{"name":"g","rules":[{"id":"r","when":{"all":[{"event":{"kind":"call"}}]},"points_each":1}]}]}}`, "engagement.groups[0].rules[0].when", "single event test"},
		{"NoPoints", wrap(`{"id":"r","when":{"field":"name","exists":true}}`), "fit.groups[0].rules[0].points", "no points"},
		{"DuplicateRuleID", wrap(`{"id":"r","when":{"field":"name","exists":true},"points":1},{"id":"r","when":{"field":"name","exists":true},"points":1}`), "fit.groups[0].rules[1].id", "repeats"},
		{"WrongType", wrap(`{"id":"r","when":{"field":"name","exists":true},"points":"ten"}`), "fit.groups.rules.points", "want a JSON value"},
		{"NegativeHalfLife", `{"id":"bad","version":1,"decay":{"half_life_days":-3},"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]}}`, "decay.half_life_days", "must not be negative"},
		{"StageCycle", `{"id":"bad","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]},
			"stages":[{"stage":"marketing_qualified","min_total":10,"requires":["sales_qualified"]},{"stage":"sales_qualified","min_total":20,"requires":["marketing_qualified"]}]}`,
			"stages[0].requires", "cycle: marketing_qualified -> sales_qualified -> marketing_qualified"},
		{"StageRequiresItself", `{"id":"bad","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]},
			"stages":[{"stage":"sales_qualified","min_total":20,"requires":["sales_qualified"]}]}`, "stages[0].requires", "cycle"},
		{"UnknownStage", `{"id":"bad","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]},
			"stages":[{"stage":"hot","min_total":20}]}`, "stages[0].stage", "want new"},
		{"GradesNotDescending", `{"id":"bad","version":1,"grades":{"fit":[10,20,5]},"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]}}`, "grades.fit[1]", "below the threshold"},
		{"BadID", `{"id":"Bad Model","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]}}`, "id", "lower-case"},
		{"NoVersion", `{"id":"bad","fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]}}`, "version", "at least 1"},
		{"NotJSON", `{"id":`, "", "not valid JSON"},
		{"NoRules", `{"id":"bad","version":1}`, "fit.groups", "no rules"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := lead.ParseModel([]byte(tc.js))
			require.Nil(t, m)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			found := false
			for _, e := range es {
				if e.Field == tc.field {
					require.Contains(t, e.Reason, tc.reason)
					found = true
				}
			}
			require.True(t, found, "no error on %q in %v", tc.field, err)
			require.Contains(t, err.Error(), "lead: ")
		})
	}
}

func TestModelJSONRoundTrip(t *testing.T) {
	t.Parallel()
	m := mustModel(t, smallModel)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var back lead.Model
	require.NoError(t, json.Unmarshal(b, &back))
	l := &crm.Lead{Name: "x", Industry: "retail", Title: "VP"}
	ev := []lead.Engagement{{Kind: "web_visit", At: t0.Add(-5 * day), Count: 4}}
	require.Equal(t, m.Score(l, ev, t0), back.Score(l, ev, t0))
	require.Equal(t, m.Spec(), back.Spec())
}

func TestModels(t *testing.T) {
	t.Parallel()
	v1 := mustModel(t, `{"id":"team-a","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":1}]}]}}`)
	v2 := mustModel(t, `{"id":"team-a","version":2,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"field":"name","exists":true},"points":2}]}]}}`)
	other := mustModel(t, smallModel)
	set, err := lead.NewModels(v2, other, v1)
	require.NoError(t, err)

	t.Run("GetsTheLatestVersionByDefault", func(t *testing.T) {
		m, err := set.Get("team-a", 0)
		require.NoError(t, err)
		require.Same(t, v2, m)
	})
	t.Run("GetsAPinnedVersion", func(t *testing.T) {
		m, err := set.Get("team-a", 1)
		require.NoError(t, err)
		require.Same(t, v1, m)
	})
	t.Run("ReportsUnknownModelsAsNotFound", func(t *testing.T) {
		_, err := set.Get("team-b", 0)
		require.ErrorIs(t, err, crm.ErrNotFound)
		_, err = set.Get("team-a", 3)
		require.ErrorIs(t, err, crm.ErrNotFound)
	})
	t.Run("ListsLatestVersionsAndHistory", func(t *testing.T) {
		require.Equal(t, []*lead.Model{other, v2}, set.Latest())
		require.Equal(t, []*lead.Model{v1, v2}, set.Versions("team-a"))
	})
	t.Run("RefusesADuplicateVersion", func(t *testing.T) {
		_, err := lead.NewModels(v1, v1)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func FuzzParseModel(f *testing.F) {
	f.Add([]byte(smallModel))
	f.Add([]byte(benchModel()))
	f.Add([]byte(`{"id":"x","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","when":{"not":{"any":[{"field":"fields.a","range":{"gte":-1e308}}]}},"points":1}]}]}}`))
	f.Add([]byte(`{"id":"x","version":1,"engagement":{"groups":[{"name":"g","rules":[{"id":"r","when":{"event":{"kind":"*","within_days":1e300}},"points_each":1}]}]},"decay":{"step_days":1}}`))
	l := &crm.Lead{Name: "a", Title: "VP", CompanySize: 10, Tags: []string{"x"}, Fields: crm.Fields{"a": crm.Number(decimal.NewFromInt(3))}}
	ev := []lead.Engagement{{Kind: "call", At: t0.Add(-day)}, {Kind: "web_visit", At: t0.Add(-40 * day), Count: 2}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := lead.ParseModel(data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		r := m.Score(l, ev, t0)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		back, err := lead.ParseModel(b)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(r), fmt.Sprint(back.Score(l, ev, t0)))
	})
}
