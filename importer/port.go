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
