-- crmkit schema, version 25: customer tags and RFM scores (package
-- segment).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- Customers carry tags (normalised: trimmed, lower case), matched by the
-- array overlap operator (tags && $1) that the GIN index serves.
ALTER TABLE {{schema}}.crm_customers ADD COLUMN tags text[];
CREATE INDEX crm_customers_tags_idx ON {{schema}}.crm_customers USING gin (tags);

-- One row per scored customer of a tenant: the aggregate of its won
-- opportunities (last won at, count, sum in the computation's currency)
-- and its recency, frequency and monetary scores with the named segment
-- they place it in. segment.Service.Compute replaces a tenant's rows in
-- one statement, so a second run leaves the same table. A segment rule on
-- the segment or the scores joins here by the primary key; a rule that
-- selects by segment alone reads the segment index in customer ID order.
CREATE TABLE {{schema}}.crm_rfm_scores (
    tenant_id   text        NOT NULL,
    customer_id uuid        NOT NULL,
    last_won_at timestamptz NOT NULL,
    frequency   integer     NOT NULL,
    monetary    numeric     NOT NULL,
    currency    text        NOT NULL,
    r           smallint    NOT NULL,
    f           smallint    NOT NULL,
    m           smallint    NOT NULL,
    segment     text        NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX crm_rfm_scores_segment_idx ON {{schema}}.crm_rfm_scores (tenant_id, segment, customer_id);
