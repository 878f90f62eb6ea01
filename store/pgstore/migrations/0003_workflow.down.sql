-- Reverts 0003_workflow: drops the workflow tables of the schema (and their data).
DROP TABLE IF EXISTS {{schema}}.crm_approval_instances;
DROP TABLE IF EXISTS {{schema}}.crm_approval_definitions;
DROP TABLE IF EXISTS {{schema}}.crm_sla_timers;
DROP TABLE IF EXISTS {{schema}}.crm_routing_daily;
DROP TABLE IF EXISTS {{schema}}.crm_routing_loads;
DROP TABLE IF EXISTS {{schema}}.crm_routing_cursors;
