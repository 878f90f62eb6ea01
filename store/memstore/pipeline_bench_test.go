package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/store/memstore"
)

// BenchmarkPipelineFunnel1M reads the funnel (entries, conversion and
// median time per stage) over 1,000,000 opportunities of the built-in
// pipeline with 2,500,000 stays spread over a year, the same shape as
// pgstore's benchmark, stored before the timer starts.
func BenchmarkPipelineFunnel1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(t0)
	s := memstore.New(&memstore.Config{Clock: clock})
	ids := crmtest.NewIDs()
	stages := []crm.OpportunityStage{crm.StageQualification, crm.StageNeedsAnalysis, crm.StageProposal, crm.StageNegotiation}
	amount, err := crm.ParseMoney("1234.56 CNY")
	require.NoError(b, err)
	const batch = 10_000
	for start := 0; start < n; start += batch {
		require.NoError(b, s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			h := tx.(pipeline.Tx).StageHistory()
			for i := start; i < start+batch; i++ {
				day := t0.Add(time.Duration(i%365) * 24 * time.Hour)
				clock.Set(day)
				o := &crm.Opportunity{Meta: crm.Meta{ID: ids.NewID()}, CustomerID: ids.NewID(), Name: "Deal", Amount: amount,
					Stage: stages[i%4], Probability: i % 101}
				if err := tx.Opportunities().Create(ctx, o); err != nil {
					return err
				}
				step := time.Duration(i%17+1) * time.Hour
				for k := 0; k <= i%4; k++ {
					e := &pipeline.StageEntry{OpportunityID: o.ID, Seq: k + 1, Stage: stages[k], EnteredAt: day.Add(time.Duration(k) * step), First: true}
					if k < i%4 {
						left := day.Add(time.Duration(k+1) * step)
						e.LeftAt = &left
					}
					if err := h.Append(ctx, e); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}
	svc, err := pipeline.New(s, nil)
	require.NoError(b, err)
	year := crm.Period{From: t0, To: t0.AddDate(1, 0, 0), Bucket: crm.BucketMonth}
	b.ResetTimer()
	for b.Loop() {
		f, err := svc.Funnel(ctx, pipeline.ReportRequest{Period: year})
		require.NoError(b, err)
		require.Equal(b, int64(n), f.Stages[0].Entered)
		require.NotZero(b, f.Stages[0].Conversion)
	}
}
