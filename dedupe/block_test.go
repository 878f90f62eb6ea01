package dedupe

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSortEntriesOrdersByKeyThenInputOrder(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 255, 256, 5000} {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		es := make([]blockEntry, n)
		for i := range es {
			// Few distinct keys spread over all 64 bits, so ties are common.
			es[i] = blockEntry{key: rng.Uint64N(50) * 0x9e3779b97f4a7c15, rec: int32(i)}
		}
		want := slices.Clone(es)
		slices.SortStableFunc(want, func(x, y blockEntry) int { return compareKeys(x.key, y.key) })
		sortEntries(es)
		require.Equal(t, want, es, "n=%d", n)
	}
}
