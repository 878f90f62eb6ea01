-- Reverts 0008_ownership_indexes: full ownership indexes again.
ALTER TABLE {{schema}}.crm_pool_ledger ADD CONSTRAINT crm_pool_ledger_seq_key UNIQUE (seq);

CREATE INDEX crm_pool_holdings_owner_idx ON {{schema}}.crm_pool_holdings (tenant_id, owner_id, customer_id);

DROP INDEX {{schema}}.crm_customers_tenant_owner_idx;
DROP INDEX {{schema}}.crm_customers_tenant_department_idx;
DROP INDEX {{schema}}.crm_customers_tenant_pool_idx;
CREATE INDEX crm_customers_tenant_owner_idx      ON {{schema}}.crm_customers (tenant_id, owner_id, id);
CREATE INDEX crm_customers_tenant_department_idx ON {{schema}}.crm_customers (tenant_id, department_id, id);
CREATE INDEX crm_customers_tenant_pool_idx       ON {{schema}}.crm_customers (tenant_id, pool_id, id);
