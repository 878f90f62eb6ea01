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
//
// RFM is one statement, shaped so that no step sorts or hashes the
// 5,000,000 won deals of a large tenant (see BENCHMARKS.md, Segments):
//
//   - the won deals are read in customer order from the partial covering
//     index of migration 0027 (an index-only scan) and aggregated as they
//     stream: per customer and currency (count, latest close, sum), then
//     per customer, converting each currency's sum once; the aggregate is
//     joined to crm_customers (a merge join on its (tenant_id, id) index)
//     because deals of a customer deleted since are not scored, as
//     memstore does;
//   - the three quintile scores need no ranking of every row: a value's
//     [segment.Quintile] is 1 plus the number of cut points c_k
//     (k = 2..5) it is strictly above, where c_k is the value at sorted
//     position ceil((k-1)*n/5) (below >= (k-1)*n/5 exactly when the value
//     exceeds that one). percentile_disc finds the four cut points of each
//     measure with one sort of the bare values, asked for the fractions
//     (c_k - 0.5)/n so that its ceil(fraction*n) is c_k whatever the
//     floating-point rounding;
//   - the scores are inserted in customer order (the aggregate's order),
//     after a DELETE of the tenant's previous scores in the same
//     transaction, so readers see the old scores until the new ones
//     commit. crm_rfm_scores is UNLOGGED (migration 0027): it is derived
//     data, recomputable at any time, and writing it to the WAL doubled
//     the run; after a server crash the table is empty until the next
//     computation, and standbys cannot read it.
//
// The run's transaction sets its own planner settings (SET LOCAL): no
// sequential scan or hash aggregate (the planner, misjudging the number of
// groups, would otherwise hash 5,000,000 rows), no parallel plan (it would
// repeat the index scan in every worker) and no JIT (compiling cost more
// than it saved).

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

// computeRFMSQL aggregates, scores, classifies and inserts in one
// statement. $1 tenant, $2 currency, $3 grid, $4 now, $5/$6 the rates'
// currencies and rates. It returns the rows inserted and the number of
// won amounts without a rate; when there are any, nothing is inserted.
func (v view) computeRFMSQL() string {
	return `WITH agg AS MATERIALIZED (
    SELECT a.customer_id, max(a.last_won_at) AS last_won_at, sum(a.n)::integer AS frequency,
        coalesce(sum(a.total * x.rate), 0) AS monetary,
        coalesce(sum(a.n) FILTER (WHERE a.currency IS NOT NULL AND x.rate IS NULL), 0)::bigint AS missing
    FROM (
        SELECT customer_id, amount_currency AS currency, max(coalesce(closed_at, updated_at)) AS last_won_at,
            count(*) AS n, sum(amount) AS total
        FROM ` + v.table("crm_opportunities") + `
        WHERE tenant_id = $1 AND stage = 'won'
        GROUP BY customer_id, amount_currency
    ) AS a
    JOIN ` + v.table("crm_customers") + ` AS c ON c.tenant_id = $1 AND c.id = a.customer_id
    LEFT JOIN unnest($5::text[], $6::numeric[]) AS x(currency, rate) ON x.currency = a.currency
    GROUP BY a.customer_id
), fractions AS (
    SELECT array_agg(((((k - 1) * n + 4) / 5) - 0.5)::float8 / n ORDER BY k) AS f
    FROM (SELECT count(*) AS n FROM agg) AS total, generate_series(2, 5) AS k
    WHERE n > 0
), cuts AS (
    SELECT percentile_disc((SELECT f FROM fractions)) WITHIN GROUP (ORDER BY last_won_at) AS r,
        percentile_disc((SELECT f FROM fractions)) WITHIN GROUP (ORDER BY frequency) AS f,
        percentile_disc((SELECT f FROM fractions)) WITHIN GROUP (ORDER BY monetary) AS m
    FROM agg
), scored AS (
    SELECT a.customer_id, a.last_won_at, a.frequency, a.monetary,
        1 + (a.last_won_at > c.r[1])::int + (a.last_won_at > c.r[2])::int + (a.last_won_at > c.r[3])::int + (a.last_won_at > c.r[4])::int AS r,
        1 + (a.frequency > c.f[1])::int + (a.frequency > c.f[2])::int + (a.frequency > c.f[3])::int + (a.frequency > c.f[4])::int AS f,
        1 + (a.monetary > c.m[1])::int + (a.monetary > c.m[2])::int + (a.monetary > c.m[3])::int + (a.monetary > c.m[4])::int AS m
    FROM agg AS a CROSS JOIN cuts AS c
), ins AS (
    INSERT INTO ` + v.table("crm_rfm_scores") + ` (tenant_id, customer_id, last_won_at, frequency, monetary, currency, r, f, m, segment, computed_at)
    SELECT $1, customer_id, last_won_at, frequency, monetary, $2, r, f, m, ($3::text[])[(r - 1) * 5 + (f + m + 1) / 2], $4
    FROM scored
    WHERE NOT EXISTS (SELECT 1 FROM agg WHERE missing > 0)
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT coalesce(sum(missing), 0)::bigint FROM agg)`
}

// computeRFMSettings are the run's own planner settings (see the file
// comment), names and values.
var computeRFMSettings = [2][]string{
	{"work_mem", "enable_seqscan", "enable_hashagg", "max_parallel_workers_per_gather", "jit"},
	{"256MB", "off", "off", "0", "off"},
}

// setLocal sets the named settings for the rest of the transaction (as SET
// LOCAL) and returns their previous values.
func setLocal(ctx context.Context, tx pgx.Tx, names, values []string) ([]string, error) {
	rows, err := tx.Query(ctx, "SELECT current_setting(n), set_config(n, v, true) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS s(n, v, i) ORDER BY i", names, values)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var old, set string
		err := row.Scan(&old, &set)
		return old, err
	})
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
		// The run's planner settings (the aggregate is materialised and
		// the cut points sort every scored customer's values: with the
		// default work_mem they would spill to disk). The caller's
		// transaction may go on, so its own settings are restored after.
		was, err := setLocal(ctx, tx, computeRFMSettings[0], computeRFMSettings[1])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+v.table("crm_rfm_scores")+" WHERE tenant_id = $1", tenant); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, v.computeRFMSQL(), tenant, q.Currency, q.Grid, q.Now, currencies, rates).Scan(&n, &missing); err != nil {
			return err
		}
		if _, err := setLocal(ctx, tx, computeRFMSettings[0], was); err != nil {
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
