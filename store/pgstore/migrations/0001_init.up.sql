-- crmkit schema, version 1: the shared records and the transactional outbox.
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- Conventions: every record has id uuid primary key, tenant_id text (''
-- is the default tenant), version, created_at and updated_at. A reference
-- that points nowhere (crm.NilID) is NULL. Lists run keyset pagination on
-- (tenant_id, id) and each filter has an index that starts with tenant_id
-- and ends with id, so a filtered page is one index range scan.

CREATE TABLE {{schema}}.crm_leads (
    id                       uuid        PRIMARY KEY,
    tenant_id                text        NOT NULL DEFAULT '',
    version                  bigint      NOT NULL,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    name                     text        NOT NULL DEFAULT '',
    company                  text        NOT NULL DEFAULT '',
    title                    text        NOT NULL DEFAULT '',
    email                    text        NOT NULL DEFAULT '',
    phone                    text        NOT NULL DEFAULT '',
    industry                 text        NOT NULL DEFAULT '',
    region                   text        NOT NULL DEFAULT '',
    source                   text        NOT NULL DEFAULT '',
    company_size             integer     NOT NULL DEFAULT 0,
    status                   text        NOT NULL,
    disqualify_reason        text        NOT NULL DEFAULT '',
    owner_id                 uuid,
    department_id            uuid,
    created_by               uuid,
    converted_customer_id    uuid,
    converted_contact_id     uuid,
    converted_opportunity_id uuid,
    converted_at             timestamptz,
    tags                     text[],
    fields                   jsonb
);
CREATE INDEX crm_leads_tenant_idx            ON {{schema}}.crm_leads (tenant_id, id);
CREATE INDEX crm_leads_tenant_status_idx     ON {{schema}}.crm_leads (tenant_id, status, id);
CREATE INDEX crm_leads_tenant_owner_idx      ON {{schema}}.crm_leads (tenant_id, owner_id, id);
CREATE INDEX crm_leads_tenant_department_idx ON {{schema}}.crm_leads (tenant_id, department_id, id);
CREATE INDEX crm_leads_tenant_source_idx     ON {{schema}}.crm_leads (tenant_id, source, id);

CREATE TABLE {{schema}}.crm_customers (
    id                uuid        PRIMARY KEY,
    tenant_id         text        NOT NULL DEFAULT '',
    version           bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    kind              text        NOT NULL,
    name              text        NOT NULL,
    level             text        NOT NULL DEFAULT '',
    industry          text        NOT NULL DEFAULT '',
    region            text        NOT NULL DEFAULT '',
    source            text        NOT NULL DEFAULT '',
    status            text        NOT NULL,
    phone             text        NOT NULL DEFAULT '',
    email             text        NOT NULL DEFAULT '',
    address           text        NOT NULL DEFAULT '',
    website           text        NOT NULL DEFAULT '',
    owner_id          uuid,
    department_id     uuid,
    pool_id           uuid,
    created_by        uuid,
    last_follow_up_at timestamptz,
    last_deal_at      timestamptz,
    fields            jsonb,
    CONSTRAINT crm_customers_owned_or_pooled CHECK (owner_id IS NULL OR pool_id IS NULL)
);
CREATE INDEX crm_customers_tenant_idx            ON {{schema}}.crm_customers (tenant_id, id);
CREATE INDEX crm_customers_tenant_status_idx     ON {{schema}}.crm_customers (tenant_id, status, id);
CREATE INDEX crm_customers_tenant_owner_idx      ON {{schema}}.crm_customers (tenant_id, owner_id, id);
CREATE INDEX crm_customers_tenant_department_idx ON {{schema}}.crm_customers (tenant_id, department_id, id);
CREATE INDEX crm_customers_tenant_pool_idx       ON {{schema}}.crm_customers (tenant_id, pool_id, id);
CREATE INDEX crm_customers_tenant_level_idx      ON {{schema}}.crm_customers (tenant_id, level, id);
CREATE INDEX crm_customers_tenant_region_idx     ON {{schema}}.crm_customers (tenant_id, region, id);
CREATE INDEX crm_customers_tenant_industry_idx   ON {{schema}}.crm_customers (tenant_id, industry, id);

CREATE TABLE {{schema}}.crm_contacts (
    id          uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL DEFAULT '',
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    customer_id uuid        NOT NULL,
    name        text        NOT NULL,
    title       text        NOT NULL DEFAULT '',
    phones      text[],
    emails      text[],
    is_primary  boolean     NOT NULL DEFAULT false,
    owner_id    uuid,
    fields      jsonb
);
CREATE INDEX crm_contacts_tenant_idx          ON {{schema}}.crm_contacts (tenant_id, id);
CREATE INDEX crm_contacts_tenant_customer_idx ON {{schema}}.crm_contacts (tenant_id, customer_id, id);

-- amount is an unconstrained numeric so that its scale survives a round trip
-- (12.30 stays 12.30, as crm.Money keeps it); the check enforces crm.Money's
-- own bounds of 28 integer and 10 fractional digits, i.e. numeric(38, 10).
CREATE TABLE {{schema}}.crm_opportunities (
    id              uuid        PRIMARY KEY,
    tenant_id       text        NOT NULL DEFAULT '',
    version         bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    customer_id     uuid        NOT NULL,
    name            text        NOT NULL,
    amount          numeric,
    amount_currency text,
    stage           text        NOT NULL,
    probability     integer     NOT NULL DEFAULT 0,
    expected_close  timestamptz,
    closed_at       timestamptz,
    owner_id        uuid,
    department_id   uuid,
    fields          jsonb,
    CONSTRAINT crm_opportunities_amount_currency CHECK ((amount IS NULL) = (amount_currency IS NULL)),
    CONSTRAINT crm_opportunities_amount_range CHECK (amount IS NULL OR (scale(amount) <= 10 AND abs(amount) < 1e28))
);
CREATE INDEX crm_opportunities_tenant_idx          ON {{schema}}.crm_opportunities (tenant_id, id);
CREATE INDEX crm_opportunities_tenant_customer_idx ON {{schema}}.crm_opportunities (tenant_id, customer_id, id);
CREATE INDEX crm_opportunities_tenant_owner_idx    ON {{schema}}.crm_opportunities (tenant_id, owner_id, id);
CREATE INDEX crm_opportunities_tenant_stage_idx    ON {{schema}}.crm_opportunities (tenant_id, stage, id);

CREATE TABLE {{schema}}.crm_activities (
    id                uuid        PRIMARY KEY,
    tenant_id         text        NOT NULL DEFAULT '',
    version           bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    kind              text        NOT NULL,
    subject_type      text        NOT NULL,
    subject_id        uuid        NOT NULL,
    actor_id          uuid        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    note              text        NOT NULL DEFAULT '',
    next_follow_up_at timestamptz,
    fields            jsonb
);
CREATE INDEX crm_activities_tenant_idx          ON {{schema}}.crm_activities (tenant_id, id);
CREATE INDEX crm_activities_tenant_subject_idx  ON {{schema}}.crm_activities (tenant_id, subject_type, subject_id, id);
CREATE INDEX crm_activities_tenant_actor_idx    ON {{schema}}.crm_activities (tenant_id, actor_id, id);
CREATE INDEX crm_activities_tenant_kind_idx     ON {{schema}}.crm_activities (tenant_id, kind, id);
CREATE INDEX crm_activities_tenant_occurred_idx ON {{schema}}.crm_activities (tenant_id, occurred_at, id);

CREATE TABLE {{schema}}.crm_tickets (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL DEFAULT '',
    version       bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    customer_id   uuid,
    contact_id    uuid,
    subject       text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    priority      text        NOT NULL,
    status        text        NOT NULL,
    assignee_id   uuid,
    team_id       uuid,
    department_id uuid,
    resolved_at   timestamptz,
    fields        jsonb
);
CREATE INDEX crm_tickets_tenant_idx            ON {{schema}}.crm_tickets (tenant_id, id);
CREATE INDEX crm_tickets_tenant_customer_idx   ON {{schema}}.crm_tickets (tenant_id, customer_id, id);
CREATE INDEX crm_tickets_tenant_assignee_idx   ON {{schema}}.crm_tickets (tenant_id, assignee_id, id);
CREATE INDEX crm_tickets_tenant_team_idx       ON {{schema}}.crm_tickets (tenant_id, team_id, id);
CREATE INDEX crm_tickets_tenant_status_idx     ON {{schema}}.crm_tickets (tenant_id, status, id);
CREATE INDEX crm_tickets_tenant_department_idx ON {{schema}}.crm_tickets (tenant_id, department_id, id);

-- email_key is crm.User.EmailKey (trimmed, lower-cased by Go's Unicode
-- rules), written by pgstore, so the unique key is the same in every adapter
-- whatever the database's collation and ctype.
CREATE TABLE {{schema}}.crm_users (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL DEFAULT '',
    version       bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    name          text        NOT NULL,
    email         text        NOT NULL,
    email_key     text        NOT NULL,
    phone         text        NOT NULL DEFAULT '',
    department_id uuid,
    roles         text[],
    skills        text[],
    regions       text[],
    capacity      integer     NOT NULL DEFAULT 0,
    active        boolean     NOT NULL DEFAULT true,
    fields        jsonb
);
CREATE UNIQUE INDEX crm_users_tenant_email_key ON {{schema}}.crm_users (tenant_id, email_key);
CREATE INDEX crm_users_tenant_idx            ON {{schema}}.crm_users (tenant_id, id);
CREATE INDEX crm_users_tenant_department_idx ON {{schema}}.crm_users (tenant_id, department_id, id);
CREATE INDEX crm_users_tenant_active_idx     ON {{schema}}.crm_users (tenant_id, active, id);
CREATE INDEX crm_users_roles_idx             ON {{schema}}.crm_users USING gin (roles);

CREATE TABLE {{schema}}.crm_departments (
    id         uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL DEFAULT '',
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    name       text        NOT NULL,
    parent_id  uuid,
    manager_id uuid,
    fields     jsonb,
    CONSTRAINT crm_departments_not_own_parent CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX crm_departments_tenant_idx        ON {{schema}}.crm_departments (tenant_id, id);
CREATE INDEX crm_departments_tenant_parent_idx ON {{schema}}.crm_departments (tenant_id, parent_id, id);

CREATE TABLE {{schema}}.crm_teams (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL DEFAULT '',
    version       bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    name          text        NOT NULL,
    department_id uuid,
    lead_id       uuid,
    member_ids    uuid[],
    fields        jsonb
);
CREATE INDEX crm_teams_tenant_idx            ON {{schema}}.crm_teams (tenant_id, id);
CREATE INDEX crm_teams_tenant_department_idx ON {{schema}}.crm_teams (tenant_id, department_id, id);
CREATE INDEX crm_teams_members_idx           ON {{schema}}.crm_teams USING gin (member_ids);

-- The transactional outbox. payload is json, not jsonb, so a relay forwards
-- exactly the bytes the producer wrote (jsonb reorders keys and spacing).
CREATE TABLE {{schema}}.crm_events (
    id           uuid        PRIMARY KEY,
    seq          bigserial   NOT NULL UNIQUE,
    tenant_id    text        NOT NULL DEFAULT '',
    type         text        NOT NULL,
    subject_type text        NOT NULL,
    subject_id   uuid        NOT NULL,
    actor_id     uuid,
    occurred_at  timestamptz NOT NULL,
    payload      json,
    acked_at     timestamptz
);
CREATE INDEX crm_events_pending_idx ON {{schema}}.crm_events (seq) WHERE acked_at IS NULL;
