package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"
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

// StorableHistoryEntry is the copy of e an adapter stores in
// [History.Append]: the context's tenant applied, Seq cleared (the store
// assigns it), At at storage precision, values compacted so every adapter
// returns the same bytes, and validated. i is e's index in the call, for
// a nil entry's error.
func StorableHistoryEntry(ctx context.Context, i int, e *HistoryEntry) (HistoryEntry, error) {
	if e == nil {
		return HistoryEntry{}, Invalid("entries["+strconv.Itoa(i)+"]", "is nil")
	}
	c := *e
	m := Meta{TenantID: c.TenantID}
	if err := ApplyTenant(ctx, &m); err != nil {
		return HistoryEntry{}, err
	}
	c.TenantID, c.Seq = m.TenantID, 0
	c.At = StorageTime(c.At)
	c.Old, c.New = CompactJSON(c.Old), CompactJSON(c.New)
	if err := c.Validate(); err != nil {
		return HistoryEntry{}, err
	}
	return c, nil
}

// CheckHistoryRecord refuses a record [History.ForRecord] can hold no
// entries of, as [HistoryEntry.Validate] would.
func CheckHistoryRecord(record Ref) error {
	if record.Type == "" || record.ID == NilID || !historyText(string(record.Type), maxShort) {
		return Invalid("record", "type (1 to %d bytes of UTF-8 without NUL) and id are required", maxShort)
	}
	return nil
}

// HistoryWindow checks the window of [History.ByActor] and returns it at
// storage precision.
func HistoryWindow(from, to time.Time) (time.Time, time.Time, error) {
	if from.IsZero() {
		return from, to, Invalid("from", "is required")
	}
	if to.IsZero() {
		return from, to, Invalid("to", "is required")
	}
	from, to = StorageTime(from), StorageTime(to)
	if to.Before(from) {
		return from, to, Invalid("to", "is before from")
	}
	return from, to, nil
}
