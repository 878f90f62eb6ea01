package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
)

// BenchmarkPipelineFunnel1M reads the funnel (entries, conversion and
// median time per stage), the closed-deal figures and the weighted
// pipeline over 1,000,000
// opportunities of the built-in pipeline with 2,500,000 stays, loaded
// with INSERT ... SELECT, vacuumed and analysed before the timer starts. The
// opportunities are spread over a year and six stages, in two
// currencies; the funnel's period is the whole year. Run with
// -benchtime=1x or a few iterations: the load takes a while.
func BenchmarkPipelineFunnel1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newStore(b, clock)
	opps := pgx.Identifier{s.Schema(), "crm_opportunities"}.Sanitize()
	stays := pgx.Identifier{s.Schema(), "crm_opportunity_stages"}.Sanitize()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	id := `('00000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid`
	_, err := testPool(b).Exec(ctx, "INSERT INTO "+opps+` (id, tenant_id, version, created_at, updated_at, customer_id, name,
		amount, amount_currency, stage, probability, expected_close, closed_at, owner_id, department_id)
		SELECT `+id+`, '', 1, $1::timestamptz + (i % 365) * interval '1 day', $1::timestamptz + (i % 365) * interval '1 day',
		       gen_random_uuid(), 'Deal', round((i % 100000) / 100.0, 2), CASE WHEN i % 2 = 0 THEN 'CNY' ELSE 'USD' END,
		       (ARRAY['qualification','needs_analysis','proposal','negotiation','won','lost'])[1 + i % 6], (i * 7) % 101,
		       $1::timestamptz + ((i * 13) % 400) * interval '1 day',
		       CASE WHEN i % 6 >= 4 THEN $1::timestamptz + (i % 365 + 20 + i % 50) * interval '1 day' END,
		       ('00000000-0000-0000-0001-' || lpad(to_hex(i % 50), 12, '0'))::uuid, NULL
		FROM generate_series(1, $2) AS i`, t0, n)
	require.NoError(b, err)
	_, err = testPool(b).Exec(ctx, "INSERT INTO "+stays+` (tenant_id, opportunity_id, seq, pipeline, stage, first, entered_at, left_at)
		SELECT '', `+id+`, k, '', (ARRAY['qualification','needs_analysis','proposal','negotiation'])[k], true,
		       $1::timestamptz + (i % 365) * interval '1 day' + (k - 1) * (i % 17 + 1) * interval '1 hour',
		       CASE WHEN k <= i % 4 THEN $1::timestamptz + (i % 365) * interval '1 day' + k * (i % 17 + 1) * interval '1 hour' END
		FROM generate_series(1, $2) AS i, generate_series(1, 1 + i % 4) AS k`, t0, n)
	require.NoError(b, err)
	_, err = testPool(b).Exec(ctx, "VACUUM ANALYZE "+opps)
	require.NoError(b, err)
	_, err = testPool(b).Exec(ctx, "VACUUM ANALYZE "+stays)
	require.NoError(b, err)
	svc, err := pipeline.New(s, nil)
	require.NoError(b, err)
	year := crm.Period{From: t0, To: t0.AddDate(1, 0, 0), Bucket: crm.BucketMonth}
	b.Run("Funnel", func(b *testing.B) {
		for b.Loop() {
			f, err := svc.Funnel(ctx, pipeline.ReportRequest{Period: year})
			require.NoError(b, err)
			require.Equal(b, int64(n), f.Stages[0].Entered)
			require.NotZero(b, f.Stages[0].Conversion)
		}
	})
	b.Run("Performance", func(b *testing.B) {
		for b.Loop() {
			perf, err := svc.Performance(ctx, pipeline.ReportRequest{Period: year})
			require.NoError(b, err)
			require.NotZero(b, perf.Won)
		}
	})
	b.Run("WeightedPipeline", func(b *testing.B) {
		for b.Loop() {
			v, err := svc.Value(ctx, pipeline.ReportRequest{})
			require.NoError(b, err)
			require.Len(b, v.Total, 2)
		}
	})
}
