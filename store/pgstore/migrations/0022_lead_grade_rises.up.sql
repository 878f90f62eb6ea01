-- crmkit schema, version 22: lead grade rises (package lead's rising-leads
-- queue).
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- A score snapshot keeps when its grade last rose (rose_at, NULL when its
-- grade was not reached by a rise) and from which grade (rose_from). The
-- queue lists an owner's, or a department's, open leads by rose_at,
-- newest first. Owner, department and status live in crm_leads while
-- rose_at lives here, so the snapshot carries copies of them: the
-- snapshot's save fills them from the lead in the same statement, and a
-- trigger on crm_leads keeps them when a lead is created, changes owner,
-- department or status, or is deleted (a deleted lead's snapshots have a
-- NULL lead_status and leave the queue). Each page is then one range of
-- one index per owner or department, never a join over every rise.
ALTER TABLE {{schema}}.crm_lead_scores
    ADD COLUMN rose_at       timestamptz,
    ADD COLUMN rose_from     text NOT NULL DEFAULT '',
    ADD COLUMN owner_id      uuid,
    ADD COLUMN department_id uuid,
    ADD COLUMN lead_status   text;

UPDATE {{schema}}.crm_lead_scores AS s
SET owner_id = l.owner_id, department_id = l.department_id, lead_status = l.status
FROM {{schema}}.crm_leads AS l
WHERE l.tenant_id = s.tenant_id AND l.id = s.lead_id;

CREATE FUNCTION {{schema}}.crm_lead_scores_follow_lead() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE {{schema}}.crm_lead_scores
        SET owner_id = NULL, department_id = NULL, lead_status = NULL
        WHERE tenant_id = OLD.tenant_id AND lead_id = OLD.id;
        RETURN NULL;
    END IF;
    UPDATE {{schema}}.crm_lead_scores
    SET owner_id = NEW.owner_id, department_id = NEW.department_id, lead_status = NEW.status
    WHERE tenant_id = NEW.tenant_id AND lead_id = NEW.id
      AND (owner_id, department_id, lead_status) IS DISTINCT FROM (NEW.owner_id, NEW.department_id, NEW.status);
    RETURN NULL;
END
$$;

CREATE TRIGGER crm_leads_scores_insert AFTER INSERT ON {{schema}}.crm_leads
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.crm_lead_scores_follow_lead();
CREATE TRIGGER crm_leads_scores_update AFTER UPDATE OF owner_id, department_id, status ON {{schema}}.crm_leads
    FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.department_id IS DISTINCT FROM NEW.department_id
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION {{schema}}.crm_lead_scores_follow_lead();
CREATE TRIGGER crm_leads_scores_delete AFTER DELETE ON {{schema}}.crm_leads
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.crm_lead_scores_follow_lead();

-- The queue's indexes: one per scope key (owner, department) and one for
-- a whole tenant, in queue order, partial on the rows the queue lists:
-- risen snapshots of open leads (package lead's Open). The page query
-- repeats this condition so the planner can use them.
CREATE INDEX crm_lead_scores_owner_rose_idx ON {{schema}}.crm_lead_scores (tenant_id, model_id, owner_id, rose_at DESC, lead_id DESC)
    WHERE rose_at IS NOT NULL AND lead_status NOT IN ('converted', 'disqualified');
CREATE INDEX crm_lead_scores_department_rose_idx ON {{schema}}.crm_lead_scores (tenant_id, model_id, department_id, rose_at DESC, lead_id DESC)
    WHERE rose_at IS NOT NULL AND lead_status NOT IN ('converted', 'disqualified');
CREATE INDEX crm_lead_scores_rose_idx ON {{schema}}.crm_lead_scores (tenant_id, model_id, rose_at DESC, lead_id DESC)
    WHERE rose_at IS NOT NULL AND lead_status NOT IN ('converted', 'disqualified');
