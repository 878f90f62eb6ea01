-- crmkit schema, version 19: pool notices (package remind, kind pool.notice).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- The notice sweep lists one pool's owned, unlocked holdings due within
-- the pool's notice period in (due_at, customer_id) order, going on after
-- the last one of the previous batch: one range of this index per pool,
-- partial on the rows the recycling sweep's due index holds.
CREATE INDEX crm_pool_holdings_pool_due_idx ON {{schema}}.crm_pool_holdings (tenant_id, pool_id, due_at, customer_id)
    WHERE owner_id IS NOT NULL AND NOT locked AND due_at IS NOT NULL;
