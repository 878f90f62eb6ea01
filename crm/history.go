package crm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Change is one field of a record that changed: its path ("name",
// "owner_id", "fields.budget" for a custom field) and its old and new
// values as JSON: a record attribute as the record's JSON holds it
// ("A", 12, "2026-12-01T09:00:00Z"), a custom field in the typed form of
// [FieldValue] ({"number":"250000"}), which decodes back into one. An
// absent side means the field was unset (empty, zero or missing) on that
// side.
type Change struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old,omitempty"`
	New   json.RawMessage `json:"new,omitempty"`
}

// ChangedPayload is the payload of the change events of the shared
// records: "<record type>.created", "<record type>.updated" and
// "<record type>.deleted" ([EventCustomerCreated], [EventCustomerUpdated],
// ...). Changes lists the tracked fields with their old and new values,
// as the history keeps them ([HistoryEntry]); Operation says what caused
// the change ("create", "update", "delete", or a domain's own: "claim",
// "convert", "merge", "import").
type ChangedPayload struct {
	Operation string   `json:"operation"`
	Changes   []Change `json:"changes"`
}

// metaFields are kept by the store, not changed by people: Diff skips
// them.
var metaFields = map[string]bool{"id": true, "tenant_id": true, "version": true, "created_at": true, "updated_at": true}

// Diff lists the fields of a record that differ between old and new, in
// field order: every business field of the record's JSON, with each
// custom field as "fields.<name>"; the store's own fields (ID, tenant,
// version, creation and update times) are not changes. A nil old lists
// what a create sets, a nil new what a delete removes. old and new must
// be records of one type (or nil).
func Diff(old, new any) ([]Change, error) {
	a, err := flatten(old)
	if err != nil {
		return nil, fmt.Errorf("crm: diff: %w", err)
	}
	b, err := flatten(new)
	if err != nil {
		return nil, fmt.Errorf("crm: diff: %w", err)
	}
	var out []Change
	for k, bv := range b {
		if av, ok := a[k]; !ok || !bytes.Equal(av, bv) {
			out = append(out, Change{Field: k, Old: a[k], New: bv})
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok {
			out = append(out, Change{Field: k, Old: av})
		}
	}
	slices.SortFunc(out, func(x, y Change) int { return strings.Compare(x.Field, y.Field) })
	return out, nil
}

// flatten maps a record's set business fields to their compact JSON,
// custom fields under "fields.".
func flatten(v any) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if v == nil {
		return out, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(data) == "null" {
		return out, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%T is not a record: %w", v, err)
	}
	for k, raw := range top {
		switch {
		case metaFields[k]:
		case k == "fields":
			var custom map[string]json.RawMessage
			if err := json.Unmarshal(raw, &custom); err != nil {
				return nil, err
			}
			for name, cv := range custom {
				if !unset(cv) {
					out["fields."+name] = compact(cv)
				}
			}
		case !unset(raw):
			out[k] = compact(raw)
		}
	}
	return out, nil
}

// unset reports whether a JSON value is an empty one: null, "", 0, false,
// [], {} or the zero time, which records leave out or treat as unset.
func unset(raw json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(raw)); s {
	case "null", `""`, "0", "false", "[]", "{}", `"0001-01-01T00:00:00Z"`, `"00000000-0000-0000-0000-000000000000"`:
		return true
	}
	return false
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// HistoryEntry is one changed field of one record, kept as its history.
type HistoryEntry struct {
	// ID identifies the entry; Seq orders entries, assigned by the store.
	ID       ID     `json:"id"`
	TenantID string `json:"tenant_id,omitempty"`
	Seq      int64  `json:"seq"`
	// Record is the record that changed.
	Record Ref `json:"record"`
	Change
	// ActorID is who made the change; NilID for the system.
	ActorID ID `json:"actor_id,omitzero"`
	// Operation is what caused it: "create", "update", "delete", or a
	// domain operation such as "claim", "merge", "convert" or "import".
	Operation string    `json:"operation"`
	At        time.Time `json:"at"`
}

// Limits on a history entry, checked before an adapter stores it.
const (
	// MaxHistoryValueBytes bounds each of an entry's old and new values.
	MaxHistoryValueBytes = 64 << 10
	maxHistoryField      = 200
)

// Validate checks an entry before an adapter stores it.
func (h *HistoryEntry) Validate() error {
	var probs Problems
	if h.ID == NilID {
		probs.Add("id", "is required")
	}
	if h.Record.Type == "" || h.Record.ID == NilID {
		probs.Add("record", "type and id are required")
	} else if !historyText(string(h.Record.Type), maxShort) {
		probs.Add("record", "type must be 1 to %d bytes of UTF-8 without NUL", maxShort)
	}
	if !historyText(h.Field, maxHistoryField) {
		probs.Add("field", "must be 1 to %d bytes of UTF-8 without NUL", maxHistoryField)
	}
	if h.Old == nil && h.New == nil {
		probs.Add("new", "an entry changes something: old or new is required")
	}
	for _, v := range []struct {
		name string
		raw  json.RawMessage
	}{{"old", h.Old}, {"new", h.New}} {
		switch {
		case v.raw == nil:
		case len(v.raw) > MaxHistoryValueBytes:
			probs.Add(v.name, "is %d bytes, more than %d", len(v.raw), MaxHistoryValueBytes)
		case !json.Valid(v.raw) || !utf8.Valid(v.raw):
			probs.Add(v.name, "is not valid JSON in UTF-8")
		}
	}
	if !historyText(h.Operation, 64) {
		probs.Add("operation", "must be 1 to 64 bytes of UTF-8 without NUL, such as \"update\" or \"claim\"")
	}
	if h.At.IsZero() {
		probs.Add("at", "is required")
	}
	return probs.Err()
}

// historyText reports whether s is 1 to max bytes of UTF-8 without NUL,
// text every adapter can store (PostgreSQL's text refuses the others).
func historyText(s string, max int) bool {
	return s != "" && len(s) <= max && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// HistoryTx is implemented by a unit of work whose adapter keeps field
// history (memstore and pgstore do); found by type assertion.
type HistoryTx interface {
	History() History
}

// History is the storage port of field history: one entry per changed
// field, written in the unit of work of the change, read per record or
// per actor, newest first. Reads and purges act for the context's tenant.
type History interface {
	// Append validates and stores entries, assigning each its Seq (written
	// back) and the context's tenant when TenantID is empty. A repeated ID
	// is [ErrAlreadyExists].
	Append(ctx context.Context, entries ...*HistoryEntry) error
	// ForRecord returns a page of record's history, newest first. A cursor
	// that is not from a previous page is refused, naming "page.cursor".
	ForRecord(ctx context.Context, record Ref, page PageRequest) (Page[HistoryEntry], error)
	// ByActor returns a page of the entries actor made at from or later and
	// before to, newest first.
	ByActor(ctx context.Context, actor ID, from, to time.Time, page PageRequest) (Page[HistoryEntry], error)
	// Purge removes the entries made before before and reports how many.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// SeqCursor returns the cursor that continues a newest-first list after
// the entry with seq.
func SeqCursor(seq int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ResolveSeq validates a request for a newest-first page ordered by Seq
// and returns the effective limit and the Seq the page starts below (0 for
// the first page).
func (p PageRequest) ResolveSeq() (limit int, below int64, err error) {
	limit = p.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 1 || limit > MaxPageLimit {
		return 0, 0, Invalid("page.limit", "must be between 1 and %d, got %d", MaxPageLimit, p.Limit)
	}
	if p.Cursor == "" {
		return limit, 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || len(b) != 8 {
		return 0, 0, Invalid("page.cursor", "not a cursor from a previous page")
	}
	below = int64(binary.BigEndian.Uint64(b))
	if below <= 0 {
		return 0, 0, Invalid("page.cursor", "not a cursor from a previous page")
	}
	return limit, below, nil
}
