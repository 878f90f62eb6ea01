-- crmkit schema, version 24: configurable pipelines (package pipeline).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- An opportunity names its pipeline ('' is the built-in one) and, when
-- lost, the reason from its lost stage's list.
ALTER TABLE {{schema}}.crm_opportunities
    ADD COLUMN pipeline    text NOT NULL DEFAULT '',
    ADD COLUMN lost_reason text NOT NULL DEFAULT '';

-- Open deals by pipeline for the weighted pipeline and the forecast
-- (pipeline.Analytics); closed deals by close time for win rate, deal
-- size and sales cycle.
CREATE INDEX crm_opportunities_pipeline_open_idx ON {{schema}}.crm_opportunities (tenant_id, pipeline, expected_close)
    WHERE closed_at IS NULL;
CREATE INDEX crm_opportunities_pipeline_closed_idx ON {{schema}}.crm_opportunities (tenant_id, pipeline, closed_at)
    WHERE closed_at IS NOT NULL;

-- The stage history (pipeline.StageHistory): one row per stay of an
-- opportunity in a stage, left_at NULL while it is there; first marks
-- the opportunity's first stay in its stage, and stay_us is the stay's
-- length in microseconds once left, kept by the database so the funnel's
-- median sorts a stored integer. An opportunity's history is read in
-- order by the primary key; the funnel counts the stays entered in a
-- period with the index on entered_at.
CREATE TABLE {{schema}}.crm_opportunity_stages (
    tenant_id      text        NOT NULL DEFAULT '',
    opportunity_id uuid        NOT NULL,
    seq            integer     NOT NULL,
    pipeline       text        NOT NULL,
    stage          text        NOT NULL,
    entered_at     timestamptz NOT NULL,
    entered_by     uuid,
    left_at        timestamptz,
    left_by        uuid,
    first          boolean     NOT NULL,
    stay_us        bigint      GENERATED ALWAYS AS ((extract(epoch FROM left_at - entered_at) * 1000000)::bigint) STORED,
    PRIMARY KEY (opportunity_id, seq),
    CONSTRAINT crm_opportunity_stages_left CHECK (left_at IS NULL OR left_at >= entered_at)
);
CREATE INDEX crm_opportunity_stages_entered_idx ON {{schema}}.crm_opportunity_stages (tenant_id, pipeline, entered_at);
CREATE UNIQUE INDEX crm_opportunity_stages_open_idx ON {{schema}}.crm_opportunity_stages (opportunity_id)
    WHERE left_at IS NULL;
-- The medians of the funnel read the left stays of one stage at a time,
-- in the period, from this index alone.
CREATE INDEX crm_opportunity_stages_timed_idx ON {{schema}}.crm_opportunity_stages (tenant_id, pipeline, stage, entered_at)
    INCLUDE (stay_us) WHERE left_at IS NOT NULL;
