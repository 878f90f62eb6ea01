-- crmkit schema, version 2: public customer pools (package pool).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- A pool definition is stored as the JSON of pool.Pool next to its
-- bookkeeping columns. Holdings carry each customer's pool state; the
-- partial due index serves Sweep's FOR UPDATE SKIP LOCKED scan. Counters
-- make limits decidable by one conditional upsert. The ledger is
-- append-only; seq orders it.

CREATE TABLE {{schema}}.crm_pools (
    id         uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL DEFAULT '',
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    definition jsonb       NOT NULL
);
CREATE INDEX crm_pools_tenant_idx ON {{schema}}.crm_pools (tenant_id, id);

CREATE TABLE {{schema}}.crm_pool_holdings (
    customer_id          uuid        PRIMARY KEY,
    tenant_id            text        NOT NULL DEFAULT '',
    version              bigint      NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    pool_id              uuid,
    owner_id             uuid,
    owner_department_id  uuid,
    locked               boolean     NOT NULL DEFAULT false,
    dealt                boolean     NOT NULL DEFAULT false,
    entered_at           timestamptz,
    owned_since          timestamptz,
    protected_until      timestamptz,
    previous_owner_id    uuid,
    previous_owner_until timestamptz,
    last_opportunity_at  timestamptz,
    open_opportunity     boolean     NOT NULL DEFAULT false,
    due_at               timestamptz,
    due_reason           text        NOT NULL DEFAULT '',
    due_rule_id          text        NOT NULL DEFAULT '',
    CONSTRAINT crm_pool_holdings_lock_needs_owner CHECK (NOT locked OR owner_id IS NOT NULL)
);
CREATE INDEX crm_pool_holdings_due_idx ON {{schema}}.crm_pool_holdings (tenant_id, due_at, customer_id)
    WHERE owner_id IS NOT NULL AND NOT locked AND due_at IS NOT NULL;
CREATE INDEX crm_pool_holdings_owner_idx ON {{schema}}.crm_pool_holdings (tenant_id, owner_id, customer_id);

CREATE TABLE {{schema}}.crm_pool_ledger (
    id              uuid        PRIMARY KEY,
    seq             bigserial   NOT NULL UNIQUE,
    tenant_id       text        NOT NULL DEFAULT '',
    customer_id     uuid        NOT NULL,
    op              text        NOT NULL,
    from_owner      uuid,
    to_owner        uuid,
    from_pool       uuid,
    to_pool         uuid,
    reason          text        NOT NULL DEFAULT '',
    rule_id         text        NOT NULL DEFAULT '',
    rule            jsonb,
    actor_id        uuid,
    at              timestamptz NOT NULL,
    idempotency_key text        NOT NULL DEFAULT ''
);
CREATE INDEX crm_pool_ledger_tenant_idx   ON {{schema}}.crm_pool_ledger (tenant_id, seq);
CREATE INDEX crm_pool_ledger_customer_idx ON {{schema}}.crm_pool_ledger (tenant_id, customer_id, seq);

CREATE TABLE {{schema}}.crm_pool_counters (
    tenant_id text   NOT NULL DEFAULT '',
    key       text   NOT NULL,
    value     bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE {{schema}}.crm_pool_requests (
    tenant_id   text        NOT NULL DEFAULT '',
    key         text        NOT NULL,
    op          text        NOT NULL,
    customer_id uuid        NOT NULL,
    actor_id    uuid,
    result      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
