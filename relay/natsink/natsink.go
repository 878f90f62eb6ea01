package natsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/relay"
)

// The headers of a published event, besides JetStream's Nats-Msg-Id
// ([jetstream.MsgIDHeader]), which carries the event ID.
const (
	// HeaderType carries the event type, as [relay.HeaderType] does for
	// webhooks.
	HeaderType = relay.HeaderType
	// HeaderTenant carries the tenant's [SubjectToken] (the subject's
	// second token after the prefix); [TenantFromToken] reverses it. The
	// body holds the tenant ID as is.
	HeaderTenant = "Crmkit-Tenant"
)

// Config configures a [Sink].
type Config struct {
	// Prefix is the subjects' first token or tokens: the sink publishes
	// to <Prefix>.<tenant token>.<event type>. Dot-separated tokens of
	// ASCII letters, digits, '-' and '_'; defaults to [DefaultPrefix].
	Prefix string
}

// Sink is a [relay.Sink] that publishes each event to NATS JetStream, as
// the JSON of [crm.Event], on the subject
//
//	<prefix>.<SubjectToken(tenant)>.<event type>   e.g. crm.acme.customer.updated
//
// with the event ID as the message ID (header Nats-Msg-Id), so that the
// stream's duplicate window drops an event the relay delivers again after
// a stop between publishing and acknowledging; the headers [HeaderType]
// and [HeaderTenant] let consumers route without decoding the body. A
// stream must store the subjects ([EnsureStream] makes one).
//
// Deliver publishes asynchronously and waits for the stream's
// acknowledgements until its context ends; an event counts as delivered
// only once acknowledged (a duplicate's acknowledgement counts too). The
// events of one record are published one after the other: the next one
// only after the stream has acknowledged the previous one, so a failure
// can never let a later event of the record into the stream before an
// earlier one; events of different records are in flight together. After
// a failed event, the later events of its record are not published and
// are reported failed with it.
//
// A publish nobody answers (no stream stores the subject, or JetStream is
// not ready: "no responders"), a lost connection and a missing
// acknowledgement are retried by the relay. An event larger than the
// server's max_payload (1 MiB by default: an event with a payload near
// crmkit's 1 MiB limit exceeds it) or the stream's MaxMsgSize is
// permanent ([relay.ErrPermanent]): the relay parks it.
//
// Sink is safe for concurrent use. It publishes with the [jetstream.JetStream]
// it is given, whose options (WithPublishAsyncMaxPending, 4000 in flight
// by default; WithPublishAsyncTimeout) apply; the connection's reconnect
// options decide how it rides out a server restart.
type Sink struct {
	js     jetstream.JetStream
	prefix string
}

var _ relay.Sink = (*Sink)(nil)

// New returns a sink publishing with js, a JetStream context over a
// connection the host owns (and closes after the relay stops).
func New(js jetstream.JetStream, cfg Config) (*Sink, error) {
	var probs crm.Problems
	if js == nil {
		probs.Add("js", "is required")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		probs.Add("prefix", "%s", err.Error())
	}
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("natsink: new: %w", err)
	}
	return &Sink{js: js, prefix: prefix}, nil
}

// Prefix returns the subjects' prefix.
func (s *Sink) Prefix() string { return s.prefix }

// Subject returns the subject the sink publishes e to, or an error
// (matching [relay.ErrPermanent]) when the event type is not dot-separated
// subject tokens.
func (s *Sink) Subject(e *crm.Event) (string, error) {
	subj, err := eventSubject(s.prefix, e)
	if err != nil {
		return "", relay.Permanent(fmt.Errorf("natsink: %w", err))
	}
	return subj, nil
}

// message returns the message the sink publishes for e.
func (s *Sink) message(e *crm.Event) (*nats.Msg, error) {
	subj, err := s.Subject(e)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, relay.Permanent(fmt.Errorf("natsink: encode event %s: %w", e.ID, err))
	}
	m := nats.NewMsg(subj)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, e.ID.String())
	m.Header.Set(HeaderType, string(e.Type))
	m.Header.Set(HeaderTenant, SubjectToken(e.TenantID))
	return m, nil
}

var errHeld = errors.New("natsink: not published: an earlier event of the same record failed")

// Deliver implements [relay.Sink].
func (s *Sink) Deliver(ctx context.Context, events []crm.Event) error {
	var failed relay.Failed
	// next[i] is the index of the record's event after events[i], or -1;
	// wave holds the events to publish now: at first, each record's first.
	next := make([]int, len(events))
	last := make(map[crm.Ref]int, len(events))
	wave := make([]int, 0, len(events))
	for i := range events {
		next[i] = -1
		if p, ok := last[events[i].Subject]; ok {
			next[p] = i
		} else {
			wave = append(wave, i)
		}
		last[events[i].Subject] = i
	}
	fail := func(i int, err error) {
		failed.Fail(i, err)
		for k := next[i]; k >= 0; k = next[k] {
			failed.Fail(k, errHeld)
		}
	}
	type pending struct {
		i       int
		subject string
		ack     jetstream.PubAckFuture
	}
	inFlight := make([]pending, 0, len(wave))
	for len(wave) > 0 {
		inFlight = inFlight[:0]
		for _, i := range wave {
			if err := ctx.Err(); err != nil {
				fail(i, fmt.Errorf("natsink: not published: %w", err))
				continue
			}
			m, err := s.message(&events[i])
			if err != nil {
				fail(i, err)
				continue
			}
			ack, err := s.js.PublishMsgAsync(m, stallWait(ctx)...)
			if err != nil {
				fail(i, publishError(m.Subject, err))
				continue
			}
			inFlight = append(inFlight, pending{i, m.Subject, ack})
		}
		wave = wave[:0]
		for _, p := range inFlight {
			if err := wait(ctx, p.ack); err != nil {
				fail(p.i, publishError(p.subject, err))
				continue
			}
			if k := next[p.i]; k >= 0 {
				wave = append(wave, k)
			}
		}
		slices.Sort(wave)
	}
	return failed.Err()
}

// stallWait bounds how long PublishMsgAsync waits for a free slot when
// the JetStream context has its maximum of acknowledgements pending: until
// ctx's deadline, else the library's default.
func stallWait(ctx context.Context) []jetstream.PublishOpt {
	if d, ok := ctx.Deadline(); ok {
		return []jetstream.PublishOpt{jetstream.WithStallWait(max(time.Until(d), time.Millisecond))}
	}
	return nil
}

// wait returns nil once the stream acknowledged the message, its error,
// or ctx's error when it ends first.
func wait(ctx context.Context, ack jetstream.PubAckFuture) error {
	select {
	case <-ack.Ok():
		return nil
	case err := <-ack.Err():
		return err
	default:
	}
	select {
	case <-ack.Ok():
		return nil
	case err := <-ack.Err():
		return err
	case <-ctx.Done():
		return fmt.Errorf("no acknowledgement: %w", ctx.Err())
	}
}

// publishError describes a failed publish, permanent when the message is
// too large for the server or the stream.
func publishError(subject string, err error) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return relay.Permanent(fmt.Errorf("natsink: publish %s: %w", subject, err))
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("natsink: publish %s: no stream answered (none stores the subject, or JetStream is not ready): %w", subject, err)
	}
	return fmt.Errorf("natsink: publish %s: %w", subject, err)
}
