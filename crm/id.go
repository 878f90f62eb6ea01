package crm

import (
	"crypto/rand"
	"time"

	"github.com/google/uuid"
)

// ID identifies every crmkit record. It is a UUID; crmkit generates version 7
// UUIDs, whose time-ordered prefix keeps B-tree indexes compact and makes ID
// order follow creation order. The zero value [NilID] means "none".
type ID = uuid.UUID

// NilID is the zero ID, used for "no owner", "no parent" and similar.
var NilID ID

// ParseID parses the canonical textual form of an ID. The error is a
// [*ValidationError] naming field.
func ParseID(field, s string) (ID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return NilID, Invalid(field, "not a uuid: %q", truncate(s, 64))
	}
	return id, nil
}

// IDGenerator makes new record IDs. Implementations must be safe for
// concurrent use and must never return [NilID].
type IDGenerator interface {
	NewID() ID
}

// UUIDv7 generates RFC 9562 version 7 UUIDs from an injected clock and the
// operating system's random source. It is safe for concurrent use. The zero
// value uses [SystemClock].
type UUIDv7 struct {
	// Clock supplies the timestamp part. Defaults to SystemClock.
	Clock Clock
}

// NewID implements [IDGenerator].
func (g UUIDv7) NewID() ID {
	var t time.Time
	if g.Clock != nil {
		t = g.Clock.Now()
	} else {
		t = time.Now()
	}
	var id ID
	ms := uint64(t.UnixMilli())
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(id[6:])
	id[6] = 0x70 | (id[6] & 0x0f) // version 7
	id[8] = 0x80 | (id[8] & 0x3f) // RFC 9562 variant
	return id
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
