package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// This file implements the storage ports of package lead ([lead.Tx]) over
// the tables of migration 0004_lead (snapshots extended by 0022 for the
// rising-leads queue, queue_leads.go). Every write is a single statement that
// cannot fail on a clash (ON CONFLICT DO NOTHING, or an UPDATE conditional
// on the version), so a refused write never aborts the caller's
// transaction: a snapshot's compare-and-swap is decided by the row lock the
// INSERT or UPDATE takes, and of concurrent writers with the same version
// exactly one changes a row.

var _ lead.Tx = view{}

// LeadHistory implements [lead.Tx].
func (v view) LeadHistory() lead.HistoryStore { return leadHistoryRepo{v} }

// LeadScores implements [lead.Tx].
func (v view) LeadScores() lead.ScoreStore { return leadScoreRepo{v} }

// LeadScoringModels implements [lead.Tx].
func (v view) LeadScoringModels() lead.ModelStore { return leadDocRepo{v, "scoring"} }

// LeadPredictors implements [lead.Tx].
func (v view) LeadPredictors() lead.ModelStore { return leadDocRepo{v, "predictor"} }

func (v view) leadTable(name string) string { return pgx.Identifier{v.s.schema, name}.Sanitize() }

// leadFail wraps err as "pgstore: <op>: err" after translating it;
// validation errors pass unchanged so callers see the field.
func leadFail(ctx context.Context, op string, err error) error {
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
}

// nullID maps NilID to NULL.
func nullID(id crm.ID) any {
	if id == crm.NilID {
		return nil
	}
	return key(id)
}

type leadHistoryRepo struct{ v view }

func (r leadHistoryRepo) Append(ctx context.Context, e *lead.HistoryEntry) error {
	op := "append lead history " + e.ID.String()
	if err := r.v.check(ctx); err != nil {
		return leadFail(ctx, op, err)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	at := crm.StorageTime(e.At)
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.leadTable("crm_lead_history")+
		" (id, tenant_id, lead_id, from_status, to_status, actor_id, at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
		key(e.ID), crm.TenantFrom(ctx), key(e.LeadID), string(e.From), string(e.To), nullID(e.Actor), at, e.Reason)
	if err == nil && tag.RowsAffected() == 0 {
		err = crm.ErrAlreadyExists
	}
	if err != nil {
		return leadFail(ctx, op, err)
	}
	e.At = at
	return nil
}

func (r leadHistoryRepo) List(ctx context.Context, leadID crm.ID, page crm.PageRequest) (crm.Page[lead.HistoryEntry], error) {
	op := "list lead history " + leadID.String()
	limit, after, err := page.Resolve()
	if err != nil {
		return crm.Page[lead.HistoryEntry]{}, err
	}
	if err := r.v.check(ctx); err != nil {
		return crm.Page[lead.HistoryEntry]{}, leadFail(ctx, op, err)
	}
	// One row more than the page tells whether a next page exists.
	rows, err := r.v.q.Query(ctx, "SELECT id, lead_id, from_status, to_status, actor_id, at, reason FROM "+r.v.leadTable("crm_lead_history")+
		" WHERE tenant_id = $1 AND lead_id = $2 AND id > $3 ORDER BY id LIMIT $4",
		crm.TenantFrom(ctx), key(leadID), key(after), limit+1)
	if err != nil {
		return crm.Page[lead.HistoryEntry]{}, leadFail(ctx, op, err)
	}
	defer rows.Close()
	var out crm.Page[lead.HistoryEntry]
	for rows.Next() {
		var id, lid key
		var actor *key
		var from, to string
		var h lead.HistoryEntry
		if err := rows.Scan(&id, &lid, &from, &to, &actor, &h.At, &h.Reason); err != nil {
			return crm.Page[lead.HistoryEntry]{}, leadFail(ctx, op, err)
		}
		h.ID, h.LeadID, h.From, h.To, h.At = crm.ID(id), crm.ID(lid), crm.LeadStatus(from), crm.LeadStatus(to), h.At.UTC()
		if actor != nil {
			h.Actor = crm.ID(*actor)
		}
		out.Items = append(out.Items, &h)
	}
	if err := rows.Err(); err != nil {
		return crm.Page[lead.HistoryEntry]{}, leadFail(ctx, op, err)
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = crm.CursorAfter(out.Items[limit-1].ID)
	}
	return out, nil
}

type leadScoreRepo struct{ v view }

const leadScoreCols = "lead_id, model_id, model_version, tenant_id, fit, engagement, total, grade, stage, computed_at, version, rose_at, rose_from"

// scoreDests returns the scan destinations of leadScoreCols into s;
// finishScore completes s after the scan.
func scoreDests(s *lead.ScoreSnapshot, lid *key, stage *string, rose **time.Time) []any {
	return []any{lid, &s.ModelID, &s.ModelVersion, &s.TenantID, &s.Fit, &s.Engagement, &s.Total, &s.Grade, stage, &s.ComputedAt, &s.Version, rose, &s.RoseFrom}
}

func finishScore(s *lead.ScoreSnapshot, lid key, stage string, rose *time.Time) {
	s.LeadID, s.Stage, s.ComputedAt = crm.ID(lid), crm.LeadStatus(stage), s.ComputedAt.UTC()
	s.RoseAt = timeOf(rose)
}

func scanScore(row pgx.Row) (*lead.ScoreSnapshot, error) {
	var s lead.ScoreSnapshot
	var lid key
	var stage string
	var rose *time.Time
	if err := row.Scan(scoreDests(&s, &lid, &stage, &rose)...); err != nil {
		return nil, err
	}
	finishScore(&s, lid, stage, rose)
	return &s, nil
}

func (r leadScoreRepo) Get(ctx context.Context, leadID crm.ID, modelID string) (*lead.ScoreSnapshot, error) {
	op := fmt.Sprintf("get lead score %s/%q", leadID, modelID)
	if err := r.v.check(ctx); err != nil {
		return nil, leadFail(ctx, op, err)
	}
	s, err := scanScore(r.v.q.QueryRow(ctx, "SELECT "+leadScoreCols+" FROM "+r.v.leadTable("crm_lead_scores")+
		" WHERE tenant_id = $1 AND lead_id = $2 AND model_id = $3", crm.TenantFrom(ctx), key(leadID), modelID))
	if err != nil {
		return nil, leadFail(ctx, op, err)
	}
	return s, nil
}

func (r leadScoreRepo) Save(ctx context.Context, s *lead.ScoreSnapshot) error {
	op := fmt.Sprintf("save lead score %s/%q", s.LeadID, s.ModelID)
	if err := r.v.check(ctx); err != nil {
		return leadFail(ctx, op, err)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	tenant := crm.TenantFrom(ctx)
	if s.TenantID != "" && s.TenantID != tenant {
		return crm.Invalid("tenant_id", "snapshot of tenant %q saved in the context of tenant %q", s.TenantID, tenant)
	}
	c := *s
	c.TenantID, c.ComputedAt, c.Version = tenant, crm.StorageTime(s.ComputedAt), s.Version+1
	if !c.RoseAt.IsZero() {
		c.RoseAt = crm.StorageTime(c.RoseAt)
	}
	args := []any{key(c.LeadID), c.ModelID, c.ModelVersion, c.TenantID, c.Fit, c.Engagement, c.Total, c.Grade, string(c.Stage), c.ComputedAt, c.Version,
		nullTime(c.RoseAt), c.RoseFrom}
	table := r.v.leadTable("crm_lead_scores")
	var sql string
	if s.Version == 0 {
		// The rising-leads queue's copies of the lead's owner, department
		// and status come from the lead in the same statement; FOR SHARE
		// waits for a concurrent change of the lead to commit and reads
		// its result, so the copies cannot miss it (its trigger updates
		// only rows it can see). A snapshot of a lead not stored has
		// none, and no place in the queue.
		sql = "WITH l AS (SELECT owner_id, department_id, status FROM " + r.v.leadTable("crm_leads") +
			" WHERE tenant_id = $4 AND id = $1 FOR SHARE)" +
			" INSERT INTO " + table + " (" + leadScoreCols + ", owner_id, department_id, lead_status)" +
			" SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, l.owner_id, l.department_id, l.status" +
			" FROM (SELECT) AS one LEFT JOIN l ON true ON CONFLICT DO NOTHING"
	} else {
		sql = "UPDATE " + table + " SET model_version = $3, fit = $5, engagement = $6, total = $7, grade = $8, stage = $9, computed_at = $10, version = $11," +
			" rose_at = $12, rose_from = $13" +
			" WHERE tenant_id = $4 AND lead_id = $1 AND model_id = $2 AND version = $11 - 1"
	}
	tag, err := r.v.q.Exec(ctx, sql, args...)
	if err != nil {
		return leadFail(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		if s.Version == 0 {
			return leadFail(ctx, op, fmt.Errorf("a snapshot exists already: %w", crm.ErrConflict))
		}
		var stored int64
		err := r.v.q.QueryRow(ctx, "SELECT version FROM "+table+" WHERE tenant_id = $1 AND lead_id = $2 AND model_id = $3",
			tenant, key(c.LeadID), c.ModelID).Scan(&stored)
		if err != nil {
			return leadFail(ctx, op, err)
		}
		return leadFail(ctx, op, fmt.Errorf("version %d is stale, stored version is %d: %w", s.Version, stored, crm.ErrConflict))
	}
	*s = c
	return nil
}

func (r leadScoreRepo) List(ctx context.Context, leadID crm.ID) ([]*lead.ScoreSnapshot, error) {
	op := "list lead scores " + leadID.String()
	if err := r.v.check(ctx); err != nil {
		return nil, leadFail(ctx, op, err)
	}
	// COLLATE "C" orders model IDs bytewise, as Go compares strings.
	rows, err := r.v.q.Query(ctx, "SELECT "+leadScoreCols+" FROM "+r.v.leadTable("crm_lead_scores")+
		` WHERE tenant_id = $1 AND lead_id = $2 ORDER BY model_id COLLATE "C"`, crm.TenantFrom(ctx), key(leadID))
	if err != nil {
		return nil, leadFail(ctx, op, err)
	}
	defer rows.Close()
	out := []*lead.ScoreSnapshot{}
	for rows.Next() {
		s, err := scanScore(rows)
		if err != nil {
			return nil, leadFail(ctx, op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, leadFail(ctx, op, err)
	}
	return out, nil
}

// leadDocRepo stores model documents of one kind.
type leadDocRepo struct {
	v    view
	kind string
}

func (r leadDocRepo) Put(ctx context.Context, d *lead.ModelDocument) error {
	op := fmt.Sprintf("put %s model %q version %d", r.kind, d.ID, d.Version)
	if err := r.v.check(ctx); err != nil {
		return leadFail(ctx, op, err)
	}
	if err := d.Validate(); err != nil {
		return err
	}
	tenant := crm.TenantFrom(ctx)
	now := crm.StorageTime(r.v.s.clock.Now())
	table := r.v.leadTable("crm_lead_models")
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+table+" (tenant_id, kind, model_id, version, data, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
		tenant, r.kind, d.ID, d.Version, []byte(d.Data), now)
	if err != nil {
		return leadFail(ctx, op, err)
	}
	if tag.RowsAffected() == 1 {
		d.CreatedAt = now
		return nil
	}
	// The version exists (or a concurrent unit of work just stored it and
	// committed: ON CONFLICT waited for it). Compare what is stored.
	var data []byte
	var created time.Time
	err = r.v.q.QueryRow(ctx, "SELECT data, created_at FROM "+table+" WHERE tenant_id = $1 AND kind = $2 AND model_id = $3 AND version = $4",
		tenant, r.kind, d.ID, d.Version).Scan(&data, &created)
	if err != nil {
		return leadFail(ctx, op, err)
	}
	if !bytes.Equal(data, d.Data) {
		return leadFail(ctx, op, fmt.Errorf("a different document is stored under this version: %w", crm.ErrAlreadyExists))
	}
	d.CreatedAt = created.UTC()
	return nil
}

func scanDoc(row pgx.Row) (*lead.ModelDocument, error) {
	var d lead.ModelDocument
	var data []byte
	if err := row.Scan(&d.ID, &d.Version, &data, &d.CreatedAt); err != nil {
		return nil, err
	}
	d.Data, d.CreatedAt = data, d.CreatedAt.UTC()
	return &d, nil
}

func (r leadDocRepo) Get(ctx context.Context, id string, version int) (*lead.ModelDocument, error) {
	op := fmt.Sprintf("get %s model %q version %d", r.kind, id, version)
	if version < 0 {
		return nil, crm.Invalid("version", "must not be negative, got %d", version)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, leadFail(ctx, op, err)
	}
	d, err := scanDoc(r.v.q.QueryRow(ctx, "SELECT model_id, version, data, created_at FROM "+r.v.leadTable("crm_lead_models")+
		" WHERE tenant_id = $1 AND kind = $2 AND model_id = $3 AND ($4 = 0 OR version = $4) ORDER BY version DESC LIMIT 1",
		crm.TenantFrom(ctx), r.kind, id, version))
	if err != nil {
		return nil, leadFail(ctx, op, err)
	}
	return d, nil
}

func (r leadDocRepo) List(ctx context.Context, id string, after, limit int) ([]*lead.ModelDocument, error) {
	op := fmt.Sprintf("list %s model %q", r.kind, id)
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, leadFail(ctx, op, err)
	}
	rows, err := r.v.q.Query(ctx, "SELECT model_id, version, data, created_at FROM "+r.v.leadTable("crm_lead_models")+
		" WHERE tenant_id = $1 AND kind = $2 AND model_id = $3 AND version > $4 ORDER BY version LIMIT $5",
		crm.TenantFrom(ctx), r.kind, id, after, limit)
	if err != nil {
		return nil, leadFail(ctx, op, err)
	}
	defer rows.Close()
	out := []*lead.ModelDocument{}
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return nil, leadFail(ctx, op, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, leadFail(ctx, op, err)
	}
	return out, nil
}
