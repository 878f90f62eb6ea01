DROP INDEX IF EXISTS {{schema}}.crm_approval_instances_record_idx;
CREATE INDEX crm_approval_instances_record_idx ON {{schema}}.crm_approval_instances (tenant_id, record_type, record_id);
DROP INDEX IF EXISTS {{schema}}.crm_leads_converted_customer_idx;
DROP INDEX IF EXISTS {{schema}}.crm_tasks_subject_idx;
CREATE INDEX crm_tasks_subject_idx ON {{schema}}.crm_tasks (tenant_id, subject_type, subject_id, id);
DROP INDEX IF EXISTS {{schema}}.crm_activities_tenant_subject_idx;
CREATE INDEX crm_activities_tenant_subject_idx ON {{schema}}.crm_activities (tenant_id, subject_type, subject_id, id);
CREATE INDEX crm_events_ledger_idx ON {{schema}}.crm_events (tenant_id, subject_id, seq)
    WHERE ledger_op IS NOT NULL;
DROP INDEX IF EXISTS {{schema}}.crm_events_subject_idx;
