-- crmkit schema, version 16: follow-up tasks and appointments (crm.Task).
--
-- A to-do is due at due_at; an appointment also books start_at to end_at
-- (its due_at is its start_at). recurrence is the crm.Recurrence rule as
-- JSON, NULL for a one-off.
CREATE TABLE {{schema}}.crm_tasks (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL DEFAULT '',
    version       bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    kind          text        NOT NULL,
    title         text        NOT NULL,
    note          text        NOT NULL DEFAULT '',
    subject_type  text        NOT NULL,
    subject_id    uuid,
    assignee_id   uuid,
    department_id uuid,
    created_by    uuid,
    status        text        NOT NULL,
    due_at        timestamptz NOT NULL,
    remind_at     timestamptz,
    start_at      timestamptz,
    end_at        timestamptz,
    recurrence    jsonb,
    series_start  timestamptz,
    occurrence    integer     NOT NULL DEFAULT 0,
    previous_id   uuid,
    completed_by  uuid,
    completed_at  timestamptz,
    fields        jsonb
);
CREATE INDEX crm_tasks_tenant_idx            ON {{schema}}.crm_tasks (tenant_id, id);
-- Work queues: one assignee's (or a team's) open tasks due by a time, and
-- the overdue ones, are one index range per assignee.
CREATE INDEX crm_tasks_assignee_due_idx      ON {{schema}}.crm_tasks (tenant_id, assignee_id, status, due_at);
-- Reminder sweeps: open tasks whose reminder is due, oldest first. Done and
-- cancelled tasks, and tasks without a reminder, are left out of the index.
CREATE INDEX crm_tasks_remind_idx            ON {{schema}}.crm_tasks (tenant_id, remind_at) WHERE status = 'open' AND remind_at IS NOT NULL;
-- Overlap checks: an assignee's open appointments starting before a time.
CREATE INDEX crm_tasks_appointment_idx       ON {{schema}}.crm_tasks (tenant_id, assignee_id, start_at) INCLUDE (end_at) WHERE kind = 'appointment' AND status = 'open';
-- A record's tasks (the activity that answers one, the 360 view).
CREATE INDEX crm_tasks_subject_idx           ON {{schema}}.crm_tasks (tenant_id, subject_type, subject_id, id);
CREATE INDEX crm_tasks_tenant_department_idx ON {{schema}}.crm_tasks (tenant_id, department_id, id);
