DROP TABLE IF EXISTS {{schema}}.crm_external_ids;
