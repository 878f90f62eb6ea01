// Command pool tells the story of a public customer pool (公海) on the
// in-memory store: a salesperson claims customers until the daily claim
// limit refuses one, follows up on all but one, the neglected customer
// falls back into the pool when the scheduler sweeps, its previous owner
// may not claim it straight back, a colleague takes it, and a third
// salesperson who enters the same company again is stopped from chasing it
// (anti-collision, 防撞单).
//
// Everything runs through the composition root: crmkit.New wires the
// pools to the dedupe service, so anti-collision compares the stored match
// keys of every customer created through the CRM (CreateCustomer, or the
// pools' own Create and Enter), and the host writes no duplicate checker.
//
//	go run ./examples/pool
package main
