-- Reverts 0013_history: drops the field history (and its entries).
DROP TABLE IF EXISTS {{schema}}.crm_history;
