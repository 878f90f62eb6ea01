package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// This file implements the storage ports of package pool ([pool.Tx]) over
// the tables of migration 0002_pool. The ports' locking contract maps to
// row locks: Holdings.Get is SELECT ... FOR UPDATE, Counters.Add is one
// conditional upsert (which locks the counter row), and Holdings.Due is
// FOR UPDATE SKIP LOCKED, so concurrent sweeps share the work.

var _ pool.Tx = view{}

// Pools implements [pool.Tx].
func (v view) Pools() pool.Pools { return poolRepo{v} }

// PoolHoldings implements [pool.Tx].
func (v view) PoolHoldings() pool.Holdings { return holdingRepo{v} }

// PoolLedger implements [pool.Tx].
func (v view) PoolLedger() pool.Ledger { return ledgerRepo{v} }

// PoolCounters implements [pool.Tx].
func (v view) PoolCounters() pool.Counters { return counterRepo{v} }

// PoolRequests implements [pool.Tx].
func (v view) PoolRequests() pool.Requests { return requestRepo{v} }

func (v view) poolTable(name string) string { return pgx.Identifier{v.s.schema, name}.Sanitize() }

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return crm.StorageTime(t)
}

// timeOf maps NULL to the zero time.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

type poolRepo struct{ v view }

func (r poolRepo) fail(ctx context.Context, op string, id crm.ID, err error) error {
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return opError(ctx, op, "pool", id, err)
}

func (r poolRepo) scan(row pgx.Row) (*pool.Pool, error) {
	var def []byte
	var p pool.Pool
	var id key
	var tenant string
	var version int64
	var created, updated time.Time
	if err := row.Scan(&id, &tenant, &version, &created, &updated, &def); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(def, &p); err != nil {
		return nil, fmt.Errorf("decode pool %s: %w", crm.ID(id), err)
	}
	p.ID, p.TenantID, p.Version, p.CreatedAt, p.UpdatedAt = crm.ID(id), tenant, version, created.UTC(), updated.UTC()
	return &p, nil
}

const poolCols = "id, tenant_id, version, created_at, updated_at, definition"

func (r poolRepo) Get(ctx context.Context, id crm.ID) (*pool.Pool, error) {
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, "get", id, err)
	}
	p, err := r.scan(r.v.q.QueryRow(ctx, "SELECT "+poolCols+" FROM "+r.v.poolTable("crm_pools")+" WHERE id = $1 AND tenant_id = $2", key(id), crm.TenantFrom(ctx)))
	if err != nil {
		return nil, r.fail(ctx, "get", id, err)
	}
	return p, nil
}

func (r poolRepo) Create(ctx context.Context, p *pool.Pool) error {
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "create", p.ID, err)
	}
	m := crm.Meta{TenantID: p.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	c := p.Clone()
	now := crm.StorageTime(r.v.s.clock.Now())
	c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt = m.TenantID, 1, now, now
	def, err := json.Marshal(c)
	if err != nil {
		return r.fail(ctx, "create", p.ID, err)
	}
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.poolTable("crm_pools")+" ("+poolCols+") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
		key(c.ID), c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt, def)
	if err == nil && tag.RowsAffected() == 0 {
		// Taken: by this tenant (a repeated create), or by another, which
		// must reveal nothing of it.
		var owner string
		err = r.v.q.QueryRow(ctx, "SELECT tenant_id FROM "+r.v.poolTable("crm_pools")+" WHERE id = $1", key(c.ID)).Scan(&owner)
		switch {
		case err == nil && owner != c.TenantID:
			return crm.IDTakenByAnotherTenant()
		case err == nil || errors.Is(err, pgx.ErrNoRows):
			err = crm.ErrAlreadyExists
		}
	}
	if err != nil {
		return r.fail(ctx, "create", p.ID, err)
	}
	*p = *c
	return nil
}

func (r poolRepo) Update(ctx context.Context, p *pool.Pool) error {
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "update", p.ID, err)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	tenant := crm.TenantFrom(ctx)
	c := p.Clone()
	now := crm.StorageTime(r.v.s.clock.Now())
	c.TenantID, c.UpdatedAt = tenant, now
	def, err := json.Marshal(c)
	if err != nil {
		return r.fail(ctx, "update", p.ID, err)
	}
	table := r.v.poolTable("crm_pools")
	var created time.Time
	err = r.v.q.QueryRow(ctx, "UPDATE "+table+" SET definition = $4, version = version + 1, updated_at = $5"+
		" WHERE id = $1 AND tenant_id = $2 AND version = $3 RETURNING created_at",
		key(c.ID), tenant, c.Version, def, now).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		err = staleOrMissingRow(ctx, r.v.q, "SELECT version FROM "+table+" WHERE id = $1 AND tenant_id = $2", key(c.ID), tenant, c.Version)
	}
	if err != nil {
		return r.fail(ctx, "update", p.ID, err)
	}
	c.Version++
	c.CreatedAt = created.UTC()
	*p = *c
	return nil
}

// staleOrMissingRow explains why a version-conditional write touched no row:
// the row is missing (pgx.ErrNoRows, mapped to crm.ErrNotFound) or stale.
func staleOrMissingRow(ctx context.Context, q DBTX, versionSQL string, id key, tenant string, version int64) error {
	var stored int64
	if err := q.QueryRow(ctx, versionSQL, id, tenant).Scan(&stored); err != nil {
		return err
	}
	return staleVersion(version, stored)
}

func (r poolRepo) List(ctx context.Context, after crm.ID, limit int) ([]*pool.Pool, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, "list", after, err)
	}
	rows, err := r.v.q.Query(ctx, "SELECT "+poolCols+" FROM "+r.v.poolTable("crm_pools")+" WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
		crm.TenantFrom(ctx), key(after), limit)
	if err != nil {
		return nil, r.fail(ctx, "list", after, err)
	}
	defer rows.Close()
	var out []*pool.Pool
	for rows.Next() {
		p, err := r.scan(rows)
		if err != nil {
			return nil, r.fail(ctx, "list", after, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, "list", after, err)
	}
	return out, nil
}

type holdingRepo struct{ v view }

const holdingCols = "customer_id, tenant_id, version, created_at, updated_at, pool_id, owner_id, owner_department_id," +
	" locked, dealt, entered_at, owned_since, protected_until, previous_owner_id, previous_owner_until," +
	" last_opportunity_at, open_opportunity, due_at, due_reason, due_rule_id"

func (r holdingRepo) fail(ctx context.Context, op string, id crm.ID, err error) error {
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return opError(ctx, op, "holding", id, err)
}

func scanHolding(row pgx.Row) (*pool.Holding, error) {
	var h pool.Holding
	var id key
	var poolID, owner, dept, prev ref
	var entered, owned, protected, prevUntil, lastOpp, due *time.Time
	var reason string
	err := row.Scan(&id, &h.TenantID, &h.Version, &h.CreatedAt, &h.UpdatedAt, &poolID, &owner, &dept,
		&h.Locked, &h.Dealt, &entered, &owned, &protected, &prev, &prevUntil, &lastOpp, &h.OpenOpportunity, &due, &reason, &h.DueRuleID)
	if err != nil {
		return nil, err
	}
	h.CustomerID, h.PoolID, h.OwnerID, h.OwnerDepartmentID, h.PreviousOwnerID = crm.ID(id), crm.ID(poolID), crm.ID(owner), crm.ID(dept), crm.ID(prev)
	h.EnteredAt, h.OwnedSince, h.ProtectedUntil = timeOf(entered), timeOf(owned), timeOf(protected)
	h.PreviousOwnerUntil, h.LastOpportunityAt, h.DueAt = timeOf(prevUntil), timeOf(lastOpp), timeOf(due)
	h.DueReason = pool.ConditionKind(reason)
	h.CreatedAt, h.UpdatedAt = h.CreatedAt.UTC(), h.UpdatedAt.UTC()
	return &h, nil
}

// holdingValues are the values of holdingCols from pool_id on.
func holdingValues(h *pool.Holding) []any {
	return []any{ref(h.PoolID), ref(h.OwnerID), ref(h.OwnerDepartmentID), h.Locked, h.Dealt,
		nullTime(h.EnteredAt), nullTime(h.OwnedSince), nullTime(h.ProtectedUntil), ref(h.PreviousOwnerID),
		nullTime(h.PreviousOwnerUntil), nullTime(h.LastOpportunityAt), h.OpenOpportunity, nullTime(h.DueAt),
		string(h.DueReason), h.DueRuleID}
}

func (r holdingRepo) Get(ctx context.Context, id crm.ID) (*pool.Holding, error) {
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, "get", id, err)
	}
	sql := "SELECT " + holdingCols + " FROM " + r.v.poolTable("crm_pool_holdings") + " WHERE customer_id = $1 AND tenant_id = $2"
	if r.v.tx != nil {
		sql += " FOR UPDATE"
	}
	h, err := scanHolding(r.v.q.QueryRow(ctx, sql, key(id), crm.TenantFrom(ctx)))
	if err != nil {
		return nil, r.fail(ctx, "get", id, err)
	}
	return h, nil
}

func (r holdingRepo) Create(ctx context.Context, h *pool.Holding) error {
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "create", h.CustomerID, err)
	}
	m := crm.Meta{TenantID: h.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	c := *h
	now := crm.StorageTime(r.v.s.clock.Now())
	c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt = m.TenantID, 1, now, now
	args := append([]any{key(c.CustomerID), c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt}, holdingValues(&c)...)
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.poolTable("crm_pool_holdings")+" ("+holdingCols+") VALUES"+
		" ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT DO NOTHING", args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = crm.ErrAlreadyExists
	}
	if err != nil {
		return r.fail(ctx, "create", h.CustomerID, err)
	}
	*h = normalisedHolding(c)
	return nil
}

// normalisedHolding returns h with its times as they come back from storage.
func normalisedHolding(h pool.Holding) pool.Holding {
	h.StorageTimes()
	return h
}

func (r holdingRepo) Update(ctx context.Context, h *pool.Holding) error {
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "update", h.CustomerID, err)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	tenant := crm.TenantFrom(ctx)
	now := crm.StorageTime(r.v.s.clock.Now())
	table := r.v.poolTable("crm_pool_holdings")
	args := append([]any{key(h.CustomerID), tenant, h.Version, now}, holdingValues(h)...)
	var created time.Time
	err := r.v.q.QueryRow(ctx, "UPDATE "+table+" SET pool_id = $5, owner_id = $6, owner_department_id = $7, locked = $8,"+
		" dealt = $9, entered_at = $10, owned_since = $11, protected_until = $12, previous_owner_id = $13,"+
		" previous_owner_until = $14, last_opportunity_at = $15, open_opportunity = $16, due_at = $17,"+
		" due_reason = $18, due_rule_id = $19, version = version + 1, updated_at = $4"+
		" WHERE customer_id = $1 AND tenant_id = $2 AND version = $3 RETURNING created_at", args...).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		err = staleOrMissingRow(ctx, r.v.q, "SELECT version FROM "+table+" WHERE customer_id = $1 AND tenant_id = $2", key(h.CustomerID), tenant, h.Version)
	}
	if err != nil {
		return r.fail(ctx, "update", h.CustomerID, err)
	}
	c := normalisedHolding(*h)
	c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt = tenant, h.Version+1, created.UTC(), now
	*h = c
	return nil
}

func (r holdingRepo) Due(ctx context.Context, now time.Time, limit int) ([]*pool.Holding, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, "due", crm.NilID, err)
	}
	sql := "SELECT " + holdingCols + " FROM " + r.v.poolTable("crm_pool_holdings") +
		" WHERE tenant_id = $1 AND owner_id IS NOT NULL AND NOT locked AND due_at IS NOT NULL AND due_at <= $2" +
		" ORDER BY due_at, customer_id LIMIT $3"
	if r.v.tx != nil {
		sql += " FOR UPDATE SKIP LOCKED"
	}
	rows, err := r.v.q.Query(ctx, sql, crm.TenantFrom(ctx), crm.StorageTime(now), limit)
	if err != nil {
		return nil, r.fail(ctx, "due", crm.NilID, err)
	}
	defer rows.Close()
	var out []*pool.Holding
	for rows.Next() {
		h, err := scanHolding(rows)
		if err != nil {
			return nil, r.fail(ctx, "due", crm.NilID, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, "due", crm.NilID, err)
	}
	return out, nil
}

type ledgerRepo struct{ v view }

// A ledger entry is a row of crm_events (migration 0014): the event it is,
// with ledger_op set to its operation, ledger_rule to its rule snapshot
// and ledger_key to its idempotency key; the rest of the entry is the
// payload. The row's Seq is assigned by the statement with nextval(), so
// that the same statement can write it into the payload too, in place of
// the 0 at pool.PayloadSeqOffset.

// nextEventSeq is the SQL of the next Seq of crm_events.
func (v view) nextEventSeq() string {
	return "nextval('" + pgx.Identifier{v.s.schema, "crm_events_seq_seq"}.Sanitize() + "'::regclass)"
}

// entryPayloadSQL is the SQL of an entry's payload with the Seq in SQL
// expression seq put into payload, the SQL of the payload encoded with Seq
// 0 (as text).
func entryPayloadSQL(payload, seq string) string {
	off := strconv.Itoa(pool.PayloadSeqOffset)
	return "(left(" + payload + ", " + off + ") || " + seq + "::text || substr(" + payload + ", " + off + " + 2))::json"
}

// entryRow is an entry as the columns of its row: the entry made storable
// (tenant and time set) and its event with the payload encoded for Seq 0.
type entryRow struct {
	e   pool.Entry
	ev  crm.Event
	typ string
}

func newEntryRow(ctx context.Context, e *pool.Entry) (entryRow, error) {
	m := crm.Meta{TenantID: e.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return entryRow{}, err
	}
	c := *e
	c.Seq, c.TenantID, c.At = 0, m.TenantID, crm.StorageTime(e.At)
	ev, err := c.Event()
	if err != nil {
		return entryRow{}, err
	}
	return entryRow{e: c, ev: ev, typ: string(ev.Type)}, nil
}

// rule is the entry's snapshot as a jsonb parameter, NULL when empty.
func (r *entryRow) rule() any {
	if len(r.e.Rule) == 0 {
		return nil
	}
	return []byte(r.e.Rule)
}

func (r ledgerRepo) Append(ctx context.Context, e *pool.Entry) error {
	if err := r.v.check(ctx); err != nil {
		return opError(ctx, "append", "ledger entry", e.ID, err)
	}
	row, err := newEntryRow(ctx, e)
	if err != nil {
		return err
	}
	c := &row.e
	var seq int64
	err = r.v.q.QueryRow(ctx, "INSERT INTO "+r.v.poolTable("crm_events")+
		" (id, seq, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload, ledger_op, ledger_rule, ledger_key)"+
		" SELECT $1, s.seq, $2, $3, $4, $5, $6, $7, "+entryPayloadSQL("$8::text", "s.seq")+", $9, $10::jsonb, $11"+
		" FROM (SELECT "+r.v.nextEventSeq()+" AS seq) AS s ON CONFLICT (id) DO NOTHING RETURNING seq",
		key(c.ID), c.TenantID, row.typ, string(crm.TypeCustomer), key(c.CustomerID), ref(c.ActorID), c.At, string(row.ev.Payload),
		string(c.Op), row.rule(), c.IdempotencyKey).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("%w: ledger entry or event %s", crm.ErrAlreadyExists, e.ID)
	}
	if err != nil {
		return opError(ctx, "append", "ledger entry", e.ID, err)
	}
	e.Seq, e.TenantID = seq, c.TenantID
	return nil
}

func (r ledgerRepo) List(ctx context.Context, customerID crm.ID, afterSeq int64, limit int) ([]*pool.Entry, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, opError(ctx, "list", "ledger", customerID, err)
	}
	sql := "SELECT id, seq, tenant_id, payload, ledger_rule, coalesce(ledger_key, '') FROM " + r.v.poolTable("crm_events") +
		" WHERE tenant_id = $1 AND ledger_op IS NOT NULL AND seq > $2"
	args := []any{crm.TenantFrom(ctx), afterSeq, limit}
	if customerID != crm.NilID {
		sql += " AND subject_id = $4"
		args = append(args, key(customerID))
	}
	rows, err := r.v.q.Query(ctx, sql+" ORDER BY seq LIMIT $3", args...)
	if err != nil {
		return nil, opError(ctx, "list", "ledger", customerID, err)
	}
	defer rows.Close()
	var out []*pool.Entry
	for rows.Next() {
		var e pool.Entry
		var id key
		var payload, rule []byte
		if err := rows.Scan(&id, &e.Seq, &e.TenantID, &payload, &rule, &e.IdempotencyKey); err != nil {
			return nil, opError(ctx, "list", "ledger", customerID, err)
		}
		var p pool.EntryPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, opError(ctx, "list", "ledger", customerID, fmt.Errorf("decode entry %s: %w", crm.ID(id), err))
		}
		e.ID, e.CustomerID, e.Op = crm.ID(id), p.CustomerID, p.Op
		e.FromOwner, e.ToOwner, e.FromPool, e.ToPool, e.ActorID = p.FromOwner, p.ToOwner, p.FromPool, p.ToPool, p.ActorID
		e.Reason, e.RuleID, e.At = p.Reason, p.RuleID, p.At.UTC()
		if len(rule) > 0 {
			e.Rule = rule
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, opError(ctx, "list", "ledger", customerID, err)
	}
	return out, nil
}

type counterRepo struct{ v view }

// Add is one statement: the insert or the conditional update decides, and
// the counter row stays locked until the transaction ends.
func (r counterRepo) Add(ctx context.Context, name string, delta, max int64) (int64, bool, error) {
	if err := r.v.check(ctx); err != nil {
		return 0, false, fmt.Errorf("pgstore: add to counter %q: %w", name, dbError(ctx, err))
	}
	table := r.v.poolTable("crm_pool_counters")
	tenant := crm.TenantFrom(ctx)
	var value int64
	// $4 - $3 cannot overflow for the positive deltas it is used with.
	err := r.v.q.QueryRow(ctx, "INSERT INTO "+table+" AS c (tenant_id, key, value)"+
		" SELECT $1, $2, greatest($3::bigint, 0) WHERE $3::bigint <= $4::bigint"+
		" ON CONFLICT (tenant_id, key) DO UPDATE SET value = greatest(c.value + $3::bigint, 0)"+
		" WHERE $3::bigint <= 0 OR c.value <= $4::bigint - $3::bigint RETURNING value",
		tenant, name, delta, max).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		err = r.v.q.QueryRow(ctx, "SELECT coalesce((SELECT value FROM "+table+" WHERE tenant_id = $1 AND key = $2), 0)", tenant, name).Scan(&value)
		if err == nil {
			return value, false, nil
		}
	}
	if err != nil {
		return 0, false, fmt.Errorf("pgstore: add to counter %q: %w", name, dbError(ctx, err))
	}
	return value, true, nil
}

func (r counterRepo) Get(ctx context.Context, name string) (int64, error) {
	if err := r.v.check(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: get counter %q: %w", name, dbError(ctx, err))
	}
	var value int64
	err := r.v.q.QueryRow(ctx, "SELECT coalesce((SELECT value FROM "+r.v.poolTable("crm_pool_counters")+" WHERE tenant_id = $1 AND key = $2), 0)",
		crm.TenantFrom(ctx), name).Scan(&value)
	if err != nil {
		return 0, fmt.Errorf("pgstore: get counter %q: %w", name, dbError(ctx, err))
	}
	return value, nil
}

type requestRepo struct{ v view }

var _ pool.RequestPruner = requestRepo{}

// Prune implements [pool.RequestPruner] with one DELETE over the
// (tenant_id, created_at) index.
func (r requestRepo) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := r.v.check(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: prune requests: %w", err)
	}
	table := r.v.poolTable("crm_pool_requests")
	tag, err := r.v.q.Exec(ctx, "DELETE FROM "+table+" WHERE (tenant_id, key) IN (SELECT tenant_id, key FROM "+table+
		" WHERE tenant_id = $1 AND created_at < $2 ORDER BY created_at LIMIT $3)", crm.TenantFrom(ctx), crm.StorageTime(before), limit)
	err = sentWrite(ctx, r.v.tx == nil, err)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune requests: %w", dbError(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}

func (r requestRepo) Get(ctx context.Context, k string) (*pool.Request, error) {
	if err := r.v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: get request %q: %w", k, dbError(ctx, err))
	}
	var req pool.Request
	var cust key
	var actor ref
	var result []byte
	err := r.v.q.QueryRow(ctx, "SELECT key, tenant_id, op, customer_id, actor_id, result, created_at FROM "+r.v.poolTable("crm_pool_requests")+
		" WHERE tenant_id = $1 AND key = $2", crm.TenantFrom(ctx), k).Scan(&req.Key, &req.TenantID, &req.Op, &cust, &actor, &result, &req.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("pgstore: get request %q: %w", k, dbError(ctx, err))
	}
	req.CustomerID, req.ActorID, req.Result, req.CreatedAt = crm.ID(cust), crm.ID(actor), result, req.CreatedAt.UTC()
	return &req, nil
}

func (r requestRepo) Put(ctx context.Context, req *pool.Request) error {
	if err := r.v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: put request %q: %w", req.Key, dbError(ctx, err))
	}
	m := crm.Meta{TenantID: req.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if req.Key == "" {
		return crm.Invalid("key", "is required")
	}
	if !json.Valid(req.Result) {
		return crm.Invalid("result", "is not valid JSON")
	}
	now := crm.StorageTime(r.v.s.clock.Now())
	tag, err := r.v.q.Exec(ctx, "INSERT INTO "+r.v.poolTable("crm_pool_requests")+" (tenant_id, key, op, customer_id, actor_id, result, created_at)"+
		" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
		m.TenantID, req.Key, string(req.Op), key(req.CustomerID), ref(req.ActorID), []byte(req.Result), now)
	if err == nil && tag.RowsAffected() == 0 {
		err = crm.ErrAlreadyExists
	}
	if err != nil {
		return fmt.Errorf("pgstore: put request %q: %w", req.Key, dbError(ctx, err))
	}
	req.TenantID, req.CreatedAt = m.TenantID, now
	return nil
}

var _ pool.BatchTx = view{}

// PoolCustomers implements [pool.BatchTx] with one query.
func (v view) PoolCustomers(ctx context.Context, ids []crm.ID) ([]*crm.Customer, error) {
	if err := v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: get customers: %w", dbError(ctx, err))
	}
	t := v.s.sql.customers
	sql := t.list + " AND id = ANY($2::uuid[])"
	if v.tx != nil {
		// Locked like the holdings, so PoolRecycleBatch can update them by
		// ID alone: nobody changes them between this read and that write.
		sql += " ORDER BY id FOR UPDATE"
	}
	rows, err := v.q.Query(ctx, sql, crm.TenantFrom(ctx), uuidArray(ids))
	if err != nil {
		return nil, fmt.Errorf("pgstore: get customers: %w", dbError(ctx, err))
	}
	defer rows.Close()
	out := make([]*crm.Customer, 0, len(ids))
	for rows.Next() {
		c, err := t.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("pgstore: get customers: %w", dbError(ctx, err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: get customers: %w", dbError(ctx, err))
	}
	return out, nil
}

// PoolRecycleBatch implements [pool.BatchTx] with one set-based statement
// over unnest()ed arrays that updates customers and holdings and appends
// the ledger entries, each one row of crm_events that is its event too.
func (v view) PoolRecycleBatch(ctx context.Context, batch []pool.Recycled) error {
	if err := v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: recycle batch: %w", dbError(ctx, err))
	}
	if len(batch) == 0 {
		return nil
	}
	tenant := crm.TenantFrom(ctx)
	now := crm.StorageTime(v.s.clock.Now())
	n := len(batch)
	var (
		custIDs, poolIDs, owners, depts, prevs        = make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		holdVersions                                  = make([]int64, n)
		want                                          = make(map[crm.ID]int64, n)
		locked, dealt, openOpp                        = make([]bool, n), make([]bool, n), make([]bool, n)
		entered, owned, protected, prevUntil, lastOpp = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		due                                           = make([]pgtype.Timestamptz, n)
		dueReasons, dueRules                          = make([]string, n), make([]string, n)
		entryIDs, actors                              = make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		ops, types, keys, payloads                    = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ruleOrds                                      = make([]pgtype.Int4, n)
		distinctRules                                 []string
		ats                                           = make([]time.Time, n)
	)
	if err := pool.ValidateRecycleBatch(batch); err != nil {
		return err
	}
	rows := make([]entryRow, n)
	for i, r := range batch {
		var err error
		if rows[i], err = newEntryRow(ctx, r.Entry); err != nil {
			return err
		}
	}
	// Customers get their placement as given. The usual batch puts every
	// customer in one place (unowned, in one pool): onePlace is then true
	// and the placement a scalar, else it is looked up per row.
	onePlace := true
	for _, r := range batch[1:] {
		onePlace = onePlace && r.Customer == batch[0].Customer
	}
	places := n
	if onePlace {
		places = 1
	}
	custOwners, custDepts, custPools := make([]pgtype.UUID, places), make([]pgtype.UUID, places), make([]pgtype.UUID, places)
	for i, r := range batch {
		h, e := r.Holding, r.Entry
		custIDs[i], poolIDs[i] = uuidOf(h.CustomerID), uuidOf(h.PoolID)
		if i < places {
			custOwners[i], custDepts[i], custPools[i] = uuidOf(r.Customer.OwnerID), uuidOf(r.Customer.DepartmentID), uuidOf(r.Customer.PoolID)
		}
		want[h.CustomerID] = r.CustomerVersion + 1
		holdVersions[i] = h.Version
		owners[i], depts[i], prevs[i] = uuidOf(h.OwnerID), uuidOf(h.OwnerDepartmentID), uuidOf(h.PreviousOwnerID)
		locked[i], dealt[i], openOpp[i] = h.Locked, h.Dealt, h.OpenOpportunity
		entered[i], owned[i], protected[i] = tsOf(h.EnteredAt), tsOf(h.OwnedSince), tsOf(h.ProtectedUntil)
		prevUntil[i], lastOpp[i], due[i] = tsOf(h.PreviousOwnerUntil), tsOf(h.LastOpportunityAt), tsOf(h.DueAt)
		dueReasons[i], dueRules[i] = string(h.DueReason), h.DueRuleID
		entryIDs[i], actors[i] = uuidOf(e.ID), uuidOf(e.ActorID)
		ops[i], types[i], keys[i], payloads[i] = string(e.Op), rows[i].typ, e.IdempotencyKey, string(rows[i].ev.Payload)
		if len(e.Rule) > 0 {
			// Entries of a batch share few snapshots; usually the one
			// before.
			k := len(distinctRules) - 1
			if k < 0 || distinctRules[k] != string(e.Rule) {
				k = slices.Index(distinctRules, string(e.Rule))
			}
			if k < 0 {
				distinctRules = append(distinctRules, string(e.Rule))
				k = len(distinctRules) - 1
			}
			ruleOrds[i] = pgtype.Int4{Int32: int32(k + 1), Valid: true}
		}
		ats[i] = crm.StorageTime(e.At)
	}
	// One statement for the batch: customers, holdings and ledger entries
	// (which are the events).
	// Rows are found by id = ANY(), which is planned as an index scan
	// whatever the table's statistics (a bare join with unnest() may hash
	// the whole table), and joined to their new values by ID. The
	// customers and holdings are locked since PoolCustomers and Due, and
	// each update is conditional on the version read; the counts returned
	// say whether every row matched, and a mismatch fails the batch (the
	// caller's unit of work is then rolled back whole).
	holdings, customers := v.poolTable("crm_pool_holdings"), v.poolTable("crm_customers")
	sql := "WITH u AS MATERIALIZED (SELECT * FROM unnest($3::uuid[], $4::bigint[], $5::uuid[], $6::uuid[], $7::uuid[], $8::bool[], $9::bool[]," +
		" $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::uuid[], $14::timestamptz[]," +
		" $15::timestamptz[], $16::bool[], $17::timestamptz[], $18::text[], $19::text[])" +
		" AS u(id, version, pool_id, owner_id, dept, locked, dealt, entered_at, owned_since, protected_until, prev," +
		" prev_until, last_opp, open_opp, due_at, due_reason, due_rule))," +
		// No join for the customers: a cached plan guesses ten rows per
		// array and may nest-loop the batch against itself. Their
		// placement is $30-$32 (owner, department, pool) at index 1 when
		// the whole batch goes to one place ($20, the usual case), else
		// looked up by position; versions are checked by the caller.
		" uc AS (UPDATE " + customers + " AS c SET" +
		" owner_id = CASE WHEN $20::bool THEN ($30::uuid[])[1] ELSE ($30::uuid[])[array_position($3::uuid[], c.id)] END," +
		" department_id = CASE WHEN $20::bool THEN ($31::uuid[])[1] ELSE ($31::uuid[])[array_position($3::uuid[], c.id)] END," +
		" pool_id = CASE WHEN $20::bool THEN ($32::uuid[])[1] ELSE ($32::uuid[])[array_position($3::uuid[], c.id)] END," +
		" version = c.version + 1, updated_at = $2" +
		" WHERE c.tenant_id = $1 AND c.id = ANY($3::uuid[]) RETURNING c.id, c.version)," +
		" uh AS (UPDATE " + holdings + " AS h SET pool_id = u.pool_id, owner_id = u.owner_id," +
		" owner_department_id = u.dept, locked = u.locked, dealt = u.dealt, entered_at = u.entered_at," +
		" owned_since = u.owned_since, protected_until = u.protected_until, previous_owner_id = u.prev," +
		" previous_owner_until = u.prev_until, last_opportunity_at = u.last_opp, open_opportunity = u.open_opp," +
		" due_at = u.due_at, due_reason = u.due_reason, due_rule_id = u.due_rule, version = h.version + 1, updated_at = $2" +
		" FROM u WHERE h.tenant_id = $1 AND h.customer_id = ANY($3::uuid[]) AND h.customer_id = u.id AND h.version = u.version RETURNING 1)," +
		// The ledger entries are events: one row each, its Seq drawn in
		// batch order (the subquery is sorted and kept apart by OFFSET 0)
		// and written into its payload too. A repeated ID is skipped and
		// shows as a missing row.
		" ul AS (INSERT INTO " + v.poolTable("crm_events") +
		" (id, seq, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload, ledger_op, ledger_rule, ledger_key)" +
		" SELECT e.id, e.seq, $1, e.type, 'customer', e.customer_id, e.actor_id, e.at, " + entryPayloadSQL("e.payload", "e.seq") + ", e.op, e.rule, e.key" +
		" FROM (SELECT " + v.nextEventSeq() + " AS seq, e.* FROM (SELECT e.*, r.rule FROM unnest($21::uuid[], $3::uuid[], $22::text[], $23::text[], $24::text[]," +
		" $25::int[], $26::uuid[], $27::timestamptz[], $28::text[]) WITH ORDINALITY" +
		" AS e(id, customer_id, op, type, payload, rule_ord, actor_id, at, key, ord)" +
		// Snapshots are parsed once per distinct rule, not once per entry.
		" LEFT JOIN (SELECT r.rule::jsonb AS rule, r.ord FROM unnest($29::text[]) WITH ORDINALITY AS r(rule, ord)) AS r ON r.ord = e.rule_ord" +
		" ORDER BY e.ord OFFSET 0) AS e) AS e ON CONFLICT (id) DO NOTHING RETURNING id, seq)" +
		" SELECT (SELECT array_agg(id) FROM uc), (SELECT array_agg(version) FROM uc), (SELECT count(*) FROM uh)," +
		" (SELECT array_agg(id) FROM ul), (SELECT array_agg(seq) FROM ul)"
	err := v.atomic(ctx, func(q pgx.Tx) error {
		var changedHoldings int64
		var customerIDs, stored []key
		var customerVersions, seqs []int64
		err := q.QueryRow(ctx, sql, tenant, now, custIDs, holdVersions, poolIDs, owners, depts, locked, dealt, entered, owned, protected,
			prevs, prevUntil, lastOpp, openOpp, due, dueReasons, dueRules, onePlace,
			entryIDs, ops, types, payloads, ruleOrds, actors, ats, keys, distinctRules,
			custOwners, custDepts, custPools).
			Scan(&customerIDs, &customerVersions, &changedHoldings, &stored, &seqs)
		if err != nil {
			return err
		}
		// The customers are locked since PoolCustomers, so a version
		// other than the one read plus one means the read was stale.
		changed := len(customerIDs)
		for i, id := range customerIDs {
			if want[crm.ID(id)] != customerVersions[i] {
				changed--
			}
		}
		switch {
		case changed != n:
			return fmt.Errorf("%d of %d customers changed since they were read: %w", n-changed, n, crm.ErrConflict)
		case changedHoldings != int64(n):
			return fmt.Errorf("%d of %d holdings changed since they were read: %w", int64(n)-changedHoldings, n, crm.ErrConflict)
		case len(stored) != n || len(seqs) != n:
			return fmt.Errorf("%d of %d ledger entries stored, the others' IDs were taken: %w", len(stored), n, crm.ErrAlreadyExists)
		}
		bySeq := make(map[crm.ID]int64, n)
		for i, id := range stored {
			bySeq[crm.ID(id)] = seqs[i]
		}
		for _, r := range batch {
			r.Entry.Seq, r.Entry.TenantID = bySeq[r.Entry.ID], tenant
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: recycle batch: %w", dbError(ctx, err))
	}
	for _, r := range batch {
		h := normalisedHolding(*r.Holding)
		h.TenantID, h.Version, h.UpdatedAt = tenant, r.Holding.Version+1, now
		*r.Holding = h
	}
	return nil
}

func uuidOf(id crm.ID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != crm.NilID} }

func tsOf(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: crm.StorageTime(t), Valid: !t.IsZero()}
}

var _ pool.ClaimStore = (*Store)(nil)

// PoolClaimState implements [pool.ClaimStore]: four reads sent together,
// so one round trip, each seeing the latest committed data.
func (s *Store) PoolClaimState(ctx context.Context, customerID, actorID crm.ID) (*pool.ClaimState, error) {
	v := s.auto()
	if err := v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: read claim state: %w", err)
	}
	tenant := crm.TenantFrom(ctx)
	var out pool.ClaimState
	keep := func(err error) error {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	}
	holdings := v.poolTable("crm_pool_holdings")
	b := &pgx.Batch{}
	b.Queue("SELECT "+holdingCols+" FROM "+holdings+" WHERE customer_id = $1 AND tenant_id = $2", key(customerID), tenant).
		QueryRow(func(row pgx.Row) (err error) {
			out.Holding, err = scanHolding(row)
			return keep(err)
		})
	b.Queue(s.sql.customers.get, key(customerID), tenant).QueryRow(func(row pgx.Row) (err error) {
		out.Customer, err = s.sql.customers.scan(row)
		return keep(err)
	})
	b.Queue(s.sql.users.get, key(actorID), tenant).QueryRow(func(row pgx.Row) (err error) {
		out.Actor, err = s.sql.users.scan(row)
		return keep(err)
	})
	b.Queue("SELECT "+poolCols+" FROM "+v.poolTable("crm_pools")+" WHERE tenant_id = $2 AND id ="+
		" (SELECT pool_id FROM "+holdings+" WHERE customer_id = $1 AND tenant_id = $2)", key(customerID), tenant).
		QueryRow(func(row pgx.Row) (err error) {
			out.Pool, err = poolRepo{v}.scan(row)
			return keep(err)
		})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("pgstore: read claim state: %w", dbError(ctx, err))
	}
	return &out, nil
}

// PoolClaim implements [pool.ClaimStore] in one round trip: a batch of
// two statements that PostgreSQL runs as one implicit transaction,
// committed when the batch ends. The first locks the holding and creates
// the counters if missing; the second locks the customer and the
// counters (in key order), checks the versions read and the counters'
// maxima, and only then updates holding, customer and counters and
// appends the ledger entry (one crm_events row that is its event too) and
// the idempotency record. A refused claim writes nothing but counters at
// 0, which a missing counter is anyway; any error rolls everything back.
//
// The batch commits by itself, so once it is sent its answer is awaited
// even if ctx ends. When ctx ends first, a cancel request asks the server
// to stop the batch: a batch stopped before its commit keeps nothing and
// PoolClaim returns the context's error; one already committed is reported
// stored. Only a lost answer (a broken connection) is
// [crm.ErrOutcomeUnknown].
func (s *Store) PoolClaim(ctx context.Context, w *pool.ClaimWrite) (pool.ClaimOutcome, error) {
	v := s.auto()
	out := pool.ClaimOutcome{Refused: -1}
	if err := v.check(ctx); err != nil {
		return out, fmt.Errorf("pgstore: claim: %w", err)
	}
	if err := w.Validate(ctx); err != nil {
		return out, err
	}
	h := w.Holding
	row, err := newEntryRow(ctx, w.Entry)
	if err != nil {
		return out, err
	}
	e := &row.e
	tenant := crm.TenantFrom(ctx)
	now := crm.StorageTime(s.clock.Now())
	keys := make([]string, len(w.Counters))
	maxes := make([]int64, len(w.Counters))
	for i, c := range w.Counters {
		keys[i], maxes[i] = c.Key, c.Max
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	args := append([]any{tenant, key(h.CustomerID), h.Version, w.CustomerVersion, now}, holdingValues(h)...)
	args = append(args, keys, maxes,
		key(e.ID), string(e.Op), row.typ, ref(e.ActorID), e.At, string(row.ev.Payload), row.rule(), e.IdempotencyKey)
	var reqKey string
	var reqActor ref
	if r := w.Request; r != nil {
		reqKey, reqActor = r.Key, ref(r.ActorID)
	}
	args = append(args, reqKey, reqActor, string(w.RequestHead), string(w.RequestTail))
	holdings, customers, counters := v.poolTable("crm_pool_holdings"), v.poolTable("crm_customers"), v.poolTable("crm_pool_counters")
	// The customer's placement as the Service decided it, in the last
	// three parameters.
	args = append(args, ref(w.Customer.OwnerID), ref(w.Customer.DepartmentID), ref(w.Customer.PoolID))
	placement := fmt.Sprintf("owner_id = $%d::uuid, department_id = $%d::uuid, pool_id = $%d::uuid", len(args)-2, len(args)-1, len(args))
	sql := "WITH h AS (SELECT version, owner_id FROM " + holdings + " WHERE tenant_id = $1 AND customer_id = $2 FOR UPDATE)," +
		" c AS (SELECT version FROM " + customers + " WHERE tenant_id = $1 AND id = $2 FOR UPDATE)," +
		" k AS (SELECT key, value FROM " + counters + " WHERE tenant_id = $1 AND key = ANY($21::text[]) ORDER BY key FOR UPDATE)," +
		" lim AS (SELECT u.ord, coalesce(k.value, 0) AS value FROM unnest($21::text[], $22::bigint[]) WITH ORDINALITY AS u(key, max, ord)" +
		" LEFT JOIN k ON k.key = u.key WHERE coalesce(k.value, 0) >= u.max)," +
		" ok AS (SELECT 1 FROM h, c WHERE h.version = $3 AND c.version = $4 AND NOT EXISTS (SELECT 1 FROM lim))," +
		" uh AS (UPDATE " + holdings + " SET pool_id = $6, owner_id = $7, owner_department_id = $8, locked = $9, dealt = $10," +
		" entered_at = $11, owned_since = $12, protected_until = $13, previous_owner_id = $14, previous_owner_until = $15," +
		" last_opportunity_at = $16, open_opportunity = $17, due_at = $18, due_reason = $19, due_rule_id = $20," +
		" version = version + 1, updated_at = $5 WHERE tenant_id = $1 AND customer_id = $2 AND EXISTS (SELECT 1 FROM ok) RETURNING created_at)," +
		" uc AS (UPDATE " + customers + " SET " + placement + ", version = version + 1, updated_at = $5" +
		" WHERE tenant_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM ok) RETURNING id)," +
		" uk AS (UPDATE " + counters + " SET value = value + 1 WHERE tenant_id = $1 AND key = ANY($21::text[]) AND EXISTS (SELECT 1 FROM ok) RETURNING key)," +
		// The entry and its event, one row; a repeated ID or request key
		// fails the statement (no ON CONFLICT), so nothing is kept.
		" l AS (INSERT INTO " + v.poolTable("crm_events") +
		" (id, seq, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload, ledger_op, ledger_rule, ledger_key)" +
		" SELECT $23::uuid, s.seq, $1, $25::text, 'customer', $2, $26::uuid, $27::timestamptz, " + entryPayloadSQL("$28::text", "s.seq") +
		", $24::text, $29::jsonb, $30::text FROM ok, (SELECT " + v.nextEventSeq() + " AS seq) AS s RETURNING seq)," +
		" r AS (INSERT INTO " + v.poolTable("crm_pool_requests") + " (tenant_id, key, op, customer_id, actor_id, result, created_at)" +
		" SELECT $1, $31::text, $24::text, $2, $32::uuid, ($33::text || l.seq::text || $34::text)::jsonb, $5 FROM l WHERE $31::text <> '' RETURNING 1)" +
		" SELECT (SELECT version FROM h), (SELECT owner_id FROM h), (SELECT version FROM c)," +
		" (SELECT ord FROM lim ORDER BY ord LIMIT 1), (SELECT value FROM lim ORDER BY ord LIMIT 1)," +
		" (SELECT created_at FROM uh), (SELECT seq FROM l)," +
		// Every write or none: anything else fails the statement, so the
		// transaction rolls back before its commit. (The cast of a text
		// that is no number is the error; it is built at run time so the
		// planner does not fold it.)
		" CASE WHEN (SELECT count(*) FROM uh) + (SELECT count(*) FROM uc) + (SELECT count(*) FROM l) +" +
		" (SELECT count(*) FROM uk) + (SELECT count(*) FROM r) NOT IN (0, 3 + cardinality($21::text[]) + ($31::text <> '')::int)" +
		" THEN ('pgstore: the claim statement stored part of the claim: ' || (SELECT count(*) FROM uk))::int END"
	var (
		hVersion, cVersion, refusedOrd, refusedValue, seq *int64
		owner                                             ref
		created                                           *time.Time
		partial                                           *int32
	)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, dbError(ctx, err))
	}
	defer conn.Release()
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, err)
	}
	b := &pgx.Batch{}
	// The holding first, as every unit of work locks it before counters
	// (the insert's condition locks it before the first row); then the
	// counters the claim checks, which must exist before the next
	// statement starts so that it can lock them (a missing counter is 0
	// either way): a counter row inserted here stays locked, so taking it
	// before the holding could deadlock with a unit of work that holds
	// the holding and adds to that counter. Without a holding there is
	// nothing to claim, and no counter is made.
	b.Queue("WITH h AS (SELECT 1 FROM "+holdings+" WHERE tenant_id = $1 AND customer_id = $2 FOR UPDATE)"+
		" INSERT INTO "+counters+" (tenant_id, key, value) SELECT $1, k, 0 FROM unnest($3::text[]) AS k"+
		" WHERE EXISTS (SELECT 1 FROM h) ORDER BY k ON CONFLICT DO NOTHING", tenant, key(h.CustomerID), sorted)
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&hVersion, &owner, &cVersion, &refusedOrd, &refusedValue, &created, &seq, &partial)
	})
	err = sendCommitting(ctx, conn, b)
	switch {
	case errors.Is(err, errStopped):
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, ctx.Err())
	case err != nil:
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, err)
	case hVersion == nil || *hVersion != h.Version || cVersion == nil || *cVersion != w.CustomerVersion:
		out.OwnerID = crm.ID(owner)
		return out, nil
	case refusedOrd != nil:
		out.Refused, out.Current = int(*refusedOrd-1), *refusedValue
		return out, nil
	case created == nil || seq == nil:
		// Not reachable: the statement fails rather than store part.
		return out, fmt.Errorf("pgstore: claim customer %s: the statement stored nothing without saying why", h.CustomerID)
	}
	if r := w.Request; r != nil {
		r.TenantID, r.CreatedAt = tenant, now
	}
	stored := normalisedHolding(*h)
	stored.TenantID, stored.Version, stored.CreatedAt, stored.UpdatedAt = tenant, h.Version+1, created.UTC(), now
	*h = stored
	e.Seq = *seq
	*w.Entry = *e
	out.Stored = true
	return out, nil
}

// errStopped reports a batch that a cancel request stopped before it
// committed: nothing was kept.
var errStopped = errors.New("pgstore: stopped by a cancel request")

// sendCommitting sends b, a batch without transaction control that the
// server runs as one implicit transaction and commits at its end, on conn,
// and waits for its answer whatever ctx says (up to commitTimeout). If ctx
// ends meanwhile it sends the server a cancel request: a batch the server
// stops (query_canceled) kept nothing, reported as errStopped; one that
// had committed is answered as usual. A connection that was sent a cancel
// request is closed, not reused: the request may reach the server after
// the batch ended. A lost answer is [crm.ErrOutcomeUnknown].
func sendCommitting(ctx context.Context, conn *pgxpool.Conn, b *pgx.Batch) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	pc := conn.Conn().PgConn()
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		_ = pc.CancelRequest(wctx)
	})
	err := conn.SendBatch(wctx, b).Close()
	if !stop() {
		<-done
		if !conn.Conn().IsClosed() {
			_ = conn.Conn().Close(wctx)
		}
		if queryCanceled(err) {
			return errStopped
		}
	}
	if err != nil {
		return commitError(wctx, err)
	}
	return nil
}
