package crm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors shared by every crmkit package and storage adapter. Callers
// match them with [errors.Is]; typed errors such as [*ValidationError] and
// [*LimitError] match the sentinel of their class.
var (
	// ErrNotFound reports that a record does not exist (or is not visible to
	// the tenant that asked).
	ErrNotFound = errors.New("crm: not found")
	// ErrAlreadyExists reports a clash on an ID or a unique key.
	ErrAlreadyExists = errors.New("crm: already exists")
	// ErrConflict reports an optimistic-concurrency failure: the record was
	// changed since the version the caller read.
	ErrConflict = errors.New("crm: version conflict")
	// ErrInvalidArgument reports bad input. [*ValidationError] matches it.
	ErrInvalidArgument = errors.New("crm: invalid argument")
	// ErrPermissionDenied reports that the actor may not perform the action.
	ErrPermissionDenied = errors.New("crm: permission denied")
	// ErrLimitExceeded reports that a quota or cap would be exceeded.
	// [*LimitError] matches it.
	ErrLimitExceeded = errors.New("crm: limit exceeded")
	// ErrFailedPrecondition reports that the record is not in a state that
	// allows the operation (for example converting a lead twice).
	ErrFailedPrecondition = errors.New("crm: failed precondition")
	// ErrUnsupported reports that a storage adapter does not implement an
	// optional capability.
	ErrUnsupported = errors.New("crm: unsupported")
	// ErrUnavailable reports that the backing store could not be reached or
	// the connection was lost. The operation did not take effect and may be
	// retried.
	ErrUnavailable = errors.New("crm: storage unavailable")
)

// ValidationError reports one invalid field. Field is a dotted path such as
// "amount.currency" or "fields.vip"; Reason is a short lower-case sentence.
// It matches [ErrInvalidArgument] with [errors.Is].
type ValidationError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "invalid argument: " + e.Reason
	}
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// Is reports whether target is [ErrInvalidArgument].
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidArgument }

// Invalid returns a [*ValidationError] for field with a formatted reason.
func Invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ValidationErrors collects every problem found in one value, so a caller
// sees all bad fields at once. It matches [ErrInvalidArgument], and
// [errors.As] finds its first [*ValidationError].
type ValidationErrors []*ValidationError

// Error implements error.
func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Is reports whether target is [ErrInvalidArgument].
func (es ValidationErrors) Is(target error) bool { return target == ErrInvalidArgument }

// As lets [errors.As] find the first [*ValidationError].
func (es ValidationErrors) As(target any) bool {
	if p, ok := target.(**ValidationError); ok && len(es) > 0 {
		*p = es[0]
		return true
	}
	return false
}

// Fields returns the field paths of every problem, in order.
func (es ValidationErrors) Fields() []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Field
	}
	return out
}

// LimitError reports which limit an operation would exceed. It matches
// [ErrLimitExceeded].
type LimitError struct {
	// Limit names the limit, for example "owned_customers" or "daily_claims".
	Limit string
	// Max is the configured maximum; Current is the count before the operation.
	Max, Current int64
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("limit %s exceeded: %d of %d", e.Limit, e.Current, e.Max)
}

// Is reports whether target is [ErrLimitExceeded].
func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// MaxProblems is how many problems a [Problems] list keeps: a hostile
// document of a million bad entries gets the first MaxProblems and a
// count of the rest, not a million-line error.
const MaxProblems = 100

// Problems accumulates the problems found while a document or an entity is
// checked, so that all of them are reported at once. It keeps the first
// [MaxProblems] and counts the rest. The zero value is ready to use.
type Problems struct {
	// Prefix is put before every field added, such as "rules[2].".
	Prefix  string
	errs    ValidationErrors
	dropped int
}

// Add records a problem with field (after Prefix).
func (p *Problems) Add(field, format string, args ...any) {
	if len(p.errs) >= MaxProblems {
		p.dropped++
		return
	}
	p.errs = append(p.errs, Invalid(p.Prefix+field, format, args...))
}

// Merge records the problems of err, a [*ValidationError] or
// [ValidationErrors] from a nested check, with their fields after Prefix;
// another error is recorded under Prefix itself. A nil err adds nothing.
func (p *Problems) Merge(err error) {
	if err == nil {
		return
	}
	var es ValidationErrors
	if errors.As(err, &es) {
		for _, e := range es {
			p.Add(e.Field, "%s", e.Reason)
		}
		return
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		p.Add(ve.Field, "%s", ve.Reason)
		return
	}
	if len(p.errs) >= MaxProblems {
		p.dropped++
		return
	}
	p.errs = append(p.errs, &ValidationError{Field: strings.TrimSuffix(p.Prefix, "."), Reason: err.Error()})
}

// MergeAt records the problems of err as [Problems.Merge] does, with
// their fields below path: field "name" becomes "path.name", "[2]"
// becomes "path[2]", and an empty field becomes path.
func (p *Problems) MergeAt(path string, err error) {
	if err == nil {
		return
	}
	at := func(field string) string {
		switch {
		case path == "":
			return field
		case field == "":
			return path
		case strings.HasPrefix(field, "["):
			return path + field
		}
		return path + "." + field
	}
	var es ValidationErrors
	if errors.As(err, &es) {
		for _, e := range es {
			p.Add(at(e.Field), "%s", e.Reason)
		}
		return
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		p.Add(at(ve.Field), "%s", ve.Reason)
		return
	}
	p.Add(path, "%v", err)
}

// Len is how many problems were found, kept or not.
func (p *Problems) Len() int { return len(p.errs) + p.dropped }

// Err returns nil when nothing was found, else the problems as
// [ValidationErrors], ending with "and N more problems" when some were not
// kept.
func (p *Problems) Err() error {
	if p.Len() == 0 {
		return nil
	}
	if p.dropped == 0 {
		return p.errs
	}
	out := append(ValidationErrors(nil), p.errs...)
	return append(out, &ValidationError{Reason: fmt.Sprintf("and %d more problems", p.dropped)})
}
