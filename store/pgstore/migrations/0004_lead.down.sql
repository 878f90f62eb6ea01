-- Reverts 0004_lead: drops the lead tables of the schema (and their data).
DROP TABLE IF EXISTS {{schema}}.crm_lead_models;
DROP TABLE IF EXISTS {{schema}}.crm_lead_scores;
DROP TABLE IF EXISTS {{schema}}.crm_lead_history;
