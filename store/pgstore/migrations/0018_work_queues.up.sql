-- crmkit schema, version 18: work queues.
-- {{schema}} is replaced by the quoted schema name configured in pgstore.
--
-- The falling-back queue lists an owner's, or an owner department's,
-- customers that fall back into their pools by a time, earliest first.
-- Each index is one range per owner (department) in queue order, so a
-- page is an index scan stopped by its LIMIT, never a sort of every due
-- holding; both are partial on the rows a queue can list, as the sweep's
-- due index is.
CREATE INDEX crm_pool_holdings_owner_due_idx ON {{schema}}.crm_pool_holdings (tenant_id, owner_id, due_at, customer_id)
    WHERE owner_id IS NOT NULL AND NOT locked AND due_at IS NOT NULL;
CREATE INDEX crm_pool_holdings_department_due_idx ON {{schema}}.crm_pool_holdings (tenant_id, owner_department_id, due_at, customer_id)
    WHERE owner_id IS NOT NULL AND NOT locked AND due_at IS NOT NULL;

-- The due-tasks queue lists an assignee's, or a department's, open tasks
-- due by a time, earliest first. One assignee's is a range of 0016's
-- (tenant_id, assignee_id, status, due_at) index; a department's needs
-- its own, partial on the open tasks the queue lists.
CREATE INDEX crm_tasks_department_due_idx ON {{schema}}.crm_tasks (tenant_id, department_id, due_at, id)
    WHERE status = 'open';
