package crm

import (
	"time"
)

// Bucket is the width of the buckets a report's period is cut into.
type Bucket string

// Buckets, from the finest.
const (
	BucketDay     Bucket = "day"
	BucketWeek    Bucket = "week" // ISO weeks, starting on Monday
	BucketMonth   Bucket = "month"
	BucketQuarter Bucket = "quarter"
)

// MaxBuckets bounds how many buckets one period may be cut into: daily
// buckets over 20 years are refused.
const MaxBuckets = 1000

// Valid reports whether b is a known bucket.
func (b Bucket) Valid() bool {
	switch b {
	case BucketDay, BucketWeek, BucketMonth, BucketQuarter:
		return true
	}
	return false
}

// Period is the time range of a report, [From, To), cut into buckets of
// one width in one time zone: a day, week, month or quarter starts at
// midnight in Location (the tenant's time zone), so a month of a tenant in
// Shanghai is not the UTC month.
type Period struct {
	From, To time.Time
	Bucket   Bucket
	// Location is the time zone buckets follow; nil means UTC.
	Location *time.Location
}

// Validate reports what is wrong with p, naming the field: "to" (not
// after From), "bucket" (unknown, or more than [MaxBuckets] buckets in the
// range), "from" (zero).
func (p *Period) Validate() error {
	var v Problems
	switch {
	case p.From.IsZero():
		v.Add("from", "is required")
	case p.To.IsZero():
		v.Add("to", "is required")
	case !p.To.After(p.From):
		v.Add("to", "must be after from (%s), got %s", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	}
	if !p.Bucket.Valid() {
		v.Add("bucket", "must be day, week, month or quarter, got %q", truncate(string(p.Bucket), 32))
	} else if len(v.errs) == 0 {
		if n := p.count(); n > MaxBuckets {
			v.Add("bucket", "%s buckets from %s to %s are %d, more than %d: choose a wider bucket or a shorter period",
				p.Bucket, p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), n, MaxBuckets)
		}
	}
	return v.Err()
}

// loc returns the period's time zone.
func (p *Period) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Start returns the start of the bucket holding t.
func (p *Period) Start(t time.Time) time.Time {
	t = t.In(p.loc())
	y, m, d := t.Date()
	switch p.Bucket {
	case BucketWeek:
		wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
		return time.Date(y, m, d-wd, 0, 0, 0, 0, p.loc())
	case BucketMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, p.loc())
	case BucketQuarter:
		return time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, p.loc())
	}
	return time.Date(y, m, d, 0, 0, 0, 0, p.loc())
}

// next returns the start of the bucket after the one starting at s.
func (p *Period) next(s time.Time) time.Time {
	y, m, d := s.Date()
	switch p.Bucket {
	case BucketWeek:
		return time.Date(y, m, d+7, 0, 0, 0, 0, p.loc())
	case BucketMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, p.loc())
	case BucketQuarter:
		return time.Date(y, m+3, 1, 0, 0, 0, 0, p.loc())
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, p.loc())
}

// Buckets returns the starts of the buckets that overlap [From, To), in
// order; the first may start before From. p must be valid.
func (p *Period) Buckets() []time.Time {
	var out []time.Time
	for s := p.Start(p.From); s.Before(p.To) && len(out) <= MaxBuckets; s = p.next(s) {
		out = append(out, s)
	}
	return out
}

// count returns how many buckets overlap the period, stopping past
// MaxBuckets.
func (p *Period) count() int {
	n := 0
	for s := p.Start(p.From); s.Before(p.To) && n <= MaxBuckets; s = p.next(s) {
		n++
	}
	return n
}

// Contains reports whether t is in [From, To).
func (p *Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.To) }
