-- Reverts 0014_ledger_events: the ledger is a table of its own again,
-- rebuilt from the events that are entries (with their IDs and Seqs);
-- the events stay as they are.
CREATE TABLE {{schema}}.crm_pool_ledger (
    id              uuid        PRIMARY KEY,
    seq             bigserial   NOT NULL,
    tenant_id       text        NOT NULL DEFAULT '',
    customer_id     uuid        NOT NULL,
    op              text        NOT NULL,
    from_owner      uuid,
    to_owner        uuid,
    from_pool       uuid,
    to_pool         uuid,
    reason          text        NOT NULL DEFAULT '',
    rule_id         text        NOT NULL DEFAULT '',
    rule            jsonb,
    actor_id        uuid,
    at              timestamptz NOT NULL,
    idempotency_key text        NOT NULL DEFAULT ''
);
CREATE INDEX crm_pool_ledger_tenant_idx   ON {{schema}}.crm_pool_ledger (tenant_id, seq);
CREATE INDEX crm_pool_ledger_customer_idx ON {{schema}}.crm_pool_ledger (tenant_id, customer_id, seq);

INSERT INTO {{schema}}.crm_pool_ledger (id, seq, tenant_id, customer_id, op, from_owner, to_owner, from_pool, to_pool,
                                        reason, rule_id, rule, actor_id, at, idempotency_key)
SELECT e.id, e.seq, e.tenant_id, e.subject_id, e.ledger_op,
       (p ->> 'from_owner')::uuid, (p ->> 'to_owner')::uuid, (p ->> 'from_pool')::uuid, (p ->> 'to_pool')::uuid,
       coalesce(p ->> 'reason', ''), coalesce(p ->> 'rule_id', ''), e.ledger_rule, e.actor_id, e.occurred_at,
       coalesce(e.ledger_key, '')
FROM {{schema}}.crm_events AS e, LATERAL (SELECT e.payload::jsonb AS p) AS j
WHERE e.ledger_op IS NOT NULL
ORDER BY e.seq;
SELECT setval(pg_get_serial_sequence('{{schema}}.crm_pool_ledger', 'seq'),
              coalesce((SELECT max(seq) FROM {{schema}}.crm_pool_ledger), 0) + 1, false);

DROP INDEX {{schema}}.crm_events_ledger_idx;
ALTER TABLE {{schema}}.crm_events
    DROP COLUMN ledger_key,
    DROP COLUMN ledger_rule,
    DROP COLUMN ledger_op;
