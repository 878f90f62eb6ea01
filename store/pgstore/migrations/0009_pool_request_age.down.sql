-- Reverts 0009_pool_request_age: drops the index by age.
DROP INDEX IF EXISTS {{schema}}.crm_pool_requests_created_idx;
