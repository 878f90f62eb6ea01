package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

type outbox struct {
	seq    int64
	events []outboxEvent // in Seq order
	ids    map[crm.ID]int
	// lastOf is the index in events of each subject's latest event, and
	// prevOf[i] the index of the event before events[i] of the same
	// subject (-1: none): each subject's events chained newest first, for
	// the event log (crm.EventLog).
	lastOf map[crm.ID]int
	prevOf []int
	// open is the index of the first event that may be unacknowledged:
	// every event before it is acknowledged.
	open int
}

type outboxEvent struct {
	e crm.Event
	// entry is set when the event is a pool ledger entry: one record is
	// both (pool.Ledger).
	entry *pool.Entry
	acked bool
	// Delivery state (crm.Deliveries).
	attempts int
	lastErr  string
	parkedAt time.Time
	nextAt   time.Time // due again at; zero: due
	owner    string    // lease holder, while until is after now
	until    time.Time
}

type eventWriter struct{ tx tx }

// Append implements [crm.EventWriter].
func (w eventWriter) Append(ctx context.Context, events ...*crm.Event) error {
	unlock, err := w.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: append events: %w", err)
	}
	defer unlock()
	ob := &w.tx.s.outbox
	prepared := make([]crm.Event, len(events))
	seen := make(map[crm.ID]bool, len(events))
	for i, e := range events {
		c, err := crm.StorableEvent(ctx, e)
		if err != nil {
			return err
		}
		if _, dup := ob.ids[c.ID]; dup || seen[c.ID] {
			return fmt.Errorf("memstore: append event %s: %w", c.ID, crm.ErrAlreadyExists)
		}
		seen[c.ID] = true
		prepared[i] = c
	}
	n, seq := len(ob.events), ob.seq
	for i := range prepared {
		ob.seq++
		prepared[i].Seq = ob.seq
		ob.push(outboxEvent{e: prepared[i]})
	}
	w.tx.onUndo(func() { ob.truncate(n, seq) })
	for i, e := range events {
		e.Seq, e.TenantID, e.OccurredAt = prepared[i].Seq, prepared[i].TenantID, prepared[i].OccurredAt
	}
	return nil
}

// push appends oe, indexing it by ID and chaining it to its subject's
// events.
func (ob *outbox) push(oe outboxEvent) {
	i := len(ob.events)
	ob.ids[oe.e.ID] = i
	prev, ok := ob.lastOf[oe.e.Subject.ID]
	if !ok {
		prev = -1
	}
	ob.lastOf[oe.e.Subject.ID] = i
	ob.prevOf = append(ob.prevOf, prev)
	ob.events = append(ob.events, oe)
}

// truncate removes the events from index n on, newest first, and sets the
// sequence back to seq: the undo of pushes.
func (ob *outbox) truncate(n int, seq int64) {
	for i := len(ob.events) - 1; i >= n; i-- {
		e := &ob.events[i].e
		delete(ob.ids, e.ID)
		if p := ob.prevOf[i]; p >= 0 {
			ob.lastOf[e.Subject.ID] = p
		} else {
			delete(ob.lastOf, e.Subject.ID)
		}
	}
	clear(ob.events[n:])
	ob.events, ob.prevOf, ob.seq = ob.events[:n], ob.prevOf[:n], seq
}

// Pending implements [crm.Outbox].
func (s *Store) Pending(ctx context.Context, limit int) ([]crm.Event, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	unlock, err := tx{s: s}.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: pending events: %w", err)
	}
	defer unlock()
	var out []crm.Event
	for _, oe := range s.outbox.events[s.outbox.open:] {
		if oe.acked {
			continue
		}
		e := oe.e
		e.Payload = slices.Clone(e.Payload)
		out = append(out, e)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Ack implements [crm.Outbox].
func (s *Store) Ack(ctx context.Context, ids ...crm.ID) error {
	unlock, err := tx{s: s}.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: ack events: %w", err)
	}
	defer unlock()
	for _, id := range ids {
		if i, ok := s.outbox.ids[id]; ok {
			s.outbox.events[i].acked = true
		}
	}
	s.outbox.advance()
	return nil
}

// advance moves open past acknowledged events.
func (ob *outbox) advance() {
	for ob.open < len(ob.events) && ob.events[ob.open].acked {
		ob.open++
	}
}

type subjectKey struct {
	tenant string
	ref    crm.Ref
}

// Lease implements [crm.Deliveries].
func (s *Store) Lease(ctx context.Context, owner string, limit int, now, until time.Time) ([]crm.Delivery, error) {
	if err := crm.ValidateLease(owner, limit, now, until); err != nil {
		return nil, fmt.Errorf("memstore: lease events: %w", err)
	}
	unlock, err := tx{s: s}.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: lease events: %w", err)
	}
	defer unlock()
	ob := &s.outbox
	held := map[subjectKey]bool{} // subjects with an earlier event not deliverable now
	var out []crm.Delivery
	for i := ob.open; i < len(ob.events) && len(out) < limit; i++ {
		oe := &ob.events[i]
		if oe.acked {
			continue
		}
		k := subjectKey{oe.e.TenantID, oe.e.Subject}
		deliverable := oe.parkedAt.IsZero() && !oe.until.After(now) && !oe.nextAt.After(now)
		if !deliverable || held[k] {
			held[k] = true
			continue
		}
		oe.owner, oe.until = owner, until
		out = append(out, delivery(oe))
	}
	return out, nil
}

func delivery(oe *outboxEvent) crm.Delivery {
	d := crm.Delivery{Event: oe.e, Attempts: oe.attempts, LastError: oe.lastErr, ParkedAt: oe.parkedAt}
	d.Payload = slices.Clone(d.Payload)
	return d
}

// Settle implements [crm.Deliveries].
func (s *Store) Settle(ctx context.Context, owner string, outcomes ...crm.Outcome) error {
	for i := range outcomes {
		if err := outcomes[i].Validate(); err != nil {
			return fmt.Errorf("memstore: settle events: outcomes[%d]: %w", i, err)
		}
	}
	unlock, err := tx{s: s}.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: settle events: %w", err)
	}
	defer unlock()
	ob := &s.outbox
	now := s.clock.Now()
	for _, o := range outcomes {
		i, ok := ob.ids[o.ID]
		if !ok {
			continue
		}
		oe := &ob.events[i]
		if oe.acked || oe.owner != owner || !oe.parkedAt.IsZero() {
			continue // settled already, or leased to another relay since
		}
		oe.owner, oe.until = "", time.Time{}
		switch {
		case o.Delivered:
			oe.acked = true
		case o.Release:
		default:
			oe.attempts++
			oe.lastErr = crm.TrimError(o.Error)
			if o.Park {
				oe.parkedAt = crm.StorageTime(now)
			} else {
				oe.nextAt = o.RetryAt
			}
		}
	}
	ob.advance()
	return nil
}

// Parked implements [crm.Deliveries].
func (s *Store) Parked(ctx context.Context, afterSeq int64, limit int) ([]crm.Delivery, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	unlock, err := tx{s: s}.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: parked events: %w", err)
	}
	defer unlock()
	var out []crm.Delivery
	ob := &s.outbox
	for i := ob.open; i < len(ob.events) && len(out) < limit; i++ {
		if oe := &ob.events[i]; !oe.acked && !oe.parkedAt.IsZero() && oe.e.Seq > afterSeq {
			out = append(out, delivery(oe))
		}
	}
	return out, nil
}

// Replay implements [crm.Deliveries].
func (s *Store) Replay(ctx context.Context, ids ...crm.ID) (int, error) {
	unlock, err := tx{s: s}.begin(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("memstore: replay events: %w", err)
	}
	defer unlock()
	n := 0
	for _, id := range ids {
		i, ok := s.outbox.ids[id]
		if !ok {
			continue
		}
		if oe := &s.outbox.events[i]; !oe.acked && !oe.parkedAt.IsZero() {
			oe.parkedAt, oe.nextAt, oe.attempts = time.Time{}, time.Time{}, 0
			n++
		}
	}
	return n, nil
}

// Lag implements [crm.Deliveries].
func (s *Store) Lag(ctx context.Context, now time.Time) (crm.Lag, error) {
	unlock, err := tx{s: s}.begin(ctx, false)
	if err != nil {
		return crm.Lag{}, fmt.Errorf("memstore: outbox lag: %w", err)
	}
	defer unlock()
	var lag crm.Lag
	ob := &s.outbox
	for i := ob.open; i < len(ob.events); i++ {
		oe := &ob.events[i]
		switch {
		case oe.acked:
		case !oe.parkedAt.IsZero():
			lag.Parked++
		default:
			lag.Pending++
			if lag.Oldest.IsZero() || oe.e.OccurredAt.Before(lag.Oldest) {
				lag.Oldest = oe.e.OccurredAt
			}
		}
	}
	return lag, nil
}
