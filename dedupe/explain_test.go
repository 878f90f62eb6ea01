package dedupe_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
)

func TestClusteringScoredPairs(t *testing.T) {
	t.Parallel()
	m, err := dedupe.NewMatcher(&dedupe.Config{Fields: []dedupe.Field{
		{Name: "company", Kind: dedupe.KindCompany},
		{Name: "contact", Kind: dedupe.KindName},
		{Name: "phone", Kind: dedupe.KindPhone},
	}})
	require.NoError(t, err)
	recs := []dedupe.Record{
		{ID: "a", Values: []string{"北京华腾科技有限公司", "李伟", "13800138000"}},
		{ID: "b", Values: []string{"华腾科技(北京)有限公司", "李薇", "+86 138-0013-8000"}},
		{ID: "c", Values: []string{"北京华腾科技有限公司", "", ""}},
		{ID: "d", Values: []string{"上海远东物流有限公司", "王芳", "13900139000"}},
		{ID: "e", Values: []string{"深圳南方电子有限公司", "张伟", "13700137000"}},
	}
	opts := &dedupe.ClusterOptions{Workers: 2}
	res, err := m.Cluster(dedupe.Records(recs), opts)
	require.NoError(t, err)

	var pairs []dedupe.ScoredPair
	require.NoError(t, res.ScoredPairs(dedupe.Records(recs), opts, func(p dedupe.ScoredPair) error {
		pairs = append(pairs, p)
		return nil
	}))
	matched := 0
	for k, p := range pairs {
		require.Less(t, p.I, p.J)
		if k > 0 {
			prev := pairs[k-1]
			require.True(t, prev.I < p.I || (prev.I == p.I && prev.J < p.J), "ordered by I then J")
		}
		require.Len(t, p.Decision.Reasons, 3, "one reason per field")
		sum := 0.0
		for _, r := range p.Decision.Reasons {
			sum += r.Weight
		}
		require.InDelta(t, p.Decision.Score, sum, 1e-9, "the score is the sum of the reasons")
		switch p.Decision.Class {
		case dedupe.Match:
			matched++
			require.GreaterOrEqual(t, p.Decision.Score, res.Stats.LinkWeight)
		case dedupe.PossibleMatch:
			require.Less(t, p.Decision.Score, res.Stats.LinkWeight)
		default:
			t.Fatalf("pair %d-%d: class %v", p.I, p.J, p.Decision.Class)
		}
		require.NotEqual(t, 3, p.I, "the unrelated records pair with nobody")
	}
	require.Equal(t, res.Stats.MatchedPairs, matched, "the Match pairs are the run's matched pairs")
	require.Contains(t, pairs, pairs[0])
	require.Equal(t, 0, pairs[0].I)
	require.Equal(t, 1, pairs[0].J)
	require.Equal(t, dedupe.Match, pairs[0].Decision.Class)

	t.Run("RefusesOtherRecords", func(t *testing.T) {
		t.Parallel()
		err := res.ScoredPairs(dedupe.Records(recs[:4]), opts, func(dedupe.ScoredPair) error { return nil })
		var verr *crm.ValidationError
		require.ErrorAs(t, err, &verr)
		require.Equal(t, "records", verr.Field)
		swapped := append([]dedupe.Record{recs[1], recs[0]}, recs[2:]...)
		require.ErrorContains(t, res.ScoredPairs(dedupe.Records(swapped), opts, func(dedupe.ScoredPair) error { return nil }), "records")
	})
	t.Run("StopsOnTheCallbacksError", func(t *testing.T) {
		t.Parallel()
		stop := errors.New("stop")
		calls := 0
		err := res.ScoredPairs(dedupe.Records(recs), opts, func(dedupe.ScoredPair) error { calls++; return stop })
		require.ErrorIs(t, err, stop)
		require.Equal(t, 1, calls)
	})
}
