-- Reverts 0005_workflow_deadlines: drops the approval deadline column and
-- its index.
DROP INDEX IF EXISTS {{schema}}.crm_approval_instances_due_idx;
ALTER TABLE {{schema}}.crm_approval_instances DROP COLUMN IF EXISTS next_due_at;
