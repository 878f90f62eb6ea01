-- Reverts 0025_segments: drops the RFM scores and customer tags.
DROP TABLE IF EXISTS {{schema}}.crm_rfm_scores;
DROP INDEX IF EXISTS {{schema}}.crm_customers_tags_idx;
ALTER TABLE {{schema}}.crm_customers DROP COLUMN IF EXISTS tags;
