// Package relay delivers the events crmkit stores in its transactional
// outbox to the rest of the company: a broker, a data hub, webhooks.
//
// Every change crmkit makes appends its events in the same unit of work
// as the change, so an event exists exactly when its change was stored. A
// [Relay] reads them from the store's outbox and hands them to a [Sink]
// in batches. An event is acknowledged only after the sink confirms it,
// so delivery is at least once, and consumers de-duplicate by the event's
// ID (JetStream does it by message ID within its duplicate window).
//
// # Order and sharing
//
// The events of one record are delivered in Seq order, which is the order
// of its changes: the changes of one record are serialised by the record
// itself (its version, its row), and each unit of work appends its events
// after writing the record. Over an outbox that
// implements [crm.Deliveries] (memstore and pgstore do), several relays
// share the work: each leases its own batches, a lease that runs out
// (its relay died) frees its events for the others, and no event is
// delivered by two relays at once. A failed event holds back the later
// events of its record until it is delivered, so they arrive after it.
//
// # Failures
//
// A failed event is retried after a backoff: [Config.MinBackoff] doubled
// for every earlier failure up to [Config.MaxBackoff], with jitter. After
// [Config.MaxAttempts] failures, at once when the sink reports a
// permanent failure ([ErrPermanent], such as a webhook answering 400), or
// when its payload is over [Config.MaxPayloadBytes], it is parked with
// its error: [Relay.Parked] lists parked events and [Relay.Replay] sends
// them again. A sink that hangs fails its batch at [Config.Timeout].
//
// # Running
//
// [Relay.Run] relays until its context ends and then returns, leaving no
// goroutine behind; [Relay.Step] relays one batch, for hosts that relay
// from a scheduler. [Relay.Stats] reports the backlog (pending events, the
// age of the oldest, parked events) and the relay's counts; the relay
// logs through [Config.Logger].
//
// # Sinks
//
// [Webhook] POSTs each event to a URL with an HMAC-SHA256 signature
// ([VerifySignature] checks one). The NATS JetStream sink lives in the
// nested module github.com/crmkit/crmkit/relay/natsink, so hosts without
// a broker do not download broker modules.
//
// [Fanout] delivers each batch to several sinks at once, such as
// JetStream and a webhook, with one relay and one outbox: an event is
// acknowledged only when every sink has confirmed it, and it fails, or
// is parked when one sink refuses it for good, when any sink fails it. A
// retried or replayed event goes to every sink again, so each sink's
// consumers see it at least once and de-duplicate by its ID, as they do
// for a single sink (JetStream by the message ID, webhook receivers by
// [HeaderID]).
package relay
