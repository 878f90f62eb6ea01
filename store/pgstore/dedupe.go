package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

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

// Lookup implements [dedupe.KeyStore]: the records of every key, as
// LookupEach finds them, once each and in ID order.
func (r dedupeKeyRepo) Lookup(ctx context.Context, keys []dedupe.Key, perKey int) ([]crm.ID, error) {
	if err := dedupe.ValidateLookup(keys, perKey); err != nil {
		return nil, err
	}
	each, err := r.lookupEach(ctx, keys, perKey)
	if err != nil {
		return nil, err
	}
	var out []crm.ID
	seen := map[crm.ID]bool{}
	for _, ids := range each {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	slices.SortFunc(out, func(a, b crm.ID) int { return bytes.Compare(a[:], b[:]) })
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

var _ dedupe.BulkKeyStore = dedupeKeyRepo{}

// LookupEach implements [dedupe.BulkKeyStore]: Lookup's backward scan per
// key, every key in one query.
func (r dedupeKeyRepo) LookupEach(ctx context.Context, keys []dedupe.Key, perKey int) (map[dedupe.Key][]crm.ID, error) {
	if err := dedupe.ValidateBulkLookup(keys, perKey); err != nil {
		return nil, err
	}
	return r.lookupEach(ctx, keys, perKey)
}

// lookupEach probes the primary key backwards once per distinct key, cut
// at perKey rows, all keys in one query.
func (r dedupeKeyRepo) lookupEach(ctx context.Context, keys []dedupe.Key, perKey int) (map[dedupe.Key][]crm.ID, error) {
	const op = "look up dedupe keys"
	if err := r.v.check(ctx); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	out := map[dedupe.Key][]crm.ID{}
	if len(keys) == 0 {
		return out, nil
	}
	// A key asked for twice is looked up once.
	kinds := make([]string, 0, len(keys))
	values := make([]string, 0, len(keys))
	seen := make(map[dedupe.Key]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			kinds, values = append(kinds, k.Kind), append(values, k.Value)
		}
	}
	rows, err := r.v.q.Query(ctx, "SELECT k.kind, k.key, p.record_id FROM unnest($2::text[], $3::text[]) AS k(kind, key)"+
		" CROSS JOIN LATERAL (SELECT record_id FROM "+r.table()+
		" WHERE tenant_id = $1 AND kind = k.kind AND key = k.key ORDER BY record_id DESC LIMIT $4) p",
		crm.TenantFrom(ctx), kinds, values, perKey)
	if err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k dedupe.Key
		var id key
		if err := rows.Scan(&k.Kind, &k.Value, &id); err != nil {
			return nil, dedupeFail(ctx, op, err)
		}
		out[k] = append(out[k], crm.ID(id))
	}
	if err := rows.Err(); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	return out, nil
}

// Holders implements [dedupe.BulkKeyStore].
func (r dedupeKeyRepo) Holders(ctx context.Context, strong []string) (map[string]crm.ID, error) {
	const op = "find holders of strong keys"
	if len(strong) > dedupe.MaxBulkKeys {
		return nil, crm.Invalid("strong", "at most %d keys, got %d", dedupe.MaxBulkKeys, len(strong))
	}
	if err := r.v.check(ctx); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	out := map[string]crm.ID{}
	if len(strong) == 0 {
		return out, nil
	}
	// One probe of the unique strong-key index per key, whatever the
	// statistics say: the kind is written out so the partial index
	// serves, and OFFSET 0 keeps the subquery from being flattened into a
	// join that a plan made while an import's first batches fill an empty
	// table would run as a scan of the tenant's keys per call.
	rows, err := r.v.q.Query(ctx, "SELECT h.key, h.record_id FROM unnest($2::text[]) AS s(key)"+
		" CROSS JOIN LATERAL (SELECT key, record_id FROM "+r.table()+" WHERE tenant_id = $1 AND kind = '"+dedupe.StrongKind+"' AND key = s.key OFFSET 0) h",
		crm.TenantFrom(ctx), strong)
	if err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var id key
		if err := rows.Scan(&k, &id); err != nil {
			return nil, dedupeFail(ctx, op, err)
		}
		out[k] = crm.ID(id)
	}
	if err := rows.Err(); err != nil {
		return nil, dedupeFail(ctx, op, err)
	}
	return out, nil
}

// PutNew implements [dedupe.BulkKeyStore]: the strong keys are claimed in
// one insert, then the other keys loaded with COPY; a record that already
// holds one of them fails it with a unique violation
// ([crm.ErrAlreadyExists]) that aborts the unit of work.
func (r dedupeKeyRepo) PutNew(ctx context.Context, keys []*dedupe.RecordKeys) error {
	const op = "put dedupe keys"
	if len(keys) > crm.MaxBulk {
		return crm.Invalid("keys", "at most %d key sets, got %d", crm.MaxBulk, len(keys))
	}
	var strongs []string
	var holders []crm.ID
	var kinds, values []string
	var owners []crm.ID
	for i, k := range keys {
		if k == nil {
			return crm.Invalid(fmt.Sprintf("keys[%d]", i), "is required")
		}
		if err := k.Validate(); err != nil {
			var p crm.Problems
			p.MergeAt(fmt.Sprintf("keys[%d]", i), err)
			return p.Err()
		}
		if k.Strong != "" {
			strongs, holders = append(strongs, k.Strong), append(holders, k.RecordID)
		}
		seen := make(map[dedupe.Key]bool, len(k.Keys))
		for _, kk := range k.Keys {
			if !seen[kk] {
				seen[kk] = true
				kinds, values, owners = append(kinds, kk.Kind), append(values, kk.Value), append(owners, k.RecordID)
			}
		}
	}
	if err := r.v.check(ctx); err != nil {
		return dedupeFail(ctx, op, err)
	}
	tenant := crm.TenantFrom(ctx)
	err := r.v.atomic(ctx, func(q pgx.Tx) error {
		if len(strongs) > 0 {
			rows, err := q.Query(ctx, "INSERT INTO "+r.table()+" (tenant_id, kind, key, record_id)"+
				" SELECT $1, $2, s.key, s.record_id FROM unnest($3::text[], $4::uuid[]) AS s(key, record_id)"+
				" ON CONFLICT (tenant_id, key) WHERE kind = '"+dedupe.StrongKind+"' DO NOTHING RETURNING key",
				tenant, dedupe.StrongKind, strongs, uuidArray(holders))
			if err != nil {
				return err
			}
			claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if len(claimed) < len(strongs) {
				return r.taken(ctx, q, tenant, strongs, holders, claimed)
			}
		}
		// The records hold no keys yet (a repeated key of one record
		// was left out above): COPY loads them several times faster than
		// an insert.
		_, err := q.CopyFrom(ctx, pgx.Identifier{r.v.s.schema, "crm_dedupe_keys"}, []string{"tenant_id", "kind", "key", "record_id"},
			pgx.CopyFromSlice(len(kinds), func(i int) ([]any, error) {
				return []any{tenant, kinds[i], values[i], key(owners[i])}, nil
			}))
		return err
	})
	if err != nil {
		return dedupeFail(ctx, op, err)
	}
	return nil
}

// taken returns the [*dedupe.KeyTakenError] of the first strong key of
// strongs that was not claimed.
func (r dedupeKeyRepo) taken(ctx context.Context, q pgx.Tx, tenant string, strongs []string, holders []crm.ID, claimed []string) error {
	got := make(map[string]bool, len(claimed))
	for _, k := range claimed {
		got[k] = true
	}
	for i, k := range strongs {
		if got[k] {
			got[k] = false // a repeated key is claimed once
			continue
		}
		var holder key
		err := q.QueryRow(ctx, "SELECT record_id FROM "+r.table()+" WHERE tenant_id = $1 AND kind = $2 AND key = $3",
			tenant, dedupe.StrongKind, k).Scan(&holder)
		if err != nil {
			return err
		}
		if crm.ID(holder) != holders[i] {
			return &dedupe.KeyTakenError{Key: k, HolderID: crm.ID(holder)}
		}
	}
	return fmt.Errorf("strong keys changed hands during the write: %w", crm.ErrConflict)
}
