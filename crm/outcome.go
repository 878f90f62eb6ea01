package crm

import "errors"

// ErrOutcomeUnknown reports that a unit of work may or may not have been
// stored: the commit was sent but its answer never arrived (the connection
// broke, or the server did not answer in time). It is never the answer to
// a context that merely ended: an adapter reports a unit of work whose
// context ended either as stored (no error) or as not stored (the
// context's error). Errors matching it match neither the context's error
// nor [ErrUnavailable], whose operations did not take effect.
//
// A caller that gets it retries the same request: operations with an
// idempotency key (and claims of package pool, which record one of their
// own) then return the first result if it was stored.
var ErrOutcomeUnknown = errors.New("crm: outcome unknown, the commit may have been stored")
