-- crmkit schema, version 23: what a customer's 360° view reads.
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- The event log (crm.EventLog) lists the events of a set of records,
-- newest first: one index range per record, read backwards and stopped by
-- the page's LIMIT. It covers the ownership ledger's reads too (one
-- customer's entries in Seq order, filtered on ledger_op), so the ledger's
-- own partial index goes: an event still updates one index of this shape.
CREATE INDEX crm_events_subject_idx ON {{schema}}.crm_events (tenant_id, subject_id, seq);
DROP INDEX {{schema}}.crm_events_ledger_idx;

-- Activities and tasks of a set of records (crm.ActivityFilter.SubjectIDs,
-- crm.TaskFilter.SubjectIDs): the subject's ID leads, its type follows, so
-- one index serves both the set and the single typed subject.
DROP INDEX {{schema}}.crm_activities_tenant_subject_idx;
CREATE INDEX crm_activities_tenant_subject_idx ON {{schema}}.crm_activities (tenant_id, subject_id, subject_type, id);
DROP INDEX {{schema}}.crm_tasks_subject_idx;
CREATE INDEX crm_tasks_subject_idx ON {{schema}}.crm_tasks (tenant_id, subject_id, subject_type, id);

-- The lead a customer was converted from (crm.LeadFilter.ConvertedCustomerIDs).
CREATE INDEX crm_leads_converted_customer_idx ON {{schema}}.crm_leads (tenant_id, converted_customer_id, id)
    WHERE converted_customer_id IS NOT NULL;

-- The approval requests of a set of records, pending and finished
-- (workflow.ApprovalRecords).
DROP INDEX {{schema}}.crm_approval_instances_record_idx;
CREATE INDEX crm_approval_instances_record_idx ON {{schema}}.crm_approval_instances (tenant_id, record_id, id);
