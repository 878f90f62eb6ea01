// Command approval runs a discount approval chain on the in-memory store:
// above 10% the sales manager approves, above 20% also the director, and a
// contract above 1,000,000 CNY also finance, in parallel with the
// director. The sales manager does not answer within 8 hours, so the step
// escalates to the director; finance's approver is away, so her delegate
// approves on her behalf. The opportunity is locked while under
// approval, and every change lands in the outbox with the request.
//
//	go run ./examples/approval
package main
