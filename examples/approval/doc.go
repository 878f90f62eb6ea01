// Command approval runs a discount approval chain on the in-memory store:
// above 10% the sales manager approves, above 20% also the director, and a
// contract above 1,000,000 CNY also finance, in parallel with the
// director. The sales manager does not answer within 8 hours, so the step
// escalates to the director; finance's approver is away, so her delegate
// approves on her behalf. The opportunity is locked while under
// approval, and every change lands in the outbox with the request.
//
// The approvals run through the composition root: crmkit.New with
// Config.Approvals gives c.Approvals, where submitting, approving and
// ticking due steps are one call each (load, version check, decision,
// store with events), and a submission joins the unit of work that
// creates its customer (c.CreateCustomerTx) and opportunity.
//
//	go run ./examples/approval
package main
