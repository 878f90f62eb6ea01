package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/importer"
)

// This file implements the optional storage port of imports
// ([importer.Tx]) over the table of migration 0026_imports. Put inserts
// with ON CONFLICT DO NOTHING, which waits for a concurrent unit of work
// inserting the same external ID and then inserts nothing if that one
// committed; a clash therefore never aborts the caller's transaction.

var _ importer.Tx = view{}

// ExternalIDs implements [importer.Tx].
func (v view) ExternalIDs() importer.ExternalIDs { return externalIDRepo{v} }

type externalIDRepo struct{ v view }

func (r externalIDRepo) table() string {
	return pgx.Identifier{r.v.s.schema, "crm_external_ids"}.Sanitize()
}

// importFail wraps err as "pgstore: <op>: err" after translating it;
// validation errors and taken IDs pass unchanged.
func importFail(ctx context.Context, op string, err error) error {
	var ve *crm.ValidationError
	var taken *importer.ExternalIDTakenError
	if errors.As(err, &ve) || errors.As(err, &taken) {
		return err
	}
	return fmt.Errorf("pgstore: %s: %w", op, dbError(ctx, err))
}

func (r externalIDRepo) Lookup(ctx context.Context, source string, ids []string) (map[string]importer.Mapping, error) {
	const op = "look up external IDs"
	if err := importer.ValidateLookup(source, ids); err != nil {
		return nil, err
	}
	if err := r.v.check(ctx); err != nil {
		return nil, importFail(ctx, op, err)
	}
	out := make(map[string]importer.Mapping, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// One primary key probe per ID, whatever the statistics say: a plan
	// made while an import's first batches fill an empty table would scan
	// it once per batch for ever after. OFFSET 0 keeps the subquery from
	// being flattened into such a join.
	rows, err := r.v.q.Query(ctx, "SELECT t.external_id, t.customer_id, t.digest FROM unnest($3::text[]) AS x(id)"+
		" CROSS JOIN LATERAL (SELECT external_id, customer_id, digest FROM "+r.table()+
		" WHERE tenant_id = $1 AND source = $2 AND external_id = x.id OFFSET 0) t", crm.TenantFrom(ctx), source, ids)
	if err != nil {
		return nil, importFail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, digest string
		var c key
		if err := rows.Scan(&id, &c, &digest); err != nil {
			return nil, importFail(ctx, op, err)
		}
		out[id] = importer.Mapping{CustomerID: crm.ID(c), Digest: digest}
	}
	if err := rows.Err(); err != nil {
		return nil, importFail(ctx, op, err)
	}
	return out, nil
}

func (r externalIDRepo) Put(ctx context.Context, source, id string, m importer.Mapping) error {
	const op = "put external ID"
	if err := importer.ValidatePut(source, id, m); err != nil {
		return err
	}
	if err := r.v.check(ctx); err != nil {
		return importFail(ctx, op, err)
	}
	tenant := crm.TenantFrom(ctx)
	err := r.v.atomic(ctx, func(q pgx.Tx) error {
		// The holder may delete its row between the INSERT and the
		// SELECT; the next INSERT then succeeds.
		for range 3 {
			tag, err := q.Exec(ctx, "INSERT INTO "+r.table()+" (tenant_id, source, external_id, customer_id, digest) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
				tenant, source, id, key(m.CustomerID), m.Digest)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				return nil
			}
			var held key
			err = q.QueryRow(ctx, "SELECT customer_id FROM "+r.table()+" WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
				tenant, source, id).Scan(&held)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				continue
			case err != nil:
				return err
			case crm.ID(held) == m.CustomerID:
				_, err := q.Exec(ctx, "UPDATE "+r.table()+" SET digest = $4 WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
					tenant, source, id, m.Digest)
				return err
			}
			return &importer.ExternalIDTakenError{Source: source, ExternalID: id, CustomerID: crm.ID(held)}
		}
		return fmt.Errorf("external ID changed hands repeatedly: %w", crm.ErrConflict)
	})
	if err != nil {
		return importFail(ctx, op, err)
	}
	return nil
}

func (r externalIDRepo) Delete(ctx context.Context, source, id string) error {
	const op = "delete external ID"
	if err := r.v.check(ctx); err != nil {
		return importFail(ctx, op, err)
	}
	if _, err := r.v.q.Exec(ctx, "DELETE FROM "+r.table()+" WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
		crm.TenantFrom(ctx), source, id); err != nil {
		return importFail(ctx, op, err)
	}
	return nil
}

var _ importer.BulkExternalIDs = externalIDRepo{}

// PutMany implements [importer.BulkExternalIDs]: one upsert that replaces
// the digest only where the ID names the same customer; an ID it left as
// it was names another customer, and the call is rolled back to a
// savepoint, so the caller's unit of work keeps nothing of it and can go
// on.
func (r externalIDRepo) PutMany(ctx context.Context, source string, ids []string, ms []importer.Mapping) error {
	const op = "put external IDs"
	if err := importer.ValidatePutMany(source, ids, ms); err != nil {
		return err
	}
	if err := r.v.check(ctx); err != nil {
		return importFail(ctx, op, err)
	}
	if len(ids) == 0 {
		return nil
	}
	tenant := crm.TenantFrom(ctx)
	custs := make([]crm.ID, len(ms))
	digests := make([]string, len(ms))
	for i, m := range ms {
		custs[i], digests[i] = m.CustomerID, m.Digest
	}
	err := r.v.atomic(ctx, func(tx pgx.Tx) error {
		// A savepoint, so a refused call keeps nothing of itself even in a
		// unit of work that goes on.
		q, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = q.Rollback(ctx) }()
		rows, err := q.Query(ctx, "INSERT INTO "+r.table()+" AS t (tenant_id, source, external_id, customer_id, digest)"+
			" SELECT $1, $2, x.id, x.customer_id, x.digest FROM unnest($3::text[], $4::uuid[], $5::text[]) AS x(id, customer_id, digest)"+
			" ON CONFLICT (tenant_id, source, external_id) DO UPDATE SET digest = EXCLUDED.digest WHERE t.customer_id = EXCLUDED.customer_id"+
			" RETURNING external_id", tenant, source, ids, uuidArray(custs), digests)
		if err != nil {
			return err
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(done) == len(ids) {
			return q.Commit(ctx)
		}
		stored := make(map[string]bool, len(done))
		for _, id := range done {
			stored[id] = true
		}
		for _, id := range ids {
			if stored[id] {
				continue
			}
			var held key
			err := q.QueryRow(ctx, "SELECT customer_id FROM "+r.table()+" WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
				tenant, source, id).Scan(&held)
			if errors.Is(err, pgx.ErrNoRows) {
				// Its holder deleted it since the upsert: try again.
				return fmt.Errorf("external ID %q changed hands during the write: %w", id, crm.ErrConflict)
			}
			if err != nil {
				return err
			}
			return &importer.ExternalIDTakenError{Source: source, ExternalID: id, CustomerID: crm.ID(held)}
		}
		return q.Commit(ctx)
	})
	if err != nil {
		return importFail(ctx, op, err)
	}
	return nil
}
