package dedupe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkScoreCandidatePairs scores the candidate pairs blocking makes
// of 100,000 generated people against the link threshold of a table of a
// million, as Cluster does: one op is one pair.
func BenchmarkScoreCandidatePairs(b *testing.B) {
	recs, _ := newPeopleGenerator(11).dataset(100_000)
	m, err := NewMatcher(&Config{Fields: peopleFields(), Region: "AU"})
	require.NoError(b, err)
	prep := make([][]normalised, len(recs))
	for i, r := range recs {
		prep[i], err = m.prepare(r)
		require.NoError(b, err)
	}
	o := ClusterOptions{}.withDefaults()
	bl := newBlocks(defaultRules(m.cfg.Fields), prep, o.MaxBlockSize, o.Window, 1)
	var pairs [][2]int32
	for _, g := range bl.groups {
		bl.pairs(g, func(i, j int32) { pairs = append(pairs, [2]int32{i, j}) })
	}
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		p := pairs[k%len(pairs)]
		k++
		m.scoreAtLeast(prep[p[0]], prep[p[1]], nil, 19.7)
	}
}
