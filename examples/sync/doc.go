// Command sync follows one customer edit out of a CRM built on crmkit and
// into the rest of the company: the same event, with the fields it
// changed, arrives in a NATS JetStream stream and at a webhook receiver,
// from one relay over the outbox.
//
// The program builds a CRM on the in-memory store, creates a customer and
// edits it once (level B to A, custom field credit_limit 50000 to 80000):
// the edit and its customer.updated event, whose payload lists each
// changed field with its old and new value ([crm.ChangedPayload]), are
// stored in one unit of work. One [relay.Relay] then delivers the outbox
// through a [relay.Fanout] to two sinks at once, the JetStream sink of
// github.com/crmkit/crmkit/relay/natsink and a signed [relay.Webhook],
// and acknowledges each event once both confirmed it. Finally it reads
// the event back from the stream with a JetStream consumer, shows what the
// webhook receiver got after checking the signature with
// [relay.VerifySignature], and prints the relay's [relay.Stats].
//
// It needs nothing running: unless -nats names a server, it starts an
// embedded nats-server with JetStream on a random port and a temporary
// directory, and the webhook receiver is an in-process HTTP server. A
// fixed clock and sequential IDs keep the output the same on every run;
// its lines start with where they were seen (customer, jetstream,
// webhook, relay), for scripts:
//
//	cd examples/sync && go run .
//	cd examples/sync && go run . -nats nats://127.0.0.1:4222
//
// It is a module of its own, so that the main module does not download
// the NATS server and client.
package main
