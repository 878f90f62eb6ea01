package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

const ledgerCols = "id, seq, tenant_id, customer_id, op, from_owner, to_owner, from_pool, to_pool, reason, rule_id, rule, actor_id, at, idempotency_key"

func (r ledgerRepo) Append(ctx context.Context, e *pool.Entry) error {
	if err := r.v.check(ctx); err != nil {
		return opError(ctx, "append", "ledger entry", e.ID, err)
	}
	m := crm.Meta{TenantID: e.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	var rule any
	if len(e.Rule) > 0 {
		rule = []byte(e.Rule)
	}
	var seq int64
	err := r.v.q.QueryRow(ctx, "INSERT INTO "+r.v.poolTable("crm_pool_ledger")+
		" (id, tenant_id, customer_id, op, from_owner, to_owner, from_pool, to_pool, reason, rule_id, rule, actor_id, at, idempotency_key)"+
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING RETURNING seq",
		key(e.ID), m.TenantID, key(e.CustomerID), string(e.Op), ref(e.FromOwner), ref(e.ToOwner), ref(e.FromPool), ref(e.ToPool),
		e.Reason, e.RuleID, rule, ref(e.ActorID), crm.StorageTime(e.At), e.IdempotencyKey).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("%w: ledger entry %s", crm.ErrAlreadyExists, e.ID)
	}
	if err != nil {
		return opError(ctx, "append", "ledger entry", e.ID, err)
	}
	e.Seq, e.TenantID = seq, m.TenantID
	return nil
}

func (r ledgerRepo) List(ctx context.Context, customerID crm.ID, afterSeq int64, limit int) ([]*pool.Entry, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := r.v.check(ctx); err != nil {
		return nil, opError(ctx, "list", "ledger", customerID, err)
	}
	sql := "SELECT " + ledgerCols + " FROM " + r.v.poolTable("crm_pool_ledger") + " WHERE tenant_id = $1 AND seq > $2"
	args := []any{crm.TenantFrom(ctx), afterSeq, limit}
	if customerID != crm.NilID {
		sql += " AND customer_id = $4"
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
		var id, cust key
		var fromOwner, toOwner, fromPool, toPool, actor ref
		var op string
		var rule []byte
		if err := rows.Scan(&id, &e.Seq, &e.TenantID, &cust, &op, &fromOwner, &toOwner, &fromPool, &toPool,
			&e.Reason, &e.RuleID, &rule, &actor, &e.At, &e.IdempotencyKey); err != nil {
			return nil, opError(ctx, "list", "ledger", customerID, err)
		}
		e.ID, e.CustomerID, e.Op = crm.ID(id), crm.ID(cust), pool.Op(op)
		e.FromOwner, e.ToOwner, e.FromPool, e.ToPool, e.ActorID = crm.ID(fromOwner), crm.ID(toOwner), crm.ID(fromPool), crm.ID(toPool), crm.ID(actor)
		e.At = e.At.UTC()
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
// the ledger entries.
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
		custIDs, poolIDs, owners, depts, prevs                     = make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		holdVersions                                               = make([]int64, n)
		want                                                       = make(map[crm.ID]int64, n)
		locked, dealt, openOpp                                     = make([]bool, n), make([]bool, n), make([]bool, n)
		entered, owned, protected, prevUntil, lastOpp              = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		due                                                        = make([]pgtype.Timestamptz, n)
		dueReasons, dueRules                                       = make([]string, n), make([]string, n)
		entryIDs, fromOwners, toOwners, fromPools, toPools, actors = make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		ops, reasons, ruleIDs, keys                                = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ruleOrds                                                   = make([]pgtype.Int4, n)
		distinctRules                                              []string
		ats                                                        = make([]time.Time, n)
	)
	if err := pool.ValidateRecycleBatch(batch); err != nil {
		return err
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
		entryIDs[i], fromOwners[i], toOwners[i] = uuidOf(e.ID), uuidOf(e.FromOwner), uuidOf(e.ToOwner)
		fromPools[i], toPools[i], actors[i] = uuidOf(e.FromPool), uuidOf(e.ToPool), uuidOf(e.ActorID)
		ops[i], reasons[i], ruleIDs[i], keys[i] = string(e.Op), e.Reason, e.RuleID, e.IdempotencyKey
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
	// One statement for the batch: customers, holdings and ledger entries.
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
		// placement is $20 (owner, department, pool) when the whole batch
		// goes to one place (the usual case), else looked up by position
		// in $34; versions are checked by the caller.
		" uc AS (UPDATE " + customers + " AS c SET" +
		" owner_id = CASE WHEN $20::bool THEN ($34::uuid[])[1] ELSE ($34::uuid[])[array_position($3::uuid[], c.id)] END," +
		" department_id = CASE WHEN $20::bool THEN ($35::uuid[])[1] ELSE ($35::uuid[])[array_position($3::uuid[], c.id)] END," +
		" pool_id = CASE WHEN $20::bool THEN ($36::uuid[])[1] ELSE ($36::uuid[])[array_position($3::uuid[], c.id)] END," +
		" version = c.version + 1, updated_at = $2" +
		" WHERE c.tenant_id = $1 AND c.id = ANY($3::uuid[]) RETURNING c.id, c.version)," +
		" uh AS (UPDATE " + holdings + " AS h SET pool_id = u.pool_id, owner_id = u.owner_id," +
		" owner_department_id = u.dept, locked = u.locked, dealt = u.dealt, entered_at = u.entered_at," +
		" owned_since = u.owned_since, protected_until = u.protected_until, previous_owner_id = u.prev," +
		" previous_owner_until = u.prev_until, last_opportunity_at = u.last_opp, open_opportunity = u.open_opp," +
		" due_at = u.due_at, due_reason = u.due_reason, due_rule_id = u.due_rule, version = h.version + 1, updated_at = $2" +
		" FROM u WHERE h.tenant_id = $1 AND h.customer_id = ANY($3::uuid[]) AND h.customer_id = u.id AND h.version = u.version RETURNING 1)," +
		" ul AS (INSERT INTO " + v.poolTable("crm_pool_ledger") +
		" (id, tenant_id, customer_id, op, from_owner, to_owner, from_pool, to_pool, reason, rule_id, rule, actor_id, at, idempotency_key)" +
		" SELECT e.id, $1, e.customer_id, e.op, e.from_owner, e.to_owner, e.from_pool, e.to_pool, e.reason, e.rule_id, r.rule, e.actor_id, e.at, e.key" +
		" FROM unnest($21::uuid[], $3::uuid[], $22::text[], $23::uuid[], $24::uuid[], $25::uuid[], $26::uuid[], $27::text[], $28::text[]," +
		" $29::int[], $30::uuid[], $31::timestamptz[], $32::text[]) WITH ORDINALITY" +
		" AS e(id, customer_id, op, from_owner, to_owner, from_pool, to_pool, reason, rule_id, rule_ord, actor_id, at, key, ord)" +
		// Snapshots are parsed once per distinct rule, not once per entry.
		" LEFT JOIN (SELECT r.rule::jsonb AS rule, r.ord FROM unnest($33::text[]) WITH ORDINALITY AS r(rule, ord)) AS r ON r.ord = e.rule_ord" +
		" ORDER BY e.ord RETURNING id, seq)" +
		" SELECT (SELECT array_agg(id) FROM uc), (SELECT array_agg(version) FROM uc), (SELECT count(*) FROM uh)," +
		" (SELECT array_agg(id) FROM ul), (SELECT array_agg(seq) FROM ul)"
	err := v.atomic(ctx, func(q pgx.Tx) error {
		var changedHoldings int64
		var customerIDs, stored []key
		var customerVersions, seqs []int64
		err := q.QueryRow(ctx, sql, tenant, now, custIDs, holdVersions, poolIDs, owners, depts, locked, dealt, entered, owned, protected,
			prevs, prevUntil, lastOpp, openOpp, due, dueReasons, dueRules, onePlace,
			entryIDs, ops, fromOwners, toOwners, fromPools, toPools, reasons, ruleIDs, ruleOrds, actors, ats, keys, distinctRules,
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
			return fmt.Errorf("%d of %d ledger entries stored", len(stored), n)
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

// PoolAppendEvents implements [pool.BatchTx]: the events are validated as
// [crm.EventWriter.Append] does and stored by one INSERT over unnest()ed
// arrays, instead of one INSERT each.
func (v view) PoolAppendEvents(ctx context.Context, events []*crm.Event) error {
	if err := v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: append events: %w", err)
	}
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		ids, subjects, actors        = make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		tenants, types, subjectTypes = make([]string, n), make([]string, n), make([]string, n)
		payloads                     = make([]pgtype.Text, n)
		occurred                     = make([]time.Time, n)
		prepared                     = make([]crm.Event, n)
		seen                         = make(map[crm.ID]struct{}, n)
	)
	for i, e := range events {
		if e == nil {
			return crm.Invalid(fmt.Sprintf("events[%d]", i), "is nil")
		}
		c, err := crm.StorableEvent(ctx, e)
		if err != nil {
			return err
		}
		if _, dup := seen[c.ID]; dup {
			return fmt.Errorf("pgstore: append event %s: %w", c.ID, crm.ErrAlreadyExists)
		}
		seen[c.ID] = struct{}{}
		prepared[i] = c
		ids[i], subjects[i], actors[i] = uuidOf(c.ID), uuidOf(c.Subject.ID), uuidOf(c.ActorID)
		tenants[i], types[i], subjectTypes[i] = c.TenantID, string(c.Type), string(c.Subject.Type)
		payloads[i] = pgtype.Text{String: string(c.Payload), Valid: len(c.Payload) > 0}
		occurred[i] = c.OccurredAt
	}
	seqs := make(map[crm.ID]int64, n)
	err := v.atomic(ctx, func(q pgx.Tx) error {
		// ON CONFLICT DO NOTHING turns a repeated ID into a missing row
		// rather than an error that would abort the caller's transaction.
		rows, err := q.Query(ctx, "INSERT INTO "+v.poolTable("crm_events")+
			" (id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload)"+
			" SELECT u.id, u.tenant_id, u.type, u.subject_type, u.subject_id, u.actor_id, u.occurred_at, u.payload::json"+
			" FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::timestamptz[], $8::text[]) WITH ORDINALITY"+
			" AS u(id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload, ord)"+
			" ORDER BY u.ord ON CONFLICT DO NOTHING RETURNING id, seq",
			ids, tenants, types, subjectTypes, subjects, actors, occurred, payloads)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id key
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				rows.Close()
				return err
			}
			seqs[crm.ID(id)] = seq
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(seqs) != n {
			return fmt.Errorf("%d of %d event IDs already stored: %w", n-len(seqs), n, crm.ErrAlreadyExists)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: append events: %w", dbError(ctx, err))
	}
	for i, e := range events {
		e.Seq, e.TenantID, e.OccurredAt = seqs[e.ID], prepared[i].TenantID, prepared[i].OccurredAt
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

// PoolClaim implements [pool.ClaimStore] in two round trips: first, in one
// transaction, the holding is locked, the counters are created if missing,
// then one statement locks the customer and the counters (in key order),
// checks the versions read and the counters' maxima, and only then updates
// holding, customer and counters and appends the ledger entry, the event
// and the idempotency record; second, COMMIT (or ROLLBACK when the claim
// was refused). Nothing is kept unless everything is. When ctx ends before
// COMMIT is sent nothing is kept; once it is sent its answer is awaited,
// and only a lost answer is [crm.ErrOutcomeUnknown].
func (s *Store) PoolClaim(ctx context.Context, w *pool.ClaimWrite) (pool.ClaimOutcome, error) {
	v := s.auto()
	out := pool.ClaimOutcome{Refused: -1}
	if err := v.check(ctx); err != nil {
		return out, fmt.Errorf("pgstore: claim: %w", err)
	}
	if err := w.Validate(ctx); err != nil {
		return out, err
	}
	h, e, ev := w.Holding, w.Entry, w.Event
	tenant := crm.TenantFrom(ctx)
	now := crm.StorageTime(s.clock.Now())
	keys := make([]string, len(w.Counters))
	maxes := make([]int64, len(w.Counters))
	for i, c := range w.Counters {
		keys[i], maxes[i] = c.Key, c.Max
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	var rule any
	if len(e.Rule) > 0 {
		rule = []byte(e.Rule)
	}
	occurred := crm.StorageTime(ev.OccurredAt)
	args := append([]any{tenant, key(h.CustomerID), h.Version, w.CustomerVersion, now}, holdingValues(h)...)
	args = append(args, keys, maxes,
		key(e.ID), string(e.Op), ref(e.FromOwner), ref(e.ToOwner), ref(e.FromPool), ref(e.ToPool), e.Reason, e.RuleID, rule,
		ref(e.ActorID), crm.StorageTime(e.At), e.IdempotencyKey,
		key(ev.ID), ev.Type, string(ev.Subject.Type), ref(ev.ActorID), occurred, string(ev.Payload), pool.PayloadSeqOffset)
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
		" l AS (INSERT INTO " + v.poolTable("crm_pool_ledger") +
		" (id, tenant_id, customer_id, op, from_owner, to_owner, from_pool, to_pool, reason, rule_id, rule, actor_id, at, idempotency_key)" +
		" SELECT $23::uuid, $1, $2, $24::text, $25::uuid, $26::uuid, $27::uuid, $28::uuid, $29::text, $30::text, $31::jsonb, $32::uuid, $33::timestamptz, $34::text" +
		" FROM ok RETURNING seq)," +
		" e AS (INSERT INTO " + v.poolTable("crm_events") + " (id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload)" +
		" SELECT $35::uuid, $1, $36::text, $37::text, $2, $38::uuid, $39::timestamptz, (left($40::text, $41::int) || l.seq::text || substr($40::text, $41::int + 2))::json FROM l RETURNING seq)," +
		" r AS (INSERT INTO " + v.poolTable("crm_pool_requests") + " (tenant_id, key, op, customer_id, actor_id, result, created_at)" +
		" SELECT $1, $42::text, $24::text, $2, $43::uuid, ($44::text || l.seq::text || $45::text)::jsonb, $5 FROM l WHERE $42::text <> '' RETURNING 1)" +
		" SELECT (SELECT version FROM h), (SELECT owner_id FROM h), (SELECT version FROM c)," +
		" (SELECT ord FROM lim ORDER BY ord LIMIT 1), (SELECT value FROM lim ORDER BY ord LIMIT 1)," +
		" (SELECT created_at FROM uh), (SELECT seq FROM l), (SELECT seq FROM e), (SELECT count(*) FROM uc), (SELECT count(*) FROM uk)," +
		" (SELECT count(*) FROM r)"
	var (
		hVersion, cVersion, refusedOrd, refusedValue, seq, evSeq *int64
		owner                                                    ref
		created                                                  *time.Time
		customersDone, countersDone, requestsDone                int64
	)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, dbError(ctx, err))
	}
	defer conn.Release()
	// An explicit transaction, begun in the same round trip: if ctx ends
	// while the statements run, no COMMIT was sent and nothing is kept
	// (the connection is closed or rolled back); the COMMIT itself is
	// awaited even if ctx ends (commit), so the outcome is never open
	// because of an ended context.
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	// The holding first, as every unit of work locks it before counters;
	// then the counters the claim checks, which must exist before the
	// statement starts so that it can lock them (a missing counter is 0
	// either way): a counter row inserted here stays locked, so taking it
	// before the holding could deadlock with a unit of work that holds
	// the holding and adds to that counter.
	b.Queue("SELECT 1 FROM "+holdings+" WHERE tenant_id = $1 AND customer_id = $2 FOR UPDATE", tenant, key(h.CustomerID))
	b.Queue("INSERT INTO "+counters+" (tenant_id, key, value) SELECT $1, k, 0 FROM unnest($2::text[]) AS k ORDER BY k ON CONFLICT DO NOTHING", tenant, sorted)
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&hVersion, &owner, &cVersion, &refusedOrd, &refusedValue, &created, &seq, &evSeq, &customersDone, &countersDone, &requestsDone)
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn.Conn())
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, dbError(ctx, err))
	}
	switch {
	case hVersion == nil || *hVersion != h.Version || cVersion == nil || *cVersion != w.CustomerVersion:
		rollback(ctx, conn.Conn())
		out.OwnerID = crm.ID(owner)
		return out, nil
	case refusedOrd != nil:
		rollback(ctx, conn.Conn())
		out.Refused, out.Current = int(*refusedOrd-1), *refusedValue
		return out, nil
	case created == nil || seq == nil || evSeq == nil || customersDone != 1 || countersDone != int64(len(w.Counters)) ||
		(w.Request != nil) != (requestsDone == 1):
		rollback(ctx, conn.Conn())
		return out, fmt.Errorf("pgstore: claim customer %s: the statement stored part of the claim", h.CustomerID)
	}
	if err := ctx.Err(); err != nil {
		rollback(ctx, conn.Conn())
		return out, fmt.Errorf("pgstore: claim customer %s: %w", h.CustomerID, err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tag, err := conn.Exec(cctx, "COMMIT")
	if err == nil && tag.String() != "COMMIT" {
		err = pgx.ErrTxCommitRollback
	}
	if err != nil {
		if !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			_ = conn.Conn().Close(cctx)
		}
		return out, fmt.Errorf("pgstore: claim customer %s: commit: %w", h.CustomerID, commitError(cctx, err))
	}
	if r := w.Request; r != nil {
		r.TenantID, r.CreatedAt = tenant, now
	}
	stored := normalisedHolding(*h)
	stored.TenantID, stored.Version, stored.CreatedAt, stored.UpdatedAt = tenant, h.Version+1, created.UTC(), now
	*h = stored
	e.Seq, e.TenantID, e.At = *seq, tenant, crm.StorageTime(e.At)
	payload, _ := pool.SetPayloadSeq(ev.Payload, *seq) // checked above
	ev.Seq, ev.TenantID, ev.OccurredAt, ev.Payload = *evSeq, tenant, occurred, payload
	out.Stored = true
	return out, nil
}

// rollback ends the transaction open on conn after a failed or refused
// claim, whatever ctx says; a connection it cannot roll back is closed, so
// the server rolls back. A connection that pgx closed (because ctx ended)
// left nothing committed: COMMIT was never sent.
func rollback(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
		_ = conn.Close(rctx)
	}
}
