-- crmkit schema, version 15: what the ticket lifecycle (package ticket)
-- keeps on a ticket: when it was closed and first answered, the
-- satisfaction score given at close (0: none), and the SLA timer that
-- measures its current run. Adding nullable columns, and one with a
-- constant default, rewrites no rows; existing tickets keep their status.
ALTER TABLE {{schema}}.crm_tickets
    ADD COLUMN closed_at         timestamptz,
    ADD COLUMN first_response_at timestamptz,
    ADD COLUMN satisfaction      integer     NOT NULL DEFAULT 0,
    ADD COLUMN sla_timer_id      uuid;
