-- crmkit schema, version 13: field history (crm.History), one row per
-- changed field of a record, appended in the unit of work of the change.
--
-- old_value and new_value are json, not jsonb, so an entry reads back with
-- exactly the bytes it was stored with (jsonb reorders keys and spacing);
-- NULL is an absent side (the field was unset). actor_id is NULL for the
-- system. seq orders entries, newest first on reads.
CREATE TABLE {{schema}}.crm_history (
    id          uuid        PRIMARY KEY,
    seq         bigserial   NOT NULL,
    tenant_id   text        NOT NULL DEFAULT '',
    record_type text        NOT NULL,
    record_id   uuid        NOT NULL,
    field       text        NOT NULL,
    old_value   json,
    new_value   json,
    actor_id    uuid,
    operation   text        NOT NULL,
    at          timestamptz NOT NULL
);

-- A record's history, newest first: one index range per page.
CREATE INDEX crm_history_record_idx ON {{schema}}.crm_history (tenant_id, record_type, record_id, seq DESC);
-- An actor's entries in a time window (NULL actor_id, the system, is
-- indexed too): the window is one index range, whose Seqs are sorted for
-- a page. The index holds the ID too, so a page reads the window from the
-- index alone and then only its own rows by primary key, not every row of
-- the window.
CREATE INDEX crm_history_actor_idx ON {{schema}}.crm_history (tenant_id, actor_id, at, seq) INCLUDE (id);
-- Purges: entries before a time. Rows arrive in time order, so a block
-- range index finds the old ones at a fraction of a B-tree's cost to every
-- append; Purge filters the tenant among them.
CREATE INDEX crm_history_purge_idx ON {{schema}}.crm_history USING brin (at);
