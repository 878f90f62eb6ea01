package lead_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
	"github.com/stretchr/testify/require"
)

// boundModel is a valid model with one number replaced by the test.
func boundModel(fitPoints, eachPoints, maxPoints, groupCap, fitCap, totalCap, threshold, minTotal string) string {
	return `{
  "id": "bounds", "version": 1,
  "total_cap": ` + totalCap + `,
  "fit": {"cap": ` + fitCap + `, "groups": [
    {"name": "who", "cap": ` + groupCap + `, "rules": [
      {"id": "a", "when": {"field": "industry", "exists": true}, "points": ` + fitPoints + `},
      {"id": "b", "when": {"field": "region", "exists": true}, "points": ` + fitPoints + `}
    ]}
  ]},
  "engagement": {"groups": [
    {"name": "did", "rules": [
      {"id": "visits", "when": {"event": {"kind": "web_visit"}}, "points_each": ` + eachPoints + `, "max_points": ` + maxPoints + `},
      {"id": "clicks", "when": {"event": {"kind": "email_click"}}, "points_each": ` + eachPoints + `}
    ]}
  ]},
  "grades": {"fit": [` + threshold + `, 1, 0], "engagement": [3, 2, 1]},
  "stages": [{"stage": "marketing_qualified", "min_total": ` + minTotal + `}]
}`
}

func TestParseModelRefusesNumbersBeyondTheirBound(t *testing.T) {
	t.Parallel()
	const ok, big = "1", "1e308"
	cases := []struct {
		name, json, field string
	}{
		{"Points", boundModel(big, ok, ok, ok, ok, ok, "2", ok), "fit.groups[0].rules[0].points"},
		{"PointsJustAboveTheBound", boundModel("1000000.5", ok, ok, ok, ok, ok, "2", ok), "fit.groups[0].rules[0].points"},
		{"NegativePoints", boundModel("-1e308", ok, ok, ok, ok, ok, "2", ok), "fit.groups[0].rules[1].points"},
		{"PointsEach", boundModel(ok, big, ok, ok, ok, ok, "2", ok), "engagement.groups[0].rules[0].points_each"},
		{"MaxPoints", boundModel(ok, ok, big, ok, ok, ok, "2", ok), "engagement.groups[0].rules[0].max_points"},
		{"GroupCap", boundModel(ok, ok, ok, big, ok, ok, "2", ok), "fit.groups[0].cap"},
		{"SectionCap", boundModel(ok, ok, ok, ok, big, ok, "2", ok), "fit.cap"},
		{"TotalCap", boundModel(ok, ok, ok, ok, ok, "-1e300", "2", ok), "total_cap"},
		{"GradeThreshold", boundModel(ok, ok, ok, ok, ok, ok, big, ok), "grades.fit[0]"},
		{"StageBound", boundModel(ok, ok, ok, ok, ok, ok, "2", big), "stages[0].min_total"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := lead.ParseModel([]byte(c.json))
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var ve *crm.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Contains(t, es.Fields(), c.field, err.Error())
		})
	}
}

func TestTwoRulesOfHugePointsNoLongerScoreInfinity(t *testing.T) {
	t.Parallel()
	// Two rules of 1e308 summed to +Inf, graded A4 and could not be
	// encoded; the loader now refuses them, naming each.
	_, err := lead.ParseModel([]byte(boundModel("1e308", "1", "1", "1e300", "1e300", "1e300", "2", "1")))
	var es crm.ValidationErrors
	require.True(t, errors.As(err, &es), "%v", err)
	fields := es.Fields()
	for _, f := range []string{"fit.groups[0].rules[0].points", "fit.groups[0].rules[1].points", "fit.groups[0].cap", "fit.cap", "total_cap"} {
		require.Contains(t, fields, f)
	}
}

func TestScoresAtTheBoundsStayFiniteAndEncode(t *testing.T) {
	t.Parallel()
	pts := fmt.Sprint(lead.MaxRulePoints)
	bound := fmt.Sprint(lead.MaxScoreBound)
	for _, sign := range []string{"", "-"} {
		m := mustModel(t, boundModel(sign+pts, sign+pts, pts, bound, bound, bound, bound, "-"+bound))
		// The most events a caller could pass, each counting as many units
		// as an int holds.
		events := make([]lead.Engagement, 2000)
		for i := range events {
			kind := "web_visit"
			if i%2 == 1 {
				kind = "email_click"
			}
			events[i] = lead.Engagement{Kind: kind, At: t0, Count: math.MaxInt}
		}
		l := &crm.Lead{Name: "Li", Industry: "retail", Region: "cn-east"}
		ex := m.Explain(l, events, t0)
		r := ex.Result
		for _, v := range []float64{r.Fit, r.Engagement, r.Total} {
			require.False(t, math.IsInf(v, 0) || math.IsNaN(v), "%+v", r)
		}
		_, err := json.Marshal(ex)
		require.NoError(t, err)
		require.Equal(t, r, m.Score(l, events, t0))
	}
}

func TestParseModelAcceptsNumbersAtTheirBound(t *testing.T) {
	t.Parallel()
	pts := fmt.Sprint(lead.MaxRulePoints)
	bound := fmt.Sprint(lead.MaxScoreBound)
	_, err := lead.ParseModel([]byte(boundModel("-"+pts, pts, "-"+pts, "-"+bound, bound, "-"+bound, bound, "-"+bound)))
	require.NoError(t, err)
}
