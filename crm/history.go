package crm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Change is one field of a record that changed: its path ("name",
// "owner_id", "fields.budget" for a custom field) and its old and new
// values as JSON. An absent side means the field was unset (empty,
// zero or missing) on that side.
type Change struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old,omitempty"`
	New   json.RawMessage `json:"new,omitempty"`
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
