package importer

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// Tx is the optional storage port of imports: a unit of work that also
// keeps external IDs. crmkit finds it with crm.As and reports
// [crm.ErrUnsupported] without it.
type Tx interface {
	crm.Tx
	// ExternalIDs stores the external IDs of customers.
	ExternalIDs() ExternalIDs
}

// ExternalIDs maps the IDs a source system gives its customers to the
// stored customers, per tenant (from the context, as every port). An
// external ID of one source system names at most one customer; a customer
// may hold several (a duplicate an import attached to it).
type ExternalIDs interface {
	// Lookup returns the mappings of ids of source, by external ID; IDs
	// without a customer are left out. At most [MaxLookup] IDs.
	Lookup(ctx context.Context, source string, ids []string) (map[string]Mapping, error)
	// Put records that id of source names m.CustomerID, with m.Digest.
	// When it already names another customer it returns a
	// [*ExternalIDTakenError], which matches [crm.ErrAlreadyExists], and
	// changes nothing; when it names the same customer only the digest is
	// replaced. Of concurrent units of work
	// putting one external ID, at most one commits it; the others wait for
	// it and then fail, without aborting their unit of work.
	Put(ctx context.Context, source, id string, m Mapping) error
	// Delete removes the mapping of id of source; a missing one is not an
	// error.
	Delete(ctx context.Context, source, id string) error
}

// Mapping is what an external ID names.
type Mapping struct {
	// CustomerID is the customer. Required.
	CustomerID crm.ID
	// Digest is the [Digest] of the row last imported for it, so a row
	// imported again unchanged is known without reading the customer; at
	// most [MaxDigestBytes].
	Digest string
}

// MaxDigestBytes is the longest [Mapping.Digest].
const MaxDigestBytes = 64

// MaxLookup is the most external IDs one [ExternalIDs.Lookup] takes.
const MaxLookup = 10000

// ExternalIDTakenError reports that an external ID already names another
// customer. It matches [crm.ErrAlreadyExists].
type ExternalIDTakenError struct {
	// Source is the source system.
	Source string
	// ExternalID is the external ID.
	ExternalID string
	// CustomerID is the customer it names.
	CustomerID crm.ID
}

// Error implements error.
func (e *ExternalIDTakenError) Error() string {
	return fmt.Sprintf("importer: external ID %q of %q names customer %s", clip(e.ExternalID), clip(e.Source), e.CustomerID)
}

// Is reports whether target is [crm.ErrAlreadyExists].
func (e *ExternalIDTakenError) Is(target error) bool { return target == crm.ErrAlreadyExists }

// ValidatePut checks the arguments of [ExternalIDs.Put]; adapters call it
// first.
func ValidatePut(source, id string, m Mapping) error {
	var errs crm.ValidationErrors
	if err := checkText("source", source, MaxSourceBytes); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("external_id", id, MaxExternalIDBytes); err != nil {
		errs = append(errs, err)
	}
	if m.CustomerID == crm.NilID {
		errs = append(errs, crm.Invalid("customer_id", "is required"))
	}
	if len(m.Digest) > MaxDigestBytes {
		errs = append(errs, crm.Invalid("digest", "at most %d bytes, got %d", MaxDigestBytes, len(m.Digest)))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// ValidateLookup checks the arguments of [ExternalIDs.Lookup]; adapters
// call it first.
func ValidateLookup(source string, ids []string) error {
	if err := checkText("source", source, MaxSourceBytes); err != nil {
		return err
	}
	if len(ids) > MaxLookup {
		return crm.Invalid("ids", "at most %d external IDs, got %d", MaxLookup, len(ids))
	}
	for i, id := range ids {
		if err := checkText(fmt.Sprintf("ids[%d]", i), id, MaxExternalIDBytes); err != nil {
			return err
		}
	}
	return nil
}

// BulkExternalIDs is an optional extension of [ExternalIDs] (pgstore
// implements it) for recording the external IDs of a whole batch in one
// round trip. PutMany records that ids[i] of source names ms[i], as Put
// would one by one: an ID naming another customer is an
// [*ExternalIDTakenError] (the first such, and nothing of the call is
// kept: the unit of work can go on), one naming the same customer has its
// digest replaced. IDs must not repeat; at most [MaxLookup].
//
// Call it through [PutMany], which falls back to Put one by one.
type BulkExternalIDs interface {
	PutMany(ctx context.Context, source string, ids []string, ms []Mapping) error
}

// PutMany records ids of source as naming ms through ext's
// [BulkExternalIDs] when it has one, else with Put one by one; then a
// refused ID leaves the puts before it in the unit of work, which the
// caller rolls back (as an import does) or keeps.
func PutMany(ctx context.Context, ext ExternalIDs, source string, ids []string, ms []Mapping) error {
	if len(ids) != len(ms) {
		return crm.Invalid("mappings", "one per external ID: %d IDs, %d mappings", len(ids), len(ms))
	}
	if b, ok := ext.(BulkExternalIDs); ok {
		return b.PutMany(ctx, source, ids, ms)
	}
	for i, id := range ids {
		if err := ext.Put(ctx, source, id, ms[i]); err != nil {
			return err
		}
	}
	return nil
}

// ValidatePutMany checks the arguments of [BulkExternalIDs.PutMany];
// adapters call it first.
func ValidatePutMany(source string, ids []string, ms []Mapping) error {
	if len(ids) != len(ms) {
		return crm.Invalid("mappings", "one per external ID: %d IDs, %d mappings", len(ids), len(ms))
	}
	if len(ids) > MaxLookup {
		return crm.Invalid("ids", "at most %d external IDs, got %d", MaxLookup, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if err := ValidatePut(source, id, ms[i]); err != nil {
			var p crm.Problems
			p.MergeAt(fmt.Sprintf("ids[%d]", i), err)
			return p.Err()
		}
		if seen[id] {
			return crm.Invalid(fmt.Sprintf("ids[%d]", i), "external ID %q repeats", clip(id))
		}
		seen[id] = true
	}
	return nil
}
