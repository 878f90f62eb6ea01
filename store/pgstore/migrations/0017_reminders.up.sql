-- crmkit schema, version 17: reminder firings (package remind).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- A row records that one reminder fired: its primary key is the firing's
-- key (tenant, kind, subject, the time reminded of, and the part that
-- tells apart the approvers of one approval step), so an
-- INSERT ... ON CONFLICT DO NOTHING lets exactly one of many concurrent
-- sweeps fire it. A moved remind_at or due_at is a new key.
CREATE TABLE {{schema}}.crm_reminder_firings (
    tenant_id    text        NOT NULL DEFAULT '',
    kind         text        NOT NULL,
    subject_id   uuid        NOT NULL,
    at           timestamptz NOT NULL,
    part         text        NOT NULL DEFAULT '',
    recipient_id uuid,
    event_id     uuid        NOT NULL,
    fired_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind, subject_id, at, part)
);

-- Reminder sweeps go on after the last task of the previous batch in
-- (remind_at, id) order: the index of 0016 gains id, so a batch starts
-- where the last ended even when many reminders share one time.
DROP INDEX {{schema}}.crm_tasks_remind_idx;
CREATE INDEX crm_tasks_remind_idx ON {{schema}}.crm_tasks (tenant_id, remind_at, id)
    WHERE status = 'open' AND remind_at IS NOT NULL;
-- Overdue sweeps: open tasks of a tenant in (due_at, id) order.
CREATE INDEX crm_tasks_overdue_idx ON {{schema}}.crm_tasks (tenant_id, due_at, id) WHERE status = 'open';
-- Waiting approvals: a tenant's pending requests in ID order.
CREATE INDEX crm_approval_instances_pending_id_idx ON {{schema}}.crm_approval_instances (tenant_id, id)
    WHERE status = 'pending';
