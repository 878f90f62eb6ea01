package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMedianMicrosIsTheSortedMedian(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 19))
	for _, n := range []int{1, 2, 3, 16, 17, 18, 100, 101, 1000, 4097} {
		for range 20 {
			v := make([]int64, n)
			spread := int64(1 + r.IntN(3)*1000) // few distinct values, then many
			for i := range v {
				v[i] = r.Int64N(spread)
			}
			s := slices.Clone(v)
			slices.Sort(s)
			want := time.Duration(s[n/2]) * time.Microsecond
			if n%2 == 0 {
				want = time.Duration(s[n/2-1]+s[n/2]) * time.Microsecond / 2
			}
			require.Equal(t, want, medianMicros(v), "n=%d", n)
		}
	}
}
