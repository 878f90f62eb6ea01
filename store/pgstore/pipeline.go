package pgstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
)

// This file implements the ports of package pipeline over
// crm_opportunity_stages and crm_opportunities (migration 0024_pipelines):
// the stage history, and the figures as SQL aggregates whose arithmetic
// memstore repeats in Go. Lengths of time are taken in whole
// microseconds (every stored time has that precision), medians with
// percentile_cont, means rounded half away from zero; weighted sums are
// sum(amount × probability), shifted two places in Go so nothing is
// rounded; text orders use the C collation, as Go compares bytes.

var (
	_ pipeline.Tx          = view{}
	_ pipeline.AnalyticsTx = view{}
)

// StageHistory implements [pipeline.Tx].
func (v view) StageHistory() pipeline.StageHistory { return stageRepo{v} }

// StageHistory returns the autocommit stage history port.
func (s *Store) StageHistory() pipeline.StageHistory { return s.auto().StageHistory() }

// PipelineAnalytics implements [pipeline.AnalyticsTx].
func (v view) PipelineAnalytics() pipeline.Analytics { return analyticsRepo{v} }

// PipelineAnalytics returns the autocommit analytics port.
func (s *Store) PipelineAnalytics() pipeline.Analytics { return s.auto().PipelineAnalytics() }

func (v view) pipelineTable(name string) string { return pgx.Identifier{v.s.schema, name}.Sanitize() }

type stageRepo struct{ v view }

func (r stageRepo) fail(ctx context.Context, op string, err error) error {
	return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
}

func (r stageRepo) Append(ctx context.Context, e *pipeline.StageEntry) error {
	const op = "append stage"
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, op, err)
	}
	if err := crm.ApplyTenant(ctx, &crm.Meta{TenantID: e.TenantID}); err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	var left *time.Time
	if e.LeftAt != nil {
		l := crm.StorageTime(*e.LeftAt)
		left = &l
	}
	_, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.pipelineTable("crm_opportunity_stages")+
		" (tenant_id, opportunity_id, seq, pipeline, stage, entered_at, entered_by, left_at, left_by, first)"+
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		crm.TenantFrom(ctx), key(e.OpportunityID), e.Seq, e.Pipeline, string(e.Stage), crm.StorageTime(e.EnteredAt),
		ref(e.EnteredBy), left, ref(e.LeftBy), e.First)
	if err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

func (r stageRepo) Leave(ctx context.Context, id crm.ID, at time.Time, by crm.ID) error {
	const op = "leave stage"
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, op, err)
	}
	_, err := r.v.q.Exec(ctx, "UPDATE "+r.v.pipelineTable("crm_opportunity_stages")+" SET left_at = $3, left_by = $4"+
		" WHERE tenant_id = $1 AND opportunity_id = $2 AND left_at IS NULL",
		crm.TenantFrom(ctx), key(id), crm.StorageTime(at), ref(by))
	if err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

func (r stageRepo) List(ctx context.Context, id crm.ID) ([]pipeline.StageEntry, error) {
	const op = "list stages"
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	rows, err := r.v.q.Query(ctx, "SELECT tenant_id, seq, pipeline, stage, entered_at, entered_by, left_at, left_by, first FROM "+
		r.v.pipelineTable("crm_opportunity_stages")+" WHERE tenant_id = $1 AND opportunity_id = $2 ORDER BY seq",
		crm.TenantFrom(ctx), key(id))
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []pipeline.StageEntry
	for rows.Next() {
		e := pipeline.StageEntry{OpportunityID: id}
		if err := rows.Scan(&e.TenantID, &e.Seq, &e.Pipeline, (*string)(&e.Stage), &e.EnteredAt, (*ref)(&e.EnteredBy),
			&e.LeftAt, (*ref)(&e.LeftBy), &e.First); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		e.EnteredAt = e.EnteredAt.UTC()
		if e.LeftAt != nil {
			l := e.LeftAt.UTC()
			e.LeftAt = &l
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return out, nil
}

type analyticsRepo struct{ v view }

// micros is the length from a to b in whole microseconds.
func micros(a, b string) string {
	return "(extract(epoch FROM " + b + " - " + a + ") * 1000000)::bigint"
}

// fromMedian converts a percentile_cont of microseconds (a whole or half
// number) to a Duration; NULL is 0.
func fromMedian(v *float64) time.Duration {
	if v == nil {
		return 0
	}
	return time.Duration(math.Round(*v * 1000))
}

// deals adds the conditions of the tenant's opportunities ("o") of q's
// pipeline within q's scope.
func (r analyticsRepo) deals(sq *query, q pipeline.Query) {
	sq.and("o.pipeline = ", sq.arg(q.Pipeline))
	scope(sq, r.v.pipelineTable("crm_departments"), "o.owner_id", "o.department_id", "", q.Scope)
}

// closedIn adds the condition of a deal closed in q's period.
func closedIn(sq *query, q pipeline.Query) {
	sq.and("o.closed_at >= ", sq.arg(ceilMicro(q.Period.From)), " AND o.closed_at < ", sq.arg(ceilMicro(q.Period.To)))
}

func (r analyticsRepo) query(ctx context.Context, op string, q pipeline.Query, needPeriod bool, sq func(tenant string) *query,
	scan func(pgx.Rows) error) error {
	if err := q.Validate(needPeriod); err != nil {
		return err
	}
	if err := r.v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
	}
	return run(ctx, r.v.q, op, sq(crm.TenantFrom(ctx)), scan)
}

// run runs sq on db and scans its rows.
func run(ctx context.Context, db DBTX, op string, sq *query, scan func(pgx.Rows) error) error {
	rows, err := db.Query(ctx, sq.sql.String(), sq.args...)
	if err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
	}
	return nil
}

// StageStats runs two aggregates over the stays entered in the period:
// the counts, hashed by stage over every stay, then the median of each
// stage found, read from the index of left stays (0024_pipelines) one
// stage at a time. Called on the store (not in a unit of work), both run
// in a read-only, repeatable-read transaction of their own, so they see
// one snapshot, that gives the medians' sorts 64 MB (work_mem), so a
// million stays sort in memory.
func (r analyticsRepo) StageStats(ctx context.Context, q pipeline.Query) ([]pipeline.StageStat, error) {
	if err := q.Validate(true); err != nil {
		return nil, err
	}
	const op = "stage stats"
	if err := r.v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
	}
	tenant := crm.TenantFrom(ctx)
	stays := func(sel, cond string) *query {
		from := sel + " FROM " + r.v.pipelineTable("crm_opportunity_stages") + " s"
		var sq *query
		if q.Scope == nil || q.Scope.All {
			sq = newQuery(from+" WHERE s.tenant_id = $1", tenant)
		} else {
			sq = newQuery(from+" JOIN "+r.v.pipelineTable("crm_opportunities")+" o ON o.id = s.opportunity_id"+
				" WHERE s.tenant_id = $1 AND o.tenant_id = $1", tenant)
			scope(sq, r.v.pipelineTable("crm_departments"), "o.owner_id", "o.department_id", "", q.Scope)
		}
		sq.and("s.pipeline = ", sq.arg(q.Pipeline))
		sq.and("s.entered_at >= ", sq.arg(ceilMicro(q.Period.From)), " AND s.entered_at < ", sq.arg(ceilMicro(q.Period.To)), cond)
		return sq
	}
	var out []pipeline.StageStat
	err := r.v.atomic(ctx, func(tx pgx.Tx) error {
		if r.v.tx == nil {
			// One snapshot for both: the medians are of the stays counted.
			if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '64MB'"); err != nil {
				return err
			}
		}
		counts := stays("SELECT s.stage, count(*) FILTER (WHERE s.first), count(s.left_at)", " GROUP BY s.stage")
		err := run(ctx, tx, op, counts, func(rows pgx.Rows) error {
			var st pipeline.StageStat
			if err := rows.Scan((*string)(&st.Stage), &st.Entered, &st.Timed); err != nil {
				return err
			}
			out = append(out, st)
			return nil
		})
		if err != nil || len(out) == 0 {
			return err
		}
		names := make([]string, len(out))
		for i, st := range out {
			names[i] = string(st.Stage)
		}
		med := stays("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s.stay_us)", " AND s.left_at IS NOT NULL")
		med.and("s.stage = st.stage")
		text := med.sql.String()
		med.sql.Reset()
		med.sql.WriteString("SELECT st.stage, (" + text + ") FROM unnest(" + med.arg(names) + "::text[]) AS st(stage)")
		medians := map[crm.OpportunityStage]time.Duration{}
		err = run(ctx, tx, op, med, func(rows pgx.Rows) error {
			var stage string
			var m *float64
			if err := rows.Scan(&stage, &m); err != nil {
				return err
			}
			medians[crm.OpportunityStage(stage)] = fromMedian(m)
			return nil
		})
		for i := range out {
			out[i].MedianTime = medians[out[i].Stage]
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
	}
	slices.SortFunc(out, func(a, b pipeline.StageStat) int { return strings.Compare(string(a.Stage), string(b.Stage)) })
	return out, nil
}

func stages(ss []crm.OpportunityStage) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func (r analyticsRepo) ClosedStats(ctx context.Context, q pipeline.Query) (pipeline.ClosedStat, error) {
	var out pipeline.ClosedStat
	opps := r.v.pipelineTable("crm_opportunities")
	err := r.query(ctx, "closed stats", q, true, func(tenant string) *query {
		// Lost is tested first, as memstore does; a pipeline's stage
		// names are distinct, so no stage is both.
		sq := newQuery("", tenant)
		lost, won := sq.arg(stages(q.Lost)), sq.arg(stages(q.Won))
		sq.sql.WriteString("SELECT count(*) FILTER (WHERE NOT lost), count(*) FILTER (WHERE lost)," +
			" round(avg(cycle) FILTER (WHERE NOT lost))::bigint," +
			" percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle) FILTER (WHERE NOT lost)" +
			" FROM (SELECT o.stage = ANY(" + lost + "::text[]) AS lost, " + micros("o.created_at", "o.closed_at") + " AS cycle" +
			" FROM " + opps + " o WHERE o.tenant_id = $1")
		r.deals(sq, q)
		closedIn(sq, q)
		sq.and("(o.stage = ANY(", lost, "::text[]) OR o.stage = ANY(", won, "::text[]))) x")
		return sq
	}, func(rows pgx.Rows) error {
		var mean *int64
		var med *float64
		if err := rows.Scan(&out.Won, &out.Lost, &mean, &med); err != nil {
			return err
		}
		if mean != nil {
			out.CycleMean = time.Duration(*mean) * time.Microsecond
		}
		out.CycleMedian = fromMedian(med)
		return nil
	})
	if err != nil {
		return out, err
	}
	err = r.query(ctx, "won amounts", q, true, func(tenant string) *query {
		sq := newQuery("SELECT coalesce(o.amount_currency, ''), count(*), coalesce(sum(o.amount), 0)::text, '0' FROM "+opps+
			" o WHERE o.tenant_id = $1", tenant)
		r.deals(sq, q)
		closedIn(sq, q)
		sq.and("o.stage = ANY(", sq.arg(stages(q.Won)), "::text[]) AND NOT o.stage = ANY(", sq.arg(stages(q.Lost)), "::text[])")
		sq.sql.WriteString(` GROUP BY 1 ORDER BY coalesce(o.amount_currency, '') COLLATE "C"`)
		return sq
	}, func(rows pgx.Rows) error {
		s, err := scanSum(rows)
		out.WonAmounts = append(out.WonAmounts, s)
		return err
	})
	return out, err
}

// scanSum scans currency, count, sum of amounts and sum of amount ×
// probability.
func scanSum(rows pgx.Rows, dests ...any) (pipeline.Sum, error) {
	var s pipeline.Sum
	var amount, weighted string
	if err := rows.Scan(append(dests, &s.Currency, &s.Count, &amount, &weighted)...); err != nil {
		return s, err
	}
	var err error
	if s.Amount, err = decimal.NewFromString(amount); err != nil {
		return s, err
	}
	w, err := decimal.NewFromString(weighted)
	s.Weighted = w.Shift(-2)
	if s.Currency == "" {
		s.Amount, s.Weighted = decimal.Decimal{}, decimal.Decimal{}
	}
	return s, err
}

// openDeals adds the conditions of an open deal of q.
func openDeals(sq *query, q pipeline.Query) {
	sq.and("o.closed_at IS NULL AND NOT o.stage = ANY(", sq.arg(stages(q.Won)), "::text[]) AND NOT o.stage = ANY(", sq.arg(stages(q.Lost)), "::text[])")
}

const sums = "coalesce(o.amount_currency, ''), count(*), coalesce(sum(o.amount), 0)::text, coalesce(sum(o.amount * o.probability), 0)::text"

func (r analyticsRepo) OpenStats(ctx context.Context, q pipeline.Query) ([]pipeline.OpenStat, error) {
	var out []pipeline.OpenStat
	err := r.query(ctx, "open stats", q, false, func(tenant string) *query {
		sq := newQuery("SELECT o.stage, "+sums+" FROM "+r.v.pipelineTable("crm_opportunities")+" o WHERE o.tenant_id = $1", tenant)
		r.deals(sq, q)
		openDeals(sq, q)
		sq.sql.WriteString(` GROUP BY 1, 2 ORDER BY o.stage COLLATE "C", coalesce(o.amount_currency, '') COLLATE "C"`)
		return sq
	}, func(rows pgx.Rows) error {
		var st pipeline.OpenStat
		s, err := scanSum(rows, (*string)(&st.Stage))
		st.Sum = s
		out = append(out, st)
		return err
	})
	return out, err
}

func (r analyticsRepo) ForecastStats(ctx context.Context, q pipeline.Query) ([]pipeline.ForecastStat, error) {
	var out []pipeline.ForecastStat
	tz := "UTC"
	if q.Period.Location != nil {
		tz = q.Period.Location.String()
	}
	err := r.query(ctx, "forecast stats", q, true, func(tenant string) *query {
		sq := newQuery("", tenant)
		b, z := sq.arg(string(q.Period.Bucket)), sq.arg(tz)
		sq.sql.WriteString("SELECT date_trunc(" + b + "::text, o.expected_close AT TIME ZONE " + z + "::text) AT TIME ZONE " + z +
			"::text, o.owner_id, " + sums + " FROM " + r.v.pipelineTable("crm_opportunities") + " o WHERE o.tenant_id = $1")
		r.deals(sq, q)
		openDeals(sq, q)
		sq.and("o.expected_close >= ", sq.arg(ceilMicro(q.Period.From)), " AND o.expected_close < ", sq.arg(ceilMicro(q.Period.To)))
		sq.sql.WriteString(` GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS FIRST, coalesce(o.amount_currency, '') COLLATE "C"`)
		return sq
	}, func(rows pgx.Rows) error {
		var st pipeline.ForecastStat
		s, err := scanSum(rows, &st.Bucket, (*ref)(&st.OwnerID))
		st.Sum, st.Bucket = s, st.Bucket.UTC()
		out = append(out, st)
		return err
	})
	return out, err
}
