-- crmkit schema, version 26: external IDs of imported customers (package
-- importer).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- One row per external ID of a source system: the unique primary key makes
-- an external ID name at most one customer per tenant and source, so of
-- concurrent imports of one external ID only one commits. No foreign key:
-- a merged customer keeps its row, and the import follows the merge.
-- digest is the digest of the row last imported, so an unchanged row is
-- known without reading the customer.

CREATE TABLE {{schema}}.crm_external_ids (
    tenant_id   text NOT NULL DEFAULT '',
    source      text NOT NULL,
    external_id text NOT NULL,
    customer_id uuid NOT NULL,
    digest      text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, source, external_id)
);
CREATE INDEX crm_external_ids_customer_idx ON {{schema}}.crm_external_ids (tenant_id, customer_id);
