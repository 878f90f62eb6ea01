package crm

import (
	"context"
	"time"
)

// Deliveries is the delivery side of the transactional outbox, for relays
// that share the work of forwarding stored events to the host's broker or
// webhooks (package relay). It spans every tenant. Both adapters implement
// it on the value [Store.Outbox] returns; a store whose outbox does not
// (found by type assertion) supports one relay over [Outbox.Pending] and
// [Outbox.Ack].
//
// An event is deliverable when it is not acknowledged, not parked, not
// leased to a relay whose lease is still running, due (a failed event
// waits for its retry time), and every earlier event of the same subject
// is acknowledged or deliverable too. So events of one record are never
// delivered by two relays at once, nor out of order: a parked or
// retrying event holds back the later events of its record.
type Deliveries interface {
	// Lease leases up to limit deliverable events to owner until until,
	// lowest Seq first, and returns them in Seq order. Leasing is
	// serialised across relays: no event is leased to two live leases.
	Lease(ctx context.Context, owner string, limit int, now, until time.Time) ([]Delivery, error)
	// Settle records what became of leased events: a delivered event is
	// acknowledged; a failed one waits until its RetryAt or is parked with
	// its error; a released one is simply due again. Outcomes for events
	// no longer leased to owner (its lease
	// ran out and another relay may hold them) are ignored.
	Settle(ctx context.Context, owner string, outcomes ...Outcome) error
	// Parked lists parked events with Seq above afterSeq, lowest first.
	Parked(ctx context.Context, afterSeq int64, limit int) ([]Delivery, error)
	// Replay returns parked events to delivery, due at once with no
	// attempts counted, and reports how many it returned. IDs that are not
	// parked are ignored.
	Replay(ctx context.Context, ids ...ID) (int, error)
	// Lag reports the backlog at now.
	Lag(ctx context.Context, now time.Time) (Lag, error)
}

// Delivery is a stored event with its delivery state.
type Delivery struct {
	Event
	// Attempts counts the failed deliveries so far.
	Attempts int `json:"attempts"`
	// LastError is the error of the last failed delivery.
	LastError string `json:"last_error,omitempty"`
	// ParkedAt is when the event was parked; zero unless it is.
	ParkedAt time.Time `json:"parked_at,omitzero"`
}

// Outcome is what became of one leased event.
type Outcome struct {
	ID ID `json:"id"`
	// Delivered acknowledges the event.
	Delivered bool `json:"delivered,omitempty"`
	// Error is why delivery failed; it is kept with the event.
	Error string `json:"error,omitempty"`
	// RetryAt is when a failed event becomes due again.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Park parks a failed event: it is not retried until replayed.
	Park bool `json:"park,omitempty"`
	// Release gives the lease up without an attempt counted: the event
	// was held back because an earlier event of its record failed, and is
	// delivered again after it.
	Release bool `json:"release,omitempty"`
}

// Lag is the outbox's backlog.
type Lag struct {
	// Pending counts events neither acknowledged nor parked.
	Pending int64 `json:"pending"`
	// Oldest is when the oldest pending event occurred; zero when none is.
	Oldest time.Time `json:"oldest,omitzero"`
	// Parked counts parked events.
	Parked int64 `json:"parked"`
}

// MaxErrorLen is the longest delivery error an outbox keeps; longer ones
// are cut.
const MaxErrorLen = 1000

// Validate checks an outcome before an adapter stores it.
func (o *Outcome) Validate() error {
	var probs Problems
	if o.ID == NilID {
		probs.Add("id", "is required")
	}
	if o.Delivered && (o.Park || o.Error != "" || o.Release) {
		probs.Add("delivered", "a delivered event has no error and is not parked or released")
	}
	if o.Release && (o.Park || o.Error != "" || !o.RetryAt.IsZero()) {
		probs.Add("release", "a released event has no error, retry time or parking")
	}
	if !o.Delivered && !o.Release && !o.Park && o.RetryAt.IsZero() {
		probs.Add("retry_at", "is required for a failed event that is not parked")
	}
	return probs.Err()
}

// TrimError cuts a delivery error to [MaxErrorLen] bytes on a rune
// boundary.
func TrimError(s string) string {
	if len(s) <= MaxErrorLen {
		return s
	}
	cut := MaxErrorLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// ValidateLease checks the arguments of [Deliveries.Lease] before an
// adapter leases.
func ValidateLease(owner string, limit int, now, until time.Time) error {
	var probs Problems
	if owner == "" || len(owner) > 200 {
		probs.Add("owner", "must be 1 to 200 bytes")
	}
	if limit < 1 || limit > MaxPageLimit {
		probs.Add("limit", "must be between 1 and %d, got %d", MaxPageLimit, limit)
	}
	if !until.After(now) {
		probs.Add("until", "must be after now")
	}
	return probs.Err()
}
