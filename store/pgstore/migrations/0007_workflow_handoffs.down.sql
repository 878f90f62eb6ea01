-- Reverts 0007_workflow_handoffs: drops the hand-off states.
DROP TABLE IF EXISTS {{schema}}.crm_handoffs;
