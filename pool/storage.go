package pool

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// This file holds what storage adapters call while they store the pool
// package's values: the checks a port makes before it writes and the values
// it writes, so that every adapter applies the same rule from one place and
// only compares versions and writes.

// Validate reports what no adapter may store: a holding without a customer,
// or a locked holding without an owner. [Holdings.Create],
// [Holdings.Update], [BatchTx.PoolRecycleBatch] and [ClaimStore.PoolClaim]
// call it before they write. The error is a [crm.ValidationErrors] naming
// each field.
func (h *Holding) Validate() error {
	var probs crm.Problems
	if h.CustomerID == crm.NilID {
		probs.Add("customer_id", "is required")
	}
	if h.OwnerID == crm.NilID && h.Locked {
		probs.Add("locked", "an unowned customer cannot be locked")
	}
	if err := probs.Err(); err != nil {
		return err
	}
	return nil
}

// StorageTimes sets every time of h that the pool package decides (not
// CreatedAt and UpdatedAt, which the adapter stamps) to its storage form
// ([crm.StorageTime]): UTC, whole microseconds. Adapters call it on what
// they store and hand back, so a holding reads back as it was written.
func (h *Holding) StorageTimes() {
	for _, t := range []*time.Time{&h.EnteredAt, &h.OwnedSince, &h.ProtectedUntil, &h.PreviousOwnerUntil, &h.LastOpportunityAt, &h.DueAt} {
		*t = crm.StorageTime(*t)
	}
}

// Validate reports a ledger entry no adapter may append: one without an
// ID, a customer, an operation or a time, as a [*crm.ValidationError] on
// "entry", or one whose operation has no event type ([Op.EventType]), on
// "entry.op". [Ledger.Append] and the ports that append entries call it.
func (e *Entry) Validate() error {
	if e.ID == crm.NilID || e.CustomerID == crm.NilID || e.Op == "" || e.At.IsZero() {
		return crm.Invalid("entry", "id, customer_id, op and at are required")
	}
	if _, ok := e.Op.EventType(); !ok {
		return crm.Invalid("entry.op", "unknown operation %q", e.Op)
	}
	return nil
}

// CustomerPlacement is where a customer stands in the pool package's
// terms: the values of [crm.Customer.OwnerID], [crm.Customer.DepartmentID]
// and [crm.Customer.PoolID]. The [Service] decides it; ports that change a
// customer's ownership ([ClaimWrite.Customer], [Recycled.Customer]) write
// it as given.
type CustomerPlacement struct {
	OwnerID      crm.ID
	DepartmentID crm.ID
	PoolID       crm.ID
}

// PlacementOf returns c's placement.
func PlacementOf(c *crm.Customer) CustomerPlacement {
	return CustomerPlacement{OwnerID: c.OwnerID, DepartmentID: c.DepartmentID, PoolID: c.PoolID}
}

// Apply writes p into c's ownership fields and leaves the rest of c alone.
func (p CustomerPlacement) Apply(c *crm.Customer) {
	c.OwnerID, c.DepartmentID, c.PoolID = p.OwnerID, p.DepartmentID, p.PoolID
}

// ValidateRecycleBatch reports a batch [BatchTx.PoolRecycleBatch] must
// refuse whole before it writes anything: an item without a holding and a
// ledger entry of the same customer, a customer listed twice, or a holding
// or entry that fails its own Validate. Errors are
// [*crm.ValidationError]s naming the item ("batch[3]") or, for an invalid
// holding, its field.
func ValidateRecycleBatch(batch []Recycled) error {
	seen := make(map[crm.ID]struct{}, len(batch))
	for i, r := range batch {
		h, e := r.Holding, r.Entry
		if h == nil || e == nil || h.CustomerID == crm.NilID || e.CustomerID != h.CustomerID || e.Validate() != nil {
			return crm.Invalid(fmt.Sprintf("batch[%d]", i), "needs a holding and a ledger entry of the same customer")
		}
		if _, dup := seen[h.CustomerID]; dup {
			return crm.Invalid(fmt.Sprintf("batch[%d]", i), "customer %s is in the batch twice", h.CustomerID)
		}
		seen[h.CustomerID] = struct{}{}
		if err := h.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Validate reports a claim [ClaimStore.PoolClaim] must refuse before it
// writes anything, for the context's tenant: a write without an owned
// holding and a ledger entry of its customer ("claim"), an invalid holding
// or entry, an entry of another tenant ("entry.tenant_id"), a counter
// without a key or listed twice ("counters[i]"), or a request without a
// key, of another customer or another tenant ("claim.request"). Errors are
// [*crm.ValidationError]s.
func (w *ClaimWrite) Validate(ctx context.Context) error {
	h, e := w.Holding, w.Entry
	if h == nil || e == nil || h.OwnerID == crm.NilID || e.CustomerID != h.CustomerID {
		return crm.Invalid("claim", "needs an owned holding and a ledger entry of its customer")
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	for i, c := range w.Counters {
		if c.Key == "" || slices.ContainsFunc(w.Counters[:i], func(d CounterCheck) bool { return d.Key == c.Key }) {
			return crm.Invalid(fmt.Sprintf("counters[%d]", i), "needs a key of its own")
		}
	}
	tenant := crm.TenantFrom(ctx)
	if e.TenantID != "" && e.TenantID != tenant {
		return crm.Invalid("entry.tenant_id", "is not the context's tenant")
	}
	if r := w.Request; r != nil && (r.Key == "" || r.CustomerID != h.CustomerID || (r.TenantID != "" && r.TenantID != tenant)) {
		return crm.Invalid("claim.request", "needs a key, the claim's customer and the context's tenant")
	}
	return nil
}

// RequestResult is the Result of w.Request once the store has assigned
// the ledger entry's Seq: RequestHead, seq in decimal, RequestTail.
func (w *ClaimWrite) RequestResult(seq int64) []byte {
	return splice(w.RequestHead, seq, w.RequestTail)
}

func splice(head []byte, seq int64, tail []byte) []byte {
	b := make([]byte, 0, len(head)+20+len(tail))
	return append(strconv.AppendInt(append(b, head...), seq, 10), tail...)
}
