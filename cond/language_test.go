package cond_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// tree is a department tree in preorder: root(0) > east(1) > shanghai(2),
// root > west(3).
type tree map[crm.ID][3]int32 // order, lo, hi

func (t tree) Order(id crm.ID) (int32, bool) { v, ok := t[id]; return v[0], ok }
func (t tree) Span(id crm.ID) (int32, int32, bool) {
	v, ok := t[id]
	return v[1], v[2], ok
}

var (
	deptRoot     = crm.ID{1}
	deptEast     = crm.ID{2}
	deptShanghai = crm.ID{3}
	deptWest     = crm.ID{4}
	deptUnknown  = crm.ID{9}
	depts        = tree{deptRoot: {0, 0, 3}, deptEast: {1, 1, 2}, deptShanghai: {2, 2, 2}, deptWest: {3, 3, 3}}
)

func richSchema(t testing.TB) *cond.Schema {
	t.Helper()
	s, err := cond.NewSchema(
		cond.Field{Name: "name", Kind: cond.KindString},
		cond.Field{Name: "size", Kind: cond.KindNumber},
		cond.Field{Name: "tags", Kind: cond.KindStrings},
		cond.Field{Name: "department", Kind: cond.KindID, Tree: depts},
		cond.Field{Name: "status", Kind: cond.KindString},
	)
	require.NoError(t, err)
	s, err = s.WithCustomFields("fields.")
	require.NoError(t, err)
	return s.WithEvents()
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func richRecord(t testing.TB, s *cond.Schema) *cond.Record {
	t.Helper()
	r := s.NewRecord()
	require.NoError(t, r.SetString("name", "Acme Trading Co."))
	require.NoError(t, r.SetInt("size", 1200))
	require.NoError(t, r.SetStrings("tags", "VIP", "Trade-Show"))
	require.NoError(t, r.SetID("department", deptShanghai))
	r.SetCustom(crm.Fields{
		"tier":    crm.String("Gold"),
		"budget":  crm.Number(decimal.RequireFromString("250000.50")),
		"active":  crm.Bool(true),
		"skills":  crm.Strings("go", "SQL"),
		"founded": crm.Time(t0.AddDate(-10, 0, 0)),
	}, false)
	r.SetEvents([]cond.Event{
		{Kind: "email_click", At: t0.Add(-24 * time.Hour)},
		{Kind: "email_click", At: t0.Add(-10 * 24 * time.Hour), Count: 2},
		{Kind: "web_visit", At: t0.Add(-40 * 24 * time.Hour)},
		{Kind: "web_visit", At: t0.Add(time.Hour)}, // after now: not counted
	}, t0)
	return r
}

// The language's operators on every kind, one row a rule.
func TestLanguageMatrix(t *testing.T) {
	t.Parallel()
	s := richSchema(t)
	rec := richRecord(t, s)
	cases := []struct {
		name, cond string
		want       cond.Truth
	}{
		{"ContainsIgnoresCase", `{"field":"name","contains":"TRADING"}`, cond.True},
		{"ContainsMisses", `{"field":"name","contains":"import"}`, cond.False},
		{"PrefixIgnoresCase", `{"field":"name","prefix":"acme"}`, cond.True},
		{"ListContains", `{"field":"tags","contains":"show"}`, cond.True},
		{"ListEqualsIgnoresCase", `{"field":"tags","equals":"vip"}`, cond.True},
		{"LargeInSetIgnoresCase", `{"field":"tags","in":["a","b","c","d","e","f","g","h","trade-show"]}`, cond.True},
		{"IntRange", `{"field":"size","range":{"gt":1199.5,"lte":1200}}`, cond.True},
		{"IntRangeFractionalBound", `{"field":"size","range":{"gt":1200.0000000001}}`, cond.False},
		{"IntEqualsDecimalText", `{"field":"size","equals":"1200.00"}`, cond.True},
		{"UnderAncestor", `{"field":"department","under":["` + deptEast.String() + `"]}`, cond.True},
		{"UnderItself", `{"field":"department","under":["` + deptShanghai.String() + `"]}`, cond.True},
		{"UnderOtherBranch", `{"field":"department","under":["` + deptWest.String() + `"]}`, cond.False},
		{"IDEqualsIsExact", `{"field":"department","equals":"` + deptEast.String() + `"}`, cond.False},
		{"CustomTextIgnoresCase", `{"field":"fields.tier","equals":"GOLD"}`, cond.True},
		{"CustomNumberRange", `{"field":"fields.budget","range":{"gte":250000.5}}`, cond.True},
		{"CustomNumberEqualsNumericText", `{"field":"fields.budget","equals":"250000.50"}`, cond.True},
		{"CustomNumberIn", `{"field":"fields.budget","in":[1, 250000.5]}`, cond.True},
		{"CustomBool", `{"field":"fields.active","equals":true}`, cond.True},
		{"CustomList", `{"field":"fields.skills","in":["sql"]}`, cond.True},
		{"CustomTypeMismatchIsUnknown", `{"field":"fields.tier","equals":5}`, cond.Unknown},
		{"CustomBoolAgainstTextIsUnknown", `{"field":"fields.active","equals":"yes"}`, cond.Unknown},
		{"CustomTimeIsUnknown", `{"field":"fields.founded","equals":"2016"}`, cond.Unknown},
		{"CustomExists", `{"field":"fields.founded","exists":true}`, cond.True},
		{"CustomAbsentIsUnset", `{"field":"fields.nope","equals":"x"}`, cond.False},
		{"CustomAbsentDoesNotExist", `{"field":"fields.nope","exists":false}`, cond.True},
		{"EventCountsUnits", `{"event":{"kind":"email_click","min_count":3}}`, cond.True},
		{"EventWindow", `{"event":{"kind":"email_click","min_count":2,"within_days":7}}`, cond.False},
		{"EventAnyKindIgnoresTheFuture", `{"event":{"kind":"*","min_count":4}}`, cond.True},
		{"EventAnyKindCountsUnits", `{"event":{"kind":"*","min_count":5}}`, cond.False},
		{"UnsetStatusFails", `{"field":"status","equals":"open"}`, cond.False},
		{"NotOfUnsetHolds", `{"not":{"field":"status","equals":"open"}}`, cond.True},
		{"NotKeepsUnknown", `{"not":{"field":"fields.tier","equals":5}}`, cond.Unknown},
		{"AllFalseBeatsUnknown", `{"all":[{"field":"fields.tier","equals":5},{"field":"size","equals":1}]}`, cond.False},
		{"AnyTrueBeatsUnknown", `{"any":[{"field":"fields.tier","equals":5},{"field":"size","equals":1200}]}`, cond.True},
		{"AllTrueAndUnknownIsUnknown", `{"all":[{"field":"fields.tier","equals":5},{"field":"size","equals":1200}]}`, cond.Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := cond.Parse(s, []byte(tc.cond))
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Eval(rec), p.Explain(rec).String())
			require.Equal(t, tc.want == cond.True, p.Match(rec))
		})
	}
}

// Values the host marks unknown, departments the tree does not know and
// absent custom fields under absentUnknown are Unknown, never False, so
// access rules can fail closed on them.
func TestUnknownValues(t *testing.T) {
	t.Parallel()
	s := richSchema(t)
	r := s.NewRecord()
	require.NoError(t, r.SetID("department", deptUnknown))
	require.NoError(t, r.SetUnknown("status"))
	r.SetCustom(crm.Fields{}, true)
	for _, c := range []string{
		`{"field":"department","under":["` + deptRoot.String() + `"]}`,
		`{"not":{"field":"department","under":["` + deptRoot.String() + `"]}}`,
		`{"field":"status","equals":"open"}`,
		`{"field":"status","exists":true}`,
		`{"field":"fields.region","equals":"east"}`,
		`{"field":"fields.region","exists":false}`,
	} {
		p, err := cond.Parse(s, []byte(c))
		require.NoError(t, err)
		require.Equal(t, cond.Unknown, p.Eval(r), c)
		require.False(t, p.Match(r), c)
	}
	require.ErrorIs(t, r.SetUnknown("nope"), crm.ErrInvalidArgument)
}

func TestLanguageValidation(t *testing.T) {
	t.Parallel()
	s := richSchema(t)
	plain := leadSchema(t)
	cases := []struct {
		name   string
		schema *cond.Schema
		cond   string
		field  string
		msg    string
	}{
		{"UnderNeedsATree", plain, `{"field":"owner_id","under":["` + deptRoot.String() + `"]}`, "under", "not a hierarchy"},
		{"UnderUnknownDepartment", s, `{"field":"department","under":["` + deptUnknown.String() + `"]}`, "under[0]", "unknown department"},
		{"ContainsOnANumber", s, `{"field":"size","contains":"1"}`, "contains", "needs text"},
		{"EmptyContains", s, `{"field":"name","contains":""}`, "contains", "is empty"},
		{"EventsNotDeclared", plain, `{"event":{"kind":"x"}}`, "event", "no events"},
		{"EventWithoutKind", s, `{"event":{"min_count":2}}`, "event.kind", "is required"},
		{"EventNegativeCount", s, `{"event":{"kind":"x","min_count":-1}}`, "event.min_count", "negative"},
		{"EventWindowTooLong", s, `{"event":{"kind":"x","within_days":40000}}`, "event.within_days", "at most"},
		{"CustomFieldsNotDeclared", plain, `{"field":"fields.tier","equals":"x"}`, "field", "unknown field"},
		{"CustomBoolInList", s, `{"field":"fields.tier","in":[true]}`, "in[0]", "use equals"},
		{"TooManyValues", s, `{"field":"name","in":[` + repeatList(`"x"`, cond.MaxValues+1) + `]}`, "in", "more than 1000"},
		{"EventAndField", s, `{"event":{"kind":"x"},"field":"name","exists":true}`, "", "exactly one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cond.Parse(tc.schema, []byte(tc.cond))
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.ErrorAs(t, err, &es)
			require.Contains(t, es.Fields(), tc.field, err.Error())
			require.ErrorContains(t, err, tc.msg)
		})
	}
	t.Run("NamedCustomFieldsOnly", func(t *testing.T) {
		named, err := leadSchema(t).WithCustomFields("fields.", "tier")
		require.NoError(t, err)
		_, err = cond.Parse(named, []byte(`{"field":"fields.tier","equals":"x"}`))
		require.NoError(t, err)
		_, err = cond.Parse(named, []byte(`{"field":"fields.other","equals":"x"}`))
		require.ErrorContains(t, err, `unknown field "fields.other"`)
	})
	t.Run("PrefixMustNotClash", func(t *testing.T) {
		_, err := leadSchema(t).WithCustomFields("reg")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func repeatList(item string, n int) string {
	out := item
	for range n - 1 {
		out += "," + item
	}
	return out
}

func TestExplanationFormat(t *testing.T) {
	t.Parallel()
	s := richSchema(t)
	rec := richRecord(t, s)
	p, err := cond.Parse(s, []byte(`{"all":[{"field":"tags","in":["vip","key"]},{"any":[{"field":"size","range":{"gte":500}},{"event":{"kind":"email_click","within_days":7}}]},{"not":{"field":"fields.tier","equals":"lead"}},{"field":"status","exists":false}]}`))
	require.NoError(t, err)
	require.Equal(t, `true    all
  true    tags in ["vip", "key"]  (tags = ["VIP", "Trade-Show"])
  true    any
    true    size range >= 500  (size = 1200)
    true    event "email_click" at least 1 within 7 days  (1 counted)
  true    not
    false   fields.tier equals "lead"  (fields.tier = "Gold")
  true    status does not exist  (status = unset)`, p.Explain(rec).String())
	require.Equal(t, `all(tags in ["vip", "key"], any(size range >= 500, event "email_click" at least 1 within 7 days), not(fields.tier equals "lead"), status does not exist)`, p.String())
}

// A record refilled with Reset and evaluated allocates nothing, whatever
// the tests: text sets, custom fields, trees and events.
func TestEvaluationDoesNotAllocate(t *testing.T) {
	s := richSchema(t)
	rec := richRecord(t, s)
	p, err := cond.Parse(s, []byte(`{"all":[{"field":"tags","in":["a","b","c","d","e","f","g","h","vip"]},{"field":"name","contains":"trading"},
		{"field":"department","under":["`+deptEast.String()+`"]},{"field":"fields.budget","range":{"gte":1000}},{"field":"fields.tier","in":["gold","silver"]},
		{"event":{"kind":"email_click","within_days":30}},{"not":{"field":"size","range":{"lt":10}}}]}`))
	require.NoError(t, err)
	require.True(t, p.Match(rec))
	tags := []string{"vip"}
	custom := crm.Fields{"budget": crm.Number(decimal.NewFromInt(5000)), "tier": crm.String("Gold")}
	events := []cond.Event{{Kind: "email_click", At: t0.Add(-time.Hour)}}
	allocs := testing.AllocsPerRun(200, func() {
		rec.Reset()
		rec.SetCustom(custom, false)
		rec.SetEvents(events, t0)
		_ = rec.SetString("name", "Acme Trading")
		_ = rec.SetInt("size", 40)
		_ = rec.SetStrings("tags", tags...)
		_ = rec.SetID("department", deptShanghai)
		if !p.Match(rec) {
			panic("no match")
		}
	})
	require.Zero(t, allocs)
}

func TestSchemaRefusesATreeOnOtherKinds(t *testing.T) {
	t.Parallel()
	_, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString, Tree: depts})
	require.ErrorContains(t, err, "only id fields have a tree")
}

func BenchmarkMatch(b *testing.B) {
	s := richSchema(b)
	rec := richRecord(b, s)
	p, err := cond.Parse(s, []byte(`{"all":[{"field":"tags","in":["vip","key"]},{"field":"name","contains":"trading"},
		{"field":"department","under":["`+deptEast.String()+`"]},{"field":"size","range":{"gte":500,"lt":5000}},{"field":"fields.tier","equals":"gold"}]}`))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if !p.Match(rec) {
			b.Fatal("no match")
		}
	}
}
