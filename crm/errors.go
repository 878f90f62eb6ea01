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

// validator accumulates problems while an entity checks itself.
type validator struct {
	prefix string
	errs   ValidationErrors
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, Invalid(v.prefix+field, format, args...))
}

func (v *validator) merge(err error) {
	if err == nil {
		return
	}
	var es ValidationErrors
	if errors.As(err, &es) {
		for _, e := range es {
			v.errs = append(v.errs, &ValidationError{Field: v.prefix + e.Field, Reason: e.Reason})
		}
		return
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		v.errs = append(v.errs, &ValidationError{Field: v.prefix + ve.Field, Reason: ve.Reason})
		return
	}
	v.errs = append(v.errs, &ValidationError{Field: strings.TrimSuffix(v.prefix, "."), Reason: err.Error()})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}
