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
//     stream, each amount converted by its currency's position in the
//     rates array (no join per deal); a merge semi-join with
//     crm_customers' (tenant_id, id) index keeps only deals of customers
//     that still exist, as memstore does (a deleted customer's deals are
//     not scored). (Aggregating per customer and currency first, to
//     convert each sum once, measured slower: two aggregates.)
//   - the three quintile scores need no ranking of every row: a value's
//     [segment.Quintile] is 1 plus the number of cut points c_k
//     (k = 2..5) it is strictly above, where c_k is the value at sorted
//     position ceil((k-1)*n/5) (below >= (k-1)*n/5 exactly when the value
//     exceeds that one). percentile_disc finds the four cut points of each
//     measure with one sort of the bare values, asked for the fractions
//     (c_k - 0.5)/n so that its ceil(fraction*n) is c_k whatever the
//     floating-point rounding;
//   - the new scores are compared with the stored ones (a hash full join
//     on the customer) and only the difference is written: customers no
//     longer scored are deleted, changed scores updated and new ones
//     inserted, each by the primary key. The computation's currency and
//     time are kept once per tenant in crm_rfm_runs, so a recomputation
//     after a day of business rewrites a few percent of the rows rather
//     than deleting and inserting them all. Readers see the old scores
//     until the new ones commit; computations of one tenant take turns
//     (a transaction-scoped advisory lock).
//
// crm_rfm_scores and crm_rfm_runs are UNLOGGED (migration 0027): they are
// derived data, recomputable at any time, and writing a million scores to
// the WAL doubled a first computation. The trade-off: after a server crash
// (not a clean restart) both are empty, so every customer reads as
// unscored until the next computation, and standbys cannot read them.
//
// The run's transaction sets its own planner settings (SET LOCAL): no
// sequential scan or hash aggregate (the planner, misjudging the number of
// groups, would otherwise hash 5,000,000 rows), no nested loop (with the
// scores' statistics stale after a large change, it would join the
// difference to the scores row by row), no parallel plan (it would repeat
// the index scan in every worker) and no JIT (compiling cost more than it
// saved). The caller's settings are restored after the statement.

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

// computeRFMSQL aggregates, scores, classifies and writes in one
// statement. $1 tenant, $2 currency, $3 grid, $4 now, $5/$6 the rates'
// currencies and rates. It returns the customers scored and the number of
// won amounts without a rate; when there are any, nothing is written.
// fresh, for a tenant without scores, inserts them all without comparing
// them with the stored ones (a full join and a materialised difference of
// every customer: 2 s of a first computation's 12).
func (v view) computeRFMSQL(fresh bool) string {
	scores := v.table("crm_rfm_scores")
	head := `WITH agg AS MATERIALIZED (
    SELECT o.customer_id, max(coalesce(o.closed_at, o.updated_at)) AS last_won_at, count(*)::integer AS frequency,
        coalesce(sum(o.amount * ($6::numeric[])[array_position($5::text[], o.amount_currency)]), 0) AS monetary,
        count(*) FILTER (WHERE o.amount_currency IS NOT NULL AND array_position($5::text[], o.amount_currency) IS NULL) AS missing
    FROM ` + v.table("crm_opportunities") + ` AS o
    WHERE o.tenant_id = $1 AND o.stage = 'won'
        AND EXISTS (SELECT 1 FROM ` + v.table("crm_customers") + ` AS c WHERE c.tenant_id = $1 AND c.id = o.customer_id)
    GROUP BY o.customer_id
), ok AS (
    SELECT NOT EXISTS (SELECT 1 FROM agg WHERE missing > 0) AS ok
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
    SELECT customer_id, last_won_at, frequency, monetary, r, f, m, ($3::text[])[(r - 1) * 5 + (f + m + 1) / 2] AS segment
    FROM (
        SELECT a.customer_id, a.last_won_at, a.frequency, a.monetary,
            1 + (a.last_won_at > c.r[1])::int + (a.last_won_at > c.r[2])::int + (a.last_won_at > c.r[3])::int + (a.last_won_at > c.r[4])::int AS r,
            1 + (a.frequency > c.f[1])::int + (a.frequency > c.f[2])::int + (a.frequency > c.f[3])::int + (a.frequency > c.f[4])::int AS f,
            1 + (a.monetary > c.m[1])::int + (a.monetary > c.m[2])::int + (a.monetary > c.m[3])::int + (a.monetary > c.m[4])::int AS m
        FROM agg AS a CROSS JOIN cuts AS c
    ) AS s
)`
	run := `, run AS (
    INSERT INTO ` + v.table("crm_rfm_runs") + ` (tenant_id, currency, computed_at)
    SELECT $1, $2, $4 FROM ok WHERE ok
    ON CONFLICT (tenant_id) DO UPDATE SET currency = excluded.currency, computed_at = excluded.computed_at
)
SELECT (SELECT count(*) FROM agg), (SELECT coalesce(sum(missing), 0)::bigint FROM agg)`
	if fresh {
		// The tenant has no scores yet: every one is inserted, without
		// comparing them with none.
		return head + `, ins AS (
    INSERT INTO ` + scores + ` (tenant_id, customer_id, last_won_at, frequency, monetary, r, f, m, segment)
    SELECT $1, customer_id, last_won_at, frequency, monetary, r, f, m, segment FROM scored WHERE (SELECT ok FROM ok)
)` + run
	}
	return head + `, diff AS MATERIALIZED (
    SELECT coalesce(s.customer_id, o.customer_id) AS customer_id, s.last_won_at, s.frequency, s.monetary, s.r, s.f, s.m, s.segment,
        s.customer_id IS NULL AS gone, o.customer_id IS NULL AS fresh
    FROM scored AS s
    FULL JOIN (SELECT customer_id, last_won_at, frequency, monetary, r, f, m, segment FROM ` + scores + ` WHERE tenant_id = $1) AS o
        ON o.customer_id = s.customer_id
    WHERE (SELECT ok FROM ok) AND (s.customer_id IS NULL OR o.customer_id IS NULL
        OR (s.last_won_at, s.frequency, s.monetary, scale(s.monetary), s.r, s.f, s.m, s.segment)
            IS DISTINCT FROM (o.last_won_at, o.frequency, o.monetary, scale(o.monetary), o.r, o.f, o.m, o.segment))
), del AS (
    DELETE FROM ` + scores + ` AS t
    WHERE t.tenant_id = $1 AND t.customer_id = ANY((SELECT array_agg(customer_id) FROM diff WHERE gone)::uuid[])
), upd AS (
    UPDATE ` + scores + ` AS t
    SET last_won_at = d.last_won_at, frequency = d.frequency, monetary = d.monetary, r = d.r, f = d.f, m = d.m, segment = d.segment
    FROM diff AS d
    WHERE t.tenant_id = $1 AND t.customer_id = d.customer_id AND NOT d.gone AND NOT d.fresh
        AND t.customer_id = ANY((SELECT array_agg(customer_id) FROM diff WHERE NOT gone AND NOT fresh)::uuid[])
), ins AS (
    INSERT INTO ` + scores + ` (tenant_id, customer_id, last_won_at, frequency, monetary, r, f, m, segment)
    SELECT $1, customer_id, last_won_at, frequency, monetary, r, f, m, segment FROM diff WHERE fresh
)` + run
}

// computeRFMSettings are the run's own planner settings (see the file
// comment), names and values.
var computeRFMSettings = [2][]string{
	{"work_mem", "enable_seqscan", "enable_hashagg", "enable_nestloop", "max_parallel_workers_per_gather", "jit"},
	{"256MB", "off", "off", "off", "0", "off"},
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
		// One computation of a tenant at a time: a second waits, then
		// reads the scores the first wrote.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "crmkit.rfm:"+v.s.schema+":"+tenant); err != nil {
			return err
		}
		var stored bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+v.table("crm_rfm_scores")+" WHERE tenant_id = $1)", tenant).Scan(&stored); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, v.computeRFMSQL(!stored), tenant, q.Currency, q.Grid, q.Now, currencies, rates).Scan(&n, &missing); err != nil {
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

const scoreCols = "s.customer_id, s.last_won_at, s.frequency, s.monetary::text, r.currency, s.r, s.f, s.m, s.segment, r.computed_at"

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
	rows, err := v.q.Query(ctx, "SELECT "+scoreCols+" FROM "+v.table("crm_rfm_scores")+" AS s JOIN "+v.table("crm_rfm_runs")+
		" AS r ON r.tenant_id = s.tenant_id WHERE s.tenant_id = $1 AND s.customer_id = ANY($2::uuid[])", crm.TenantFrom(ctx), uuidArray(customerIDs))
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
