package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// This file implements the storage ports of package workflow
// ([workflow.Tx]) over the tables of migration 0003_workflow. Routing
// cursors move by compare-and-swap on their version and loads grow by
// conditional upserts, inside a savepoint so a refused commit writes
// nothing; ClaimDue is FOR UPDATE SKIP LOCKED on the timers' next_at index;
// UpdateTimers is one set-based UPDATE over unnest'ed arrays. Approval
// requests keep workflow.Instance.NextDueAt in next_due_at (migration
// 0005_workflow_deadlines), which DueInstances claims the same way, and
// the statement that stores a request rewrites its rows of the approver's
// inbox (migration 0020_approval_inbox; inbox.go reads them).

var (
	_ workflow.Tx                = view{}
	_ workflow.ApprovalDeadlines = instanceRepo{}
)

// Routing implements [workflow.Tx].
func (v view) Routing() workflow.RoutingStore { return routingRepo{v} }

// Timers implements [workflow.Tx].
func (v view) Timers() workflow.TimerStore { return timerRepo{v} }

// ApprovalDefinitions implements [workflow.Tx].
func (v view) ApprovalDefinitions() workflow.ApprovalDefinitions { return definitionRepo{v} }

// ApprovalInstances implements [workflow.Tx].
func (v view) ApprovalInstances() workflow.ApprovalInstances { return instanceRepo{v} }

// Handoffs implements [workflow.Tx].
func (v view) Handoffs() workflow.HandoffStore { return handoffRepo{v} }

func (v view) wfTable(name string) string { return pgx.Identifier{v.s.schema, name}.Sanitize() }

// wfTime maps the zero time to NULL and others to storage time.
func wfTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: crm.StorageTime(t), Valid: true}
}

// wfTimeOf maps NULL to the zero time.
func wfTimeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// wfFail wraps err as "pgstore: <op>: err" after translating it; validation
// errors pass unchanged so callers see the field.
func wfFail(ctx context.Context, op string, err error) error {
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
}

// savepoint runs fn so that an error undoes what fn wrote without aborting
// the caller's unit of work: in a savepoint inside one, else in a
// transaction of its own.
func (v view) savepoint(ctx context.Context, fn func(q pgx.Tx) error) error {
	return v.atomic(ctx, func(tx pgx.Tx) (err error) {
		if v.tx == nil {
			return fn(tx) // atomic's own transaction rolls back on error
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(sp); err != nil {
			_ = sp.Rollback(context.WithoutCancel(ctx))
			return err
		}
		return sp.Commit(ctx)
	})
}

type routingRepo struct{ v view }

func (r routingRepo) LoadRouting(ctx context.Context, ruleSet, day string, st *workflow.State) error {
	if st == nil {
		return crm.Invalid("state", "is required")
	}
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, "load routing "+ruleSet, err)
	}
	// One round trip: cursors, open loads and today's counts, told apart
	// by the first column.
	sql := "SELECT 'c', rule, last_user, version FROM " + r.v.wfTable("crm_routing_cursors") +
		" WHERE tenant_id = $1 AND rule_set = $2 AND rule = ANY($3::text[])" +
		" UNION ALL SELECT 'l', '', user_id, open_items FROM " + r.v.wfTable("crm_routing_loads") +
		" WHERE tenant_id = $1 AND rule_set = $2 AND user_id = ANY($4::uuid[])" +
		" UNION ALL SELECT 'd', '', user_id, routed FROM " + r.v.wfTable("crm_routing_daily") +
		" WHERE tenant_id = $1 AND rule_set = $2 AND user_id = ANY($4::uuid[]) AND day = $5"
	members := st.Members()
	rows, err := r.v.q.Query(ctx, sql, crm.TenantFrom(ctx), ruleSet, st.Rules(), uuidArray(members), day)
	if err != nil {
		return wfFail(ctx, "load routing "+ruleSet, err)
	}
	defer rows.Close()
	open := make(map[crm.ID]int, len(members))
	today := make(map[crm.ID]int, len(members))
	for rows.Next() {
		var kind, rule string
		var user ref
		var n int64
		if err := rows.Scan(&kind, &rule, &user, &n); err != nil {
			return wfFail(ctx, "load routing "+ruleSet, err)
		}
		switch kind {
		case "c":
			if err := st.SetCursor(rule, workflow.Cursor{Last: crm.ID(user), Version: n}); err != nil {
				return err
			}
		case "l":
			open[crm.ID(user)] = int(n)
		case "d":
			today[crm.ID(user)] = int(n)
		}
	}
	if err := rows.Err(); err != nil {
		return wfFail(ctx, "load routing "+ruleSet, err)
	}
	for _, u := range members {
		st.SetLoad(u, open[u], today[u])
	}
	return nil
}

func (r routingRepo) CommitRouting(ctx context.Context, c workflow.RoutingCommit) error {
	if c.RuleSet == "" || c.UserID == crm.NilID {
		return crm.Invalid("commit", "a rule set and a user are required")
	}
	if c.Capacity < 0 || c.DailyQuota < 0 {
		return crm.Invalid("commit", "capacity and daily quota must not be negative")
	}
	op := "commit routing " + c.RuleSet
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	tenant := crm.TenantFrom(ctx)
	cursors, loads, daily := r.v.wfTable("crm_routing_cursors"), r.v.wfTable("crm_routing_loads"), r.v.wfTable("crm_routing_daily")
	err := r.v.savepoint(ctx, func(q pgx.Tx) error {
		if c.CursorMoved {
			sql := "UPDATE " + cursors + " SET last_user = $4, version = $5" +
				" WHERE tenant_id = $1 AND rule_set = $2 AND rule = $3 AND version = $6"
			if c.PrevCursor.Version == 0 {
				// A concurrent first move inserts the same key: the loser
				// waits for it, then inserts nothing.
				sql = "INSERT INTO " + cursors + " (tenant_id, rule_set, rule, last_user, version)" +
					" SELECT $1, $2, $3, $4, $5 WHERE $6::bigint = 0 ON CONFLICT DO NOTHING"
			}
			tag, err := q.Exec(ctx, sql, tenant, c.RuleSet, c.Rule, ref(c.Cursor.Last), c.Cursor.Version, c.PrevCursor.Version)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("cursor of rule %s moved from version %d: %w", c.Rule, c.PrevCursor.Version, crm.ErrConflict)
			}
		}
		tag, err := q.Exec(ctx, "INSERT INTO "+loads+" AS l (tenant_id, rule_set, user_id, open_items) VALUES ($1, $2, $3, 1)"+
			" ON CONFLICT (tenant_id, rule_set, user_id) DO UPDATE SET open_items = l.open_items + 1"+
			" WHERE $4::int = 0 OR l.open_items < $4::int", tenant, c.RuleSet, key(c.UserID), c.Capacity)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %s holds %d open items: %w", c.UserID, c.Capacity, crm.ErrConflict)
		}
		tag, err = q.Exec(ctx, "INSERT INTO "+daily+" AS d (tenant_id, rule_set, user_id, day, routed) VALUES ($1, $2, $3, $4, 1)"+
			" ON CONFLICT (tenant_id, rule_set, user_id, day) DO UPDATE SET routed = d.routed + 1"+
			" WHERE $5::int = 0 OR d.routed < $5::int", tenant, c.RuleSet, key(c.UserID), c.Day, c.DailyQuota)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %s got %d records on %s: %w", c.UserID, c.DailyQuota, c.Day, crm.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return wfFail(ctx, op, err)
	}
	return nil
}

func (r routingRepo) ReleaseLoad(ctx context.Context, ruleSet string, user crm.ID) error {
	op := "release load " + ruleSet
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	_, err := r.v.q.Exec(ctx, "UPDATE "+r.v.wfTable("crm_routing_loads")+" SET open_items = open_items - 1"+
		" WHERE tenant_id = $1 AND rule_set = $2 AND user_id = $3 AND open_items > 0", crm.TenantFrom(ctx), ruleSet, key(user))
	if err != nil {
		return wfFail(ctx, op, err)
	}
	return nil
}

type timerRepo struct{ v view }

const timerCols = "id, tenant_id, version, record_type, record_id, policy, consumed_ns, running_since, warn_at, due_at, warned, breached, stopped"

func scanTimer(row pgx.Row) (*workflow.Timer, error) {
	var t workflow.Timer
	var id, record key
	var typ string
	var consumed int64
	var running, warn, due pgtype.Timestamptz
	if err := row.Scan(&id, &t.TenantID, &t.Version, &typ, &record, &t.Policy, &consumed, &running, &warn, &due, &t.Warned, &t.Breached, &t.Stopped); err != nil {
		return nil, err
	}
	t.ID, t.Record = crm.ID(id), crm.Ref{Type: crm.RecordType(typ), ID: crm.ID(record)}
	t.Consumed = time.Duration(consumed)
	t.RunningSince, t.WarnAt, t.DueAt = wfTimeOf(running), wfTimeOf(warn), wfTimeOf(due)
	return &t, nil
}

func (r timerRepo) CreateTimer(ctx context.Context, t *workflow.Timer) error {
	op := "create timer " + t.ID.String()
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	m := crm.Meta{TenantID: t.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.wfTable("crm_sla_timers")+" ("+timerCols+")"+
		" VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
		key(t.ID), m.TenantID, string(t.Record.Type), key(t.Record.ID), t.Policy, int64(t.Consumed),
		wfTime(t.RunningSince), wfTime(t.WarnAt), wfTime(t.DueAt), t.Warned, t.Breached, t.Stopped)
	if err == nil && tag.RowsAffected() == 0 {
		err = crm.ErrAlreadyExists
	}
	if err != nil {
		return wfFail(ctx, op, err)
	}
	t.TenantID, t.Version = m.TenantID, 1
	t.RunningSince, t.WarnAt, t.DueAt = crm.StorageTime(t.RunningSince), crm.StorageTime(t.WarnAt), crm.StorageTime(t.DueAt)
	return nil
}

func (r timerRepo) GetTimer(ctx context.Context, id crm.ID) (*workflow.Timer, error) {
	op := "get timer " + id.String()
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	t, err := scanTimer(r.v.q.QueryRow(ctx, "SELECT "+timerCols+" FROM "+r.v.wfTable("crm_sla_timers")+" WHERE id = $1 AND tenant_id = $2",
		key(id), crm.TenantFrom(ctx)))
	if err != nil {
		return nil, wfFail(ctx, op, err)
	}
	return t, nil
}

func (r timerRepo) UpdateTimer(ctx context.Context, t *workflow.Timer) error {
	if t == nil {
		return crm.Invalid("timer", "is required")
	}
	return r.UpdateTimers(ctx, []*workflow.Timer{t})
}

func (r timerRepo) UpdateTimers(ctx context.Context, ts []*workflow.Timer) error {
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, "update timers", err)
	}
	n := len(ts)
	if n == 0 {
		return nil
	}
	ids := make([]pgtype.UUID, n)
	versions, consumed := make([]int64, n), make([]int64, n)
	running, warn, due := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	warned, breached, stopped := make([]bool, n), make([]bool, n), make([]bool, n)
	seen := make(map[crm.ID]bool, n)
	for i, t := range ts {
		if t == nil {
			return crm.Invalid(fmt.Sprintf("timers[%d]", i), "is nil")
		}
		if err := t.Validate(); err != nil {
			return err
		}
		if seen[t.ID] {
			return fmt.Errorf("pgstore: update timer %s: listed twice: %w", t.ID, crm.ErrConflict)
		}
		seen[t.ID] = true
		ids[i] = pgtype.UUID{Bytes: t.ID, Valid: true}
		versions[i], consumed[i] = t.Version, int64(t.Consumed)
		running[i], warn[i], due[i] = wfTime(t.RunningSince), wfTime(t.WarnAt), wfTime(t.DueAt)
		warned[i], breached[i], stopped[i] = t.Warned, t.Breached, t.Stopped
	}
	tenant := crm.TenantFrom(ctx)
	table := r.v.wfTable("crm_sla_timers")
	err := r.v.savepoint(ctx, func(q pgx.Tx) error {
		tag, err := q.Exec(ctx, "UPDATE "+table+" AS t SET version = t.version + 1, consumed_ns = u.consumed, running_since = u.running_since,"+
			" warn_at = u.warn_at, due_at = u.due_at, warned = u.warned, breached = u.breached, stopped = u.stopped"+
			" FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::bool[], $9::bool[], $10::bool[])"+
			" AS u(id, version, consumed, running_since, warn_at, due_at, warned, breached, stopped)"+
			" WHERE t.id = u.id AND t.tenant_id = $1 AND t.version = u.version",
			tenant, ids, versions, consumed, running, warn, due, warned, breached, stopped)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) == n {
			return nil
		}
		return r.explainMiss(ctx, q, tenant, ts)
	})
	if err != nil {
		return wfFail(ctx, "update timers", err)
	}
	for _, t := range ts {
		t.Version++
		t.TenantID = tenant
		t.RunningSince, t.WarnAt, t.DueAt = crm.StorageTime(t.RunningSince), crm.StorageTime(t.WarnAt), crm.StorageTime(t.DueAt)
	}
	return nil
}

// explainMiss names the first timer of a refused batch that is missing
// (crm.ErrNotFound) or stale (crm.ErrConflict).
func (r timerRepo) explainMiss(ctx context.Context, q pgx.Tx, tenant string, ts []*workflow.Timer) error {
	ids := make([]crm.ID, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	rows, err := q.Query(ctx, "SELECT id, version FROM "+r.v.wfTable("crm_sla_timers")+" WHERE tenant_id = $1 AND id = ANY($2::uuid[])", tenant, uuidArray(ids))
	if err != nil {
		return err
	}
	stored := make(map[crm.ID]int64, len(ts))
	for rows.Next() {
		var id key
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return err
		}
		stored[crm.ID(id)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range ts {
		v, ok := stored[t.ID]
		if !ok {
			return fmt.Errorf("timer %s: %w", t.ID, crm.ErrNotFound)
		}
		if v != t.Version {
			return fmt.Errorf("timer %s: %w", t.ID, staleVersion(t.Version, v))
		}
	}
	return fmt.Errorf("timers changed during the update: %w", crm.ErrConflict)
}

func (r timerRepo) ClaimDue(ctx context.Context, now time.Time, limit int) ([]*workflow.Timer, error) {
	if limit < 1 || limit > workflow.MaxTickLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", workflow.MaxTickLimit, limit)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, "claim due timers", err)
	}
	rows, err := r.v.q.Query(ctx, "SELECT "+timerCols+" FROM "+r.v.wfTable("crm_sla_timers")+
		" WHERE tenant_id = $1 AND next_at IS NOT NULL AND next_at <= $2 ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
		crm.TenantFrom(ctx), now, limit)
	if err != nil {
		return nil, wfFail(ctx, "claim due timers", err)
	}
	defer rows.Close()
	out := make([]*workflow.Timer, 0, min(limit, 256))
	for rows.Next() {
		t, err := scanTimer(rows)
		if err != nil {
			return nil, wfFail(ctx, "claim due timers", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, wfFail(ctx, "claim due timers", err)
	}
	return out, nil
}

type definitionRepo struct{ v view }

func (r definitionRepo) GetDefinition(ctx context.Context, key string, version int) (*workflow.DefinitionSpec, error) {
	op := fmt.Sprintf("get approval definition %s version %d", key, version)
	if version < 0 {
		return nil, crm.Invalid("version", "must not be negative")
	}
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	var body []byte
	err := r.v.q.QueryRow(ctx, "SELECT spec FROM "+r.v.wfTable("crm_approval_definitions")+
		" WHERE tenant_id = $1 AND key = $2 AND ($3 = 0 OR version = $3) ORDER BY version DESC LIMIT 1",
		crm.TenantFrom(ctx), key, version).Scan(&body)
	if err != nil {
		return nil, wfFail(ctx, op, err)
	}
	var s workflow.DefinitionSpec
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("pgstore: decode approval definition %s: %w", key, err)
	}
	return &s, nil
}

func (r definitionRepo) CreateDefinition(ctx context.Context, spec *workflow.DefinitionSpec) error {
	if spec == nil {
		return crm.Invalid("definition", "is required")
	}
	op := fmt.Sprintf("create approval definition %s version %d", spec.Key, spec.Version)
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	if err := spec.CheckStorable(); err != nil {
		return err
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("pgstore: encode approval definition %s: %w", spec.Key, err)
	}
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.wfTable("crm_approval_definitions")+
		" (tenant_id, key, version, record_type, created_at, spec) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
		crm.TenantFrom(ctx), spec.Key, spec.Version, string(spec.RecordType), crm.StorageTime(r.v.s.clock.Now()), body)
	if err == nil && tag.RowsAffected() == 0 {
		err = crm.ErrAlreadyExists
	}
	if err != nil {
		return wfFail(ctx, op, err)
	}
	return nil
}

type instanceRepo struct{ v view }

// inboxOf returns what in's inbox rows hold: the time it waits since and
// the approvers it waits on (none when finished).
func inboxOf(in *workflow.Instance) (time.Time, []pgtype.UUID) {
	return in.WaitingSince(), uuidArray(in.PendingApprovers())
}

// inboxRewrite returns the CTEs that make the inbox rows of the updated
// requests ("up": tenant_id, id) those of "w" (tenant_id, instance_id,
// approver_id, since): rows of approvers no longer waited on go, the
// others are inserted, or updated when their time moved. The two touch
// different rows, so they run in one statement without a conflict, and
// a row whose time did not move is not written at all.
func inboxRewrite(inbox string) string {
	return ", gone AS (DELETE FROM " + inbox + " AS b USING up WHERE b.tenant_id = up.tenant_id AND b.instance_id = up.id" +
		" AND NOT EXISTS (SELECT 1 FROM w WHERE w.instance_id = b.instance_id AND w.approver_id = b.approver_id))," +
		" box AS (INSERT INTO " + inbox + " AS b (tenant_id, instance_id, approver_id, waiting_since)" +
		" SELECT tenant_id, instance_id, approver_id, since FROM w" +
		" ON CONFLICT (tenant_id, instance_id, approver_id) DO UPDATE SET waiting_since = excluded.waiting_since" +
		" WHERE b.waiting_since <> excluded.waiting_since)"
}

const instanceCols = "id, tenant_id, version, definition, definition_version, record_type, record_id, submitter, status, submitted_at, body, next_due_at"

func instanceValues(in *workflow.Instance) ([]any, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode approval %s: %w", in.ID, err)
	}
	return []any{key(in.ID), in.TenantID, in.Version, in.Definition, in.DefinitionVersion, string(in.Record.Type), key(in.Record.ID),
		key(in.Submitter), string(in.Status), wfTime(in.SubmittedAt), body, wfTime(in.NextDueAt())}, nil
}

func scanInstance(row pgx.Row) (*workflow.Instance, error) {
	var body []byte
	var tenant string
	var version int64
	if err := row.Scan(&tenant, &version, &body); err != nil {
		return nil, err
	}
	var in workflow.Instance
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("decode approval: %w", err)
	}
	in.TenantID, in.Version = tenant, version
	return &in, nil
}

func (r instanceRepo) GetInstance(ctx context.Context, id crm.ID) (*workflow.Instance, error) {
	op := "get approval " + id.String()
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	in, err := scanInstance(r.v.q.QueryRow(ctx, "SELECT tenant_id, version, body FROM "+r.v.wfTable("crm_approval_instances")+
		" WHERE id = $1 AND tenant_id = $2", key(id), crm.TenantFrom(ctx)))
	if err != nil {
		return nil, wfFail(ctx, op, err)
	}
	return in, nil
}

func (r instanceRepo) CreateInstance(ctx context.Context, in *workflow.Instance) error {
	if in == nil {
		return crm.Invalid("instance", "is required")
	}
	op := "create approval " + in.ID.String()
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	m := crm.Meta{TenantID: in.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := in.CheckStorable(); err != nil {
		return err
	}
	c := in.Clone()
	c.TenantID, c.Version = m.TenantID, 1
	vals, err := instanceValues(c)
	if err != nil {
		return wfFail(ctx, op, err)
	}
	// ON CONFLICT without a target also covers the one-pending-per-record
	// index, so a clash does not abort the caller's unit of work. The
	// request's inbox rows go in with it, in the same statement.
	since, approvers := inboxOf(c)
	var created int
	err = r.v.q.QueryRow(ctx, "WITH ins AS (INSERT INTO "+r.v.wfTable("crm_approval_instances")+" ("+instanceCols+")"+
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING tenant_id, id),"+
		" box AS (INSERT INTO "+r.v.wfTable("crm_approval_inbox")+" (tenant_id, instance_id, approver_id, waiting_since)"+
		" SELECT ins.tenant_id, ins.id, a, $14::timestamptz FROM ins CROSS JOIN unnest($13::uuid[]) AS a)"+
		" SELECT count(*) FROM ins", append(vals, approvers, since)...).Scan(&created)
	if err == nil && created == 0 {
		err = fmt.Errorf("the ID is taken or %s %s is already under approval: %w", c.Record.Type, c.Record.ID, crm.ErrAlreadyExists)
	}
	if err != nil {
		return wfFail(ctx, op, err)
	}
	in.TenantID, in.Version = c.TenantID, 1
	return nil
}

func (r instanceRepo) UpdateInstance(ctx context.Context, in *workflow.Instance) error {
	if in == nil {
		return crm.Invalid("instance", "is required")
	}
	op := "update approval " + in.ID.String()
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	if err := in.CheckStorable(); err != nil {
		return err
	}
	tenant := crm.TenantFrom(ctx)
	c := in.Clone()
	c.TenantID, c.Version = tenant, in.Version+1
	vals, err := instanceValues(c)
	if err != nil {
		return wfFail(ctx, op, err)
	}
	table := r.v.wfTable("crm_approval_instances")
	// The identifying columns are part of the condition: a request never
	// changes its record, definition or submitter. The request's inbox
	// rows are rewritten in the same statement, only when it was updated.
	since, approvers := inboxOf(c)
	var updated int
	err = r.v.q.QueryRow(ctx, "WITH up AS (UPDATE "+table+" SET version = $3, status = $9, submitted_at = $10, body = $11, next_due_at = $12"+
		" WHERE id = $1 AND tenant_id = $2 AND version = $3 - 1 AND definition = $4 AND definition_version = $5"+
		" AND record_type = $6 AND record_id = $7 AND submitter = $8 RETURNING tenant_id, id),"+
		" w AS (SELECT up.tenant_id, up.id AS instance_id, a AS approver_id, $14::timestamptz AS since FROM up CROSS JOIN unnest($13::uuid[]) AS a)"+
		inboxRewrite(r.v.wfTable("crm_approval_inbox"))+
		" SELECT count(*) FROM up", append(vals, approvers, since)...).Scan(&updated)
	if err == nil && updated == 0 {
		err = r.explainMiss(ctx, in)
	}
	if err != nil {
		return wfFail(ctx, op, err)
	}
	in.TenantID, in.Version = tenant, c.Version
	return nil
}

// explainMiss says why a conditional update of in touched no row.
func (r instanceRepo) explainMiss(ctx context.Context, in *workflow.Instance) error {
	stored, err := scanInstance(r.v.q.QueryRow(ctx, "SELECT tenant_id, version, body FROM "+r.v.wfTable("crm_approval_instances")+
		" WHERE id = $1 AND tenant_id = $2", key(in.ID), crm.TenantFrom(ctx)))
	if err != nil {
		return err
	}
	if stored.Version != in.Version {
		return staleVersion(in.Version, stored.Version)
	}
	if err := in.CheckImmutable(stored); err != nil {
		return err
	}
	return fmt.Errorf("approval changed during the update: %w", crm.ErrConflict)
}

// errBatchMiss marks a batch update that matched fewer rows than it has
// requests; the caller explains it after the savepoint rolled back.
var errBatchMiss = errors.New("pgstore: approval batch missed rows")

func (r instanceRepo) UpdateInstances(ctx context.Context, ins []*workflow.Instance) error {
	const op = "update approvals"
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	n := len(ins)
	if n == 0 {
		return nil
	}
	tenant := crm.TenantFrom(ctx)
	ids, records, submitters := make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	versions, defVersions := make([]int64, n), make([]int32, n)
	statuses, bodies, defs, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	submitted, due := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	// The inbox rows of every request, flattened: one per approver.
	var boxIDs, boxApprovers []pgtype.UUID
	var boxSince []time.Time
	seen := make(map[crm.ID]bool, n)
	for i, in := range ins {
		if in == nil {
			return crm.Invalid(fmt.Sprintf("instances[%d]", i), "is nil")
		}
		if err := in.CheckStorable(); err != nil {
			return err
		}
		if seen[in.ID] {
			return fmt.Errorf("pgstore: update approval %s: listed twice: %w", in.ID, crm.ErrConflict)
		}
		seen[in.ID] = true
		c := in.Clone()
		c.TenantID, c.Version = tenant, in.Version+1
		body, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("pgstore: encode approval %s: %w", in.ID, err)
		}
		ids[i], records[i], submitters[i] = pgtype.UUID{Bytes: in.ID, Valid: true}, pgtype.UUID{Bytes: in.Record.ID, Valid: true}, pgtype.UUID{Bytes: in.Submitter, Valid: true}
		versions[i], defVersions[i] = in.Version, int32(in.DefinitionVersion)
		statuses[i], bodies[i], defs[i], types[i] = string(in.Status), string(body), in.Definition, string(in.Record.Type)
		submitted[i], due[i] = wfTime(in.SubmittedAt), wfTime(in.NextDueAt())
		since, approvers := inboxOf(c)
		for _, a := range approvers {
			boxIDs, boxApprovers, boxSince = append(boxIDs, ids[i]), append(boxApprovers, a), append(boxSince, since)
		}
	}
	table := r.v.wfTable("crm_approval_instances")
	err := r.v.savepoint(ctx, func(q pgx.Tx) error {
		// As in UpdateInstance, the identifying columns are part of the
		// condition: a request never changes its record, definition or
		// submitter.
		// The inbox rows of the updated requests are rewritten in the
		// same statement.
		var updated int
		err := q.QueryRow(ctx, "WITH up AS (UPDATE "+table+" AS i SET version = i.version + 1, status = u.status, submitted_at = u.submitted_at,"+
			" body = u.body::jsonb, next_due_at = u.next_due_at"+
			" FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],"+
			" $8::text[], $9::int[], $10::text[], $11::uuid[], $12::uuid[])"+
			" AS u(id, version, status, body, submitted_at, next_due_at, definition, definition_version, record_type, record_id, submitter)"+
			" WHERE i.id = u.id AND i.tenant_id = $1 AND i.version = u.version AND i.definition = u.definition"+
			" AND i.definition_version = u.definition_version AND i.record_type = u.record_type"+
			" AND i.record_id = u.record_id AND i.submitter = u.submitter RETURNING i.tenant_id, i.id),"+
			" w AS (SELECT up.tenant_id, up.id AS instance_id, b.approver_id, b.since FROM up"+
			" JOIN unnest($13::uuid[], $14::uuid[], $15::timestamptz[]) AS b(instance_id, approver_id, since) ON b.instance_id = up.id)"+
			inboxRewrite(r.v.wfTable("crm_approval_inbox"))+
			" SELECT count(*) FROM up",
			tenant, ids, versions, statuses, bodies, submitted, due, defs, defVersions, types, records, submitters,
			boxIDs, boxApprovers, boxSince).Scan(&updated)
		if err != nil {
			return err
		}
		if updated != n {
			return errBatchMiss
		}
		return nil
	})
	if errors.Is(err, errBatchMiss) {
		err = r.explainBatchMiss(ctx, ins)
	}
	if err != nil {
		return wfFail(ctx, op, err)
	}
	for _, in := range ins {
		in.TenantID, in.Version = tenant, in.Version+1
	}
	return nil
}

// explainBatchMiss names the first request of a refused batch that is
// missing, stale or changes what it is about.
func (r instanceRepo) explainBatchMiss(ctx context.Context, ins []*workflow.Instance) error {
	ids := make([]crm.ID, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	rows, err := r.v.q.Query(ctx, "SELECT tenant_id, version, body FROM "+r.v.wfTable("crm_approval_instances")+
		" WHERE tenant_id = $1 AND id = ANY($2::uuid[])", crm.TenantFrom(ctx), uuidArray(ids))
	if err != nil {
		return err
	}
	stored := make(map[crm.ID]*workflow.Instance, len(ins))
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			rows.Close()
			return err
		}
		stored[in.ID] = in
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, in := range ins {
		st, ok := stored[in.ID]
		switch {
		case !ok:
			return fmt.Errorf("approval %s: %w", in.ID, crm.ErrNotFound)
		case st.Version != in.Version:
			return fmt.Errorf("approval %s: %w", in.ID, staleVersion(in.Version, st.Version))
		}
		if err := in.CheckImmutable(st); err != nil {
			return err
		}
	}
	return fmt.Errorf("approvals changed during the update: %w", crm.ErrConflict)
}

func (r instanceRepo) PendingInstance(ctx context.Context, record crm.Ref) (*workflow.Instance, error) {
	op := fmt.Sprintf("pending approval of %s %s", record.Type, record.ID)
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	in, err := scanInstance(r.v.q.QueryRow(ctx, "SELECT tenant_id, version, body FROM "+r.v.wfTable("crm_approval_instances")+
		" WHERE tenant_id = $1 AND record_type = $2 AND record_id = $3 AND status = 'pending'",
		crm.TenantFrom(ctx), string(record.Type), key(record.ID)))
	if err != nil {
		return nil, wfFail(ctx, op, err)
	}
	return in, nil
}

func (r instanceRepo) DueInstances(ctx context.Context, now time.Time, limit int) ([]*workflow.Instance, error) {
	if limit < 1 || limit > workflow.MaxTickLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", workflow.MaxTickLimit, limit)
	}
	const op = "claim due approvals"
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	// Every condition of the partial index is spelled out: under READ
	// COMMITTED a row another unit of work changed meanwhile is checked
	// again against them before it is locked.
	rows, err := r.v.q.Query(ctx, "SELECT tenant_id, version, body FROM "+r.v.wfTable("crm_approval_instances")+
		" WHERE tenant_id = $1 AND status = 'pending' AND next_due_at IS NOT NULL AND next_due_at <= $2"+
		" ORDER BY next_due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
		crm.TenantFrom(ctx), crm.StorageTime(now), limit)
	if err != nil {
		return nil, wfFail(ctx, op, err)
	}
	defer rows.Close()
	out := make([]*workflow.Instance, 0, min(limit, 256))
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, wfFail(ctx, op, err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	return out, nil
}

type handoffRepo struct{ v view }

func (r handoffRepo) GetHandoff(ctx context.Context, machine string, record crm.Ref) (*workflow.HandoffState, error) {
	op := fmt.Sprintf("get hand-off state of %s %s in %s", record.Type, record.ID, machine)
	if err := r.v.check(ctx); err != nil {
		return nil, wfFail(ctx, op, err)
	}
	st := &workflow.HandoffState{Machine: machine, Record: record}
	var history []byte
	err := r.v.q.QueryRow(ctx, "SELECT stage, version, updated_at, history FROM "+r.v.wfTable("crm_handoffs")+
		" WHERE tenant_id = $1 AND machine = $2 AND record_type = $3 AND record_id = $4",
		crm.TenantFrom(ctx), machine, string(record.Type), key(record.ID)).Scan(&st.Stage, &st.Version, &st.UpdatedAt, &history)
	if err != nil {
		return nil, wfFail(ctx, op, err)
	}
	if err := json.Unmarshal(history, &st.History); err != nil {
		return nil, fmt.Errorf("pgstore: %s: decode history: %w", op, err)
	}
	st.UpdatedAt = st.UpdatedAt.UTC()
	return st, nil
}

func (r handoffRepo) PutHandoff(ctx context.Context, st *workflow.HandoffState) error {
	if st == nil {
		return crm.Invalid("state", "is required")
	}
	op := fmt.Sprintf("store hand-off state of %s %s in %s", st.Record.Type, st.Record.ID, st.Machine)
	if err := r.v.check(ctx); err != nil {
		return wfFail(ctx, op, err)
	}
	if err := st.CheckStorable(); err != nil {
		return err
	}
	history := st.History
	if history == nil {
		history = []workflow.Handoff{}
	}
	body, err := json.Marshal(history)
	if err != nil {
		return fmt.Errorf("pgstore: %s: encode history: %w", op, err)
	}
	now := crm.StorageTime(r.v.s.clock.Now())
	tenant, table := crm.TenantFrom(ctx), r.v.wfTable("crm_handoffs")
	args := []any{tenant, st.Machine, string(st.Record.Type), key(st.Record.ID), st.Stage, st.Version, now, body}
	var tag pgconn.CommandTag
	if st.Version == 0 {
		tag, err = r.v.q.Exec(ctx, "INSERT INTO "+table+" (tenant_id, machine, record_type, record_id, stage, version, updated_at, history)"+
			" VALUES ($1, $2, $3, $4, $5, $6 + 1, $7, $8) ON CONFLICT DO NOTHING", args...)
		if err == nil && tag.RowsAffected() == 0 {
			err = crm.ErrAlreadyExists
		}
	} else {
		tag, err = r.v.q.Exec(ctx, "UPDATE "+table+" SET stage = $5, version = $6 + 1, updated_at = $7, history = $8"+
			" WHERE tenant_id = $1 AND machine = $2 AND record_type = $3 AND record_id = $4 AND version = $6", args...)
		if err == nil && tag.RowsAffected() == 0 {
			var exists bool
			if err = r.v.q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+
				" WHERE tenant_id = $1 AND machine = $2 AND record_type = $3 AND record_id = $4)", args[:4]...).Scan(&exists); err == nil {
				err = crm.ErrNotFound
				if exists {
					err = crm.ErrConflict
				}
			}
		}
	}
	if err != nil {
		return wfFail(ctx, op, err)
	}
	st.Version, st.UpdatedAt = st.Version+1, now
	return nil
}
