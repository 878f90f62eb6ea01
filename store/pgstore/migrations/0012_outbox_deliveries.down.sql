-- Reverts 0012_outbox_deliveries: the delivery state goes; events keep
-- only their acknowledgement.
DROP INDEX {{schema}}.crm_events_parked_idx;
DROP INDEX {{schema}}.crm_events_subject_held_idx;
ALTER TABLE {{schema}}.crm_events
    DROP COLUMN lease_until,
    DROP COLUMN lease_owner,
    DROP COLUMN next_attempt_at,
    DROP COLUMN parked_at,
    DROP COLUMN last_error,
    DROP COLUMN attempts;
