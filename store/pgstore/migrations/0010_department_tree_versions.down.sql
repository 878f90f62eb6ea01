-- Reverts 0010_department_tree_versions: drops the counters.
DROP TABLE IF EXISTS {{schema}}.crm_department_tree_versions;
