-- crmkit schema, version 8: cheaper ownership changes.
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- A claim, release or recycle changes a customer's owner, department and
-- pool, all indexed, so PostgreSQL writes a new entry into every index of
-- crm_customers for each such change. Index entries for NULL are never
-- looked up (list filters ask for "= ANY(...)"; "unowned" lists go by pool
-- or scan in ID order), so the three ownership indexes become partial:
-- a pooled customer has no owner or department entry, an owned one no pool
-- entry. The holdings' owner index served no query and goes; so does the
-- ledger's unique index on seq, which its sequence already makes unique
-- and (tenant_id, seq) already orders.

DROP INDEX {{schema}}.crm_customers_tenant_owner_idx;
DROP INDEX {{schema}}.crm_customers_tenant_department_idx;
DROP INDEX {{schema}}.crm_customers_tenant_pool_idx;
CREATE INDEX crm_customers_tenant_owner_idx      ON {{schema}}.crm_customers (tenant_id, owner_id, id) WHERE owner_id IS NOT NULL;
CREATE INDEX crm_customers_tenant_department_idx ON {{schema}}.crm_customers (tenant_id, department_id, id) WHERE department_id IS NOT NULL;
CREATE INDEX crm_customers_tenant_pool_idx       ON {{schema}}.crm_customers (tenant_id, pool_id, id) WHERE pool_id IS NOT NULL;

DROP INDEX {{schema}}.crm_pool_holdings_owner_idx;

ALTER TABLE {{schema}}.crm_pool_ledger DROP CONSTRAINT crm_pool_ledger_seq_key;
