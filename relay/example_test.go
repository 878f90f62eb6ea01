package relay_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/store/memstore"
)

// A change and its event are stored together; the relay then delivers the
// event to a webhook, signed, and acknowledges it.
func Example() {
	ctx := context.Background()
	store := memstore.New(nil)
	ids := crmtest.NewIDs()
	_ = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return tx.Events().Append(ctx, &crm.Event{ID: ids.NewID(), Type: crm.EventCustomerUpdated,
			Subject: crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}, OccurredAt: time.Now()})
	})

	secret := []byte("shared with the receiver, 32 bytes")
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := relay.VerifySignature(secret, r.Header.Get(relay.HeaderSignature), r.Header.Get(relay.HeaderTimestamp), body, time.Now(), 5*time.Minute)
		fmt.Println("received", r.Header.Get(relay.HeaderType), "signature ok:", err == nil)
	}))
	defer receiver.Close()

	hook, err := relay.NewWebhook(relay.WebhookConfig{URL: receiver.URL, Secret: secret})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := relay.New(store, hook, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := r.Step(ctx)
	fmt.Println("relayed", n, err)
	stats, _ := r.Stats(ctx)
	fmt.Println("pending", stats.Pending, "delivered", stats.Delivered)
	// Output:
	// received customer.updated signature ok: true
	// relayed 1 <nil>
	// pending 0 delivered 1
}
