package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/kpi"
)

// This file computes the figures of package kpi ([kpi.Store]) with one
// aggregate statement each. Buckets are date_trunc of the local time in
// the period's zone ($3), turned back into an instant; date_trunc('week')
// starts on Monday as crm.Period does. Times are compared with the
// period's bounds rounded up to the microsecond, as stored times are.

var _ kpi.Store = view{}

// bucketInterval is the width of a bucket as a PostgreSQL interval, for
// the bucket before or after another.
func bucketInterval(b crm.Bucket) string {
	switch b {
	case crm.BucketWeek:
		return "7 days"
	case crm.BucketMonth:
		return "1 month"
	case crm.BucketQuarter:
		return "3 months"
	}
	return "1 day"
}

// kpiQuery starts a statement whose parameters are the tenant ($1), the
// bucket unit ($2), the zone ($3), From ($4) and To ($5).
func kpiQuery(q kpi.Query) *query {
	k := newQuery("", "") // the tenant is set by kpiRun
	k.args = append(k.args, string(q.Period.Bucket), q.Zone, ceilMicro(q.Period.From), ceilMicro(q.Period.To))
	return k
}

// bucketOf is the SQL of the local bucket start of timestamptz column col.
func bucketOf(col string) string { return "date_trunc($2::text, " + col + " AT TIME ZONE $3::text)" }

// millisSQL is the SQL of the whole milliseconds from a to b, truncated
// toward zero.
func millisSQL(a, b string) string {
	return "trunc(extract(epoch FROM (" + b + " - " + a + ")) * 1000)::bigint"
}

// table returns the quoted name of one of crmkit's tables in the store's
// schema.
func (v view) table(name string) string { return pgx.Identifier{v.s.schema, name}.Sanitize() }

// kpiRun runs the statement of q for the context's tenant.
func (v view) kpiRun(ctx context.Context, what string, q *query, scan func(pgx.Rows) error) error {
	if err := v.check(ctx); err != nil {
		return opError(ctx, "kpi", what, crm.NilID, err)
	}
	q.args[0] = crm.TenantFrom(ctx)
	rows, err := v.q.Query(ctx, q.sql.String(), q.args...)
	if err != nil {
		return opError(ctx, "kpi", what, crm.NilID, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return opError(ctx, "kpi", what, crm.NilID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return opError(ctx, "kpi", what, crm.NilID, err)
	}
	return nil
}

// KPILeads implements [kpi.Store]: the leads of the period grouped by
// bucket and source, each joined to the earliest activity about it.
func (v view) KPILeads(ctx context.Context, kq kpi.Query) ([]kpi.LeadRow, error) {
	q := kpiQuery(kq)
	q.sql.WriteString("SELECT " + bucketOf("l.created_at") + " AT TIME ZONE $3::text, l.source, count(*)," +
		" count(*) FILTER (WHERE l.status = 'converted'), count(f.first_at)," +
		" coalesce(sum(" + millisSQL("l.created_at", "f.first_at") + "), 0)::bigint" +
		" FROM " + v.table("crm_leads") + " AS l LEFT JOIN (SELECT a.subject_id, min(a.occurred_at) AS first_at FROM " +
		v.table("crm_activities") + " AS a WHERE a.tenant_id = $1 AND a.subject_type = 'lead' GROUP BY a.subject_id) AS f" +
		" ON f.subject_id = l.id WHERE l.tenant_id = $1 AND l.created_at >= $4 AND l.created_at < $5")
	scope(q, v.table("crm_departments"), "l.owner_id", "l.department_id", "", kq.Scope.Leads)
	q.sql.WriteString(" GROUP BY 1, 2")
	var out []kpi.LeadRow
	err := v.kpiRun(ctx, "leads", q, func(rows pgx.Rows) error {
		var r kpi.LeadRow
		if err := rows.Scan(&r.Bucket, &r.Source, &r.Created, &r.Converted, &r.FollowedUp, &r.FollowUpMillis); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// KPICustomers implements [kpi.Store]: the won deals of the customers in
// scope, per customer and bucket (cb, marking the buckets with a deal
// inside the period) and per customer (first and last deal), counted
// into the figures by bucket.
func (v view) KPICustomers(ctx context.Context, kq kpi.Query) ([]kpi.CustomerRow, error) {
	q := kpiQuery(kq)
	step := q.arg(bucketInterval(kq.Period.Bucket)) + "::interval"
	q.sql.WriteString("WITH d AS (SELECT o.customer_id AS cid, o.closed_at AS at, c.status AS status FROM " +
		v.table("crm_opportunities") + " AS o JOIN " + v.table("crm_customers") + " AS c ON c.id = o.customer_id AND c.tenant_id = $1" +
		" WHERE o.tenant_id = $1 AND o.stage = 'won' AND o.closed_at IS NOT NULL")
	scope(q, v.table("crm_departments"), "c.owner_id", "c.department_id", "c.pool_id", kq.Scope.Customers)
	q.sql.WriteString(")," +
		" cb AS (SELECT cid, " + bucketOf("at") + " AS b, bool_or(at >= $4) AS active FROM d WHERE at < $5 GROUP BY 1, 2)," +
		" cust AS (SELECT cid, min(at) AS first_at, max(at) AS last_at, min(status) AS status FROM d GROUP BY 1)," +
		" x AS (" +
		// active and retained
		"SELECT cur.b, count(*) AS active, count(prev.cid) AS retained, 0 AS churned, 0 AS new, 0 AS lost" +
		" FROM cb AS cur LEFT JOIN cb AS prev ON prev.cid = cur.cid AND prev.b = cur.b - " + step +
		" WHERE cur.active GROUP BY 1" +
		// churned: a deal in the bucket before a period bucket without one in it
		" UNION ALL SELECT prev.b + " + step + ", 0, 0, count(*), 0, 0" +
		" FROM cb AS prev LEFT JOIN cb AS cur ON cur.cid = prev.cid AND cur.b = prev.b + " + step + " AND cur.active" +
		" WHERE cur.cid IS NULL AND prev.b + " + step + " >= " + bucketOf("$4::timestamptz") +
		" AND prev.b + " + step + " < ($5::timestamptz AT TIME ZONE $3::text) GROUP BY 1" +
		" UNION ALL SELECT " + bucketOf("first_at") + ", 0, 0, 0, count(*), 0 FROM cust WHERE first_at >= $4 AND first_at < $5 GROUP BY 1" +
		" UNION ALL SELECT " + bucketOf("last_at") + ", 0, 0, 0, 0, count(*) FROM cust" +
		" WHERE status = 'lost' AND last_at >= $4 AND last_at < $5 GROUP BY 1)" +
		" SELECT b AT TIME ZONE $3::text, sum(active)::bigint, sum(new)::bigint, sum(retained)::bigint, sum(churned)::bigint, sum(lost)::bigint" +
		" FROM x GROUP BY b")
	var out []kpi.CustomerRow
	err := v.kpiRun(ctx, "customers", q, func(rows pgx.Rows) error {
		var r kpi.CustomerRow
		if err := rows.Scan(&r.Bucket, &r.Active, &r.New, &r.Retained, &r.Churned, &r.Lost); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// KPITickets implements [kpi.Store]: the tickets created, resolved and
// rated in the period, each counted in the bucket of its own time.
func (v view) KPITickets(ctx context.Context, kq kpi.Query) ([]kpi.TicketRow, error) {
	q := kpiQuery(kq)
	tickets, deps := v.table("crm_tickets"), v.table("crm_departments")
	part := func(sel, from, where string) {
		q.sql.WriteString(sel + " FROM " + tickets + " AS t" + from + " WHERE t.tenant_id = $1 AND " + where)
		scope(q, deps, "t.assignee_id", "t.department_id", "", kq.Scope.Tickets)
	}
	q.sql.WriteString("SELECT b AT TIME ZONE $3::text, sum(created)::bigint, sum(responded)::bigint, sum(response_ms)::bigint," +
		" sum(resolved)::bigint, sum(resolved_ms)::bigint, sum(with_sla)::bigint, sum(sla_met)::bigint," +
		" sum(rated)::bigint, sum(satisfied)::bigint, sum(score)::bigint FROM (")
	part("SELECT "+bucketOf("t.created_at")+" AS b, 1 AS created, (t.first_response_at IS NOT NULL)::int AS responded,"+
		" coalesce("+millisSQL("t.created_at", "t.first_response_at")+", 0) AS response_ms, 0 AS resolved, 0::bigint AS resolved_ms,"+
		" 0 AS with_sla, 0 AS sla_met, 0 AS rated, 0 AS satisfied, 0 AS score", "",
		"t.created_at >= $4 AND t.created_at < $5")
	part(" UNION ALL SELECT "+bucketOf("t.resolved_at")+", 0, 0, 0, 1, "+millisSQL("t.created_at", "t.resolved_at")+
		", (s.id IS NOT NULL)::int, (s.id IS NOT NULL AND NOT s.breached)::int, 0, 0, 0",
		" LEFT JOIN "+v.table("crm_sla_timers")+" AS s ON s.id = t.sla_timer_id AND s.tenant_id = $1",
		"t.resolved_at >= $4 AND t.resolved_at < $5")
	part(" UNION ALL SELECT "+bucketOf("t.closed_at")+", 0, 0, 0, 0, 0, 0, 0, 1,"+
		" (t.satisfaction >= "+q.arg(kpi.SatisfiedScore)+"::int)::int, t.satisfaction", "",
		"t.satisfaction > 0 AND t.closed_at >= $4 AND t.closed_at < $5")
	q.sql.WriteString(") AS x GROUP BY b")
	var out []kpi.TicketRow
	err := v.kpiRun(ctx, "tickets", q, func(rows pgx.Rows) error {
		var r kpi.TicketRow
		if err := rows.Scan(&r.Bucket, &r.Created, &r.Responded, &r.ResponseMillis, &r.Resolved, &r.ResolvedMillis,
			&r.WithSLA, &r.SLAMet, &r.Rated, &r.Satisfied, &r.ScoreSum); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// KPIPools implements [kpi.Store]: the claim, release and recycle
// entries of the ownership ledger (crm_events rows with ledger_op) in
// the period, placed by the pool and owner of their payload and the
// customer's current department.
func (v view) KPIPools(ctx context.Context, kq kpi.Query) ([]kpi.PoolRow, error) {
	q := kpiQuery(kq)
	q.sql.WriteString("SELECT " + bucketOf("x.at") + " AT TIME ZONE $3::text, x.pool," +
		" count(*) FILTER (WHERE x.op = 'claim'), count(*) FILTER (WHERE x.op = 'release'), count(*) FILTER (WHERE x.op = 'recycle')" +
		" FROM (SELECT e.occurred_at AS at, e.ledger_op AS op," +
		" (CASE e.ledger_op WHEN 'claim' THEN e.payload ->> 'from_pool' ELSE e.payload ->> 'to_pool' END)::uuid AS pool," +
		" (CASE e.ledger_op WHEN 'claim' THEN e.payload ->> 'to_owner' ELSE e.payload ->> 'from_owner' END)::uuid AS owner," +
		" c.department_id AS dept FROM " + v.table("crm_events") + " AS e LEFT JOIN " + v.table("crm_customers") +
		" AS c ON c.id = e.subject_id AND c.tenant_id = $1" +
		" WHERE e.tenant_id = $1 AND e.ledger_op IN ('claim', 'release', 'recycle') AND e.occurred_at >= $4 AND e.occurred_at < $5) AS x" +
		" WHERE x.pool IS NOT NULL")
	scope(q, v.table("crm_departments"), "x.owner", "x.dept", "x.pool", kq.Scope.Customers)
	q.sql.WriteString(" GROUP BY 1, 2")
	var out []kpi.PoolRow
	err := v.kpiRun(ctx, "pools", q, func(rows pgx.Rows) error {
		var r kpi.PoolRow
		var id key
		if err := rows.Scan(&r.Bucket, &id, &r.Claims, &r.Releases, &r.Recycles); err != nil {
			return err
		}
		r.PoolID = crm.ID(id)
		out = append(out, r)
		return nil
	})
	return out, err
}
