-- Reverts 0027_rfm_speed: the RFM scores are logged again and the won
-- deals' covering index is dropped.
ALTER TABLE {{schema}}.crm_rfm_scores SET LOGGED;
DROP INDEX IF EXISTS {{schema}}.crm_opportunities_won_rfm_idx;
