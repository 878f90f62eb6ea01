package relay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// The headers of a webhook request.
const (
	// HeaderID carries the event ID; receivers de-duplicate by it.
	HeaderID = "Crmkit-Event-Id"
	// HeaderType carries the event type.
	HeaderType = "Crmkit-Event-Type"
	// HeaderTimestamp carries the Unix time, in seconds, of the signing.
	HeaderTimestamp = "Crmkit-Timestamp"
	// HeaderSignature carries "v1=" and the hex HMAC-SHA256, keyed with
	// the shared secret, of the timestamp, a full stop and the body.
	HeaderSignature = "Crmkit-Signature"
)

// Webhook is a [Sink] that POSTs each event, as the JSON of [crm.Event],
// to a URL, signed so the receiver can tell it came from the host:
//
//	Crmkit-Timestamp: 1764921600
//	Crmkit-Signature: v1=hex(HMAC-SHA256(secret, "1764921600." + body))
//
// A receiver recomputes the signature over the raw body with
// [VerifySignature], compares it in constant time, and refuses timestamps
// too far from its clock to stop replays. A 2xx answer delivers the
// event. 5xx, 429, timeouts and network errors are retried; any other
// answer parks the event ([ErrPermanent]). Events go one request at a
// time, in order; after a failure the later events of the same record
// are not sent in that batch.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	clock  crm.Clock
}

// WebhookConfig configures a [Webhook].
type WebhookConfig struct {
	// URL receives the events; http or https.
	URL string
	// Secret keys the signatures; at least 16 bytes.
	Secret []byte
	// Client sends the requests; defaults to a client with a 10 s timeout.
	Client *http.Client
	// Clock stamps the signatures; defaults to the system clock.
	Clock crm.Clock
}

// NewWebhook checks cfg and returns its sink.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	var probs crm.Problems
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		probs.Add("url", "must be an absolute http or https URL")
	}
	if len(cfg.Secret) < 16 {
		probs.Add("secret", "must be at least 16 bytes")
	}
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("relay: webhook: %w", err)
	}
	w := &Webhook{url: cfg.URL, secret: bytes.Clone(cfg.Secret), client: cfg.Client, clock: cfg.Clock}
	if w.client == nil {
		w.client = &http.Client{Timeout: 10 * time.Second}
	}
	if w.clock == nil {
		w.clock = crm.SystemClock{}
	}
	return w, nil
}

// Deliver implements [Sink].
func (w *Webhook) Deliver(ctx context.Context, events []crm.Event) error {
	var failed Failed
	held := map[crm.Ref]bool{}
	for i := range events {
		e := &events[i]
		if held[e.Subject] {
			failed.Fail(i, errors.New("not sent: an earlier event of the same record failed"))
			continue
		}
		if err := w.send(ctx, e); err != nil {
			failed.Fail(i, err)
			held[e.Subject] = true
			if ctx.Err() != nil {
				for k := i + 1; k < len(events); k++ {
					failed.Fail(k, ctx.Err())
				}
				break
			}
		}
	}
	return failed.Err()
}

func (w *Webhook) send(ctx context.Context, e *crm.Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return Permanent(fmt.Errorf("encode event: %w", err))
	}
	ts := strconv.FormatInt(w.clock.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, e.ID.String())
	req.Header.Set(HeaderType, string(e.Type))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, "v1="+Sign(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return fmt.Errorf("webhook answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	default:
		return Permanent(fmt.Errorf("webhook answered %s: %s", resp.Status, strings.TrimSpace(string(msg))))
	}
}

// Sign returns the hex HMAC-SHA256 of timestamp, ".", body under secret:
// the value of [HeaderSignature] after "v1=".
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a webhook request's signature header against its
// timestamp header and raw body, in constant time, and refuses timestamps
// more than tolerance away from now.
func VerifySignature(secret []byte, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("relay: %s %q is not a Unix time", HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("relay: %s is %v away from now, more than %v", HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	got, ok := strings.CutPrefix(signature, "v1=")
	want := Sign(secret, timestamp, body)
	if !ok || !hmac.Equal([]byte(got), []byte(want)) {
		return fmt.Errorf("relay: %s does not match the body", HeaderSignature)
	}
	return nil
}
