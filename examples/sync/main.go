package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	log.SetFlags(0)
	natsURL, err := parseFlags(os.Args[1:], os.Stderr)
	switch {
	case err == flag.ErrHelp:
		return
	case err != nil:
		log.Print("sync: ", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, natsURL); err != nil {
		log.Print("sync: ", err)
		stop()
		os.Exit(1)
	}
}

// parseFlags returns the -nats URL: "" (start an embedded server) or a
// nats:// or tls:// URL with a host. Usage and the flag package's own
// errors go to stderr; -h returns [flag.ErrHelp].
func parseFlags(args []string, stderr io.Writer) (string, error) {
	flags := flag.NewFlagSet("sync", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // the caller reports errors, once
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run . [-nats URL]\n\n"+
			"Edits one customer and shows its event arriving in JetStream and at a webhook.\n\n")
		flags.SetOutput(stderr)
		flags.PrintDefaults()
		flags.SetOutput(io.Discard)
	}
	natsURL := flags.String("nats", "", "`URL` of a nats-server with JetStream; default: start an embedded one")
	if err := flags.Parse(args); err != nil {
		return "", err
	}
	if flags.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q (the only flag is -nats URL)", flags.Arg(0))
	}
	if *natsURL != "" {
		u, err := url.Parse(*natsURL)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return "", fmt.Errorf("-nats %q: want a URL such as nats://127.0.0.1:4222", *natsURL)
		}
	}
	return *natsURL, nil
}

// run tells the story to out, against the server at natsURL or, when it
// is empty, an embedded one it stops before returning.
func run(ctx context.Context, out io.Writer, natsURL string) error {
	if natsURL == "" {
		srv, err := startEmbedded()
		if err != nil {
			return fmt.Errorf("embedded nats-server: %w", err)
		}
		defer srv.stop()
		natsURL = srv.ClientURL()
	}
	return tell(ctx, out, natsURL)
}

// embedded is a nats-server running in this process, with JetStream
// storing in a temporary directory.
type embedded struct {
	*server.Server
	dir string
}

// startEmbedded starts a server on a random loopback port and waits until
// it takes connections.
func startEmbedded() (*embedded, error) {
	dir, err := os.MkdirTemp("", "crmkit-sync-")
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv.Start()
	e := &embedded{Server: srv, dir: dir}
	if !srv.ReadyForConnections(10 * time.Second) {
		e.stop()
		return nil, fmt.Errorf("not ready after 10s")
	}
	return e, nil
}

func (e *embedded) stop() {
	e.Shutdown()
	e.WaitForShutdown()
	os.RemoveAll(e.dir)
}
