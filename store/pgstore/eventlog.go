package pgstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
)

var _ crm.EventLog = view{}

// subjectEventsSQL returns the statement of an event-log page: one range
// of crm_events_subject_idx per subject, read backwards and stopped by
// the page's LIMIT, merged. $1 tenant, $2 subject IDs, $3 the limit, then
// the Seq bound and the types when set.
func subjectEventsSQL(events string, below int64, types bool) string {
	cond := ""
	n := 3
	if below > 0 {
		n++
		cond += " AND e.seq < $" + strconv.Itoa(n)
	}
	if types {
		n++
		cond += " AND e.type = ANY($" + strconv.Itoa(n) + "::text[])"
	}
	return "SELECT k.id, k.seq, k.tenant_id, k.type, k.subject_type, k.subject_id, k.actor_id, k.occurred_at, k.payload" +
		" FROM (SELECT DISTINCT unnest($2::uuid[])) AS s(id) CROSS JOIN LATERAL" +
		" (SELECT e.id, e.seq, e.tenant_id, e.type, e.subject_type, e.subject_id, e.actor_id, e.occurred_at, e.payload FROM " + events +
		" AS e WHERE e.tenant_id = $1 AND e.subject_id = s.id" + cond + " ORDER BY e.seq DESC LIMIT $3) AS k ORDER BY k.seq DESC LIMIT $3"
}

// SubjectEvents implements [crm.EventLog].
func (v view) SubjectEvents(ctx context.Context, q crm.EventQuery) (crm.Page[crm.Event], error) {
	fail := func(err error) (crm.Page[crm.Event], error) {
		return crm.Page[crm.Event]{}, fmt.Errorf("pgstore: subject events: %w", err)
	}
	limit, below, err := q.Resolve()
	if err != nil {
		return fail(err)
	}
	if err := v.check(ctx); err != nil {
		return fail(err)
	}
	args := []any{crm.TenantFrom(ctx), uuidArray(q.SubjectIDs), limit + 1}
	if below > 0 {
		args = append(args, below)
	}
	if len(q.Types) > 0 {
		types := make([]string, len(q.Types))
		for i, t := range q.Types {
			types[i] = string(t)
		}
		args = append(args, types)
	}
	sql := subjectEventsSQL(pgx.Identifier{v.s.schema, "crm_events"}.Sanitize(), below, len(q.Types) > 0)
	rows, err := v.q.Query(ctx, sql, args...)
	if err != nil {
		return fail(dbError(ctx, err))
	}
	defer rows.Close()
	var out crm.Page[crm.Event]
	for rows.Next() {
		e := new(crm.Event)
		var payload []byte
		err := rows.Scan((*key)(&e.ID), &e.Seq, &e.TenantID, &e.Type, (*string)(&e.Subject.Type), (*key)(&e.Subject.ID),
			(*ref)(&e.ActorID), &e.OccurredAt, &payload)
		if err != nil {
			return fail(dbError(ctx, err))
		}
		e.OccurredAt = crm.StorageTime(e.OccurredAt)
		if len(payload) > 0 {
			e.Payload = payload
		}
		out.Items = append(out.Items, e)
	}
	if err := rows.Err(); err != nil {
		return fail(dbError(ctx, err))
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = crm.EventLogCursor(out.Items[limit-1].Seq)
	}
	return out, nil
}
