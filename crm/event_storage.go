package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
)

// StorableEvent returns the copy of e that an adapter's
// [EventWriter.Append] (or a domain port that appends events) stores: the
// context's tenant applied ([ApplyEventTenant]), OccurredAt in storage
// precision ([StorageTime]), the payload compacted ([CompactJSON]), and
// the whole checked by [Event.Validate], whose error it returns. e is not
// changed; Seq is left for the adapter to assign. A nil e is a
// [*ValidationError] on "event".
func StorableEvent(ctx context.Context, e *Event) (Event, error) {
	if e == nil {
		return Event{}, Invalid("event", "is nil")
	}
	c := *e
	if err := ApplyEventTenant(ctx, &c); err != nil {
		return Event{}, err
	}
	c.OccurredAt = StorageTime(c.OccurredAt)
	c.Payload = CompactJSON(c.Payload)
	if err := c.Validate(); err != nil {
		return Event{}, err
	}
	return c, nil
}

// CompactJSON returns b without insignificant white space, as PostgreSQL's
// jsonb returns it closely enough for equality, so every adapter stores and
// returns the same payload bytes ([EventWriter.Append] and the domain ports
// that append events call it). An empty b gives nil; invalid JSON comes
// back as a copy, unchanged, for [Event.Validate] to report. b is never
// modified.
func CompactJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return slices.Clone(b)
	}
	return out.Bytes()
}
