-- crmkit schema, version 14: an ownership ledger entry is its event.
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- Every pool ledger entry used to be two rows: one in crm_pool_ledger and
-- its event (customer.claimed, ...) in crm_events, whose payload carried
-- the entry. Now one crm_events row is both: ledger_op marks it as an
-- entry (and names the operation), ledger_rule keeps the rule snapshot and
-- ledger_key the idempotency key, which the payload leaves out; the rest
-- of the entry is the payload. The entry's ID and Seq are the event's.
-- Adding columns without defaults rewrites no rows.
ALTER TABLE {{schema}}.crm_events
    ADD COLUMN ledger_op   text,
    ADD COLUMN ledger_rule jsonb,
    ADD COLUMN ledger_key  text;

-- A customer's entries in Seq order (pool.Ledger.List); every customer's
-- go by the Seq index.
CREATE INDEX crm_events_ledger_idx ON {{schema}}.crm_events (tenant_id, subject_id, seq)
    WHERE ledger_op IS NOT NULL;

-- An entry without an event (appended through the ledger port alone)
-- gets one, already acknowledged: it was never to be delivered. Its
-- payload starts as the Service writes one, with Seq 0.
INSERT INTO {{schema}}.crm_events (id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload, acked_at)
SELECT l.id, l.tenant_id,
       CASE l.op WHEN 'create' THEN 'customer.acquired' WHEN 'claim' THEN 'customer.claimed'
                 WHEN 'release' THEN 'customer.released' WHEN 'assign' THEN 'customer.assigned'
                 WHEN 'transfer' THEN 'customer.transferred' WHEN 'lock' THEN 'customer.locked'
                 WHEN 'unlock' THEN 'customer.unlocked' WHEN 'move' THEN 'customer.moved'
                 WHEN 'enter' THEN 'customer.pooled' WHEN 'recycle' THEN 'customer.recycled'
                 WHEN 'merge' THEN 'customer.ownership_merged' ELSE 'customer.ownership_unmerged' END,
       'customer', l.customer_id, l.actor_id, l.at,
       ('{"entry_id":"' || l.id || '","seq":0,' || substr(json_strip_nulls(json_build_object('customer_id', l.customer_id, 'op', l.op,
           'from_owner', l.from_owner, 'to_owner', l.to_owner, 'from_pool', l.from_pool, 'to_pool', l.to_pool,
           'actor_id', l.actor_id, 'reason', nullif(l.reason, ''), 'rule_id', nullif(l.rule_id, ''),
           'at', to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))::text, 2))::json,
       now()
FROM {{schema}}.crm_pool_ledger AS l
WHERE l.id::text NOT IN (SELECT e.payload::jsonb ->> 'entry_id' FROM {{schema}}.crm_events AS e
                         WHERE e.type LIKE 'customer.%' AND e.payload::jsonb ->> 'entry_id' IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM {{schema}}.crm_events AS e WHERE e.id = l.id)
ORDER BY l.seq;

-- Each entry's data moves into its event, found by the entry ID in the
-- event's payload, whose entry_id and seq become the event's own.
UPDATE {{schema}}.crm_events AS e
SET ledger_op = l.op, ledger_rule = l.rule, ledger_key = l.idempotency_key,
    payload = regexp_replace(e.payload::text, '^\{"entry_id":"[0-9a-f-]{36}","seq":[0-9]+,',
                             '{"entry_id":"' || e.id || '","seq":' || e.seq || ',')::json
FROM {{schema}}.crm_pool_ledger AS l
WHERE e.type IN ('customer.acquired', 'customer.claimed', 'customer.released', 'customer.assigned',
                 'customer.transferred', 'customer.locked', 'customer.unlocked', 'customer.moved',
                 'customer.pooled', 'customer.recycled', 'customer.ownership_merged', 'customer.ownership_unmerged')
  AND e.subject_id = l.customer_id
  AND e.payload::jsonb ->> 'entry_id' = l.id::text;

DROP TABLE {{schema}}.crm_pool_ledger;
