package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

// TestQueueIndexMatchesASortedSlice inserts and removes entries at
// random, enough to split blocks many times, and checks order, contents
// and seeks against a plain sorted slice.
func TestQueueIndexMatchesASortedSlice(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var x queueIndex
	var ref []queueEntry
	entry := func() queueEntry {
		var id crm.ID
		id[0], id[15] = byte(r.IntN(4)), byte(r.IntN(256))
		return queueEntry{at: int64(r.IntN(500)), id: id}
	}
	cmp := func(a, b queueEntry) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	}
	for i := range 20_000 {
		e := entry()
		j, found := slices.BinarySearchFunc(ref, e, cmp)
		if r.IntN(3) == 0 {
			x.remove(e)
			if found {
				ref = slices.Delete(ref, j, j+1)
			}
		} else {
			x.insert(e)
			if !found {
				ref = slices.Insert(ref, j, e)
			}
		}
		if i%1000 != 0 {
			continue
		}
		var got []queueEntry
		for _, b := range x.blocks {
			require.NotEmpty(t, b)
			require.LessOrEqual(t, len(b), 2*queueBlock)
			got = append(got, b...)
		}
		require.Equal(t, ref, got)
		from := entry()
		c := x.seek(from, true)
		k, _ := slices.BinarySearchFunc(ref, from, cmp)
		for k < len(ref) && !from.less(ref[k]) {
			k++
		}
		for n := 0; k < len(ref) && n < 50; k, n = k+1, n+1 {
			e, ok := c.peek()
			require.True(t, ok)
			require.Equal(t, ref[k], e)
			c.next()
		}
	}
	require.Greater(t, len(x.blocks), 2, "the test should split blocks")
}
