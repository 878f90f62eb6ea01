-- Reverts 0021_ticket_sla_queue: drops the queue's indexes and the
-- tickets' SLA due times (the timers keep theirs).
DROP INDEX IF EXISTS {{schema}}.crm_tickets_department_sla_idx;
DROP INDEX IF EXISTS {{schema}}.crm_tickets_assignee_sla_idx;
ALTER TABLE {{schema}}.crm_tickets DROP COLUMN IF EXISTS sla_due_at;
