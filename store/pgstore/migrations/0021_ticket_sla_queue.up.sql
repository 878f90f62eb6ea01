-- crmkit schema, version 21: the work queue of tickets by SLA due time.
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- sla_due_at is crm.Ticket.SLADueAt: the deadline of the SLA timer running
-- on the ticket, NULL while none runs (no policy, paused while pending,
-- stopped at resolution). Adding a nullable column rewrites no rows.
ALTER TABLE {{schema}}.crm_tickets ADD COLUMN sla_due_at timestamptz;

-- Existing tickets whose timer runs (not paused: running_since is set; not
-- stopped) take its deadline. A timer that already breached keeps no due
-- time (crm_sla_timers.due_at is NULL once the breach fired): its ticket
-- is placed at the start of the timer's current run, in the past as the
-- missed deadline is, so it heads the queue as the service would place it.
UPDATE {{schema}}.crm_tickets AS t
   SET sla_due_at = COALESCE(s.due_at, s.running_since)
  FROM {{schema}}.crm_sla_timers AS s
 WHERE s.id = t.sla_timer_id AND s.tenant_id = t.tenant_id
   AND s.running_since IS NOT NULL AND NOT s.stopped
   AND t.status NOT IN ('resolved', 'closed');

-- The queue lists an assignee's, or a department's, tickets by SLA due
-- time, earliest first: one range of these indexes per assignee
-- (department), read in queue order and stopped by the page's LIMIT. Both
-- are partial on the tickets a queue can list.
CREATE INDEX crm_tickets_assignee_sla_idx ON {{schema}}.crm_tickets (tenant_id, assignee_id, sla_due_at, id)
    WHERE sla_due_at IS NOT NULL;
CREATE INDEX crm_tickets_department_sla_idx ON {{schema}}.crm_tickets (tenant_id, department_id, sla_due_at, id)
    WHERE sla_due_at IS NOT NULL;
