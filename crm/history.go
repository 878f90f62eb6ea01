package crm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
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
	// Both sides are sorted by field: a merge join.
	var out []Change
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].field < b[j].field):
			out = append(out, Change{Field: a[i].field, Old: a[i].value})
			i++
		case i == len(a) || b[j].field < a[i].field:
			out = append(out, Change{Field: b[j].field, New: b[j].value})
			j++
		default:
			if !bytes.Equal(a[i].value, b[j].value) {
				out = append(out, Change{Field: a[i].field, Old: a[i].value, New: b[j].value})
			}
			i, j = i+1, j+1
		}
	}
	return out, nil
}

// fieldValue is one set field of a record and its compact JSON.
type fieldValue struct {
	field string
	value json.RawMessage
}

// flatten lists a record's set business fields with their compact JSON,
// custom fields under "fields.", sorted by field. It reads the record's
// JSON as encoding/json writes it (compact, one object) with a scanner of
// its own: decoding it into maps was a third of an edit's cost.
func flatten(v any) ([]fieldValue, error) {
	if v == nil {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(data) == "null" {
		return nil, nil
	}
	var out []fieldValue
	err = members(data, func(k string, raw json.RawMessage) error {
		switch {
		case metaFields[k]:
		case k == "fields":
			return members(raw, func(name string, cv json.RawMessage) error {
				if !unset(cv) {
					out = append(out, fieldValue{"fields." + name, cv})
				}
				return nil
			})
		case !unset(raw):
			out = append(out, fieldValue{k, raw})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%T is not a record: %w", v, err)
	}
	slices.SortFunc(out, func(x, y fieldValue) int { return strings.Compare(x.field, y.field) })
	return out, nil
}

// members calls fn with each member of the JSON object data, which must be
// compact (as encoding/json writes it); the values are subslices of data.
// "null" is an object without members.
func members(data []byte, fn func(key string, value json.RawMessage) error) error {
	if string(data) == "null" {
		return nil
	}
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return errors.New("not a JSON object")
	}
	i := 1
	for i < len(data)-1 {
		end, err := stringEnd(data, i)
		if err != nil {
			return err
		}
		key := string(data[i+1 : end-1])
		if bytes.IndexByte(data[i:end], '\\') >= 0 {
			if err := json.Unmarshal(data[i:end], &key); err != nil {
				return err
			}
		}
		if end >= len(data) || data[end] != ':' {
			return errors.New("a member without a value")
		}
		start := end + 1
		stop, err := valueEnd(data, start)
		if err != nil {
			return err
		}
		if err := fn(key, data[start:stop:stop]); err != nil {
			return err
		}
		i = stop
		if data[i] == ',' {
			i++
		}
	}
	return nil
}

// stringEnd returns the index after the JSON string starting at data[i].
func stringEnd(data []byte, i int) (int, error) {
	if i >= len(data) || data[i] != '"' {
		return 0, errors.New("a key is not a string")
	}
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("an unterminated string")
}

// valueEnd returns the index after the compact JSON value starting at
// data[i]: at the ',' or the '}' that follows it.
func valueEnd(data []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(data); j++ {
		switch data[j] {
		case '"':
			end, err := stringEnd(data, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case '{', '[':
			depth++
		case ']':
			depth--
		case '}':
			if depth == 0 {
				return j, nil
			}
			depth--
		case ',':
			if depth == 0 {
				return j, nil
			}
		}
	}
	return 0, errors.New("an unterminated value")
}

// unset reports whether a JSON value is an empty one: null, "", 0, false,
// [], {} or the zero time, which records leave out or treat as unset.
func unset(raw json.RawMessage) bool {
	switch string(raw) {
	case "null", `""`, "0", "false", "[]", "{}", `"0001-01-01T00:00:00Z"`, `"00000000-0000-0000-0000-000000000000"`:
		return true
	}
	return false
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

// ChangeAppender is an optional extension of [History] (pgstore implements
// it): AppendChange stores one change's entries and its change event
// together, as Append and [EventWriter.Append] would one after the other,
// in one step (pgstore: one round trip instead of two). A repeated ID of
// either is [ErrAlreadyExists], and on error the caller must roll back.
// A recorder (package history) uses it when the history port has it.
type ChangeAppender interface {
	AppendChange(ctx context.Context, ev *Event, entries ...*HistoryEntry) error
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
