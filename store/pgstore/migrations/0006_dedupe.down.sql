-- Reverts 0006_dedupe: drops the match keys of the schema.
DROP TABLE IF EXISTS {{schema}}.crm_dedupe_keys;
