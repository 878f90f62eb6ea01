package dedupe

import (
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

func TestClusterQualityOnChineseRecords(t *testing.T) {
	t.Parallel()
	recs, truth := newChineseGenerator(42).dataset(3000)
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	res, err := m.Cluster(Records(recs), nil)
	require.NoError(t, err)
	p, r, f1 := pairF1(res, truth)
	t.Logf("generated Chinese customers (%d records): precision %.4f recall %.4f F1 %.4f", len(recs), p, r, f1)
	require.GreaterOrEqual(t, f1, 0.98)
	for i := range recs {
		for j := range recs {
			if truth[i]+"-branch" == truth[j] {
				require.NotEqual(t, res.ClusterID(i), res.ClusterID(j), "a branch never joins its parent: %v %v", recs[i], recs[j])
			}
		}
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	ix, err := NewIndex(m, nil)
	require.NoError(t, err)
	owner := crm.ID{1}
	existing := &crm.Customer{Meta: crm.Meta{ID: crm.ID{9}}, Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司",
		Phone: "13800138000", OwnerID: owner}
	require.NoError(t, ix.Add(CustomerEntry(existing)))
	require.NoError(t, ix.Add(Entry{Record: Record{ID: "other", Values: []string{"上海远航贸易有限公司", "", "13900001111", "", ""}}}))
	require.Equal(t, 2, ix.Len())

	t.Run("FindsTheCustomerTypedDifferentlyWithItsOwner", func(t *testing.T) {
		cands, err := ix.Check(Record{Values: []string{"华腾科技(北京)有限公司", "李伟", "+86 138-0013-8000", "", ""}})
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, existing.ID.String(), cands[0].ID)
		require.Equal(t, owner, cands[0].OwnerID)
		require.Equal(t, Match, cands[0].Class)
		action, best := Policy{BlockScore: m.cfg.MatchWeight, WarnScore: m.cfg.PossibleWeight}.Decide(cands)
		require.Equal(t, Block, action)
		require.Equal(t, existing.ID.String(), best.ID)
	})
	t.Run("DoesNotMatchABranch", func(t *testing.T) {
		cands, err := ix.Check(Record{Values: []string{"北京华腾科技有限公司上海分公司", "", "021-55556666", "", ""}})
		require.NoError(t, err)
		for _, c := range cands {
			require.NotEqual(t, Match, c.Class)
		}
	})
	t.Run("ForgetsRemovedRecords", func(t *testing.T) {
		require.True(t, ix.Remove("other"))
		require.False(t, ix.Remove("other"))
		cands, err := ix.Check(Record{Values: []string{"上海远航贸易有限公司", "", "13900001111", "", ""}})
		require.NoError(t, err)
		require.Empty(t, cands)
	})
	t.Run("RejectsARecordWithoutID", func(t *testing.T) {
		require.ErrorIs(t, ix.Add(Entry{Record: Record{Values: make([]string, 5)}}), crm.ErrInvalidArgument)
		_, err := ix.Check(Record{Values: []string{"x"}})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestIndexIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	ix, err := NewIndex(m, nil)
	require.NoError(t, err)
	recs, _ := newChineseGenerator(7).dataset(200)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += 4 {
				require.NoError(t, ix.Add(Entry{Record: recs[i]}))
				_, err := ix.Check(recs[(i*7)%len(recs)])
				require.NoError(t, err)
				if i%5 == 0 {
					ix.Remove(recs[i].ID)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, len(recs)-(len(recs)+4)/5, ix.Len())
}

func TestMerge(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	t0 := crm.StorageTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	srcs := []MergeSource{
		{Record: Record{ID: "a", Values: []string{"华腾科技", "李伟", "13800138000", "", "北京"}}, UpdatedAt: t0, Source: "import"},
		{Record: Record{ID: "b", Values: []string{"北京华腾科技有限公司", "李伟", "+86 138 0013 8000", "li@x.com", "朝阳区建国路88号"}}, UpdatedAt: t0.Add(time.Hour), Source: "crm"},
	}
	t.Run("KeepsEveryValueWithProvenance", func(t *testing.T) {
		res, err := m.Merge(srcs, &MergeConfig{Rules: map[string]Rule{"name": MostRecent, "address": SourcePriority}, SourcePriority: []string{"import"}})
		require.NoError(t, err)
		require.Equal(t, "a", res.SurvivorID)
		require.Equal(t, []string{"b"}, res.LoserIDs)
		require.Equal(t, Value{"北京华腾科技有限公司", "b"}, res.Golden[0].Value)
		require.Equal(t, []Value{{"华腾科技", "a"}}, res.Golden[0].Others)
		require.Empty(t, res.Golden[2].Others, "the same phone written twice is one value")
		require.Equal(t, Value{"北京", "a"}, res.Golden[4].Value, "source priority prefers the import")
		require.Len(t, res.Before, 2)
		require.Equal(t, "li@x.com", res.GoldenRecord().Values[3])
	})
	t.Run("RejectsBadInput", func(t *testing.T) {
		_, err := m.Merge(srcs[:1], nil)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = m.Merge(srcs, &MergeConfig{Rules: map[string]Rule{"nope": KeepAll}})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = m.Merge(srcs, &MergeConfig{Rules: map[string]Rule{"name": "newest"}})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}
