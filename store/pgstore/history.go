package pgstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/crm"
)

var (
	_ crm.HistoryTx = view{}
	_ crm.HistoryTx = (*Store)(nil)
)

type historyStatements struct {
	insert, insertInTx, unwind string
	forRecord                  string
	byActor, bySystem, purge   string
}

func newHistoryStatements(history string) historyStatements {
	const cols = "id, seq, tenant_id, record_type, record_id, field, old_value, new_value, actor_id, operation, at"
	const page = " ORDER BY seq DESC LIMIT "
	// One array per column ($1 to $10), one element per entry, inserted in
	// the entries' order, so their Seqs increase in it.
	insert := "INSERT INTO " + history + " (id, tenant_id, record_type, record_id, field, old_value, new_value, actor_id, operation, at)" +
		" SELECT u.id, u.tenant_id, u.record_type, u.record_id, u.field, u.old_value, u.new_value, u.actor_id, u.operation, u.at" +
		" FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::json[], $7::json[], $8::uuid[], $9::text[], $10::timestamptz[])" +
		" WITH ORDINALITY AS u(id, tenant_id, record_type, record_id, field, old_value, new_value, actor_id, operation, at, n)" +
		" ORDER BY u.n"
	return historyStatements{
		// Autocommit: one statement, all or nothing; a taken ID fails it
		// (unique_violation).
		insert: insert + " RETURNING id, seq",
		// In a transaction a failing statement would abort the caller's
		// transaction, so an entry whose ID is taken is skipped instead,
		// and when one is, unwind deletes the entries the insert stored
		// (by their row addresses, which need no index and no plan).
		insertInTx: insert + " ON CONFLICT (id) DO NOTHING RETURNING id, seq, ctid",
		unwind:     "DELETE FROM " + history + " WHERE ctid = ANY($1::tid[])",
		// $1 tenant, $2 record type, $3 record ID, $4 below Seq, $5 limit:
		// one range of crm_history_record_idx.
		forRecord: "SELECT " + cols + " FROM " + history +
			" WHERE tenant_id = $1 AND record_type = $2 AND record_id = $3 AND seq < $4" + page + "$5",
		// $1 tenant, $2 actor, $3 from, $4 to, $5 below Seq, $6 limit: the
		// IDs of the page come from one range of crm_history_actor_idx
		// (which holds them, so the window's rows are not read), then
		// the page's rows by primary key.
		byActor: "SELECT " + cols + " FROM " + history + " WHERE id = ANY(ARRAY(SELECT id FROM " + history +
			" WHERE tenant_id = $1 AND actor_id = $2 AND at >= $3 AND at < $4 AND seq < $5" + page + "$6)) ORDER BY seq DESC",
		// The same for the system (actor_id NULL), without $2.
		bySystem: "SELECT " + cols + " FROM " + history + " WHERE id = ANY(ARRAY(SELECT id FROM " + history +
			" WHERE tenant_id = $1 AND actor_id IS NULL AND at >= $2 AND at < $3 AND seq < $4" + page + "$5)) ORDER BY seq DESC",
		// $1 tenant, $2 before: the block ranges crm_history_purge_idx
		// finds before $2, filtered by tenant.
		purge: "DELETE FROM " + history + " WHERE tenant_id = $1 AND at < $2",
	}
}

// historyPort implements [crm.History] on a view.
type historyPort struct{ v view }

// History implements [crm.HistoryTx].
func (v view) History() crm.History { return historyPort{v} }

// History returns the autocommit history port: each call is a unit of work
// of its own.
func (s *Store) History() crm.History { return s.auto().History() }

// Append implements [crm.History] with one INSERT of every entry, which
// returns their Seqs: all or nothing on its own, so an autocommit Append
// needs no transaction. A repeated ID is found by the primary key itself
// (a lookup before the insert would depend on the plan PostgreSQL cached
// for it, which for a table that was empty then is a sequential scan).
func (p historyPort) Append(ctx context.Context, entries ...*crm.HistoryEntry) error {
	if err := p.v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: append history: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	h, err := prepareHistory(ctx, entries)
	if err != nil {
		return err
	}
	prepared, at, args, n := h.prepared, h.at, h.args, len(h.prepared)
	sql := &p.v.s.sql.history
	if p.v.tx == nil {
		err := p.insert(ctx, sql.insert, args, func(id crm.ID, seq int64, _ pgtype.TID) { prepared[at[id]].Seq = seq })
		if err != nil {
			return fmt.Errorf("pgstore: append history: %w", dbError(ctx, sentWrite(ctx, true, err)))
		}
	} else {
		var stored []pgtype.TID
		err := p.insert(ctx, sql.insertInTx, args, func(id crm.ID, seq int64, tid pgtype.TID) {
			prepared[at[id]].Seq = seq
			stored = append(stored, tid)
		})
		if err != nil {
			return fmt.Errorf("pgstore: append history: %w", dbError(ctx, err))
		}
		if len(stored) < n {
			if len(stored) > 0 {
				if _, err := p.v.q.Exec(ctx, sql.unwind, stored); err != nil {
					return fmt.Errorf("pgstore: append history: %w", dbError(ctx, err))
				}
			}
			for i := range prepared {
				if prepared[i].Seq == 0 {
					return fmt.Errorf("pgstore: append history entry %s: %w", prepared[i].ID, crm.ErrAlreadyExists)
				}
			}
		}
	}
	for i, e := range entries {
		e.Seq, e.TenantID, e.At = prepared[i].Seq, prepared[i].TenantID, prepared[i].At
	}
	return nil
}

// historyBatch is a slice of entries ready for the insert statements:
// their storable copies (Seq 0 until stored), the position of each ID, and
// the statements' arguments ($1 to $10).
type historyBatch struct {
	prepared []crm.HistoryEntry
	at       map[crm.ID]int
	args     []any
}

// prepareHistory checks entries as [crm.History.Append] requires and lays
// them out for the insert statements.
func prepareHistory(ctx context.Context, entries []*crm.HistoryEntry) (historyBatch, error) {
	n := len(entries)
	h := historyBatch{prepared: make([]crm.HistoryEntry, n), at: make(map[crm.ID]int, n)}
	var (
		ids                         = make([]crm.ID, n)
		tenants, types, fields, ops = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		recordIDs, actors           = make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		olds, news                  = make([][]byte, n), make([][]byte, n)
		ats                         = make([]time.Time, n)
	)
	for i, e := range entries {
		c, err := crm.StorableHistoryEntry(ctx, i, e)
		if err != nil {
			return h, err
		}
		if _, dup := h.at[c.ID]; dup {
			return h, fmt.Errorf("pgstore: append history entry %s: %w", c.ID, crm.ErrAlreadyExists)
		}
		h.at[c.ID] = i
		h.prepared[i], ids[i] = c, c.ID
		tenants[i], types[i], fields[i], ops[i] = c.TenantID, string(c.Record.Type), c.Field, c.Operation
		recordIDs[i] = pgtype.UUID{Bytes: c.Record.ID, Valid: true}
		actors[i] = pgtype.UUID{Bytes: c.ActorID, Valid: c.ActorID != crm.NilID}
		olds[i], news[i] = c.Old, c.New
		ats[i] = c.At
	}
	h.args = []any{uuidArray(ids), tenants, types, recordIDs, fields, olds, news, actors, ops, ats}
	return h, nil
}

var (
	_ crm.ChangeAppender  = historyPort{}
	_ crm.ChangesAppender = historyPort{}
)

// AppendChange implements [crm.ChangeAppender]: the entries' insert and
// the event's sent as one batch, one round trip. A repeated ID of either
// stores neither.
func (p historyPort) AppendChange(ctx context.Context, ev *crm.Event, entries ...*crm.HistoryEntry) error {
	if ev == nil {
		return crm.Invalid("event", "is required")
	}
	if err := p.appendChanges(ctx, []*crm.Event{ev}, entries); err != nil {
		return fmt.Errorf("pgstore: append change: %w", err)
	}
	return nil
}

// AppendChanges implements [crm.ChangesAppender]: the entries and the
// events are each written with COPY, which PostgreSQL loads several times
// faster than an INSERT of the same rows. A repeated ID is a unique
// violation that aborts the unit of work ([crm.ErrAlreadyExists]). The
// entries' and events' Seq are assigned in order but not read back: they
// stay 0.
func (p historyPort) AppendChanges(ctx context.Context, events []*crm.Event, entries []*crm.HistoryEntry) error {
	for i, ev := range events {
		if ev == nil {
			return crm.Invalid(fmt.Sprintf("events[%d]", i), "is required")
		}
	}
	if len(events) == 0 && len(entries) == 0 {
		return nil
	}
	if err := p.copyChanges(ctx, events, entries); err != nil {
		return fmt.Errorf("pgstore: append %d changes: %w", len(events), err)
	}
	return nil
}

func (p historyPort) copyChanges(ctx context.Context, events []*crm.Event, entries []*crm.HistoryEntry) error {
	if err := p.v.check(ctx); err != nil {
		return err
	}
	h, err := prepareHistory(ctx, entries)
	if err != nil {
		return err
	}
	e, err := prepareEvents(ctx, events)
	if err != nil {
		return err
	}
	uuid := func(id crm.ID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != crm.NilID} }
	raw := func(b []byte) any {
		if len(b) == 0 {
			return nil
		}
		return string(b)
	}
	err = p.v.atomic(ctx, func(tx pgx.Tx) error {
		if len(entries) > 0 {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{p.v.s.schema, "crm_history"},
				[]string{"id", "tenant_id", "record_type", "record_id", "field", "old_value", "new_value", "actor_id", "operation", "at"},
				pgx.CopyFromSlice(len(h.prepared), func(i int) ([]any, error) {
					c := &h.prepared[i]
					return []any{uuid(c.ID), c.TenantID, string(c.Record.Type), uuid(c.Record.ID), c.Field, raw(c.Old), raw(c.New), uuid(c.ActorID), c.Operation, c.At}, nil
				}))
			if err != nil {
				return err
			}
		}
		if len(events) > 0 {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{p.v.s.schema, "crm_events"},
				[]string{"id", "tenant_id", "type", "subject_type", "subject_id", "actor_id", "occurred_at", "payload"},
				pgx.CopyFromSlice(len(e.prepared), func(i int) ([]any, error) {
					c := &e.prepared[i]
					return []any{uuid(c.ID), c.TenantID, string(c.Type), string(c.Subject.Type), uuid(c.Subject.ID), uuid(c.ActorID), c.OccurredAt, raw(c.Payload)}, nil
				}))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return dbError(ctx, err)
	}
	for i, en := range entries {
		en.TenantID, en.At = h.prepared[i].TenantID, h.prepared[i].At
	}
	for i, ev := range events {
		ev.TenantID, ev.OccurredAt = e.prepared[i].TenantID, e.prepared[i].OccurredAt
	}
	return nil
}

func (p historyPort) appendChanges(ctx context.Context, events []*crm.Event, entries []*crm.HistoryEntry) error {
	if err := p.v.check(ctx); err != nil {
		return err
	}
	h, err := prepareHistory(ctx, entries)
	if err != nil {
		return err
	}
	e, err := prepareEvents(ctx, events)
	if err != nil {
		return err
	}
	var hStored, eStored []pgtype.TID
	err = p.v.atomic(ctx, func(tx pgx.Tx) error {
		// Two plain inserts sent as one batch: one round trip, and two
		// statements PostgreSQL plans in a fraction of the time a WITH
		// holding both takes.
		b := &pgx.Batch{}
		scan := func(stored *[]pgtype.TID, set func(id crm.ID, seq int64)) func(pgx.Rows) error {
			return func(rows pgx.Rows) error {
				var id crm.ID
				var seq int64
				var tid pgtype.TID
				for rows.Next() {
					if err := rows.Scan((*key)(&id), &seq, &tid); err != nil {
						return err
					}
					set(id, seq)
					*stored = append(*stored, tid)
				}
				return rows.Err()
			}
		}
		if len(entries) > 0 {
			b.Queue(p.v.s.sql.history.insertInTx, h.args...).Query(scan(&hStored, func(id crm.ID, seq int64) { h.prepared[h.at[id]].Seq = seq }))
		}
		if len(events) > 0 {
			b.Queue(p.v.s.sql.events.insert, e.args...).Query(scan(&eStored, func(id crm.ID, seq int64) { e.prepared[e.at[id]].Seq = seq }))
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if len(hStored) == len(entries) && len(eStored) == len(events) {
			return nil
		}
		if len(hStored) > 0 {
			if _, err := tx.Exec(ctx, p.v.s.sql.history.unwind, hStored); err != nil {
				return err
			}
		}
		if len(eStored) > 0 {
			if _, err := tx.Exec(ctx, p.v.s.sql.events.unwind, eStored); err != nil {
				return err
			}
		}
		for i := range e.prepared {
			if e.prepared[i].Seq == 0 {
				return fmt.Errorf("event %s: %w", e.prepared[i].ID, crm.ErrAlreadyExists)
			}
		}
		for i := range h.prepared {
			if h.prepared[i].Seq == 0 {
				return fmt.Errorf("history entry %s: %w", h.prepared[i].ID, crm.ErrAlreadyExists)
			}
		}
		return nil
	})
	if err != nil {
		return dbError(ctx, err)
	}
	for i, en := range entries {
		en.Seq, en.TenantID, en.At = h.prepared[i].Seq, h.prepared[i].TenantID, h.prepared[i].At
	}
	for i, ev := range events {
		ev.Seq, ev.TenantID, ev.OccurredAt = e.prepared[i].Seq, e.prepared[i].TenantID, e.prepared[i].OccurredAt
	}
	return nil
}

// insert runs one of the insert statements and passes each stored entry to
// row.
func (p historyPort) insert(ctx context.Context, sql string, args []any, row func(id crm.ID, seq int64, tid pgtype.TID)) error {
	rows, err := p.v.q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var id crm.ID
	var seq int64
	var tid pgtype.TID
	dst := []any{(*key)(&id), &seq, &tid}
	if len(rows.FieldDescriptions()) == 2 {
		dst = dst[:2] // the autocommit insert returns no row addresses
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		row(id, seq, tid)
	}
	return rows.Err()
}

// seqBound is the Seq a page starts below: none for the first page.
func seqBound(below int64) int64 {
	if below == 0 {
		return math.MaxInt64
	}
	return below
}

// ForRecord implements [crm.History] with one index range.
func (p historyPort) ForRecord(ctx context.Context, record crm.Ref, page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
	if err := crm.CheckHistoryRecord(record); err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	limit, below, err := page.ResolveSeq()
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	if err := p.v.check(ctx); err != nil {
		return crm.Page[crm.HistoryEntry]{}, fmt.Errorf("pgstore: history of %s %s: %w", record.Type, record.ID, err)
	}
	out, err := p.page(ctx, limit, p.v.s.sql.history.forRecord,
		crm.TenantFrom(ctx), string(record.Type), key(record.ID), seqBound(below), limit+1)
	if err != nil {
		return out, fmt.Errorf("pgstore: history of %s %s: %w", record.Type, record.ID, dbError(ctx, err))
	}
	return out, nil
}

// ByActor implements [crm.History]: the window is one index range, whose
// entries below the cursor PostgreSQL sorts by Seq (a top-N sort of
// limit+1) from the index alone, so a page reads the window's index
// entries and its own rows.
func (p historyPort) ByActor(ctx context.Context, actor crm.ID, from, to time.Time, page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
	from, to, err := crm.HistoryWindow(from, to)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	limit, below, err := page.ResolveSeq()
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	if err := p.v.check(ctx); err != nil {
		return crm.Page[crm.HistoryEntry]{}, fmt.Errorf("pgstore: history by actor %s: %w", actor, err)
	}
	sql, tenant := &p.v.s.sql.history, crm.TenantFrom(ctx)
	var out crm.Page[crm.HistoryEntry]
	if actor == crm.NilID {
		out, err = p.page(ctx, limit, sql.bySystem, tenant, from, to, seqBound(below), limit+1)
	} else {
		out, err = p.page(ctx, limit, sql.byActor, tenant, key(actor), from, to, seqBound(below), limit+1)
	}
	if err != nil {
		return out, fmt.Errorf("pgstore: history by actor %s: %w", actor, dbError(ctx, err))
	}
	return out, nil
}

// page runs a query for limit+1 entries, newest first, and returns the
// first limit with a cursor when there are more.
func (p historyPort) page(ctx context.Context, limit int, sql string, args ...any) (crm.Page[crm.HistoryEntry], error) {
	rows, err := p.v.q.Query(ctx, sql, args...)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	defer rows.Close()
	var out crm.Page[crm.HistoryEntry]
	for rows.Next() {
		if len(out.Items) == limit {
			out.NextCursor = crm.SeqCursor(out.Items[limit-1].Seq)
			break
		}
		h := &crm.HistoryEntry{}
		err := rows.Scan((*key)(&h.ID), &h.Seq, &h.TenantID, (*string)(&h.Record.Type), (*key)(&h.Record.ID), &h.Field,
			(*[]byte)(&h.Old), (*[]byte)(&h.New), (*ref)(&h.ActorID), &h.Operation, &h.At)
		if err != nil {
			return crm.Page[crm.HistoryEntry]{}, err
		}
		h.At = crm.StorageTime(h.At)
		out.Items = append(out.Items, h)
	}
	if err := rows.Err(); err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	return out, nil
}

// Purge implements [crm.History] with one DELETE.
func (p historyPort) Purge(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, crm.Invalid("before", "is required")
	}
	if err := p.v.check(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: purge history: %w", err)
	}
	tag, err := p.v.q.Exec(ctx, p.v.s.sql.history.purge, crm.TenantFrom(ctx), crm.StorageTime(before))
	if err != nil {
		return 0, fmt.Errorf("pgstore: purge history: %w", dbError(ctx, sentWrite(ctx, p.v.tx == nil, err)))
	}
	return tag.RowsAffected(), nil
}
