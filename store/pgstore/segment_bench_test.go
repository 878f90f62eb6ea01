package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/segment"
)

// BenchmarkSegments measures RFM over 1,000,000 customers with 5,000,000
// won deals (in CNY and USD), then a page of 50 members of a rule on a
// tag and an RFM segment, and of a rule also tested per row (region), on
// the scores it computed. Run it once with a small -benchtime:
//
//	go test ./store/pgstore/ -run '^$' -bench Segments -benchtime 1x
func BenchmarkSegments(b *testing.B) {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	s := newStore(b, clock)
	customers := pgx.Identifier{s.Schema(), "crm_customers"}.Sanitize()
	opps := pgx.Identifier{s.Schema(), "crm_opportunities"}.Sanitize()
	const nCustomers, nDeals = 1_000_000, 5_000_000
	pool := testPool(b)
	// IDs are UUIDs whose last 12 hex digits are the row number.
	_, err := pool.Exec(ctx, "INSERT INTO "+customers+` (id, tenant_id, version, created_at, updated_at, kind, name, status, region, tags)
		SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, '', 1, $1, $1, 'company', 'Customer ' || i, 'dealt',
			CASE WHEN i % 4 = 0 THEN 'cn-east' ELSE 'cn-north' END,
			CASE WHEN i % 10 = 0 THEN ARRAY['vip', 'expo'] WHEN i % 10 = 1 THEN ARRAY['expo'] ELSE NULL END
		FROM generate_series(1, $2) AS i`, clock.Now(), nCustomers)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, "INSERT INTO "+opps+` (id, tenant_id, version, created_at, updated_at, customer_id, name, amount, amount_currency, stage, closed_at)
		SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, '', 1, $1::timestamptz, $1::timestamptz,
			('00000000-0000-7000-8000-' || lpad(to_hex(1 + (hashint4(i) & 2147483647) % $3), 12, '0'))::uuid, 'Deal',
			round((hashint4(i * 7) & 65535)::numeric / 10, 1), CASE WHEN i % 5 = 0 THEN 'USD' ELSE 'CNY' END, 'won',
			$1::timestamptz - make_interval(days => (hashint4(i * 13) & 1023))
		FROM generate_series(1, $2) AS i`, clock.Now(), nDeals, nCustomers)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, "ANALYZE "+customers+"; ANALYZE "+opps)
	require.NoError(b, err)
	svc, err := segment.New(s, &segment.Config{Clock: clock})
	require.NoError(b, err)
	req := segment.ComputeRequest{Currency: "CNY", Rates: segment.Rates{"USD": decimal.RequireFromString("7.12")}}

	b.Run("ComputeRFM", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n, err := svc.Compute(ctx, req)
			require.NoError(b, err)
			require.Greater(b, n, 990_000)
		}
	})
	_, err = pool.Exec(ctx, "ANALYZE "+pgx.Identifier{s.Schema(), "crm_rfm_scores"}.Sanitize())
	require.NoError(b, err)
	for _, c := range []struct{ name, rule string }{
		{"MembersPage/TagAndSegment", `{"id": "b", "when": {"all": [{"field": "tags", "equals": "vip"}, {"field": "rfm_segment", "in": ["champions", "loyal"]}]}}`},
		{"MembersPage/SegmentOnly", `{"id": "b", "when": {"field": "rfm_segment", "equals": "at_risk"}}`},
		{"MembersPage/PerRowRegion", `{"id": "b", "when": {"all": [{"field": "tags", "equals": "expo"}, {"field": "region", "equals": "cn-east"}]}}`},
	} {
		seg, err := segment.Parse([]byte(c.rule))
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			page := segment.MembersRequest{Segment: seg}
			for b.Loop() {
				p, err := svc.Members(ctx, page)
				require.NoError(b, err)
				require.NotEmpty(b, p.Items)
				// Walk on through the list, as an export does.
				page.Page.Cursor = p.NextCursor
			}
		})
	}
}
