-- crmkit schema, version 27: RFM computed within seconds for a million
-- customers (package segment; see store/pgstore/segment.go).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- The won opportunities of a tenant, in customer order, with
-- every column the RFM aggregate reads: the computation is an index-only
-- scan aggregated as it streams, with no sort or hash of the deals. The
-- index is partial (won deals only), so open and lost deals do not pay
-- for it; a deal pays for it when it is won, changes amount or close time
-- while won, or leaves the won stage.
CREATE INDEX crm_opportunities_won_rfm_idx ON {{schema}}.crm_opportunities (tenant_id, customer_id, amount_currency)
    INCLUDE (closed_at, updated_at, amount) WHERE stage = 'won';

-- RFM scores are derived data: segment.Service.Compute recomputes them at
-- any time from the opportunities. The table is UNLOGGED so that replacing
-- a large tenant's scores does not also write them to the WAL (which
-- doubled the time of inserting them). The trade-off: after a crash (not a
-- clean restart) PostgreSQL empties the table, so every customer reads as
-- unscored until the next computation; and the scores are not replicated,
-- so a standby cannot read them.
ALTER TABLE {{schema}}.crm_rfm_scores SET UNLOGGED;

-- The currency and time of a tenant's last RFM computation, once per
-- tenant rather than on every score: a computation then rewrites only the
-- scores that changed (new, changed or no longer scored customers), which
-- on a recomputation is a small part of them. UNLOGGED like the scores, so
-- that a crash empties both together.
CREATE TABLE {{schema}}.crm_rfm_runs (
    tenant_id   text        PRIMARY KEY,
    currency    text        NOT NULL,
    computed_at timestamptz NOT NULL
);
ALTER TABLE {{schema}}.crm_rfm_runs SET UNLOGGED;
INSERT INTO {{schema}}.crm_rfm_runs (tenant_id, currency, computed_at)
    SELECT DISTINCT ON (tenant_id) tenant_id, currency, computed_at FROM {{schema}}.crm_rfm_scores
    ORDER BY tenant_id, computed_at DESC;
ALTER TABLE {{schema}}.crm_rfm_scores DROP COLUMN currency, DROP COLUMN computed_at;
