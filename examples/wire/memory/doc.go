// Command memory wires crmkit into a service on the in-memory store: one
// crmkit.New call, then a customer entered, pooled, claimed, and a copy of
// it refused.
package main
