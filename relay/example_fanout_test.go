package relay_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/store/memstore"
)

// auditLog is a host's own sink: it keeps the types of the events it is
// given.
type auditLog struct {
	mu    sync.Mutex
	types []crm.EventType
}

func (a *auditLog) Deliver(_ context.Context, events []crm.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range events {
		a.types = append(a.types, e.Type)
	}
	return nil
}

// One relay delivers each event to a webhook and to the host's audit log;
// the event is acknowledged once both have it.
func ExampleFanout() {
	ctx := context.Background()
	store := memstore.New(nil)
	ids := crmtest.NewIDs()
	_ = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return tx.Events().Append(ctx, &crm.Event{ID: ids.NewID(), Type: crm.EventCustomerUpdated,
			Subject: crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}, OccurredAt: time.Now()})
	})

	secret := []byte("shared with the receiver, 32 bytes")
	var mu sync.Mutex
	var received []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := relay.VerifySignature(secret, r.Header.Get(relay.HeaderSignature), r.Header.Get(relay.HeaderTimestamp), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		received = append(received, r.Header.Get(relay.HeaderType))
		mu.Unlock()
	}))
	defer receiver.Close()

	hook, err := relay.NewWebhook(relay.WebhookConfig{URL: receiver.URL, Secret: secret})
	if err != nil {
		fmt.Println(err)
		return
	}
	audit := &auditLog{}
	both, err := relay.NewFanout(hook, audit)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := relay.New(store, both, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := r.Step(ctx)
	fmt.Println("relayed", n, err)
	fmt.Println("webhook:", received)
	fmt.Println("audit log:", audit.types)
	stats, _ := r.Stats(ctx)
	fmt.Println("pending", stats.Pending, "delivered", stats.Delivered)

	_, err = relay.NewFanout(hook, nil)
	fmt.Println(err)
	// Output:
	// relayed 1 <nil>
	// webhook: [customer.updated]
	// audit log: [customer.updated]
	// pending 0 delivered 1
	// relay: fanout: invalid sinks[1]: is nil
}
