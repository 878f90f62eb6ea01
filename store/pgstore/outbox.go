package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
)

type eventStatements struct {
	insert, exists, pending, ack string
}

func newEventStatements(events string) eventStatements {
	const cols = "id, seq, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload"
	return eventStatements{
		insert: "INSERT INTO " + events + " (id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload)" +
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
		exists:  "SELECT id FROM " + events + " WHERE id = ANY($1::uuid[]) LIMIT 1",
		pending: "SELECT " + cols + " FROM " + events + " WHERE acked_at IS NULL ORDER BY seq LIMIT $1",
		ack:     "UPDATE " + events + " SET acked_at = $2 WHERE id = ANY($1::uuid[]) AND acked_at IS NULL",
	}
}

type eventWriter struct{ v view }

// Append implements [crm.EventWriter]: one batch of inserts, each returning
// the event's Seq.
func (w eventWriter) Append(ctx context.Context, events ...*crm.Event) error {
	if err := w.v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: append events: %w", err)
	}
	if len(events) == 0 {
		return nil
	}
	prepared := make([]crm.Event, len(events))
	ids := make([]crm.ID, len(events))
	for i, e := range events {
		if e == nil {
			return crm.Invalid("events["+strconv.Itoa(i)+"]", "is nil")
		}
		c, err := crm.StorableEvent(ctx, e)
		if err != nil {
			return err
		}
		if slices.Contains(ids[:i], c.ID) {
			return fmt.Errorf("pgstore: append event %s: %w", c.ID, crm.ErrAlreadyExists)
		}
		prepared[i], ids[i] = c, c.ID
	}
	sql := w.v.s.sql.events
	// In a transaction of its own outside a unit of work, so the events are
	// stored all or none.
	err := w.v.atomic(ctx, func(tx pgx.Tx) error {
		// Checked first so that a repeated ID is reported without aborting
		// the caller's transaction; the primary key still decides a race.
		var dup crm.ID
		err := tx.QueryRow(ctx, sql.exists, uuidArray(ids)).Scan((*key)(&dup))
		if err == nil {
			return fmt.Errorf("event %s: %w", dup, crm.ErrAlreadyExists)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		batch := &pgx.Batch{}
		for i := range prepared {
			e := &prepared[i]
			batch.Queue(sql.insert, key(e.ID), e.TenantID, e.Type, string(e.Subject.Type), key(e.Subject.ID),
				ref(e.ActorID), e.OccurredAt, []byte(e.Payload)).QueryRow(func(row pgx.Row) error {
				return row.Scan(&e.Seq)
			})
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("pgstore: append events: %w", dbError(ctx, err))
	}
	for i, e := range events {
		e.Seq, e.TenantID, e.OccurredAt = prepared[i].Seq, prepared[i].TenantID, prepared[i].OccurredAt
	}
	return nil
}

// outbox implements [crm.Outbox] over every tenant's events.
type outbox struct{ v view }

// Pending implements [crm.Outbox].
func (o outbox) Pending(ctx context.Context, limit int) ([]crm.Event, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := o.v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: pending events: %w", err)
	}
	rows, err := o.v.q.Query(ctx, o.v.s.sql.events.pending, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: pending events: %w", dbError(ctx, err))
	}
	defer rows.Close()
	var out []crm.Event
	for rows.Next() {
		var e crm.Event
		var payload []byte
		err := rows.Scan((*key)(&e.ID), &e.Seq, &e.TenantID, &e.Type, (*string)(&e.Subject.Type), (*key)(&e.Subject.ID),
			(*ref)(&e.ActorID), &e.OccurredAt, &payload)
		if err != nil {
			return nil, fmt.Errorf("pgstore: pending events: %w", dbError(ctx, err))
		}
		e.OccurredAt = crm.StorageTime(e.OccurredAt)
		if len(payload) > 0 {
			e.Payload = payload
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: pending events: %w", dbError(ctx, err))
	}
	return out, nil
}

// Ack implements [crm.Outbox].
func (o outbox) Ack(ctx context.Context, ids ...crm.ID) error {
	if err := o.v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: ack events: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := o.v.q.Exec(ctx, o.v.s.sql.events.ack, uuidArray(ids), crm.StorageTime(o.v.s.clock.Now())); err != nil {
		return fmt.Errorf("pgstore: ack events: %w", dbError(ctx, err))
	}
	return nil
}
