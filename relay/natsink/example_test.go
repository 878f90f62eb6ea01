package natsink_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmkit/crmkit/relay"
	"github.com/crmkit/crmkit/relay/natsink"
	"github.com/crmkit/crmkit/store/memstore"
)

// A host relays its outbox to JetStream until it is told to stop. The
// example needs a nats-server with JetStream, so it is compiled but not
// run; the package's tests run the same steps against a real server.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	store := memstore.New(nil) // the host's store: pgstore in production

	nc, err := nats.Connect(nats.DefaultURL, nats.MaxReconnects(-1))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	// A stream storing crm.> and dropping events published again within
	// natsink.DefaultDuplicates.
	if _, err := natsink.EnsureStream(ctx, js, "CRM", "crm", 0); err != nil {
		log.Fatal(err)
	}
	sink, err := natsink.New(js, natsink.Config{Prefix: "crm"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := relay.New(store, sink, &relay.Config{Batch: 500})
	if err != nil {
		log.Fatal(err)
	}
	// Events arrive on crm.<tenant token>.<event type>, for example
	// crm.acme.customer.updated; a consumer of tenant acme filters on
	// "crm." + natsink.SubjectToken("acme") + ".>".
	_ = r.Run(ctx)
}
