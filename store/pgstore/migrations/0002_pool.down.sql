-- Reverts 0002_pool: drops the pool tables of the schema (and their data).
DROP TABLE IF EXISTS {{schema}}.crm_pool_requests;
DROP TABLE IF EXISTS {{schema}}.crm_pool_counters;
DROP TABLE IF EXISTS {{schema}}.crm_pool_ledger;
DROP TABLE IF EXISTS {{schema}}.crm_pool_holdings;
DROP TABLE IF EXISTS {{schema}}.crm_pools;
