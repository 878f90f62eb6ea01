-- crmkit schema, version 20: the approver's inbox (package workflow).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- One row per pending approval request and approver it waits on
-- (workflow.Instance.PendingApprovers), at the time it has waited since
-- (workflow.Instance.WaitingSince). pgstore rewrites a request's rows in
-- the statement that creates or updates the request; a finished request
-- has none. The primary key leads with the request, for those rewrites;
-- the inbox index is one range per approver in inbox order, so a page is
-- an index scan stopped by its LIMIT per approver, merged.
CREATE TABLE {{schema}}.crm_approval_inbox (
    tenant_id     text        NOT NULL DEFAULT '',
    instance_id   uuid        NOT NULL,
    approver_id   uuid        NOT NULL,
    waiting_since timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, approver_id)
);
CREATE INDEX crm_approval_inbox_approver_idx ON {{schema}}.crm_approval_inbox (tenant_id, approver_id, waiting_since, instance_id);

-- Backfill from the stored JSON of pending requests: the holders of
-- undecided tasks in active steps, waiting since the earliest start of an
-- active step (a step without a start counts as the zero time, as in Go).
-- Digits past the microsecond are cut before the cast, which would round
-- them: crmkit truncates, and the inbox's cursors compare exactly.
INSERT INTO {{schema}}.crm_approval_inbox (tenant_id, instance_id, approver_id, waiting_since)
SELECT DISTINCT i.tenant_id, i.id, (t->>'approver')::uuid, w.since
FROM {{schema}}.crm_approval_instances AS i
CROSS JOIN LATERAL (
    SELECT min(COALESCE(regexp_replace(s->>'started_at', '(\.[0-9]{6})[0-9]+', '\1'), '0001-01-01T00:00:00Z')::timestamptz) AS since
    FROM jsonb_array_elements(i.body->'steps') AS s
    WHERE s->>'status' = 'active'
) AS w
CROSS JOIN LATERAL jsonb_array_elements(i.body->'steps') AS s
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(s->'tasks') = 'array' THEN s->'tasks' ELSE '[]'::jsonb END) AS t
WHERE i.status = 'pending' AND jsonb_typeof(i.body->'steps') = 'array'
  AND s->>'status' = 'active' AND COALESCE(t->>'decision', '') = '' AND t->>'approver' IS NOT NULL;
