-- crmkit schema, version 5: approval step deadlines (package workflow).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- next_due_at is workflow.Instance.NextDueAt: the earliest due time of the
-- request's active steps whose timeout has not fired, NULL when none or
-- when the request is finished. pgstore writes it with every create and
-- update; Approvals.TickDue claims due requests with FOR UPDATE SKIP
-- LOCKED on the partial index, which holds only pending requests with a
-- deadline.

ALTER TABLE {{schema}}.crm_approval_instances ADD COLUMN next_due_at timestamptz;

-- Backfill from the stored JSON. A value rounded down by the cast is
-- corrected by the first update: TickDue stores every request it claims.
UPDATE {{schema}}.crm_approval_instances AS i
SET next_due_at = (
    SELECT min((s->>'due_at')::timestamptz)
    FROM jsonb_array_elements(i.body->'steps') AS s
    WHERE s->>'status' = 'active'
      AND NOT COALESCE((s->>'timed_out')::boolean, false)
      AND COALESCE(s->>'due_at', '') <> ''
)
WHERE i.status = 'pending' AND jsonb_typeof(i.body->'steps') = 'array';

CREATE INDEX crm_approval_instances_due_idx ON {{schema}}.crm_approval_instances (tenant_id, next_due_at, id)
    WHERE status = 'pending' AND next_due_at IS NOT NULL;
