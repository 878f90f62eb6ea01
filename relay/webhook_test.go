package relay_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/relay"
)

var secret = []byte("a shared secret of the host")

// receiver is a webhook endpoint that verifies signatures and answers
// with the codes it is given, one per request, then 200.
type receiver struct {
	mu    sync.Mutex
	codes []int
	got   []crm.Event
	bad   int // requests whose signature did not verify
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := relay.VerifySignature(secret, r.Header.Get(relay.HeaderSignature), r.Header.Get(relay.HeaderTimestamp), body, time.Now(), 5*time.Minute); err != nil {
		rc.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	code := http.StatusOK
	if len(rc.codes) > 0 {
		code, rc.codes = rc.codes[0], rc.codes[1:]
	}
	if code == http.StatusOK {
		var e crm.Event
		if err := json.Unmarshal(body, &e); err != nil || e.ID.String() != r.Header.Get(relay.HeaderID) {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		rc.got = append(rc.got, e)
	}
	w.WriteHeader(code)
}

func (rc *receiver) events() []crm.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]crm.Event(nil), rc.got...)
}

func webhookRelay(t *testing.T, f *fixture, url string) *relay.Relay {
	t.Helper()
	wh, err := relay.NewWebhook(relay.WebhookConfig{URL: url, Secret: secret})
	require.NoError(t, err)
	r, err := relay.New(f.store, wh, &relay.Config{Clock: f.clock, MinBackoff: time.Second, MaxBackoff: time.Second})
	require.NoError(t, err)
	return r
}

// A receiver that fails with 500 and then answers 200 gets the event once,
// and it is acknowledged.
func TestWebhookRetriesAServerError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	evs := f.appendEvents(t, subject(1), subject(2))
	rc := &receiver{codes: []int{http.StatusInternalServerError}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	r := webhookRelay(t, f, srv.URL)
	drain(t, r)
	require.Len(t, rc.events(), 1, "the second event went through; the first waits")
	f.clock.Advance(2 * time.Second)
	drain(t, r)
	got := rc.events()
	require.Len(t, got, 2)
	require.ElementsMatch(t, []crm.ID{evs[0].ID, evs[1].ID}, []crm.ID{got[0].ID, got[1].ID})
	st, err := r.Stats(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Pending)
	require.Zero(t, rc.bad)
}

// A receiver that answers 400 parks the event; a replay delivers it.
func TestWebhookParksAClientErrorAndReplays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	evs := f.appendEvents(t, subject(1))
	rc := &receiver{codes: []int{http.StatusBadRequest}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	r := webhookRelay(t, f, srv.URL)
	drain(t, r)
	parked, err := r.Parked(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	require.Contains(t, parked[0].LastError, "400 Bad Request")
	n, err := r.Replay(context.Background(), evs[0].ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	drain(t, r)
	require.Len(t, rc.events(), 1)
}

func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	now := time.Unix(1764921600, 0)
	body := []byte(`{"id":"x"}`)
	sig := "v1=" + relay.Sign(secret, "1764921600", body)
	require.NoError(t, relay.VerifySignature(secret, sig, "1764921600", body, now, time.Minute))
	require.ErrorContains(t, relay.VerifySignature(secret, sig, "1764921600", []byte(`{"id":"y"}`), now, time.Minute), "does not match")
	require.ErrorContains(t, relay.VerifySignature([]byte("another secret, 16+"), sig, "1764921600", body, now, time.Minute), "does not match")
	require.ErrorContains(t, relay.VerifySignature(secret, sig, "1764921600", body, now.Add(time.Hour), time.Minute), "away from now")
	require.ErrorContains(t, relay.VerifySignature(secret, sig, "yesterday", body, now, time.Minute), "not a Unix time")
	require.ErrorContains(t, relay.VerifySignature(secret, relay.Sign(secret, "1764921600", body), "1764921600", body, now, time.Minute), "does not match")

	_, err := relay.NewWebhook(relay.WebhookConfig{URL: "ftp://x", Secret: []byte("short")})
	var es crm.ValidationErrors
	require.ErrorAs(t, err, &es)
	require.Equal(t, []string{"url", "secret"}, es.Fields())
}

// A receiver that never answers fails the batch at the relay's timeout.
func TestWebhookThatHangsTimesOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.appendEvents(t, subject(1))
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	wh, err := relay.NewWebhook(relay.WebhookConfig{URL: srv.URL, Secret: secret})
	require.NoError(t, err)
	r, err := relay.New(f.store, wh, &relay.Config{Clock: f.clock, Timeout: 100 * time.Millisecond, Lease: time.Second})
	require.NoError(t, err)
	start := time.Now()
	_, err = r.Step(context.Background())
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	parked, err := r.Parked(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Empty(t, parked, "a timeout is retried, not parked")
}
