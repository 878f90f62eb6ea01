package workflow

import (
	"context"

	"github.com/crmkit/crmkit/crm"
)

// ApprovalRecords is the optional part of an [ApprovalInstances] port that
// lists the requests of a set of records, pending and finished: a
// customer's 360° view shows the approvals of the customer and of its
// opportunities. Adapters offer it on the value ApprovalInstances returns
// (memstore and pgstore do); callers find it by type assertion, and
// without it see only each record's pending request
// ([ApprovalInstances.PendingInstance]). Implementations are safe for
// concurrent use; tenancy comes from the context; a context that ends
// makes it return the context's error (wrapped).
type ApprovalRecords interface {
	// RecordInstances returns one page of the context tenant's requests
	// whose record ID is one of records (1 to 1,000 IDs; record IDs are
	// unique across record types), in request ID order (submission order
	// for UUIDv7 IDs). The adapter reads the page with
	// [ResolveRecordInstancesPage] and makes NextCursor with
	// [RecordInstancesCursor]; a cursor of another query is a
	// [*crm.ValidationError] on "page.cursor". The requests are copies the
	// caller owns.
	RecordInstances(ctx context.Context, records []crm.ID, page crm.PageRequest) (crm.Page[Instance], error)
}

// maxRecordInstances bounds the records of one [ApprovalRecords] query.
const maxRecordInstances = 1000

// recordsTag tags cursors of [ApprovalRecords] pages.
const recordsTag = "apr"

// RecordInstancesCursor returns the cursor that continues an
// [ApprovalRecords] page after the request with id.
func RecordInstancesCursor(id crm.ID) string {
	return crm.QueueCursor(recordsTag, crm.QueueKey{ID: id})
}

// ResolveRecordInstancesPage validates an [ApprovalRecords] query and
// returns its limit and the request ID after which the page starts (nil
// for the first page). Errors are a [*crm.ValidationError] on "records"
// (none, more than 1,000, a nil ID), "page.limit" or "page.cursor".
func ResolveRecordInstancesPage(records []crm.ID, page crm.PageRequest) (limit int, after *crm.ID, err error) {
	switch {
	case len(records) == 0:
		return 0, nil, crm.Invalid("records", "at least one record is required")
	case len(records) > maxRecordInstances:
		return 0, nil, crm.Invalid("records", "at most %d records, got %d", maxRecordInstances, len(records))
	}
	for i, id := range records {
		if id == crm.NilID {
			return 0, nil, crm.Invalid("records", "record %d is the nil ID", i)
		}
	}
	limit, k, err := crm.ResolveQueuePage(recordsTag, "approvals of records", page)
	if err != nil || k == nil {
		return limit, nil, err
	}
	return limit, &k.ID, nil
}
