package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/crm"
)

type eventStatements struct {
	insert, unwind, pending, ack string
	// Delivery (crm.Deliveries).
	leaseLock, settleLock      string
	anyDeliverable, lease      string
	settleAcks, settleFailures string
	settleReleases             string
	parked, replay, lag        string
}

func newEventStatements(schema, events string) eventStatements {
	const cols = "id, seq, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload"
	const deliveryCols = cols + ", attempts, coalesce(last_error, ''), parked_at"
	lock := strconv.FormatInt(leaseLockKey(schema), 10)
	return eventStatements{
		// One statement for every event, inserted in the events' order so
		// their Seqs increase in it. An event whose ID is taken is skipped
		// (a failing statement would abort the caller's transaction); when
		// one is, unwind deletes what the insert stored, by row address.
		// The primary key decides: a lookup first would depend on the plan
		// PostgreSQL cached for it, which for a table that was empty then
		// is a scan of the whole table.
		insert: "INSERT INTO " + events + " (id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload)" +
			" SELECT u.id, u.tenant_id, u.type, u.subject_type, u.subject_id, u.actor_id, u.occurred_at, u.payload" +
			" FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::timestamptz[], $8::json[])" +
			" WITH ORDINALITY AS u(id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload, n)" +
			" ORDER BY u.n ON CONFLICT (id) DO NOTHING RETURNING id, seq, ctid",
		unwind:  "DELETE FROM " + events + " WHERE ctid = ANY($1::tid[])",
		pending: "SELECT " + cols + " FROM " + events + " WHERE acked_at IS NULL ORDER BY seq LIMIT $1",
		ack:     "UPDATE " + events + " SET acked_at = $2 WHERE id = ANY($1::uuid[]) AND acked_at IS NULL",

		leaseLock:  "SELECT pg_advisory_xact_lock(" + lock + ")",
		settleLock: "SELECT pg_advisory_xact_lock_shared(" + lock + ")",
		// $1 owner, $2 now, $3 until, $4 limit: the lowest deliverable
		// events, taken by primary key. The outer conditions are checked
		// again on the row's newest version should an Ack or a Settle
		// change it meanwhile.
		lease: "UPDATE " + events + " AS e SET lease_owner = $1, lease_until = $3" +
			" WHERE e.id = ANY(ARRAY(" + deliverable(events, "$2") + " ORDER BY c.seq LIMIT $4))" +
			" AND e.acked_at IS NULL AND e.parked_at IS NULL AND (e.lease_until IS NULL OR e.lease_until <= $2)" +
			" RETURNING " + deliveryCols,
		// $1 now.
		anyDeliverable: "SELECT EXISTS (" + deliverable(events, "$1") + ")",
		// $1 ids, $2 now, $3 owner.
		settleAcks: "UPDATE " + events + " SET acked_at = $2, lease_owner = NULL, lease_until = NULL" +
			" WHERE id = ANY($1::uuid[]) AND lease_owner = $3 AND acked_at IS NULL AND parked_at IS NULL",
		// $1 ids, $2 owner.
		settleReleases: "UPDATE " + events + " SET lease_owner = NULL, lease_until = NULL" +
			" WHERE id = ANY($1::uuid[]) AND lease_owner = $2 AND acked_at IS NULL AND parked_at IS NULL",
		// $1 ids, $2 errors, $3 retry times, $4 park flags, $5 now, $6 owner.
		settleFailures: "UPDATE " + events + " AS e SET attempts = e.attempts + 1, last_error = f.error," +
			" parked_at = CASE WHEN f.park THEN $5::timestamptz END," +
			" next_attempt_at = CASE WHEN f.park THEN e.next_attempt_at ELSE f.retry_at END," +
			" lease_owner = NULL, lease_until = NULL" +
			" FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::boolean[]) AS f(id, error, retry_at, park)" +
			" WHERE e.id = f.id AND e.lease_owner = $6 AND e.acked_at IS NULL AND e.parked_at IS NULL",
		parked: "SELECT " + deliveryCols + " FROM " + events +
			" WHERE acked_at IS NULL AND parked_at IS NOT NULL AND seq > $1 ORDER BY seq LIMIT $2",
		replay: "UPDATE " + events + " SET parked_at = NULL, next_attempt_at = NULL, attempts = 0" +
			" WHERE id = ANY($1::uuid[]) AND acked_at IS NULL AND parked_at IS NOT NULL",
		lag: "SELECT count(*) FILTER (WHERE parked_at IS NULL), min(occurred_at) FILTER (WHERE parked_at IS NULL)," +
			" count(*) FILTER (WHERE parked_at IS NOT NULL) FROM " + events + " WHERE acked_at IS NULL",
	}
}

// deliverable selects the IDs of the events deliverable at now: pending
// events (crm_events_pending_idx) that are themselves deliverable and come
// before every event of their subject that is not.
//
// The events that hold their subject back (leased to a running lease,
// waiting for a retry, or parked) are usually few, and
// crm_events_subject_held_idx holds them. One subquery, run once per
// statement, gathers the lowest Seq of each subject they hold back into a
// jsonb object keyed by subject, and each candidate looks its subject up
// there. A probe of that index per candidate costs about ten times as much
// per candidate: when few busy records hold most of the backlog and other
// relays lease their first events, a lease reads the whole backlog to
// find nothing, which took 0.9 s instead of 0.04 s for 100,000 events.
func deliverable(events, now string) string {
	return "SELECT c.id FROM " + events + " AS c" +
		" WHERE c.acked_at IS NULL AND c.parked_at IS NULL" +
		" AND (c.lease_until IS NULL OR c.lease_until <= " + now + ")" +
		" AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= " + now + ")" +
		" AND coalesce(((SELECT jsonb_object_agg(" + subjectKey("h") + ", h.seq)" +
		" FROM (SELECT p.tenant_id, p.subject_type, p.subject_id, min(p.seq) AS seq FROM " + events + " AS p" +
		" WHERE p.acked_at IS NULL" +
		" AND (p.parked_at IS NOT NULL OR p.lease_until IS NOT NULL OR p.next_attempt_at IS NOT NULL)" +
		" AND (p.parked_at IS NOT NULL OR p.lease_until > " + now + " OR p.next_attempt_at > " + now + ")" +
		" GROUP BY 1, 2, 3) AS h) ->> " + subjectKey("c") + ")::bigint > c.seq, true)"
}

// subjectKey is the text that names the subject of the event alias in
// one string: the subject ID (36 characters), the subject type with its
// length before it, and the tenant.
func subjectKey(alias string) string {
	return "(" + alias + ".subject_id::text || length(" + alias + ".subject_type) || ':' || " +
		alias + ".subject_type || " + alias + ".tenant_id)"
}

// leaseLockKey is the advisory lock that serialises leasing in schema: a
// constant per schema, so relays of different schemas never wait for each
// other. It is positive, so the SQL literal is a bigint.
func leaseLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("crmkit:crm_events:lease:" + schema))
	return int64(h.Sum64() >> 1)
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
	b, err := prepareEvents(ctx, events)
	if err != nil {
		return err
	}
	sql := w.v.s.sql.events
	prepared, at, n := b.prepared, b.at, len(b.prepared)
	// In a transaction of its own outside a unit of work, so the events are
	// stored all or none.
	err = w.v.atomic(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql.insert, b.args...)
		if err != nil {
			return err
		}
		var stored []pgtype.TID
		var id crm.ID
		var seq int64
		var tid pgtype.TID
		for rows.Next() {
			if err := rows.Scan((*key)(&id), &seq, &tid); err != nil {
				rows.Close()
				return err
			}
			prepared[at[id]].Seq = seq
			stored = append(stored, tid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(stored) == n {
			return nil
		}
		if len(stored) > 0 {
			if _, err := tx.Exec(ctx, sql.unwind, stored); err != nil {
				return err
			}
		}
		for i := range prepared {
			if prepared[i].Seq == 0 {
				return fmt.Errorf("event %s: %w", prepared[i].ID, crm.ErrAlreadyExists)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: append events: %w", dbError(ctx, err))
	}
	for i, e := range events {
		e.Seq, e.TenantID, e.OccurredAt = prepared[i].Seq, prepared[i].TenantID, prepared[i].OccurredAt
	}
	return nil
}

// eventBatch is a slice of events ready for the insert statement: their
// storable copies (Seq 0 until stored), the position of each ID, and the
// statement's arguments ($1 to $8).
type eventBatch struct {
	prepared []crm.Event
	at       map[crm.ID]int
	args     []any
}

// prepareEvents checks events as [crm.EventWriter.Append] requires and
// lays them out for the insert statement.
func prepareEvents(ctx context.Context, events []*crm.Event) (eventBatch, error) {
	n := len(events)
	b := eventBatch{prepared: make([]crm.Event, n), at: make(map[crm.ID]int, n)}
	var (
		ids                          = make([]crm.ID, n)
		tenants, types, subjectTypes = make([]string, n), make([]string, n), make([]string, n)
		subjects, actors             = make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		times                        = make([]time.Time, n)
		payloads                     = make([][]byte, n)
	)
	for i, e := range events {
		if e == nil {
			return b, crm.Invalid("events["+strconv.Itoa(i)+"]", "is nil")
		}
		c, err := crm.StorableEvent(ctx, e)
		if err != nil {
			return b, err
		}
		if _, dup := b.at[c.ID]; dup {
			return b, fmt.Errorf("pgstore: append event %s: %w", c.ID, crm.ErrAlreadyExists)
		}
		c.Seq = 0 // set by the insert; still 0 means not stored
		b.prepared[i], b.at[c.ID], ids[i] = c, i, c.ID
		tenants[i], types[i], subjectTypes[i] = c.TenantID, string(c.Type), string(c.Subject.Type)
		subjects[i] = pgtype.UUID{Bytes: c.Subject.ID, Valid: true}
		actors[i] = pgtype.UUID{Bytes: c.ActorID, Valid: c.ActorID != crm.NilID}
		times[i] = c.OccurredAt
		if len(c.Payload) > 0 {
			payloads[i] = c.Payload
		}
	}
	b.args = []any{uuidArray(ids), tenants, types, subjectTypes, subjects, actors, times, payloads}
	return b, nil
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

var _ crm.Deliveries = outbox{}

// scanDelivery reads the columns of deliveryCols.
func scanDelivery(row pgx.Row) (crm.Delivery, error) {
	var d crm.Delivery
	var payload []byte
	var parkedAt *time.Time
	err := row.Scan((*key)(&d.ID), &d.Seq, &d.TenantID, &d.Type, (*string)(&d.Subject.Type), (*key)(&d.Subject.ID),
		(*ref)(&d.ActorID), &d.OccurredAt, &payload, &d.Attempts, &d.LastError, &parkedAt)
	if err != nil {
		return d, err
	}
	d.OccurredAt = crm.StorageTime(d.OccurredAt)
	if len(payload) > 0 {
		d.Payload = payload
	}
	if parkedAt != nil {
		d.ParkedAt = crm.StorageTime(*parkedAt)
	}
	return d, nil
}

// Lease implements [crm.Deliveries]: in one transaction, under the
// schema's lease lock (so two relays never lease the same event), one
// UPDATE leases the lowest deliverable events.
func (o outbox) Lease(ctx context.Context, owner string, limit int, now, until time.Time) ([]crm.Delivery, error) {
	if err := crm.ValidateLease(owner, limit, now, until); err != nil {
		return nil, fmt.Errorf("pgstore: lease events: %w", err)
	}
	if err := o.v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: lease events: %w", err)
	}
	sql := &o.v.s.sql.events
	// Relays that find nothing to do ask often. They learn it from one
	// read, without the lease lock, so they never keep the relays that
	// have work waiting: when other relays hold the heads of the few
	// subjects with events, finding that out reads the whole backlog.
	var found bool
	if err := o.v.q.QueryRow(ctx, sql.anyDeliverable, crm.StorageTime(now)).Scan(&found); err != nil {
		return nil, fmt.Errorf("pgstore: lease events: %w", dbError(ctx, err))
	}
	if !found {
		return nil, nil
	}
	var out []crm.Delivery
	err := o.v.atomic(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		if _, err := tx.Exec(ctx, sql.leaseLock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql.lease, owner, crm.StorageTime(now), crm.StorageTime(until), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: lease events: %w", dbError(ctx, err))
	}
	slices.SortFunc(out, func(a, b crm.Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// Settle implements [crm.Deliveries] with one UPDATE for the delivered
// events and one for the failed ones. It holds the lease lock shared, so
// no settlement commits while a lease runs: a lease judges the earlier
// events of each subject in its snapshot and rechecks only the rows it
// takes, so a failure settled meanwhile (of an event whose lease ran out,
// which then waits again) could let it take a later event of the subject.
func (o outbox) Settle(ctx context.Context, owner string, outcomes ...crm.Outcome) error {
	for i := range outcomes {
		if err := outcomes[i].Validate(); err != nil {
			return fmt.Errorf("pgstore: settle events: outcomes[%d]: %w", i, err)
		}
	}
	if err := o.v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: settle events: %w", err)
	}
	// The first outcome of an event counts, as if they were settled one by
	// one: the first clears the lease, so later ones are ignored.
	var acked, released, failed []crm.ID
	var errs []string
	var retryAt []*time.Time
	var park []bool
	seen := make(map[crm.ID]bool, len(outcomes))
	for _, oc := range outcomes {
		if seen[oc.ID] {
			continue
		}
		seen[oc.ID] = true
		if oc.Delivered {
			acked = append(acked, oc.ID)
			continue
		}
		if oc.Release {
			released = append(released, oc.ID)
			continue
		}
		failed = append(failed, oc.ID)
		errs = append(errs, crm.TrimError(oc.Error))
		park = append(park, oc.Park)
		var at *time.Time
		if !oc.Park {
			t := crm.StorageTime(oc.RetryAt)
			at = &t
		}
		retryAt = append(retryAt, at)
	}
	if len(acked)+len(released)+len(failed) == 0 {
		return nil
	}
	now := crm.StorageTime(o.v.s.clock.Now())
	sql := &o.v.s.sql.events
	err := o.v.atomic(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sql.settleLock); err != nil {
			return err
		}
		if len(acked) > 0 {
			if _, err := tx.Exec(ctx, sql.settleAcks, uuidArray(acked), now, owner); err != nil {
				return err
			}
		}
		if len(released) > 0 {
			if _, err := tx.Exec(ctx, sql.settleReleases, uuidArray(released), owner); err != nil {
				return err
			}
		}
		if len(failed) > 0 {
			if _, err := tx.Exec(ctx, sql.settleFailures, uuidArray(failed), errs, retryAt, park, now, owner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: settle events: %w", dbError(ctx, err))
	}
	return nil
}

// Parked implements [crm.Deliveries].
func (o outbox) Parked(ctx context.Context, afterSeq int64, limit int) ([]crm.Delivery, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	if err := o.v.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: parked events: %w", err)
	}
	rows, err := o.v.q.Query(ctx, o.v.s.sql.events.parked, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parked events: %w", dbError(ctx, err))
	}
	defer rows.Close()
	var out []crm.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("pgstore: parked events: %w", dbError(ctx, err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: parked events: %w", dbError(ctx, err))
	}
	return out, nil
}

// Replay implements [crm.Deliveries] in one statement.
func (o outbox) Replay(ctx context.Context, ids ...crm.ID) (int, error) {
	if err := o.v.check(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: replay events: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := o.v.q.Exec(ctx, o.v.s.sql.events.replay, uuidArray(ids))
	if err != nil {
		return 0, fmt.Errorf("pgstore: replay events: %w", dbError(ctx, sentWrite(ctx, true, err)))
	}
	return int(tag.RowsAffected()), nil
}

// Lag implements [crm.Deliveries] with one aggregate over the
// unacknowledged events.
func (o outbox) Lag(ctx context.Context, now time.Time) (crm.Lag, error) {
	if err := o.v.check(ctx); err != nil {
		return crm.Lag{}, fmt.Errorf("pgstore: outbox lag: %w", err)
	}
	var lag crm.Lag
	var oldest *time.Time
	if err := o.v.q.QueryRow(ctx, o.v.s.sql.events.lag).Scan(&lag.Pending, &oldest, &lag.Parked); err != nil {
		return crm.Lag{}, fmt.Errorf("pgstore: outbox lag: %w", dbError(ctx, err))
	}
	if oldest != nil {
		lag.Oldest = crm.StorageTime(*oldest)
	}
	return lag, nil
}
