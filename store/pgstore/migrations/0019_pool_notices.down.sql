-- Reverts 0019_pool_notices: drops the notice sweep's index.
DROP INDEX IF EXISTS {{schema}}.crm_pool_holdings_pool_due_idx;
