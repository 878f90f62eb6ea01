-- crmkit schema, version 12: the outbox's delivery state (crm.Deliveries),
-- so several relays share the work of forwarding events.
--
-- attempts and last_error count and explain failed deliveries; a parked
-- event (parked_at) waits for a replay; a failed one is due again at
-- next_attempt_at (NULL: due now); a leased one belongs to lease_owner
-- until lease_until. Adding columns with constant defaults rewrites no
-- rows.
ALTER TABLE {{schema}}.crm_events
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error      text,
    ADD COLUMN parked_at       timestamptz,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN lease_owner     text,
    ADD COLUMN lease_until     timestamptz;

-- A pending event may be leased only when no earlier pending event of its
-- subject is parked, leased or waiting for a retry. Only such events are
-- indexed: a lease reads them (usually few) to learn which subjects are
-- held back and from which Seq.
CREATE INDEX crm_events_subject_held_idx ON {{schema}}.crm_events (tenant_id, subject_type, subject_id, seq)
    WHERE acked_at IS NULL AND (parked_at IS NOT NULL OR lease_until IS NOT NULL OR next_attempt_at IS NOT NULL);

-- Parked events in Seq order, for listing them.
CREATE INDEX crm_events_parked_idx ON {{schema}}.crm_events (seq)
    WHERE acked_at IS NULL AND parked_at IS NOT NULL;
