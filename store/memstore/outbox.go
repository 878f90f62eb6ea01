package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

type outbox struct {
	seq    int64
	events []outboxEvent // in Seq order
	ids    map[crm.ID]int
}

type outboxEvent struct {
	e     crm.Event
	acked bool
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
	n := len(ob.events)
	for i := range prepared {
		ob.seq++
		prepared[i].Seq = ob.seq
		ob.ids[prepared[i].ID] = len(ob.events)
		ob.events = append(ob.events, outboxEvent{e: prepared[i]})
	}
	w.tx.onUndo(func() {
		for _, oe := range ob.events[n:] {
			delete(ob.ids, oe.e.ID)
		}
		ob.events = ob.events[:n]
	})
	for i, e := range events {
		e.Seq, e.TenantID, e.OccurredAt = prepared[i].Seq, prepared[i].TenantID, prepared[i].OccurredAt
	}
	return nil
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
	for _, oe := range s.outbox.events {
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
	return nil
}
