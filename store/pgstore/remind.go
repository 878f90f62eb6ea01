package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/workflow"
)

// This file implements the storage port of package remind over
// crm_reminder_firings (migration 0017_reminders). Due tasks are claimed
// with FOR UPDATE SKIP LOCKED, so concurrent sweeps take different
// batches; the firings' primary key, written with ON CONFLICT DO NOTHING,
// decides the rare race in which two sweeps still list one reminder.

var _ remind.Tx = view{}

// Reminders implements [remind.Tx].
func (v view) Reminders() remind.Store { return reminderRepo{v} }

// Reminders returns the autocommit reminder port.
func (s *Store) Reminders() remind.Store { return s.auto().Reminders() }

type reminderRepo struct{ v view }

func (r reminderRepo) fail(ctx context.Context, op string, err error) error {
	return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
}

func (r reminderRepo) DueTasks(ctx context.Context, q remind.TaskQuery) ([]remind.Due, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	const op = "claim due task reminders"
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	col, cmp := "t.remind_at", "<="
	cond := " AND t.remind_at IS NOT NULL"
	if q.Kind == remind.KindTaskOverdue {
		col, cmp, cond = "t.due_at", "<", ""
	}
	args := []any{crm.TenantFrom(ctx), crm.StorageTime(q.Now), string(q.Kind), q.Limit}
	after := ""
	if !q.AfterAt.IsZero() {
		after = " AND (" + col + ", t.id) > ($5, $6)"
		args = append(args, crm.StorageTime(q.AfterAt), key(q.AfterID))
	}
	// Every condition of the partial index is spelled out: under READ
	// COMMITTED a row changed meanwhile is checked again before it is
	// locked, so a task done or moved by then is not claimed. OFFSET 0
	// keeps the firing check a primary-key probe per task: as an anti
	// join the planner, misled by a firings table that grew since it was
	// last analysed, sorts every firing for each batch.
	sql := "SELECT t.id, t.subject_type, t.subject_id, t.assignee_id, " + col + ", t.title FROM " + r.v.wfTable("crm_tasks") + " t" +
		" WHERE t.tenant_id = $1 AND t.status = 'open'" + cond + " AND " + col + " " + cmp + " $2" + after +
		" AND NOT EXISTS (SELECT 1 FROM " + r.v.wfTable("crm_reminder_firings") + " f" +
		" WHERE f.tenant_id = t.tenant_id AND f.kind = $3 AND f.subject_id = t.id AND f.at = " + col + " AND f.part = '' OFFSET 0)" +
		" ORDER BY " + col + ", t.id LIMIT $4 FOR UPDATE OF t SKIP LOCKED"
	rows, err := r.v.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	defer rows.Close()
	out := make([]remind.Due, 0, min(q.Limit, 1024))
	for rows.Next() {
		var id key
		var subType string
		var subID, assignee pgtype.UUID
		d := remind.Due{Kind: q.Kind}
		if err := rows.Scan(&id, &subType, &subID, &assignee, &d.At, &d.Title); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		d.Subject = crm.Ref{Type: crm.TypeTask, ID: crm.ID(id)}
		d.About = crm.Ref{Type: crm.RecordType(subType), ID: crm.ID(subID.Bytes)}
		d.RecipientID = crm.ID(assignee.Bytes)
		d.At = d.At.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return out, nil
}

func (r reminderRepo) DueNotices(ctx context.Context, q remind.NoticeQuery) ([]remind.Due, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	const op = "claim due pool notices"
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	args := []any{crm.TenantFrom(ctx), key(q.PoolID), crm.StorageTime(q.Now), crm.StorageTime(q.Until), string(remind.KindPoolNotice), q.Limit}
	after := ""
	if !q.AfterAt.IsZero() {
		after = " AND (h.due_at, h.customer_id) > ($7, $8)"
		args = append(args, crm.StorageTime(q.AfterAt), key(q.AfterID))
	}
	// A range of the pool's due index (migration 0019), every condition of
	// which is spelled out so that a holding released, locked or moved
	// meanwhile is checked again before it is locked; OFFSET 0 keeps the
	// firing check a primary-key probe per holding, as in DueTasks.
	sql := "SELECT h.customer_id, h.owner_id, h.due_at FROM " + r.v.poolTable("crm_pool_holdings") + " h" +
		" WHERE h.tenant_id = $1 AND h.pool_id = $2 AND h.owner_id IS NOT NULL AND NOT h.locked AND h.due_at IS NOT NULL" +
		" AND h.due_at > $3 AND h.due_at <= $4" + after +
		" AND NOT EXISTS (SELECT 1 FROM " + r.v.wfTable("crm_reminder_firings") + " f" +
		" WHERE f.tenant_id = h.tenant_id AND f.kind = $5 AND f.subject_id = h.customer_id AND f.at = h.due_at AND f.part = '' OFFSET 0)" +
		" ORDER BY h.due_at, h.customer_id LIMIT $6 FOR UPDATE OF h SKIP LOCKED"
	rows, err := r.v.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	defer rows.Close()
	out := make([]remind.Due, 0, min(q.Limit, 1024))
	for rows.Next() {
		var id key
		var owner pgtype.UUID
		d := remind.Due{Kind: remind.KindPoolNotice, PoolID: q.PoolID}
		if err := rows.Scan(&id, &owner, &d.At); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		d.Subject = crm.Ref{Type: crm.TypeCustomer, ID: crm.ID(id)}
		d.About = d.Subject
		d.RecipientID = crm.ID(owner.Bytes)
		d.At = d.At.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return out, nil
}

func (r reminderRepo) WaitingApprovals(ctx context.Context, startedBy time.Time, after crm.ID, limit int) ([]*workflow.Instance, error) {
	if limit < 1 || limit > remind.MaxBatch {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", remind.MaxBatch, limit)
	}
	const op = "list waiting approvals"
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	rows, err := r.v.q.Query(ctx, "SELECT tenant_id, version, body FROM "+r.v.wfTable("crm_approval_instances")+" i"+
		" WHERE tenant_id = $1 AND status = 'pending' AND id > $2"+
		" AND EXISTS (SELECT 1 FROM jsonb_array_elements(i.body->'steps') s"+
		" WHERE s->>'status' = 'active' AND COALESCE(s->>'started_at', '') <> '' AND (s->>'started_at')::timestamptz <= $3)"+
		" ORDER BY id LIMIT $4",
		crm.TenantFrom(ctx), key(after), crm.StorageTime(startedBy), limit)
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []*workflow.Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, r.fail(ctx, op, err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return out, nil
}

func (r reminderRepo) Record(ctx context.Context, firings []remind.Firing) ([]bool, error) {
	var p crm.Problems
	for i := range firings {
		p.MergeAt(fmt.Sprintf("firings[%d]", i), firings[i].Validate())
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	const op = "record reminder firings"
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	if len(firings) == 0 {
		return nil, nil
	}
	n := len(firings)
	kinds, parts := make([]string, n), make([]string, n)
	subjects, recipients, events := make([]crm.ID, n), make([]pgtype.UUID, n), make([]crm.ID, n)
	ats, fired := make([]time.Time, n), make([]time.Time, n)
	index := make(map[crm.ID]int, n)
	for i, f := range firings {
		kinds[i], parts[i] = string(f.Kind), f.Part
		subjects[i], recipients[i], events[i] = f.SubjectID, uuidOf(f.RecipientID), f.EventID
		ats[i], fired[i] = crm.StorageTime(f.At), crm.StorageTime(f.FiredAt)
		index[f.EventID] = i
	}
	// Rows go in in the caller's order (the key order), so concurrent
	// sweeps that meet on keys wait for each other in one order.
	rows, err := r.v.q.Query(ctx, "INSERT INTO "+r.v.wfTable("crm_reminder_firings")+
		" (tenant_id, kind, subject_id, at, part, recipient_id, event_id, fired_at)"+
		" SELECT $1, u.kind, u.subject_id, u.at, u.part, u.recipient_id, u.event_id, u.fired_at"+
		" FROM unnest($2::text[], $3::uuid[], $4::timestamptz[], $5::text[], $6::uuid[], $7::uuid[], $8::timestamptz[])"+
		" WITH ORDINALITY AS u(kind, subject_id, at, part, recipient_id, event_id, fired_at, n) ORDER BY u.n"+
		" ON CONFLICT DO NOTHING RETURNING event_id",
		crm.TenantFrom(ctx), kinds, uuidArray(subjects), ats, parts, recipients, uuidArray(events), fired)
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	defer rows.Close()
	stored := make([]bool, n)
	for rows.Next() {
		var id key
		if err := rows.Scan(&id); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		if i, ok := index[crm.ID(id)]; ok {
			stored[i] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return stored, nil
}

func (r reminderRepo) Firings(ctx context.Context, subject crm.ID) ([]remind.Firing, error) {
	const op = "list reminder firings"
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	kinds := make([]string, 0, len(remind.Kinds()))
	for _, k := range remind.Kinds() {
		kinds = append(kinds, string(k))
	}
	rows, err := r.v.q.Query(ctx, "SELECT tenant_id, kind, at, part, recipient_id, event_id, fired_at FROM "+r.v.wfTable("crm_reminder_firings")+
		" WHERE tenant_id = $1 AND kind = ANY($2) AND subject_id = $3 ORDER BY fired_at, kind, at, part",
		crm.TenantFrom(ctx), kinds, key(subject))
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (remind.Firing, error) {
		f := remind.Firing{SubjectID: subject}
		var kind string
		var recipient pgtype.UUID
		var event key
		if err := row.Scan(&f.TenantID, &kind, &f.At, &f.Part, &recipient, &event, &f.FiredAt); err != nil {
			return f, err
		}
		f.Kind, f.RecipientID, f.EventID = remind.Kind(kind), crm.ID(recipient.Bytes), crm.ID(event)
		f.At, f.FiredAt = f.At.UTC(), f.FiredAt.UTC()
		return f, nil
	})
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return out, nil
}
