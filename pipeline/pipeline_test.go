package pipeline_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
)

// fields returns the fields err names.
func fields(t *testing.T, err error) []string {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var all crm.ValidationErrors
	if errors.As(err, &all) {
		return all.Fields()
	}
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	return []string{ve.Field}
}

const good = `{"key": "hw", "stages": [
  {"name": "lead", "order": 1, "kind": "open", "probability": 10},
  {"name": "proposal", "order": 2, "kind": "open", "probability": 60, "required": ["amount", "fields.budget"]},
  {"name": "won", "order": 3, "kind": "won", "probability": 100},
  {"name": "lost", "order": 4, "kind": "lost", "probability": 0, "lost_reasons": ["price"]}]}`

func TestParseOrdersTheStages(t *testing.T) {
	t.Parallel()
	p, err := pipeline.Parse([]byte(`{"key": "hw", "stages": [
  {"name": "lost", "order": 9, "kind": "lost", "probability": 0, "lost_reasons": ["price"]},
  {"name": "won", "order": 5, "kind": "won", "probability": 100},
  {"name": "lead", "order": 2, "kind": "open", "probability": 10}]}`))
	require.NoError(t, err)
	require.Equal(t, []crm.OpportunityStage{"lead", "won", "lost"}, []crm.OpportunityStage{p.Stages[0].Name, p.Stages[1].Name, p.Stages[2].Name})
	require.Equal(t, crm.OpportunityStage("lead"), p.First().Name)
	require.Equal(t, []crm.OpportunityStage{"won"}, p.StagesOf(pipeline.KindWon))
}

func TestParseNamesEveryProblem(t *testing.T) {
	t.Parallel()
	stage := func(s string) string {
		return strings.Replace(good, `{"name": "lead", "order": 1, "kind": "open", "probability": 10}`, s, 1)
	}
	cases := []struct {
		name string
		json string
		want []string
	}{
		{"Good", good, nil},
		{"NoKey", strings.Replace(good, `"key": "hw"`, `"key": ""`, 1), []string{"key"}},
		{"KeyNotAnIdentifier", strings.Replace(good, `"key": "hw"`, `"key": "Hard Ware"`, 1), []string{"key"}},
		{"NoStages", `{"key": "hw", "stages": []}`, []string{"stages"}},
		{"NoWonStage", strings.Replace(good, `"kind": "won"`, `"kind": "lost", "lost_reasons": ["x"]`, 1), []string{"stages[2].probability", "stages"}},
		{"NoLostStage", `{"key": "hw", "stages": [{"name": "a", "order": 1, "kind": "open", "probability": 1}, {"name": "w", "order": 2, "kind": "won", "probability": 100}]}`, []string{"stages"}},
		{"NoOpenStage", `{"key": "hw", "stages": [{"name": "w", "order": 1, "kind": "won", "probability": 100}, {"name": "l", "order": 2, "kind": "lost", "probability": 0, "lost_reasons": ["x"]}]}`, []string{"stages"}},
		{"DuplicateName", stage(`{"name": "won", "order": 1, "kind": "open", "probability": 10}`), []string{"stages[2].name"}},
		{"NameNotAnIdentifier", stage(`{"name": "Lead In", "order": 1, "kind": "open", "probability": 10}`), []string{"stages[0].name"}},
		{"ProbabilityAbove100", stage(`{"name": "lead", "order": 1, "kind": "open", "probability": 101}`), []string{"stages[0].probability"}},
		{"NegativeProbability", stage(`{"name": "lead", "order": 1, "kind": "open", "probability": -1}`), []string{"stages[0].probability"}},
		{"WonNot100", strings.Replace(good, `"kind": "won", "probability": 100`, `"kind": "won", "probability": 90`, 1), []string{"stages[2].probability"}},
		{"LostNot0", strings.Replace(good, `"kind": "lost", "probability": 0`, `"kind": "lost", "probability": 5`, 1), []string{"stages[3].probability"}},
		{"OrderZero", stage(`{"name": "lead", "order": 0, "kind": "open", "probability": 10}`), []string{"stages[0].order"}},
		{"DuplicateOrder", stage(`{"name": "lead", "order": 2, "kind": "open", "probability": 10}`), []string{"stages[1].order"}},
		{"OpenAfterClosed", stage(`{"name": "lead", "order": 7, "kind": "open", "probability": 10}`), []string{"stages[0].order"}},
		{"UnknownKind", stage(`{"name": "lead", "order": 1, "kind": "paused", "probability": 10}`), []string{"stages[0].kind"}},
		{"UnknownRequiredField", stage(`{"name": "lead", "order": 1, "kind": "open", "probability": 10, "required": ["budget"]}`), []string{"stages[0].required[0]"}},
		{"CustomFieldNotAnIdentifier", stage(`{"name": "lead", "order": 1, "kind": "open", "probability": 10, "required": ["amount", "fields.Big Budget"]}`), []string{"stages[0].required[1]"}},
		{"RepeatedRequiredField", stage(`{"name": "lead", "order": 1, "kind": "open", "probability": 10, "required": ["amount", "amount"]}`), []string{"stages[0].required[1]"}},
		{"LostWithoutReasons", strings.Replace(good, `, "lost_reasons": ["price"]`, ``, 1), []string{"stages[3].lost_reasons"}},
		{"ReasonsOnAnOpenStage", stage(`{"name": "lead", "order": 1, "kind": "open", "probability": 10, "lost_reasons": ["x"]}`), []string{"stages[0].lost_reasons"}},
		{"ReasonNotAnIdentifier", strings.Replace(good, `["price"]`, `["price", "too expensive"]`, 1), []string{"stages[3].lost_reasons[1]"}},
		{"RepeatedReason", strings.Replace(good, `["price"]`, `["price", "price"]`, 1), []string{"stages[3].lost_reasons[1]"}},
		{"UnknownKey", strings.Replace(good, `"key": "hw"`, `"key": "hw", "colour": "red"`, 1), []string{"colour"}},
		{"Several", stage(`{"name": "Lead", "order": 0, "kind": "x", "probability": 200}`), []string{"stages[0].name", "stages[0].order", "stages[0].kind", "stages[0].probability"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := pipeline.Parse([]byte(c.json))
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			got := fields(t, err)
			for _, f := range c.want {
				require.Contains(t, got, f, "%v", err)
			}
		})
	}
}

func TestLoadNamesThePipelineAndRefusesRepeatedKeys(t *testing.T) {
	t.Parallel()
	set, err := pipeline.Load(strings.NewReader(`{"pipelines": [` + good + `, ` + strings.Replace(good, `"hw"`, `"sw"`, 1) + `]}`))
	require.NoError(t, err)
	require.Equal(t, []string{"", "hw", "sw"}, set.Keys())
	p, ok := set.Pipeline("")
	require.True(t, ok, "the built-in pipeline is always there")
	require.Equal(t, pipeline.Default(), p)
	_, ok = set.Pipeline("nope")
	require.False(t, ok)

	_, err = pipeline.Load(strings.NewReader(`{"pipelines": [` + good + `, ` + good + `]}`))
	require.Contains(t, fields(t, err), "pipelines[1].key")
	_, err = pipeline.Load(strings.NewReader(`{"pipelines": [` + good + `, ` + strings.Replace(good, `"probability": 60`, `"probability": 160`, 1) + `]}`))
	require.Contains(t, fields(t, err), "pipelines[1].stages[1].probability")
}

func TestDefaultIsValidAndHoldsTheBuiltInStages(t *testing.T) {
	t.Parallel()
	d := pipeline.Default()
	d.Key = "copy"
	require.NoError(t, d.Validate())
	for _, s := range d.Stages {
		require.True(t, s.Name.Valid(), "%s is a crm stage", s.Name)
	}
	require.Len(t, d.Stages, 6)
}

func TestBuildFunnelChainsOpenAndWonStages(t *testing.T) {
	t.Parallel()
	p, err := pipeline.Parse([]byte(good))
	require.NoError(t, err)
	f := pipeline.BuildFunnel(p, []pipeline.StageStat{
		{Stage: "lead", Entered: 10, Timed: 8, MedianTime: time.Hour},
		{Stage: "lost", Entered: 3},
		{Stage: "proposal", Entered: 4},
		{Stage: "won", Entered: 1},
		{Stage: "gone", Entered: 7},
	})
	require.Equal(t, &pipeline.Funnel{Pipeline: "hw", Stages: []pipeline.FunnelStage{
		{Stage: "lead", Kind: pipeline.KindOpen, Entered: 10, Conversion: 0.4, MedianTime: time.Hour, Timed: 8},
		{Stage: "proposal", Kind: pipeline.KindOpen, Entered: 4, Conversion: 0.25},
		{Stage: "won", Kind: pipeline.KindWon, Entered: 1},
		{Stage: "lost", Kind: pipeline.KindLost, Entered: 3},
	}}, f)
}

func TestBuildPerformance(t *testing.T) {
	t.Parallel()
	p, err := pipeline.BuildPerformance(pipeline.ClosedStat{Won: 3, Lost: 1, WonAmounts: []pipeline.Sum{
		{Currency: "", Count: 1}, {Currency: "CNY", Count: 2, Amount: decimal.RequireFromString("100.00")},
		{Currency: "USD", Count: 1, Amount: decimal.RequireFromString("10")},
	}})
	require.NoError(t, err)
	require.Equal(t, 0.75, p.WinRate)
	require.Equal(t, int64(1), p.WonWithoutAmount)
	require.Equal(t, "50 CNY", p.AverageDeal[0].String())
	require.Equal(t, "100.00 CNY", p.Revenue[0].String())
	require.Equal(t, "10 USD", p.AverageDeal[1].String())
	none, err := pipeline.BuildPerformance(pipeline.ClosedStat{})
	require.NoError(t, err)
	require.Zero(t, none.WinRate)
}

func TestConvertUsesOnlyTheGivenRates(t *testing.T) {
	t.Parallel()
	cny, _ := crm.ParseMoney("100 CNY")
	usd, _ := crm.ParseMoney("10 USD")
	eur, _ := crm.ParseMoney("1 EUR")
	got, err := pipeline.Convert([]crm.Money{cny, usd, {}}, "CNY", pipeline.Rates{"USD": decimal.RequireFromString("7.1")})
	require.NoError(t, err)
	require.Equal(t, "171.0 CNY", got.String())
	_, err = pipeline.Convert([]crm.Money{cny, usd, eur}, "CNY", pipeline.Rates{"USD": decimal.RequireFromString("7.1")})
	require.Equal(t, []string{"rates.EUR"}, fields(t, err))
	_, err = pipeline.Convert(nil, "XXXX", nil)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
}
