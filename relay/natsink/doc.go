// Package natsink is a [relay.Sink] that publishes crmkit's outbox events
// to NATS JetStream.
//
// It is a module of its own (github.com/crmkit/crmkit/relay/natsink), so
// that hosts without a broker do not download the NATS client.
//
// # Subjects and messages
//
// Each event is published as the JSON of [crm.Event] on
//
//	<prefix>.<tenant token>.<event type>     crm.acme.customer.updated
//
// The prefix defaults to "crm" ([Config.Prefix]). The event type is
// already dot-separated lower-case tokens. The tenant token is the tenant
// ID when it is ASCII letters, digits, '-' and '_', "_" for the default
// (empty) tenant, and "~" with the lower-case base32 of the ID otherwise
// ([SubjectToken]; [TenantFromToken] reverses it). So a consumer filters
// on "crm.>" for everything, "crm.acme.>" for one tenant,
// "crm.*.customer.>" for one record type, "crm.*.*.claimed" for one verb.
//
// The message ID (header Nats-Msg-Id) is the event ID, and headers
// [HeaderType] and [HeaderTenant] carry the type and the tenant token.
//
// # Exactly once in the stream, in order per record
//
// The relay delivers at least once: an event published by a relay that
// stopped before acknowledging it is published again. The stream's
// duplicate window drops the second copy by its message ID, so the stream
// holds each event once as long as the window is longer than the time
// between the two ([EnsureStream] makes a stream with a window of
// [DefaultDuplicates] by default). Consumers still de-duplicate by event
// ID: a copy published after the window has passed is stored again.
//
// A record's events are published one at a time, each after the previous
// one was acknowledged, while events of different records are published
// together, so the stream holds each record's events in Seq order even
// when publishes fail or the server restarts mid-batch.
//
// # Failures
//
// A publish that no stream answers, a lost connection or a missing
// acknowledgement fail the event, and the relay retries it after a
// backoff. An event too large for the server (its max_payload) or the
// stream (its MaxMsgSize) fails permanently: the relay parks it, for
// [relay.Relay.Replay] once the limits are raised.
package natsink
