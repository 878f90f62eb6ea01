// Command postgres wires crmkit into a service on PostgreSQL: migrations,
// crmkit.New, and a claim that commits or rolls back with the host's own
// transaction. Set CRMKIT_DATABASE_URL to a database it may write to, and
// CRMKIT_SCHEMA to a new schema (default "crm").
package main
