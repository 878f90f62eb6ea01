package lead_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
	"github.com/stretchr/testify/require"
)

// tinyLeads is a small synthetic history: web-form leads from large
// companies that spent time on the site tend to convert.
func tinyLeads() *lead.Table {
	t := &lead.Table{Columns: []string{"id", "source", "employees", "minutes", "country", "won"}}
	sources := []string{"web_form", "Web_Form ", "trade_show", "cold_call", "Select"}
	for i := range 200 {
		src := sources[i%len(sources)]
		emp := fmt.Sprint((i * 37) % 900)
		minutes := fmt.Sprint((i * 53) % 120)
		if i%17 == 0 {
			minutes = ""
		}
		country := []string{"cn", "us", "de"}[i%3]
		score := 0
		if src == "web_form" || src == "Web_Form " {
			score += 2
		}
		if (i*37)%900 > 400 {
			score++
		}
		if (i*53)%120 > 60 {
			score += 2
		}
		won := "0"
		if score+(i%3)/2 >= 3 {
			won = "1"
		}
		t.Rows = append(t.Rows, []string{fmt.Sprint("L", i), src, emp, minutes, country, won})
	}
	return t
}

func TestTrainAndScore(t *testing.T) {
	t.Parallel()
	tbl := tinyLeads()
	for _, a := range []lead.Algorithm{lead.NaiveBayes, lead.LogisticRegression, lead.BoostedTrees, lead.Ensemble} {
		t.Run(string(a), func(t *testing.T) {
			t.Parallel()
			cfg := &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: a, Trees: 30}
			p, err := lead.Train(tbl, cfg)
			require.NoError(t, err)
			require.Equal(t, a, p.Algorithm())
			require.Equal(t, []string{"source", "employees", "minutes", "country"}, p.Columns())

			s := p.Bind(tbl.Columns)
			scores := make([]float64, len(tbl.Rows))
			labels := make([]bool, len(tbl.Rows))
			for i, row := range tbl.Rows {
				scores[i] = s.Score(row)
				require.True(t, scores[i] >= 0 && scores[i] <= 1)
				labels[i], _ = lead.ParseLabel(row[5])
			}
			auc, err := lead.ROCAUC(scores, labels)
			require.NoError(t, err)
			require.Greater(t, auc, 0.85, "training AUC")

			t.Run("TrainsDeterministically", func(t *testing.T) {
				q, err := lead.Train(tbl, cfg)
				require.NoError(t, err)
				a, _ := json.Marshal(p)
				b, _ := json.Marshal(q)
				require.JSONEq(t, string(a), string(b))
			})
			t.Run("RoundTripsThroughJSONWithIdenticalScores", func(t *testing.T) {
				b, err := json.Marshal(p)
				require.NoError(t, err)
				q, err := lead.LoadPredictor(b)
				require.NoError(t, err)
				qs := q.Bind(tbl.Columns)
				for _, row := range tbl.Rows {
					require.Equal(t, s.Score(row), qs.Score(row))
				}
			})
			t.Run("ExplainsTheTopFeatures", func(t *testing.T) {
				row := map[string]string{"source": "web_form", "employees": "850", "minutes": "", "country": "jp"}
				prob, top := p.Explain(row, 2)
				require.Equal(t, p.Score(row), prob)
				require.LessOrEqual(t, len(top), 2)
				require.NotEmpty(t, top)
				for i := 1; i < len(top); i++ {
					require.GreaterOrEqual(t, abs(top[i-1].Weight), abs(top[i].Weight))
				}
				for _, f := range top {
					if f.Column == "minutes" {
						require.Equal(t, "(missing)", f.Value)
					}
					if f.Column == "country" {
						require.Equal(t, "(other)", f.Value)
					}
				}
			})
		})
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestTrainAutoChoosesByCrossValidation(t *testing.T) {
	t.Parallel()
	p, err := lead.Train(tinyLeads(), &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.Auto, Trees: 20, Folds: 3})
	require.NoError(t, err)
	sel := p.Selection()
	require.Len(t, sel, 4)
	best := sel[0]
	for _, s := range sel {
		if s.AUC > best.AUC {
			best = s
		}
	}
	require.Equal(t, best.Algorithm, p.Algorithm())
}

func TestTrainRejectsBadInput(t *testing.T) {
	t.Parallel()
	tbl := tinyLeads()
	cases := []struct {
		name  string
		tbl   *lead.Table
		cfg   lead.TrainConfig
		field string
	}{
		{"MissingLabel", tbl, lead.TrainConfig{}, "label"},
		{"UnknownLabel", tbl, lead.TrainConfig{Label: "converted"}, "label"},
		{"UnknownExclude", tbl, lead.TrainConfig{Label: "won", Exclude: []string{"nope"}}, "exclude[0]"},
		{"BadAlgorithm", tbl, lead.TrainConfig{Label: "won", Algorithm: "svm"}, "algorithm"},
		{"BadType", tbl, lead.TrainConfig{Label: "won", Types: map[string]lead.ColumnType{"source": "text"}}, "types.source"},
		{"BadLabelValue", &lead.Table{Columns: []string{"a", "won"}, Rows: [][]string{{"x", "1"}, {"y", "maybe"}}}, lead.TrainConfig{Label: "won"}, "rows[1].won"},
		{"OneOutcome", &lead.Table{Columns: []string{"a", "won"}, Rows: [][]string{{"x", "1"}, {"y", "yes"}}}, lead.TrainConfig{Label: "won"}, "label"},
		{"NothingToLearn", tbl, lead.TrainConfig{Label: "won", Exclude: []string{"id", "source", "employees", "minutes", "country"}}, "exclude"},
		{"ShortRow", &lead.Table{Columns: []string{"a", "won"}, Rows: [][]string{{"x"}}}, lead.TrainConfig{Label: "won"}, "rows[0]"},
		{"NegativeBins", tbl, lead.TrainConfig{Label: "won", Bins: -1}, "bins"},
		{"TooManyBins", tbl, lead.TrainConfig{Label: "won", Bins: 251}, "bins"},
		{"TooManyInteractions", tbl, lead.TrainConfig{Label: "won", Interactions: 10001}, "interactions"},
		{"NegativePairPenalty", tbl, lead.TrainConfig{Label: "won", PairL2: -1}, "pair_l2"},
		{"NaNPairPenalty", tbl, lead.TrainConfig{Label: "won", PairL2: math.NaN()}, "pair_l2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lead.Train(tc.tbl, &tc.cfg)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			require.Contains(t, err.Error(), "invalid "+tc.field)
		})
	}
}

func TestROCAUC(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"PerfectRanking", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"InvertedRanking", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"AllTiedIsHalf", []float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		{"TiesAcrossClassesCountHalf", []float64{0.1, 0.5, 0.5, 0.9}, []bool{false, false, true, true}, 0.875},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lead.ROCAUC(tc.scores, tc.labels)
			require.NoError(t, err)
			require.InDelta(t, tc.want, got, 1e-12)
		})
	}
	t.Run("NeedsBothOutcomes", func(t *testing.T) {
		_, err := lead.ROCAUC([]float64{1, 2}, []bool{true, true})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestParseLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"1": true, "0": false, " TRUE ": true, "false": false, "Yes": true, "no": false} {
		got, err := lead.ParseLabel(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "2", "y", "converted"} {
		_, err := lead.ParseLabel(bad)
		require.Error(t, err, bad)
	}
}

func TestLoadPredictorRejectsBadFiles(t *testing.T) {
	t.Parallel()
	p, err := lead.Train(tinyLeads(), &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.NaiveBayes})
	require.NoError(t, err)
	good, _ := json.Marshal(p)
	var m map[string]any
	require.NoError(t, json.Unmarshal(good, &m))
	m["colour"] = "red"
	bad, _ := json.Marshal(m)
	_, err = lead.LoadPredictor(bad)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.Contains(t, err.Error(), "invalid colour: unknown field")

	delete(m, "colour")
	m["naive_bayes"].(map[string]any)["llr"] = []any{}
	bad, _ = json.Marshal(m)
	_, err = lead.LoadPredictor(bad)
	require.ErrorContains(t, err, "naive_bayes.llr")
}

func TestLogisticRegressionInteractions(t *testing.T) {
	t.Parallel()
	tbl := tinyLeads()
	pairsOf := func(t *testing.T, p *lead.Predictor) []any {
		t.Helper()
		b, err := json.Marshal(p)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		pairs, _ := m["logistic_regression"].(map[string]any)["pairs"].([]any)
		return pairs
	}
	t.Run("LearnsAWeightPerValueCombinationOfEveryPairByDefault", func(t *testing.T) {
		t.Parallel()
		p, err := lead.Train(tbl, &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression})
		require.NoError(t, err)
		require.Len(t, pairsOf(t, p), 6, "4 columns make 6 pairs")
	})
	t.Run("LearnsAtMostInteractionsPairs", func(t *testing.T) {
		t.Parallel()
		p, err := lead.Train(tbl, &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression, Interactions: 2})
		require.NoError(t, err)
		require.Len(t, pairsOf(t, p), 2)
	})
	t.Run("LearnsNoneWhenInteractionsIsNegative", func(t *testing.T) {
		t.Parallel()
		p, err := lead.Train(tbl, &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression, Interactions: -1})
		require.NoError(t, err)
		require.Empty(t, pairsOf(t, p))
	})
	t.Run("ExplainAttributesEveryInteractionToItsColumns", func(t *testing.T) {
		t.Parallel()
		p, err := lead.Train(tbl, &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression})
		require.NoError(t, err)
		// The bias is the same for every row: the difference of two rows'
		// log-odds is the difference of their contributions' sums.
		logitSum := func(row map[string]string) (float64, float64) {
			prob, contrib := p.Explain(row, -1)
			var sum float64
			for _, c := range contrib {
				sum += c.Weight
			}
			return math.Log(prob / (1 - prob)), sum
		}
		l1, s1 := logitSum(map[string]string{"source": "web_form", "employees": "850", "minutes": "90", "country": "de"})
		l2, s2 := logitSum(map[string]string{"source": "cold_call", "employees": "20", "minutes": "", "country": "cn"})
		require.InDelta(t, l1-l2, s1-s2, 1e-9)
	})
}

func TestLoadPredictorRejectsBadInteractions(t *testing.T) {
	t.Parallel()
	p, err := lead.Train(tinyLeads(), &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression})
	require.NoError(t, err)
	good, err := json.Marshal(p)
	require.NoError(t, err)
	cases := []struct {
		name  string
		edit  func(pair map[string]any)
		field string
	}{
		{"ColumnsOutOfOrder", func(pair map[string]any) { pair["a"], pair["b"] = pair["b"], pair["a"] }, "logistic_regression.pairs[0]"},
		{"NoSuchColumn", func(pair map[string]any) { pair["b"] = 9 }, "logistic_regression.pairs[0]"},
		{"NegativeColumn", func(pair map[string]any) { pair["a"] = -1 }, "logistic_regression.pairs[0]"},
		{"TooFewWeights", func(pair map[string]any) { pair["w"] = pair["w"].([]any)[1:] }, "logistic_regression.pairs[0].w"},
		{"HugeWeight", func(pair map[string]any) { pair["w"].([]any)[1] = 1e300 }, "logistic_regression.pairs[0].w[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			require.NoError(t, json.Unmarshal(good, &m))
			tc.edit(m["logistic_regression"].(map[string]any)["pairs"].([]any)[0].(map[string]any))
			bad, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = lead.LoadPredictor(bad)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			require.ErrorContains(t, err, "invalid "+tc.field)
		})
	}
}

func FuzzLoadPredictor(f *testing.F) {
	for _, a := range []lead.Algorithm{lead.NaiveBayes, lead.LogisticRegression, lead.BoostedTrees} {
		p, err := lead.Train(tinyLeads(), &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: a, Trees: 3})
		require.NoError(f, err)
		b, _ := json.Marshal(p)
		f.Add(b)
	}
	f.Add([]byte(`{"format":"crmkit.lead.predictor/v1","algorithm":"gbt","missing":[],"columns":[],"boosted_trees":{"base":0,"order":[],"roots":[0],"nodes":[{"c":0,"s":0,"l":0,"r":0,"v":1}]}}`))
	row := []string{"L1", "web_form", "500", "", "cn", "1"}
	header := tinyLeads().Columns
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := lead.LoadPredictor(data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		s := p.Bind(header).Score(row)
		require.False(t, s < 0 || s > 1)
	})
}
