-- Reverts 0001_init: drops every crmkit table of the schema (and its data).
DROP TABLE IF EXISTS {{schema}}.crm_events;
DROP TABLE IF EXISTS {{schema}}.crm_teams;
DROP TABLE IF EXISTS {{schema}}.crm_departments;
DROP TABLE IF EXISTS {{schema}}.crm_users;
DROP TABLE IF EXISTS {{schema}}.crm_tickets;
DROP TABLE IF EXISTS {{schema}}.crm_activities;
DROP TABLE IF EXISTS {{schema}}.crm_opportunities;
DROP TABLE IF EXISTS {{schema}}.crm_contacts;
DROP TABLE IF EXISTS {{schema}}.crm_customers;
DROP TABLE IF EXISTS {{schema}}.crm_leads;
