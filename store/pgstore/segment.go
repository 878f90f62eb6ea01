package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/segment"
)

// This file serves package segment's port ([segment.Store]) from the
// crm_rfm_scores table and the customer tags of migration 0025_segments.
// RFM is one statement: won opportunities aggregated per customer (a
// hash aggregate), ranked with rank() and count(*) window functions as
// segment.Quintile defines, classified by segment.Grid passed as an array
// parameter, and inserted in place of the tenant's previous scores.

var _ segment.Store = view{}

// WonCurrencies implements [segment.Store].
func (v view) WonCurrencies(ctx context.Context) ([]string, error) {
	fail := func(err error) ([]string, error) {
		return nil, fmt.Errorf("pgstore: won currencies: %w", dbError(ctx, err))
	}
	if err := v.check(ctx); err != nil {
		return fail(err)
	}
	rows, err := v.q.Query(ctx, "SELECT DISTINCT amount_currency FROM "+v.table("crm_opportunities")+
		" WHERE tenant_id = $1 AND stage = 'won' AND amount_currency IS NOT NULL ORDER BY 1", crm.TenantFrom(ctx))
	if err != nil {
		return fail(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// computeRFMSQL aggregates, ranks, classifies and inserts in one
// statement. $1 tenant, $2 currency, $3 grid, $4 now, $5/$6 the rates'
// currencies and rates. It returns the rows inserted and the number of
// won amounts without a rate; when there are any, nothing is inserted.
func (v view) computeRFMSQL() string {
	return `WITH agg AS (
    SELECT o.customer_id, max(coalesce(o.closed_at, o.updated_at)) AS last_won_at, count(*) AS frequency,
        coalesce(sum(o.amount * x.rate), 0) AS monetary,
        count(*) FILTER (WHERE o.amount_currency IS NOT NULL AND x.rate IS NULL) AS missing
    FROM ` + v.table("crm_opportunities") + ` AS o
    JOIN ` + v.table("crm_customers") + ` AS c ON c.tenant_id = $1 AND c.id = o.customer_id
    LEFT JOIN unnest($5::text[], $6::numeric[]) AS x(currency, rate) ON x.currency = o.amount_currency
    WHERE o.tenant_id = $1 AND o.stage = 'won'
    GROUP BY o.customer_id
), ranked AS (
    SELECT customer_id, last_won_at, frequency, monetary,
        1 + 5 * (rank() OVER (ORDER BY last_won_at) - 1) / count(*) OVER () AS r,
        1 + 5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER () AS f,
        1 + 5 * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER () AS m
    FROM agg
), ins AS (
    INSERT INTO ` + v.table("crm_rfm_scores") + ` (tenant_id, customer_id, last_won_at, frequency, monetary, currency, r, f, m, segment, computed_at)
    SELECT $1, customer_id, last_won_at, frequency, monetary, $2, r, f, m, ($3::text[])[(r - 1) * 5 + (f + m + 1) / 2], $4
    FROM ranked
    WHERE NOT EXISTS (SELECT 1 FROM agg WHERE missing > 0)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT coalesce(sum(missing), 0) FROM agg)`
}

// ComputeRFM implements [segment.Store].
func (v view) ComputeRFM(ctx context.Context, q segment.ComputeQuery) (int, error) {
	fail := func(err error) (int, error) { return 0, fmt.Errorf("pgstore: compute rfm: %w", dbError(ctx, err)) }
	if err := v.check(ctx); err != nil {
		return fail(err)
	}
	tenant := crm.TenantFrom(ctx)
	currencies := make([]string, 0, len(q.Rates))
	rates := make([]string, 0, len(q.Rates))
	for c, r := range q.Rates {
		currencies, rates = append(currencies, c), append(rates, r.String())
	}
	var n, missing int64
	err := v.atomic(ctx, func(tx pgx.Tx) error {
		// One aggregate and three rankings over every customer with a won
		// deal: with the default work_mem each would sort on disk.
		if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '256MB'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+v.table("crm_rfm_scores")+" WHERE tenant_id = $1", tenant); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, v.computeRFMSQL(), tenant, q.Currency, q.Grid, q.Now, currencies, rates).Scan(&n, &missing); err != nil {
			return err
		}
		if missing > 0 {
			return fmt.Errorf("%d won amounts are in a currency without a rate: %w", missing, crm.ErrInvalidArgument)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return int(n), nil
}

const scoreCols = "customer_id, last_won_at, frequency, monetary::text, currency, r, f, m, segment, computed_at"

// RFMScores implements [segment.Store].
func (v view) RFMScores(ctx context.Context, customerIDs []crm.ID) (map[crm.ID]*segment.Score, error) {
	fail := func(err error) (map[crm.ID]*segment.Score, error) {
		return nil, fmt.Errorf("pgstore: rfm scores: %w", dbError(ctx, err))
	}
	if err := v.check(ctx); err != nil {
		return fail(err)
	}
	out := make(map[crm.ID]*segment.Score, len(customerIDs))
	if len(customerIDs) == 0 {
		return out, nil
	}
	rows, err := v.q.Query(ctx, "SELECT "+scoreCols+" FROM "+v.table("crm_rfm_scores")+
		" WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])", crm.TenantFrom(ctx), uuidArray(customerIDs))
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s segment.Score
		var id key
		var amount, currency, seg string
		var r, f, m int16
		var last, at time.Time
		if err := rows.Scan(&id, &last, &s.Frequency, &amount, &currency, &r, &f, &m, &seg, &at); err != nil {
			return fail(err)
		}
		d, err := decimal.NewFromString(amount)
		if err != nil {
			return fail(err)
		}
		if s.Monetary, err = crm.NewMoney(d, currency); err != nil {
			return fail(err)
		}
		s.CustomerID, s.LastWonAt, s.ComputedAt = crm.ID(id), last.UTC(), at.UTC()
		s.R, s.F, s.M, s.Segment = int(r), int(f), int(m), segment.Name(seg)
		out[s.CustomerID] = &s
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

// SegmentCandidates implements [segment.Store]: the customer list
// statement with the filter's conditions (tag sets as tags && $n, each
// served by the GIN index; the scores as an EXISTS on the scores' primary
// key), in ID order; then the page's scores.
func (v view) SegmentCandidates(ctx context.Context, f *segment.Filter, after crm.ID, limit int) ([]segment.Member, error) {
	fail := func(err error) ([]segment.Member, error) {
		return nil, fmt.Errorf("pgstore: segment candidates: %w", dbError(ctx, err))
	}
	if err := v.check(ctx); err != nil {
		return fail(err)
	}
	t := v.s.sql.customers
	q := newQuery(t.list, crm.TenantFrom(ctx))
	if after != crm.NilID {
		q.and("id > ", q.arg(key(after)))
	}
	t.where(&f.Customers, q)
	for _, set := range f.TagSets {
		q.and("tags && ", q.arg(set), "::text[]")
	}
	if f.NeedsScores() {
		q.and("EXISTS (SELECT 1 FROM ", v.table("crm_rfm_scores"), " AS s WHERE s.tenant_id = $1 AND s.customer_id = id")
		for _, b := range []struct {
			col string
			b   segment.Bounds
		}{{"r", f.R}, {"f", f.F}, {"m", f.M}} {
			if b.b.Min > 0 {
				q.sql.WriteString(" AND s." + b.col + " >= " + strconv.Itoa(b.b.Min))
			}
			if b.b.Max > 0 {
				q.sql.WriteString(" AND s." + b.col + " <= " + strconv.Itoa(b.b.Max))
			}
		}
		if len(f.Segments) > 0 {
			segs := make([]string, len(f.Segments))
			for i, s := range f.Segments {
				segs[i] = string(s)
			}
			q.sql.WriteString(" AND s.segment = ANY(" + q.arg(segs) + "::text[])")
		}
		q.sql.WriteString(")")
	}
	sql := q.sql.String() + " ORDER BY id LIMIT " + q.arg(limit)
	rows, err := v.q.Query(ctx, sql, q.args...)
	if err != nil {
		return fail(err)
	}
	var out []segment.Member
	var ids []crm.ID
	for rows.Next() {
		c, err := t.scan(rows)
		if err != nil {
			rows.Close()
			return fail(err)
		}
		out = append(out, segment.Member{Customer: c})
		ids = append(ids, c.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	scores, err := v.RFMScores(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Score = scores[out[i].Customer.ID]
	}
	return out, nil
}
