-- Reverts 0022_lead_grade_rises: drops the rising-leads queue's indexes,
-- the trigger that keeps lead copies on score snapshots, and the columns.
DROP INDEX IF EXISTS {{schema}}.crm_lead_scores_rose_idx;
DROP INDEX IF EXISTS {{schema}}.crm_lead_scores_department_rose_idx;
DROP INDEX IF EXISTS {{schema}}.crm_lead_scores_owner_rose_idx;
DROP TRIGGER IF EXISTS crm_leads_scores_delete ON {{schema}}.crm_leads;
DROP TRIGGER IF EXISTS crm_leads_scores_update ON {{schema}}.crm_leads;
DROP TRIGGER IF EXISTS crm_leads_scores_insert ON {{schema}}.crm_leads;
DROP FUNCTION IF EXISTS {{schema}}.crm_lead_scores_follow_lead();
ALTER TABLE {{schema}}.crm_lead_scores
    DROP COLUMN IF EXISTS lead_status,
    DROP COLUMN IF EXISTS department_id,
    DROP COLUMN IF EXISTS owner_id,
    DROP COLUMN IF EXISTS rose_from,
    DROP COLUMN IF EXISTS rose_at;
