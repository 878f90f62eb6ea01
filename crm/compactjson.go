package crm

import (
	"bytes"
	"encoding/json"
	"slices"
)

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
