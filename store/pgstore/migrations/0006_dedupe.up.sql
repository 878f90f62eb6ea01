-- crmkit schema, version 6: normalised match keys of records (package
-- dedupe).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- One row per key of a record. Blocking keys are looked up by (tenant,
-- kind, key), newest record first, through the primary key. A record's
-- strong key is stored with kind 'strong'; the partial unique index makes
-- it unique per tenant, so of concurrent entries of one customer only one
-- commits. Keys refer to records by ID only (no foreign key): the port
-- serves any record type and merged records keep no keys.

CREATE TABLE {{schema}}.crm_dedupe_keys (
    tenant_id text NOT NULL DEFAULT '',
    kind      text NOT NULL,
    key       text NOT NULL,
    record_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, kind, key, record_id)
);
CREATE INDEX crm_dedupe_keys_record_idx ON {{schema}}.crm_dedupe_keys (tenant_id, record_id);
CREATE UNIQUE INDEX crm_dedupe_keys_strong_idx ON {{schema}}.crm_dedupe_keys (tenant_id, key) WHERE kind = 'strong';
