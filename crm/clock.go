package crm

import "time"

// Clock tells the time. Every rule in crmkit reads time from an injected Clock
// so that decisions are reproducible in tests; implementations must be safe
// for concurrent use.
type Clock interface {
	Now() time.Time
}

// SystemClock is the [Clock] of the operating system.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// StorageTime normalises t the way every adapter stores it: UTC, truncated to
// microseconds (PostgreSQL's timestamp precision). Adapters apply it at the
// storage boundary so memstore and pgstore return identical values.
func StorageTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// storageTimePtr is [StorageTime] for optional times.
func storageTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := StorageTime(*t)
	return &v
}
