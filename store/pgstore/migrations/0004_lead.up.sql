-- crmkit schema, version 4: lead history, score snapshots and model
-- documents (package lead).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- History is append-only and listed per lead in ID order. A lead has one
-- score snapshot per model ID, replaced by compare-and-swap on version.
-- Model documents keep their bytes exactly (bytea, not jsonb), so storing a
-- version again can be compared byte for byte; kind separates rule-based
-- scoring models from predictors.

CREATE TABLE {{schema}}.crm_lead_history (
    id          uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL DEFAULT '',
    lead_id     uuid        NOT NULL,
    from_status text        NOT NULL,
    to_status   text        NOT NULL,
    actor_id    uuid,
    at          timestamptz NOT NULL,
    reason      text        NOT NULL DEFAULT ''
);
CREATE INDEX crm_lead_history_lead_idx ON {{schema}}.crm_lead_history (tenant_id, lead_id, id);

CREATE TABLE {{schema}}.crm_lead_scores (
    tenant_id     text             NOT NULL DEFAULT '',
    lead_id       uuid             NOT NULL,
    model_id      text             NOT NULL,
    model_version integer          NOT NULL,
    fit           double precision NOT NULL,
    engagement    double precision NOT NULL,
    total         double precision NOT NULL,
    grade         text             NOT NULL DEFAULT '',
    stage         text             NOT NULL DEFAULT '',
    computed_at   timestamptz      NOT NULL,
    version       bigint           NOT NULL,
    PRIMARY KEY (tenant_id, lead_id, model_id)
);

CREATE TABLE {{schema}}.crm_lead_models (
    tenant_id  text        NOT NULL DEFAULT '',
    kind       text        NOT NULL,
    model_id   text        NOT NULL,
    version    integer     NOT NULL CHECK (version >= 1),
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind, model_id, version)
);
