package crm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
)

// Work queues (tasks due, customers falling back) page by a keyset: a
// due time and an ID, earliest first, ties by ID. Their cursors carry a
// tag naming the queue, so that a cursor of a list or of another queue is
// refused rather than misread. Domain packages define the tags and wrap
// these; adapters call the domain packages.

// QueueKey is a record's position in a work queue: its due time (stored
// precision) and its ID.
type QueueKey struct {
	DueAt time.Time
	ID    ID
}

// Less orders keys by due time, then ID (byte order, as PostgreSQL orders
// uuid).
func (k QueueKey) Less(o QueueKey) bool {
	if !k.DueAt.Equal(o.DueAt) {
		return k.DueAt.Before(o.DueAt)
	}
	return bytes.Compare(k.ID[:], o.ID[:]) < 0
}

// QueueCursor returns the cursor of the queue tagged tag that continues
// after k.
func QueueCursor(tag string, k QueueKey) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(StorageTime(k.DueAt).UnixMicro()))
	copy(b[8:], k.ID[:])
	return tag + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// ResolveQueuePage validates a page of the queue tagged tag and returns
// its limit and the key after which it starts (nil for the first page).
// A bad limit is a [*ValidationError] on "page.limit"; a cursor not made
// by [QueueCursor] with the same tag, one on "page.cursor" that names the
// queue (what).
func ResolveQueuePage(tag, what string, p PageRequest) (limit int, after *QueueKey, err error) {
	limit, _, err = PageRequest{Limit: p.Limit}.Resolve()
	if err != nil || p.Cursor == "" {
		return limit, nil, err
	}
	rest, ok := strings.CutPrefix(p.Cursor, tag+".")
	b, derr := base64.RawURLEncoding.DecodeString(rest)
	if !ok || derr != nil || len(b) != 24 {
		return 0, nil, Invalid("page.cursor", "not a cursor of the %s queue", what)
	}
	k := &QueueKey{DueAt: time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))).UTC()}
	copy(k.ID[:], b[8:])
	return limit, k, nil
}

// QueueScope returns the data scope of a work queue: scope when set; for
// a team, the departments actor manages ([Department.ManagerID]), each
// with the departments below it (a manager of none gets a scope that
// matches nothing); otherwise the actor's own records.
func QueueScope(ctx context.Context, tx Tx, actor ID, team bool, scope *DataScope) (*DataScope, error) {
	if scope != nil {
		return scope, nil
	}
	if !team {
		return &DataScope{OwnerIDs: []ID{actor}}, nil
	}
	out := &DataScope{DepartmentTrees: []ID{}}
	page := PageRequest{Limit: MaxPageLimit}
	for {
		p, err := tx.Departments().List(ctx, DepartmentFilter{}, page)
		if err != nil {
			return nil, err
		}
		for _, d := range p.Items {
			if d.ManagerID == actor {
				out.DepartmentTrees = append(out.DepartmentTrees, d.ID)
			}
		}
		if p.NextCursor == "" {
			return out, nil
		}
		page.Cursor = p.NextCursor
	}
}

// ValidateScope reports bad scope values under "scope.".
func ValidateScope(s *DataScope) error {
	var v Problems
	s.validate(&v)
	return v.Err()
}
