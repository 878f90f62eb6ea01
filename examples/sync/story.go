package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/relay/natsink"
	"github.com/crmkit/crmkit/store/memstore"
)

const (
	// tenant is the company whose CRM this is; its events are published
	// on crm.acme.<event type>.
	tenant = "acme"
	// streamName is the JetStream stream storing crm.>.
	streamName = "CRM"
)

// secret is shared by the webhook sink and its receiver.
var secret = []byte("shared by the host and the receiver")

// tell builds the CRM, edits one customer, relays the outbox to JetStream
// and to the webhook with one relay, and prints what arrived where.
func tell(ctx context.Context, out io.Writer, natsURL string) error {
	// The broker: a stream storing crm.>, and the sink publishing to it.
	nc, err := nats.Connect(natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("-nats %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := natsink.EnsureStream(ctx, js, streamName, natsink.DefaultPrefix, 0); err != nil {
		return fmt.Errorf("-nats %s: %w", natsURL, err)
	}
	broker, err := natsink.New(js, natsink.Config{})
	if err != nil {
		return err
	}

	// The webhook receiver, and the sink signing requests to it.
	rcv := &receiver{got: map[crm.EventType]received{}}
	endpoint := httptest.NewServer(rcv)
	defer endpoint.Close()
	hook, err := relay.NewWebhook(relay.WebhookConfig{URL: endpoint.URL, Secret: secret})
	if err != nil {
		return err
	}

	// The CRM, in memory, on a fixed clock and sequential IDs.
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids})
	if err != nil {
		return err
	}
	customer, seller, err := createAndEdit(crm.WithTenant(ctx, tenant), store, c, ids, clock)
	if err != nil {
		return err
	}
	limit, _ := customer.Fields["credit_limit"].Num()
	fmt.Fprintf(out, "customer %s %q version %d level %s credit_limit %s edited by %s %q\n",
		customer.ID, customer.Name, customer.Version, customer.Level, limit, seller.ID, seller.Name)

	// One relay over the outbox delivers every event to both sinks.
	both, err := relay.NewFanout(broker, hook)
	if err != nil {
		return err
	}
	r, err := relay.New(store, both, &relay.Config{Idle: 10 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		return err
	}
	stats, err := runUntilDrained(ctx, r)
	if err != nil {
		return err
	}

	// The event, read back from the stream by a consumer of its subject.
	subject := natsink.DefaultPrefix + "." + natsink.SubjectToken(tenant) + "." + string(crm.EventCustomerUpdated)
	cons, err := js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("jetstream consumer: %w", err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		return fmt.Errorf("jetstream: read %s: %w", subject, err)
	}
	var fromStream crm.Event
	if err := json.Unmarshal(msg.Data(), &fromStream); err != nil {
		return fmt.Errorf("jetstream: decode %s: %w", subject, err)
	}
	fmt.Fprintf(out, "jetstream subject %s\n", msg.Subject())
	if err := printEvent(out, "jetstream", fromStream, "msg-id "+msg.Headers().Get(jetstream.MsgIDHeader)); err != nil {
		return err
	}

	// The same event, as the webhook receiver got it.
	atHook, ok := rcv.event(crm.EventCustomerUpdated)
	if !ok {
		return errors.New("webhook: no customer.updated event arrived")
	}
	if err := printEvent(out, "webhook", atHook.event, relay.HeaderID+" "+atHook.idHeader+" signature verified"); err != nil {
		return err
	}

	fmt.Fprintf(out, "relay pending %d parked %d delivered %d\n", stats.Pending, stats.Parked, stats.Delivered)
	return nil
}

// createAndEdit creates a level B customer with a credit limit of 50000,
// then has a salesperson edit it to level A and 80000, and returns the
// customer and the salesperson. Each write stores its change event, with
// the changed fields, in the outbox in the same unit of work.
func createAndEdit(ctx context.Context, store crm.Store, c *crmkit.CRM, ids *crmtest.IDs, clock *crmtest.Clock) (*crm.Customer, *crm.User, error) {
	seller := crmtest.User(ids, func(u *crm.User) { u.Name = "Li Wei" })
	if err := store.Users().Create(ctx, seller); err != nil {
		return nil, nil, fmt.Errorf("create user: %w", err)
	}
	cust := crmtest.Customer(ids, func(cu *crm.Customer) {
		cu.Name, cu.Level, cu.Phone = "Huateng Robotics", "B", "+86 138 0013 8000"
		cu.Fields = crm.Fields{"credit_limit": crm.Number(decimal.NewFromInt(50000))}
	})
	if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: cust}); err != nil {
		return nil, nil, fmt.Errorf("create customer: %w", err)
	}
	clock.Advance(time.Hour)
	edited := cust.Clone()
	edited.Level = "A"
	edited.Fields["credit_limit"] = crm.Number(decimal.NewFromInt(80000))
	saved, err := c.UpdateCustomer(ctx, crmkit.UpdateCustomerRequest{Customer: edited, Actor: seller.ID})
	if err != nil {
		return nil, nil, fmt.Errorf("update customer: %w", err)
	}
	return saved, seller, nil
}

// runUntilDrained runs r until its outbox has nothing pending, then stops
// it and returns its stats; a parked event is an error.
func runUntilDrained(ctx context.Context, r *relay.Relay) (relay.Stats, error) {
	st, err := waitUntilDrained(ctx, r)
	if err != nil {
		return st, err
	}
	// The relay counts a batch once it has settled it, so the outbox can
	// be empty a moment before the count is: read it after Run returned.
	return r.Stats(ctx)
}

// waitUntilDrained runs r until its outbox has nothing pending and stops
// it, returning the stats seen last.
func waitUntilDrained(ctx context.Context, r *relay.Relay) (relay.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := r.Stats(ctx)
		switch {
		case err != nil:
			return st, err
		case st.Parked > 0:
			parked, _ := r.Parked(ctx, 0, 1)
			if len(parked) > 0 {
				return st, fmt.Errorf("relay parked %s: %s", parked[0].Type, parked[0].LastError)
			}
			return st, errors.New("relay parked an event")
		case st.Pending == 0:
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("relay: %d events still pending: %w", st.Pending, ctx.Err())
		case <-tick.C:
		}
	}
}

// printEvent prints e as where got it: a line with its ID, type, the
// operation and actor that changed the record, and how it was seen; then
// a line a changed field: where, "change", the field, and its old and new
// values as JSON ("-" for unset).
func printEvent(out io.Writer, where string, e crm.Event, seen string) error {
	p, err := crm.DecodePayload[crm.ChangedPayload](e)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	fmt.Fprintf(out, "%s event %s %s operation %s actor %s %s\n", where, e.ID, e.Type, p.Operation, e.ActorID, seen)
	for _, ch := range p.Changes {
		fmt.Fprintf(out, "%s change %s %s %s\n", where, ch.Field, orDash(ch.Old), orDash(ch.New))
	}
	return nil
}

func orDash(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "-"
	}
	return string(raw)
}

// receiver is the webhook endpoint: it checks each request's signature
// and keeps the last event of each type.
type receiver struct {
	mu  sync.Mutex
	got map[crm.EventType]received
}

type received struct {
	event    crm.Event
	idHeader string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := relay.VerifySignature(secret, r.Header.Get(relay.HeaderSignature), r.Header.Get(relay.HeaderTimestamp), body, time.Now(), 5*time.Minute); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var e crm.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID.String() != r.Header.Get(relay.HeaderID) {
		http.Error(w, "the body is not the event the headers name", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got[e.Type] = received{event: e, idHeader: r.Header.Get(relay.HeaderID)}
}

func (rc *receiver) event(t crm.EventType) (received, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e, ok := rc.got[t]
	return e, ok
}
