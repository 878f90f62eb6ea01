-- crmkit schema, version 7: hand-off states (package workflow).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- One row per record and hand-off machine: the record's stage and, as the
-- JSON of []workflow.Handoff, every move that brought it there. Moves
-- replace the row by compare-and-swap on version.

CREATE TABLE {{schema}}.crm_handoffs (
    tenant_id   text        NOT NULL DEFAULT '',
    machine     text        NOT NULL,
    record_type text        NOT NULL,
    record_id   uuid        NOT NULL,
    stage       text        NOT NULL,
    version     bigint      NOT NULL CHECK (version > 0),
    updated_at  timestamptz NOT NULL,
    history     jsonb       NOT NULL,
    PRIMARY KEY (tenant_id, machine, record_type, record_id)
);
