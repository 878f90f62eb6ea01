-- crmkit schema, version 9: stored idempotency records are pruned by age
-- (pool.Service.PruneRequests), so they are indexed by tenant and time.
CREATE INDEX crm_pool_requests_created_idx ON {{schema}}.crm_pool_requests (tenant_id, created_at);
