package lead

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNumberProblemsNameTheColumnOfEveryNonFiniteNumber(t *testing.T) {
	t.Parallel()
	pj := &predictorJSON{
		Columns: []column{{Name: "source", Type: ColumnCategorical}, {Name: "amount", Type: ColumnNumeric, Mean: math.Inf(1), Scale: math.NaN(), Cuts: []float64{1, math.Inf(1)}}},
		LR: &lrModel{Bias: math.NaN(), Codes: [][]float64{{0, 1}, {0, math.Inf(-1)}, {7}}, Scaled: []float64{0, math.NaN()},
			Pairs: []lrPair{{A: 0, B: 1, W: []float64{0, math.Inf(1)}}, {A: 7, B: 9, W: []float64{math.NaN()}}}},
		GBT:       &gbtModel{Base: 0, Nodes: []gbtNode{{Col: 1, Value: 2e9}, {Col: -1, Value: math.NaN()}}},
		NB:        &nbModel{Prior: 1, LLR: [][]float64{{math.Inf(1)}}},
		Selection: []Selection{{Algorithm: Auto, AUC: 1.5}},
	}
	type got struct {
		col  int
		path string
	}
	var all []got
	for _, pr := range pj.numberProblems() {
		all = append(all, got{pr.col, pr.path})
		require.NotEmpty(t, pr.reason())
	}
	require.ElementsMatch(t, []got{
		{1, "columns[1].mean"}, {1, "columns[1].scale"}, {1, "columns[1].cuts[1]"},
		{0, "naive_bayes.llr[0][0]"},
		{-1, "logistic_regression.bias"}, {1, "logistic_regression.codes[1][1]"}, {1, "logistic_regression.scaled[1]"},
		{0, "logistic_regression.pairs[0].w[1]"}, {-1, "logistic_regression.pairs[1].w[0]"},
		{1, "boosted_trees.nodes[0].v"}, {-1, "boosted_trees.nodes[1].v"},
		{-1, "selection[0].auc"},
	}, all)
}

func TestDefaultBinsGrowWithTheAnsweredValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		bins, n, want int
	}{
		{"SmallTableKeepsTenBins", 0, 60, 10},
		{"NoValuesKeepsTenBins", 0, 0, 10},
		{"OneBinPer80Values", 0, 2400, 30},
		{"ThousandsOfLeadsGet64Bins", 0, 5174, 64},
		{"MillionsStayAt64", 0, 1_000_000, 64},
		{"AConfiguredNumberWins", 7, 5174, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, binsFor(tc.bins, tc.n))
		})
	}
}
