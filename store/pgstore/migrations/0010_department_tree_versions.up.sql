-- crmkit schema, version 10: one counter per tenant, bumped by every
-- department write in the same transaction, so a permission policy learns
-- that the department tree changed with one primary-key read
-- (crm.DepartmentTreeVersions) instead of an aggregate over the tenant's
-- departments.
CREATE TABLE {{schema}}.crm_department_tree_versions (
    tenant_id text   NOT NULL PRIMARY KEY,
    version   bigint NOT NULL CHECK (version > 0)
);
