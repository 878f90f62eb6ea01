package crm

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// EventLog is an optional port of a unit of work (memstore and pgstore
// implement it), found with [As]: the stored events of a set of records,
// newest first. The outbox keeps every event it was given, delivered or
// not, so the log is each record's audit trail: what happened to it, who
// did it and when. A customer's 360° view reads its timeline from it.
type EventLog interface {
	// SubjectEvents returns one page of the context tenant's events whose
	// subject ID is one of q.SubjectIDs (and, when q.Types is set, whose
	// type is one of them), highest Seq first. The adapter reads the page
	// with [EventQuery.Resolve] and makes NextCursor with [EventLogCursor];
	// a cursor of another query is a [*ValidationError] on "page.cursor".
	// Its cost follows the page and the number of subjects, not the
	// number of events the subjects have. The events are copies the caller
	// owns.
	SubjectEvents(ctx context.Context, q EventQuery) (Page[Event], error)
}

// MaxEventSubjects bounds [EventQuery.SubjectIDs].
const MaxEventSubjects = 5000

// EventQuery asks [EventLog.SubjectEvents] for a page.
type EventQuery struct {
	// SubjectIDs are the records whose events are listed: 1 to
	// [MaxEventSubjects] IDs. Record IDs are unique across record types,
	// so an ID names one record.
	SubjectIDs []ID
	// Types, when set, lists only events of these types (at most 100).
	Types []EventType
	Page  PageRequest
}

// eventLogTag tags cursors of the event log.
const eventLogTag = "evl"

// EventLogCursor returns the cursor that continues an event-log page after
// the event with seq.
func EventLogCursor(seq int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	return eventLogTag + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// Resolve validates q and returns the page's limit and the Seq the page
// starts below (0 for the first page). Errors are a [*ValidationError]
// naming the field: "subject_ids" (none, too many, a nil ID), "types",
// "page.limit", "page.cursor" (not made by [EventLogCursor]).
func (q *EventQuery) Resolve() (limit int, below int64, err error) {
	var v Problems
	switch {
	case len(q.SubjectIDs) == 0:
		v.Add("subject_ids", "at least one record is required")
	case len(q.SubjectIDs) > MaxEventSubjects:
		v.Add("subject_ids", "at most %d records, got %d", MaxEventSubjects, len(q.SubjectIDs))
	default:
		for i, id := range q.SubjectIDs {
			if id == NilID {
				v.Add("subject_ids["+itoa(i)+"]", "is the nil ID")
				break
			}
		}
	}
	if len(q.Types) > 100 {
		v.Add("types", "at most 100 types, got %d", len(q.Types))
	} else {
		strList(&v, "types", q.Types, nil)
	}
	limit, _, lerr := PageRequest{Limit: q.Page.Limit}.Resolve()
	if lerr != nil {
		v.Add("page.limit", "must be between 1 and %d, got %d", MaxPageLimit, q.Page.Limit)
	}
	if q.Page.Cursor != "" {
		rest, ok := strings.CutPrefix(q.Page.Cursor, eventLogTag+".")
		b, derr := base64.RawURLEncoding.DecodeString(rest)
		if !ok || derr != nil || len(b) != 8 || int64(binary.BigEndian.Uint64(b)) <= 0 {
			v.Add("page.cursor", "not a cursor of an event-log page")
		} else {
			below = int64(binary.BigEndian.Uint64(b))
		}
	}
	if err := v.Err(); err != nil {
		return 0, 0, err
	}
	return limit, below, nil
}
