// Command routing routes inbound leads on the in-memory store: rules as
// JSON, round robin across the East China team while one member is on
// leave, the explanation a manager sees, and the fallback queue for a lead
// nobody's rule covers. Cursors and loads persist through the store's
// workflow ports, so several application instances would rotate fairly
// together, and every decision lands in the outbox with the lead.
//
//	go run ./examples/routing
package main
