package segment_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/segment"
)

func TestClassifyFollowsTheDocumentedGrid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		r, f, m int
		want    segment.Name
	}{
		{5, 5, 5, segment.Champions}, {4, 5, 5, segment.Champions}, {5, 4, 4, segment.Champions},
		{4, 4, 4, segment.Loyal}, {3, 5, 4, segment.Loyal},
		{5, 2, 3, segment.PotentialLoyalists}, {4, 3, 3, segment.PotentialLoyalists},
		{5, 1, 1, segment.Newcomers}, {4, 1, 1, segment.Promising},
		{3, 2, 3, segment.NeedAttention}, {3, 1, 1, segment.AboutToSleep}, {2, 2, 2, segment.AboutToSleep},
		{2, 3, 4, segment.AtRisk}, {1, 3, 3, segment.AtRisk},
		{2, 5, 5, segment.CantLose}, {1, 4, 4, segment.CantLose},
		{2, 1, 1, segment.Hibernating}, {1, 2, 2, segment.Hibernating}, {1, 1, 1, segment.Lost},
		{0, 9, -3, segment.AtRisk}, // clamped to R1 F5 M1: FM (5+1+1)/2 = 3
	}
	for _, c := range cases {
		got := segment.Classify(c.r, c.f, c.m)
		require.Equal(t, c.want, got, "R%d F%d M%d", c.r, c.f, c.m)
	}
	seen := map[segment.Name]bool{}
	for _, n := range segment.Grid() {
		seen[segment.Name(n)] = true
	}
	require.Len(t, seen, len(segment.Names()), "every named segment is in the grid")
}

func TestQuintileSharesTiesAndSpansOneToFive(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, segment.Quintile(0, 10))
	require.Equal(t, 1, segment.Quintile(1, 10))
	require.Equal(t, 2, segment.Quintile(2, 10))
	require.Equal(t, 5, segment.Quintile(9, 10))
	require.Equal(t, 1, segment.Quintile(0, 1))
	require.Equal(t, 1, segment.Quintile(0, 0))
}

func TestParseRefusesBadRulesNamingThePath(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, rule, field string }{
		{"UnknownField", `{"id": "a", "when": {"all": [{"field": "tags", "equals": "x"}, {"field": "colour", "equals": "red"}]}}`, "when.all[1].field"},
		{"UnknownSegment", `{"id": "a", "when": {"field": "rfm_segment", "in": ["loyal", "royal"]}}`, "when.in[1]"},
		{"BadID", `{"id": "A B", "when": {"field": "tags", "equals": "x"}}`, "id"},
		{"UnknownKey", `{"id": "a", "where": {}}`, "where"},
		{"WrongLiteral", `{"id": "a", "when": {"field": "rfm_r", "equals": "high"}}`, "when.equals"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := segment.Parse([]byte(c.rule))
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			require.Contains(t, err.Error(), c.field)
		})
	}
}

func TestPlanPushesDownWhatIndexesServe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, when string
		perRow     bool
		check      func(t *testing.T, p segment.Plan)
	}{
		{"TagsAndSegment", `{"all": [{"field": "tags", "in": ["VIP", "expo"]}, {"field": "rfm_segment", "equals": "Loyal"}]}`, false,
			func(t *testing.T, p segment.Plan) {
				require.Equal(t, [][]string{{"vip", "expo"}}, p.Filter.TagSets)
				require.Equal(t, []segment.Name{segment.Loyal}, p.Filter.Segments)
			}},
		{"ScoreRange", `{"all": [{"field": "rfm_r", "range": {"gt": 3}}, {"field": "rfm_m", "range": {"lt": 3}}]}`, false,
			func(t *testing.T, p segment.Plan) {
				require.Equal(t, segment.Bounds{Min: 4, Max: 5}, p.Filter.R)
				require.Equal(t, segment.Bounds{Min: 1, Max: 2}, p.Filter.M)
			}},
		{"FractionalBoundIsPerRow", `{"field": "rfm_r", "range": {"gt": 3.5}}`, true,
			func(t *testing.T, p segment.Plan) { require.Equal(t, segment.Bounds{}, p.Filter.R) }},
		{"RegionIsPerRow", `{"all": [{"field": "status", "equals": "dealt"}, {"field": "region", "equals": "cn-east"}]}`, true,
			func(t *testing.T, p segment.Plan) {
				require.Equal(t, []crm.CustomerStatus{crm.CustomerDealt}, p.Filter.Customers.Statuses)
			}},
		{"AnyIsPerRow", `{"any": [{"field": "tags", "equals": "vip"}, {"field": "status", "equals": "dealt"}]}`, true,
			func(t *testing.T, p segment.Plan) { require.Empty(t, p.Filter.TagSets) }},
		{"EventsKeepTheirWindow", `{"all": [{"event": {"kind": "call", "within_days": 30}}, {"not": {"event": {"kind": "visit", "within_days": 90}}}]}`, true,
			func(t *testing.T, p segment.Plan) {
				require.True(t, p.Events)
				require.Equal(t, 90*24, int(p.EventWindow.Hours()))
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := segment.Parse([]byte(`{"id": "s", "when": ` + c.when + `}`))
			require.NoError(t, err)
			require.Equal(t, c.perRow, s.Plan().PerRow)
			c.check(t, s.Plan())
		})
	}
}
