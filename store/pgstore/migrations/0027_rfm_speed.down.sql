-- Reverts 0027_rfm_speed: each score carries its computation's currency
-- and time again, the scores are logged again and the won deals' covering
-- index is dropped.
ALTER TABLE {{schema}}.crm_rfm_scores ADD COLUMN currency text, ADD COLUMN computed_at timestamptz;
UPDATE {{schema}}.crm_rfm_scores AS s SET currency = r.currency, computed_at = r.computed_at
    FROM {{schema}}.crm_rfm_runs AS r WHERE r.tenant_id = s.tenant_id;
DELETE FROM {{schema}}.crm_rfm_scores WHERE currency IS NULL;
ALTER TABLE {{schema}}.crm_rfm_scores ALTER COLUMN currency SET NOT NULL, ALTER COLUMN computed_at SET NOT NULL;
DROP TABLE IF EXISTS {{schema}}.crm_rfm_runs;
ALTER TABLE {{schema}}.crm_rfm_scores SET LOGGED;
DROP INDEX IF EXISTS {{schema}}.crm_opportunities_won_rfm_idx;
