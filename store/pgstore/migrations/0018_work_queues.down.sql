-- Reverts 0018_work_queues: drops the work queues' indexes.
DROP INDEX IF EXISTS {{schema}}.crm_tasks_department_due_idx;
DROP INDEX IF EXISTS {{schema}}.crm_pool_holdings_department_due_idx;
DROP INDEX IF EXISTS {{schema}}.crm_pool_holdings_owner_due_idx;
