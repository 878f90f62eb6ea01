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

// hugeLeads is tinyLeads with a numeric column "amount" whose values reach
// the float64 maximum, of both signs: their sum and their squared
// deviations overflow.
func hugeLeads() *lead.Table {
	t := tinyLeads()
	t.Columns = append(t.Columns, "amount")
	for i := range t.Rows {
		v := math.MaxFloat64 * (float64(i%9-4) / 4)
		t.Rows[i] = append(t.Rows[i], fmt.Sprint(v))
	}
	return t
}

func TestTrainOnNumbersNearTheFloat64MaximumKeepsEveryNumberFinite(t *testing.T) {
	t.Parallel()
	tbl := hugeLeads()
	for _, a := range []lead.Algorithm{lead.NaiveBayes, lead.LogisticRegression, lead.BoostedTrees, lead.Ensemble} {
		for _, declared := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/declared=%v", a, declared), func(t *testing.T) {
				t.Parallel()
				cfg := &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: a, Trees: 20}
				if declared {
					cfg.Types = map[string]lead.ColumnType{"amount": lead.ColumnNumeric}
				}
				p, err := lead.Train(tbl, cfg)
				require.NoError(t, err)
				require.Contains(t, p.Columns(), "amount")
				data, err := json.Marshal(p)
				require.NoError(t, err, "a trained model encodes")
				q, err := lead.LoadPredictor(data)
				require.NoError(t, err)
				s := q.Bind(tbl.Columns)
				for _, row := range tbl.Rows {
					v := s.Score(row)
					require.True(t, v >= 0 && v <= 1, "score %v", v)
				}
				_, contrib := q.Explain(map[string]string{"amount": fmt.Sprint(-math.MaxFloat64)}, -1)
				for _, c := range contrib {
					require.False(t, math.IsNaN(c.Weight) || math.IsInf(c.Weight, 0), "%+v", c)
				}
			})
		}
	}
}

func TestCrossValidateOnNumbersNearTheFloat64MaximumGivesFiniteAUCs(t *testing.T) {
	t.Parallel()
	cv, err := lead.CrossValidate(hugeLeads(), &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression})
	require.NoError(t, err)
	for _, auc := range append(cv.Folds, cv.Mean) {
		require.True(t, auc >= 0 && auc <= 1, "auc %v", auc)
	}
}

// editPredictor trains a logistic regression on tinyLeads, lets edit
// change its JSON, and loads the result.
func editPredictor(t *testing.T, edit func(m map[string]any)) (*lead.Predictor, error) {
	t.Helper()
	p, err := lead.Train(tinyLeads(), &lead.TrainConfig{Label: "won", Exclude: []string{"id"}, Algorithm: lead.LogisticRegression})
	require.NoError(t, err)
	data, err := json.Marshal(p)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	edit(m)
	data, err = json.Marshal(m)
	require.NoError(t, err)
	return lead.LoadPredictor(data)
}

func TestLoadPredictorRefusesWeightsThatCouldSumToInfinity(t *testing.T) {
	t.Parallel()
	// Weights of 1e308 of both signs summed to +Inf and -Inf, and the
	// score was NaN.
	_, err := editPredictor(t, func(m map[string]any) {
		lr := m["logistic_regression"].(map[string]any)
		codes := lr["codes"].([]any)
		first := codes[0].([]any)
		for i := range first {
			first[i] = 1e308
		}
		scaled := lr["scaled"].([]any)
		scaled[1] = 1e308
	})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var es crm.ValidationErrors
	require.True(t, errors.As(err, &es), "%v", err)
	require.Contains(t, es.Fields(), "logistic_regression.codes[0][0]")
	require.Contains(t, es.Fields(), "logistic_regression.scaled[1]")
	require.Contains(t, err.Error(), `column "source"`)

	_, err = editPredictor(t, func(m map[string]any) {
		m["logistic_regression"].(map[string]any)["bias"] = -2e9
	})
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, "logistic_regression.bias", ve.Field)

	_, err = editPredictor(t, func(m map[string]any) {
		m["logistic_regression"].(map[string]any)["bias"] = -1e9
	})
	require.NoError(t, err, "the bound itself is allowed")
}
