package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Config tunes a [Relay]. The zero value is usable: every field has a
// default.
type Config struct {
	// Owner names this relay in leases; it must differ between relays
	// sharing a store. Defaults to the host name, the process ID and a
	// random suffix.
	Owner string
	// Batch is how many events one lease takes. Defaults to 500; at most
	// [crm.MaxPageLimit].
	Batch int
	// Lease is how long a batch stays leased to this relay; a relay that
	// stops mid-batch leaves its events to others when it runs out.
	// Defaults to 30 s; it must exceed Timeout.
	Lease time.Duration
	// Timeout bounds one Deliver call, so a sink that hangs fails the
	// batch instead of stopping the relay. Defaults to 10 s.
	Timeout time.Duration
	// MaxAttempts parks an event after that many failed deliveries.
	// Defaults to 10.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before a failed event is
	// retried: MinBackoff doubled for every earlier failure, at most
	// MaxBackoff, with jitter (half to all of it). Defaults: 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// Idle is how long Run waits when nothing is due. Defaults to 200 ms.
	Idle time.Duration
	// Workers is how many batches Run keeps in flight at once, each under
	// its own lease, so that leasing and settling one batch overlaps with
	// delivering another. Defaults to 1; over an outbox without
	// [crm.Deliveries] it is always 1.
	Workers int
	// MaxPayloadBytes parks events whose payload is larger, unsent.
	// Defaults to 1 MiB.
	MaxPayloadBytes int
	// Logger receives the relay's log; defaults to slog.Default().
	Logger *slog.Logger
	// Clock stamps leases and retries; defaults to the system clock.
	Clock crm.Clock
}

func (c *Config) withDefaults() (Config, error) {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.Owner == "" {
		out.Owner = defaultOwner()
	}
	if out.Batch == 0 {
		out.Batch = 500
	}
	if out.Timeout == 0 {
		out.Timeout = 10 * time.Second
	}
	if out.Lease == 0 {
		out.Lease = max(30*time.Second, 3*out.Timeout)
	}
	if out.MaxAttempts == 0 {
		out.MaxAttempts = 10
	}
	if out.MinBackoff == 0 {
		out.MinBackoff = time.Second
	}
	if out.MaxBackoff == 0 {
		out.MaxBackoff = 5 * time.Minute
	}
	if out.Idle == 0 {
		out.Idle = 200 * time.Millisecond
	}
	if out.Workers == 0 {
		out.Workers = 1
	}
	if out.MaxPayloadBytes == 0 {
		out.MaxPayloadBytes = 1 << 20
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Clock == nil {
		out.Clock = crm.SystemClock{}
	}
	var probs crm.Problems
	if len(out.Owner) > 200 {
		probs.Add("owner", "must be at most 200 bytes")
	}
	if out.Batch < 1 || out.Batch > crm.MaxPageLimit {
		probs.Add("batch", "must be between 1 and %d, got %d", crm.MaxPageLimit, out.Batch)
	}
	if out.Timeout < 0 || out.Lease <= out.Timeout {
		probs.Add("lease", "must exceed timeout (%v), got %v", out.Timeout, out.Lease)
	}
	if out.MaxAttempts < 1 {
		probs.Add("max_attempts", "must be at least 1")
	}
	if out.MinBackoff < 0 || out.MaxBackoff < out.MinBackoff {
		probs.Add("max_backoff", "must be at least min_backoff")
	}
	if out.Idle < 0 || out.MaxPayloadBytes < 0 {
		probs.Add("idle", "idle and max_payload_bytes must not be negative")
	}
	if out.Workers < 1 || out.Workers > 64 {
		probs.Add("workers", "must be between 1 and 64, got %d", out.Workers)
	}
	return out, probs.Err()
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Relay forwards the events a store's outbox holds to a [Sink], at least
// once, in Seq order for each record, in batches. Several relays may share
// a store whose outbox implements [crm.Deliveries] (memstore and pgstore
// do): each leases its own batches, and no event is delivered by two at
// once. Over an outbox without it, run one relay.
//
// A failed event is retried after a backoff with jitter and parked after
// [Config.MaxAttempts] failures, or at once when the sink says the
// failure is permanent ([ErrPermanent]) or its payload is over
// [Config.MaxPayloadBytes]. Parked events are listed with [Relay.Parked]
// and sent again with [Relay.Replay]. An event is acknowledged only after
// the sink confirms it.
//
// A Relay is safe for concurrent use; run one [Relay.Run] per relay.
type Relay struct {
	store  crm.Store
	sink   Sink
	cfg    Config
	leases crm.Deliveries // nil: one relay over Pending and Ack

	delivered, failed, parked atomic.Int64
}

// New returns a relay from store's outbox to sink. A nil cfg means
// defaults.
func New(store crm.Store, sink Sink, cfg *Config) (*Relay, error) {
	var probs crm.Problems
	if store == nil {
		probs.Add("store", "is required")
	}
	if sink == nil {
		probs.Add("sink", "is required")
	}
	c, err := cfg.withDefaults()
	probs.Merge(err)
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("relay: new: %w", err)
	}
	r := &Relay{store: store, sink: sink, cfg: c}
	r.leases, _ = store.Outbox().(crm.Deliveries)
	return r, nil
}

// Run delivers events until ctx ends, then returns nil; it waits
// [Config.Idle] when nothing is due and backs off when the store fails.
// It runs [Config.Workers] batches at once and starts no goroutine that
// outlives it.
func (r *Relay) Run(ctx context.Context) error {
	workers := r.cfg.Workers
	if r.leases == nil {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(func() { r.loop(ctx) })
	}
	r.loop(ctx)
	wg.Wait()
	return nil
}

// loop steps until ctx ends.
func (r *Relay) loop(ctx context.Context) {
	failures := 0
	for {
		n, err := r.Step(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := time.Duration(0)
		switch {
		case err != nil:
			failures++
			wait = r.backoff(failures - 1)
			r.cfg.Logger.Error("relay: step failed", "owner", r.cfg.Owner, "err", err, "retry_in", wait)
		case n == 0:
			failures = 0
			wait = r.cfg.Idle
		default:
			failures = 0
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// Step leases one batch, delivers it and settles it, and reports how many
// events it leased. Run calls it in a loop; hosts that relay from a
// scheduler call it themselves.
func (r *Relay) Step(ctx context.Context) (int, error) {
	if r.leases == nil {
		return r.stepSingle(ctx)
	}
	now := r.cfg.Clock.Now()
	batch, err := r.leases.Lease(ctx, r.cfg.Owner, r.cfg.Batch, now, now.Add(r.cfg.Lease))
	if err != nil {
		return 0, fmt.Errorf("relay: lease: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	events := make([]crm.Event, 0, len(batch))
	index := make([]int, 0, len(batch)) // events[k] is batch[index[k]]
	errs := make([]error, len(batch))
	for i := range batch {
		if n := len(batch[i].Payload); n > r.cfg.MaxPayloadBytes {
			errs[i] = Permanent(fmt.Errorf("payload of %d bytes, more than the %d the relay sends", n, r.cfg.MaxPayloadBytes))
			continue
		}
		events = append(events, batch[i].Event)
		index = append(index, i)
	}
	if len(events) > 0 {
		r.deliver(ctx, events, index, errs)
	}
	outcomes := r.outcomes(batch, errs)
	// Settle even when ctx has ended, so a stopping relay leaves what it
	// delivered acknowledged.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.leases.Settle(sctx, r.cfg.Owner, outcomes...); err != nil {
		return len(batch), fmt.Errorf("relay: settle: %w", err)
	}
	return len(batch), nil
}

// deliver sends events and records each one's error in errs (by batch
// index).
func (r *Relay) deliver(ctx context.Context, events []crm.Event, index []int, errs []error) {
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	err := r.sink.Deliver(dctx, events)
	var failed *Failed
	switch {
	case err == nil:
	case errors.As(err, &failed):
		for k, e := range failed.Errs {
			if k >= 0 && k < len(index) {
				errs[index[k]] = e
			}
		}
	default:
		if dctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("sink did not answer within %v: %w", r.cfg.Timeout, err)
		}
		for _, i := range index {
			errs[i] = err
		}
	}
}

// outcomes turns delivery errors into outcomes. An event after a failed
// one of the same record fails too, so that the record's events are
// delivered again in order.
func (r *Relay) outcomes(batch []crm.Delivery, errs []error) []crm.Outcome {
	now := r.cfg.Clock.Now()
	held := map[crm.Ref]bool{}
	out := make([]crm.Outcome, len(batch))
	for i := range batch {
		d := &batch[i]
		err := errs[i]
		if held[d.Subject] {
			// Delivered or not, it goes again after the earlier event.
			out[i] = crm.Outcome{ID: d.ID, Release: true}
			continue
		}
		if err == nil {
			out[i] = crm.Outcome{ID: d.ID, Delivered: true}
			r.delivered.Add(1)
			continue
		}
		held[d.Subject] = true
		o := crm.Outcome{ID: d.ID, Error: crm.TrimError(err.Error())}
		if errors.Is(err, ErrPermanent) || d.Attempts+1 >= r.cfg.MaxAttempts {
			o.Park = true
			r.parked.Add(1)
			r.cfg.Logger.Warn("relay: event parked", "event", d.ID, "type", d.Type, "attempts", d.Attempts+1, "err", err)
		} else {
			o.RetryAt = now.Add(r.backoff(d.Attempts))
			r.failed.Add(1)
		}
		out[i] = o
	}
	return out
}

// backoff is MinBackoff doubled attempts times, at most MaxBackoff, with
// jitter: a random wait between half of it and all of it.
func (r *Relay) backoff(attempts int) time.Duration {
	d := r.cfg.MinBackoff
	for range min(attempts, 40) {
		if d >= r.cfg.MaxBackoff/2 {
			d = r.cfg.MaxBackoff
			break
		}
		d *= 2
	}
	d = min(d, r.cfg.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// stepSingle relays over an outbox without leases: one relay, retrying
// failed events on the next step.
func (r *Relay) stepSingle(ctx context.Context) (int, error) {
	ob := r.store.Outbox()
	pending, err := ob.Pending(ctx, r.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("relay: pending: %w", err)
	}
	if len(pending) == 0 {
		return 0, nil
	}
	index := make([]int, len(pending))
	for i := range index {
		index[i] = i
	}
	errs := make([]error, len(pending))
	r.deliver(ctx, pending, index, errs)
	held := map[crm.Ref]bool{}
	var acks []crm.ID
	for i := range pending {
		if errs[i] != nil || held[pending[i].Subject] {
			held[pending[i].Subject] = true
			r.failed.Add(1)
			continue
		}
		acks = append(acks, pending[i].ID)
		r.delivered.Add(1)
	}
	if len(acks) > 0 {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := ob.Ack(sctx, acks...); err != nil {
			return len(pending), fmt.Errorf("relay: ack: %w", err)
		}
	}
	return len(pending), nil
}

// Stats is what a relay has done since it started, and the outbox's
// backlog.
type Stats struct {
	// Lag is the outbox's backlog; zero over an outbox without
	// [crm.Deliveries] but for Pending, which then counts up to one batch.
	crm.Lag
	// Delivered, Failed and ParkedByRelay count this relay's outcomes since New.
	Delivered     int64 `json:"delivered"`
	Failed        int64 `json:"failed"`
	ParkedByRelay int64 `json:"parked_by_relay"`
}

// Stats reports the backlog and this relay's counters.
func (r *Relay) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Delivered: r.delivered.Load(), Failed: r.failed.Load(), ParkedByRelay: r.parked.Load()}
	if r.leases == nil {
		p, err := r.store.Outbox().Pending(ctx, r.cfg.Batch)
		if err != nil {
			return s, fmt.Errorf("relay: stats: %w", err)
		}
		s.Pending = int64(len(p))
		if len(p) > 0 {
			s.Oldest = p[0].OccurredAt
		}
		return s, nil
	}
	lag, err := r.leases.Lag(ctx, r.cfg.Clock.Now())
	if err != nil {
		return s, fmt.Errorf("relay: stats: %w", err)
	}
	s.Lag = lag
	return s, nil
}

// ErrNoLeases is returned by the calls that need an outbox implementing
// [crm.Deliveries].
var ErrNoLeases = fmt.Errorf("relay: the store's outbox does not implement crm.Deliveries: %w", crm.ErrUnsupported)

// Parked lists parked events with Seq above afterSeq, lowest first.
func (r *Relay) Parked(ctx context.Context, afterSeq int64, limit int) ([]crm.Delivery, error) {
	if r.leases == nil {
		return nil, ErrNoLeases
	}
	return r.leases.Parked(ctx, afterSeq, limit)
}

// Replay returns parked events to delivery and reports how many it
// returned.
func (r *Relay) Replay(ctx context.Context, ids ...crm.ID) (int, error) {
	if r.leases == nil {
		return 0, ErrNoLeases
	}
	return r.leases.Replay(ctx, ids...)
}
