-- Reverts 0020_approval_inbox: drops the approver's inbox.
DROP TABLE IF EXISTS {{schema}}.crm_approval_inbox;
