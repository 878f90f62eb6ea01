// Command quickstart tells one customer's way through a CRM built on crmkit,
// on the in-memory store: an organisation and its permission policy; a lead
// captured by marketing, scored and routed to a salesperson; a conversion
// that finds the customer already in the public pool (公海), a claim, a
// discount that needs the manager's approval; a neglected customer that the
// pool's sweep takes back; optimistic locking; the list a manager sees; and
// the events waiting in the outbox.
//
// One call, crmkit.New, wires every capability over the store: the pools
// ask dedupe (anti-collision from the stored match keys) and the
// permission policy, conversions ask dedupe and the router inside their
// unit of work, approvals ask the policy. The program writes no glue of its
// own. A fixed clock and sequential IDs keep the output the same on every
// run.
//
//	go run ./examples/quickstart
package main
