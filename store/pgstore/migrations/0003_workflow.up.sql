-- crmkit schema, version 3: workflow routing state, SLA timers and
-- approvals (package workflow).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- Routing cursors move by compare-and-swap on version; loads and daily
-- counts grow by conditional upserts that enforce capacity and quota. SLA
-- timers carry next_at (the warning, else the due instant) so Tick's
-- FOR UPDATE SKIP LOCKED scan reads one partial index. Approval definitions
-- keep every version; an approval request is stored as the JSON of
-- workflow.Instance beside the columns that identify it, and a partial
-- unique index allows one pending request per record.

CREATE TABLE {{schema}}.crm_routing_cursors (
    tenant_id text   NOT NULL DEFAULT '',
    rule_set  text   NOT NULL,
    rule      text   NOT NULL,
    last_user uuid,
    version   bigint NOT NULL CHECK (version > 0),
    PRIMARY KEY (tenant_id, rule_set, rule)
);

CREATE TABLE {{schema}}.crm_routing_loads (
    tenant_id  text    NOT NULL DEFAULT '',
    rule_set   text    NOT NULL,
    user_id    uuid    NOT NULL,
    open_items integer NOT NULL CHECK (open_items >= 0),
    PRIMARY KEY (tenant_id, rule_set, user_id)
);

CREATE TABLE {{schema}}.crm_routing_daily (
    tenant_id text    NOT NULL DEFAULT '',
    rule_set  text    NOT NULL,
    user_id   uuid    NOT NULL,
    day       text    NOT NULL,
    routed    integer NOT NULL CHECK (routed >= 0),
    PRIMARY KEY (tenant_id, rule_set, user_id, day)
);

CREATE TABLE {{schema}}.crm_sla_timers (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL DEFAULT '',
    version       bigint      NOT NULL,
    record_type   text        NOT NULL,
    record_id     uuid        NOT NULL,
    policy        text        NOT NULL,
    consumed_ns   bigint      NOT NULL DEFAULT 0,
    running_since timestamptz,
    warn_at       timestamptz,
    due_at        timestamptz,
    warned        boolean     NOT NULL DEFAULT false,
    breached      boolean     NOT NULL DEFAULT false,
    stopped       boolean     NOT NULL DEFAULT false,
    next_at       timestamptz GENERATED ALWAYS AS (COALESCE(warn_at, due_at)) STORED
);
CREATE INDEX crm_sla_timers_next_idx ON {{schema}}.crm_sla_timers (tenant_id, next_at, id)
    WHERE next_at IS NOT NULL;

CREATE TABLE {{schema}}.crm_approval_definitions (
    tenant_id   text        NOT NULL DEFAULT '',
    key         text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    record_type text        NOT NULL,
    created_at  timestamptz NOT NULL,
    spec        jsonb       NOT NULL,
    PRIMARY KEY (tenant_id, key, version)
);

CREATE TABLE {{schema}}.crm_approval_instances (
    id                 uuid        PRIMARY KEY,
    tenant_id          text        NOT NULL DEFAULT '',
    version            bigint      NOT NULL,
    definition         text        NOT NULL,
    definition_version integer     NOT NULL,
    record_type        text        NOT NULL,
    record_id          uuid        NOT NULL,
    submitter          uuid        NOT NULL,
    status             text        NOT NULL,
    submitted_at       timestamptz,
    body               jsonb       NOT NULL
);
CREATE UNIQUE INDEX crm_approval_instances_pending_idx ON {{schema}}.crm_approval_instances (tenant_id, record_type, record_id)
    WHERE status = 'pending';
CREATE INDEX crm_approval_instances_record_idx ON {{schema}}.crm_approval_instances (tenant_id, record_type, record_id);
