package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
)

// This file implements the storage port of package dedupe ([dedupe.Tx])
// over the table of migration 0006_dedupe. A record's strong key is a row of
// kind 'strong' under a partial unique index. Put claims it first with
// INSERT ... ON CONFLICT DO NOTHING, which waits for a concurrent unit of
// work inserting the same key and then inserts nothing if that one
// committed; a clash therefore never aborts the caller's transaction, and
// nothing else is written before the strong key is secured.

var _ dedupe.Tx = view{}

// DedupeKeys implements [dedupe.Tx].
func (v view) DedupeKeys() dedupe.KeyStore { return dedupeKeyRepo{v} }

type dedupeKeyRepo struct{ v view }

func (r dedupeKeyRepo) table() string {
	return pgx.Identifier{r.v.s.schema, "crm_dedupe_keys"}.Sanitize()
}

// dedupeFail wraps err as "pgstore: <op>: err" after translating it;
// validation errors and taken keys pass unchanged.
func dedupeFail(ctx context.Context, op string, err error) error {
	var ve *crm.ValidationError
	var taken *dedupe.KeyTakenError
	if errors.As(err, &ve) || errors.As(err, &taken) {
		return err
	}
	return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
}

func (r dedupeKeyRepo) Put(ctx context.Context, keys *dedupe.RecordKeys) error {
	if keys == nil {
		return fmt.Errorf("pgstore: put dedupe keys: %w", crm.Invalid("keys", "is required"))
	}
	op := "put dedupe keys of " + keys.RecordID.String()
	if err := r.v.check(ctx); err != nil {
		return dedupeFail(ctx, op, err)
	}
	if err := keys.Validate(); err != nil {
		return err
	}
	tenant := crm.TenantFrom(ctx)
	kinds := make([]string, len(keys.Keys))
	values := make([]string, len(keys.Keys))
	for i, k := range keys.Keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	err := r.v.atomic(ctx, func(q pgx.Tx) error {
		if keys.Strong != "" {
			if err := r.claimStrong(ctx, q, tenant, keys); err != nil {
				return err
			}
		}
		// The strong key just claimed ('' when none, which no row has)
		// stays; every other key of the record goes.
		if _, err := q.Exec(ctx, "DELETE FROM "+r.table()+" WHERE tenant_id = $1 AND record_id = $2 AND NOT (kind = $3 AND key = $4)",
			tenant, key(keys.RecordID), dedupe.StrongKind, keys.Strong); err != nil {
			return err
		}
		if len(kinds) == 0 {
			return nil
		}
		_, err := q.Exec(ctx, "INSERT INTO "+r.table()+" (tenant_id, kind, key, record_id)"+
			" SELECT $1, k.kind, k.key, $2 FROM unnest($3::text[], $4::text[]) AS k(kind, key) ON CONFLICT DO NOTHING",
			tenant, key(keys.RecordID), kinds, values)
		return err
	})
	if err != nil {
		return dedupeFail(ctx, op, err)
	}
	return nil
}

// claimStrong makes keys.RecordID the holder of keys.Strong, or returns a
// [*dedupe.KeyTakenError] naming the record that holds it.
func (r dedupeKeyRepo) claimStrong(ctx context.Context, q pgx.Tx, tenant string, keys *dedupe.RecordKeys) error {
	// A holder may delete its key between the INSERT and the SELECT; the
	// next INSERT then succeeds, so a few rounds always settle it.
	for range 3 {
		tag, err := q.Exec(ctx, "INSERT INTO "+r.table()+" (tenant_id, kind, key, record_id) VALUES ($1, $2, $3, $4)"+
			" ON CONFLICT (tenant_id, key) WHERE kind = '"+dedupe.StrongKind+"' DO NOTHING",
			tenant, dedupe.StrongKind, keys.Strong, key(keys.RecordID))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var holder key
		err = q.QueryRow(ctx, "SELECT record_id FROM "+r.table()+" WHERE tenant_id = $1 AND kind = $2 AND key = $3",
			tenant, dedupe.StrongKind, keys.Strong).Scan(&holder)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue
		case err != nil:
			return err
		case crm.ID(holder) == keys.RecordID:
			return nil
		}
		return &dedupe.KeyTakenError{Key: keys.Strong, HolderID: crm.ID(holder)}
	}
	return fmt.Errorf("strong key changed hands repeatedly: %w", crm.ErrConflict)
}

func (r dedupeKeyRepo) Get(ctx context.Context, id crm.ID) (*dedupe.RecordKeys, error) {
	op := "get dedupe keys of " + id.String()
	if err := r.v.check(ctx); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	// COLLATE "C" orders by bytes, as Go and memstore do.
	rows, err := r.v.q.Query(ctx, "SELECT kind, key FROM "+r.table()+
		` WHERE tenant_id = $1 AND record_id = $2 ORDER BY kind COLLATE "C", key COLLATE "C"`,
		crm.TenantFrom(ctx), key(id))
	if err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	defer rows.Close()
	out := &dedupe.RecordKeys{RecordID: id}
	found := false
	for rows.Next() {
		var k dedupe.Key
		if err := rows.Scan(&k.Kind, &k.Value); err != nil {
			return nil, dedupeFail(ctx, op, err)
		}
		found = true
		if k.Kind == dedupe.StrongKind {
			out.Strong = k.Value
			continue
		}
		out.Keys = append(out.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	if !found {
		return nil, fmt.Errorf("pgstore: %s: %w", op, crm.ErrNotFound)
	}
	return out, nil
}

func (r dedupeKeyRepo) Delete(ctx context.Context, id crm.ID) error {
	op := "delete dedupe keys of " + id.String()
	if err := r.v.check(ctx); err != nil {
		return dedupeFail(ctx, op, err)
	}
	if _, err := r.v.q.Exec(ctx, "DELETE FROM "+r.table()+" WHERE tenant_id = $1 AND record_id = $2", crm.TenantFrom(ctx), key(id)); err != nil {
		return dedupeFail(ctx, op, err)
	}
	return nil
}

func (r dedupeKeyRepo) Lookup(ctx context.Context, keys []dedupe.Key, perKey int) ([]crm.ID, error) {
	const op = "look up dedupe keys"
	if err := dedupe.ValidateLookup(keys, perKey); err != nil {
		return nil, err
	}
	if err := r.v.check(ctx); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	kinds := make([]string, len(keys))
	values := make([]string, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	// One backward scan of the primary key per key, cut at perKey rows.
	rows, err := r.v.q.Query(ctx, "SELECT DISTINCT p.record_id FROM unnest($2::text[], $3::text[]) AS k(kind, key)"+
		" CROSS JOIN LATERAL (SELECT record_id FROM "+r.table()+
		" WHERE tenant_id = $1 AND kind = k.kind AND key = k.key ORDER BY record_id DESC LIMIT $4) p ORDER BY p.record_id",
		crm.TenantFrom(ctx), kinds, values, perKey)
	if err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	defer rows.Close()
	var out []crm.ID
	for rows.Next() {
		var id key
		if err := rows.Scan(&id); err != nil {
			return nil, dedupeFail(ctx, op, err)
		}
		out = append(out, crm.ID(id))
	}
	if err := rows.Err(); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	return out, nil
}

func (r dedupeKeyRepo) Holder(ctx context.Context, strong string) (crm.ID, error) {
	const op = "find holder of strong key"
	if err := r.v.check(ctx); err != nil {
		return crm.NilID, dedupeFail(ctx, op, err)
	}
	var holder key
	err := r.v.q.QueryRow(ctx, "SELECT record_id FROM "+r.table()+" WHERE tenant_id = $1 AND kind = $2 AND key = $3",
		crm.TenantFrom(ctx), dedupe.StrongKind, strong).Scan(&holder)
	if err != nil {
		return crm.NilID, dedupeFail(ctx, op, err)
	}
	return crm.ID(holder), nil
}
