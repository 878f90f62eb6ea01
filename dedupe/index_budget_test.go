package dedupe

import (
	"fmt"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// Not parallel: one subtest counts allocations.
func TestIndexCheckBudget(t *testing.T) {
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)

	t.Run("SpendsTheBudgetOnTheRarestKeyFirst", func(t *testing.T) {
		ix, err := NewIndex(m, &IndexConfig{MaxCandidates: 1})
		require.NoError(t, err)
		// Many customers share the contact's name; one shares the phone.
		for i := range 50 {
			require.NoError(t, ix.Add(Entry{Record: Record{ID: fmt.Sprint("name-", i),
				Values: []string{"", "李伟", fmt.Sprintf("1390000%04d", i), "", ""}}}))
		}
		require.NoError(t, ix.Add(Entry{Record: Record{ID: "phone", Values: []string{"北京华腾科技有限公司", "", "13800138000", "", ""}}}))
		cands, err := ix.Check(Record{Values: []string{"华腾科技(北京)有限公司", "李伟", "+86 138-0013-8000", "", ""}})
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, "phone", cands[0].ID)
	})
	t.Run("RejectsANegativeBudget", func(t *testing.T) {
		_, err := NewIndex(m, &IndexConfig{MaxCandidates: -1})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
	t.Run("ChecksWithoutAllocatingTheirWorkingSets", func(t *testing.T) {
		if raceEnabled {
			t.Skip("the race detector makes sync.Pool drop buffers at random")
		}
		ix, err := NewIndex(m, nil)
		require.NoError(t, err)
		recs, _ := newChineseGenerator(11).dataset(500)
		for _, r := range recs {
			require.NoError(t, ix.Add(Entry{Record: r}))
		}
		q := recs[3]
		q.ID = ""
		cands, err := ix.Check(q) // also warms the scratch pool
		require.NoError(t, err)
		require.NotEmpty(t, cands)
		base := testing.AllocsPerRun(20, func() { _, _ = m.prepare(q) })
		allocs := testing.AllocsPerRun(20, func() { _, _ = ix.Check(q) })
		// What remains: normalising the query, the returned slice and each
		// candidate's reasons.
		require.LessOrEqual(t, allocs, base+1+float64(len(cands)))
	})
}
