-- Reverts 0016_tasks: drops the tasks and appointments (and their data).
DROP TABLE IF EXISTS {{schema}}.crm_tasks;
