// Command quickstart tells one customer's way through a CRM built on crmkit,
// on the in-memory store: an organisation and its permission policy; a lead
// captured by marketing, scored and routed to a salesperson; a conversion
// that finds the customer already in the public pool (公海), a claim, a
// discount that needs the manager's approval; a neglected customer that the
// pool's sweep takes back; optimistic locking; the list a manager sees; and
// the events waiting in the outbox.
//
// Every package is used as a host would use it, wired together at the small
// interfaces the packages declare (see seams.go). A fixed clock and
// sequential IDs keep the output the same on every run.
//
//	go run ./examples/quickstart
package main
