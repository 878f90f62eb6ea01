-- Reverts 0015_ticket_lifecycle: tickets lose their close and first
-- response times, satisfaction scores and SLA timer links.
ALTER TABLE {{schema}}.crm_tickets
    DROP COLUMN sla_timer_id,
    DROP COLUMN satisfaction,
    DROP COLUMN first_response_at,
    DROP COLUMN closed_at;
