DROP TABLE IF EXISTS {{schema}}.crm_opportunity_stages;
DROP INDEX IF EXISTS {{schema}}.crm_opportunities_pipeline_closed_idx;
DROP INDEX IF EXISTS {{schema}}.crm_opportunities_pipeline_open_idx;
ALTER TABLE {{schema}}.crm_opportunities
    DROP COLUMN IF EXISTS lost_reason,
    DROP COLUMN IF EXISTS pipeline;
