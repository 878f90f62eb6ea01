-- Reverts 0017_reminders: drops the reminder firings (and their data) and
-- the sweep indexes, and restores the reminder index of 0016.
DROP INDEX IF EXISTS {{schema}}.crm_approval_instances_pending_id_idx;
DROP INDEX IF EXISTS {{schema}}.crm_tasks_overdue_idx;
DROP INDEX IF EXISTS {{schema}}.crm_tasks_remind_idx;
CREATE INDEX crm_tasks_remind_idx ON {{schema}}.crm_tasks (tenant_id, remind_at) WHERE status = 'open' AND remind_at IS NOT NULL;
DROP TABLE IF EXISTS {{schema}}.crm_reminder_firings;
