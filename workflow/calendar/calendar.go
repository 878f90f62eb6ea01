package calendar

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// maxIdleDays bounds how far [Calendar.Add] and [Calendar.Next] look for the
// next working minute, so a calendar whose holidays swallow every working day
// for more than a year fails clearly instead of looping.
const maxIdleDays = 400

// ErrNoWorkingTime is returned when no working time exists within 400 days of
// an instant (for example, a year of holidays). It matches
// [crm.ErrFailedPrecondition].
var ErrNoWorkingTime = fmt.Errorf("calendar: no working time within %d days: %w", maxIdleDays, crm.ErrFailedPrecondition)

// Span is one working period of a day in local wall-clock time, "HH:MM" to
// "HH:MM" with Start before End; End may be "24:00".
type Span struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// ExtraDay is a working day that would otherwise be off, such as a weekend
// worked to make up for a public holiday (调休).
type ExtraDay struct {
	// Date is the local date, "2006-01-02".
	Date string `json:"date"`
	// Hours are the day's working periods. When empty, the day works the
	// hours of the weekday named by Like.
	Hours []Span `json:"hours,omitempty"`
	// Like names a weekday ("monday") whose hours the day works when Hours
	// is empty.
	Like string `json:"like,omitempty"`
}

// Spec is the declarative form of a business-hours calendar, as stored in
// JSON. Build a [Calendar] from it with [New].
type Spec struct {
	// Name identifies the calendar, for example "cn-support".
	Name string `json:"name"`
	// TimeZone is an IANA zone name such as "Asia/Shanghai".
	TimeZone string `json:"time_zone"`
	// Week maps lower-case weekday names ("monday" ... "sunday") to that
	// day's working periods. A day not listed is off.
	Week map[string][]Span `json:"week"`
	// Holidays are local dates ("2006-01-02") with no working time.
	Holidays []string `json:"holidays,omitempty"`
	// ExtraDays are dates worked although their weekday is off, or worked
	// with different hours.
	ExtraDays []ExtraDay `json:"extra_days,omitempty"`
}

// span is a compiled [Span] in minutes after local midnight, end exclusive.
type span struct{ start, end int32 }

// Calendar answers business-hours questions in one time zone: whether an
// instant is within working time, what instant lies a business duration
// after another, and how much business time lies between two instants. It
// counts elapsed (real) time inside working periods, so a period that spans
// a daylight-saving change is one hour shorter or longer that day. It is
// immutable and safe for concurrent use; its methods do not allocate.
type Calendar struct {
	name string
	loc  *time.Location
	week [7][]span        // by time.Weekday
	days map[int32][]span // holidays (nil) and extra days, by civil day number
	spec Spec
}

var weekdayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// ParseWeekday returns the weekday named by a lower-case English name.
func ParseWeekday(s string) (time.Weekday, bool) {
	for i, n := range weekdayNames {
		if n == s {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// Parse decodes a JSON [Spec] with [cond.DecodeStrict], the one strict
// decoder of rule documents (documents over [cond.MaxDocumentBytes],
// unknown fields, repeated keys, wrong types and trailing data are errors
// naming their JSON path) and builds its Calendar.
func Parse(data []byte) (*Calendar, error) {
	var s Spec
	if err := cond.DecodeStrict(data, &s); err != nil {
		return nil, fmt.Errorf("calendar: decode: %w", err)
	}
	return New(&s)
}

// New validates spec and builds its Calendar. Every problem is reported at
// once as [crm.ValidationErrors] naming the field, such as
// "week.monday[1].start" or "holidays[2]".
func New(spec *Spec) (*Calendar, error) {
	if spec == nil {
		return nil, crm.Invalid("calendar", "is required")
	}
	var errs crm.ValidationErrors
	add := func(field, format string, args ...any) { errs = append(errs, crm.Invalid(field, format, args...)) }
	c := &Calendar{name: spec.Name, days: make(map[int32][]span)}
	if strings.TrimSpace(spec.Name) == "" {
		add("name", "is required")
	}
	switch {
	case spec.TimeZone == "":
		add("time_zone", "is required")
	default:
		loc, err := time.LoadLocation(spec.TimeZone)
		if err != nil {
			add("time_zone", "unknown time zone %q", trunc(spec.TimeZone))
		} else {
			c.loc = loc
		}
	}
	for _, name := range sortedKeys(spec.Week) {
		wd, ok := ParseWeekday(name)
		if !ok {
			add("week."+trunc(name), "not a weekday; use monday ... sunday")
			continue
		}
		c.week[wd] = compileSpans("week."+name, spec.Week[name], &errs)
	}
	working := false
	for _, w := range c.week {
		working = working || len(w) > 0
	}
	if !working && len(errs) == 0 {
		add("week", "has no working hours on any day")
	}
	for i, h := range spec.Holidays {
		f := fmt.Sprintf("holidays[%d]", i)
		d, ok := parseDate(h)
		if !ok {
			add(f, "not a date \"2006-01-02\": %q", trunc(h))
			continue
		}
		if _, dup := c.days[d]; dup {
			add(f, "repeats %s", h)
			continue
		}
		c.days[d] = nil
	}
	for i, e := range spec.ExtraDays {
		f := fmt.Sprintf("extra_days[%d]", i)
		d, ok := parseDate(e.Date)
		if !ok {
			add(f+".date", "not a date \"2006-01-02\": %q", trunc(e.Date))
			continue
		}
		if _, dup := c.days[d]; dup {
			add(f+".date", "%s is already a holiday or an extra day", e.Date)
			continue
		}
		var spans []span
		switch {
		case len(e.Hours) > 0 && e.Like != "":
			add(f, "set hours or like, not both")
		case len(e.Hours) > 0:
			spans = compileSpans(f+".hours", e.Hours, &errs)
		case e.Like != "":
			wd, ok := ParseWeekday(e.Like)
			if !ok {
				add(f+".like", "not a weekday: %q", trunc(e.Like))
			} else if spans = c.week[wd]; len(spans) == 0 {
				add(f+".like", "%s has no working hours", e.Like)
			}
		default:
			add(f+".hours", "is required (or like)")
		}
		if len(spans) > 0 {
			c.days[d] = spans
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.spec = cloneSpec(spec)
	return c, nil
}

func compileSpans(field string, in []Span, errs *crm.ValidationErrors) []span {
	out := make([]span, 0, len(in))
	ok := true
	for i, s := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		start, okS := parseClock(s.Start)
		end, okE := parseClock(s.End)
		switch {
		case !okS:
			*errs = append(*errs, crm.Invalid(f+".start", "not a time \"HH:MM\": %q", trunc(s.Start)))
			ok = false
		case !okE:
			*errs = append(*errs, crm.Invalid(f+".end", "not a time \"HH:MM\" (or 24:00): %q", trunc(s.End)))
			ok = false
		case start == 1440:
			*errs = append(*errs, crm.Invalid(f+".start", "must be before 24:00"))
			ok = false
		case end <= start:
			*errs = append(*errs, crm.Invalid(f+".end", "%s is not after start %s", s.End, s.Start))
			ok = false
		default:
			out = append(out, span{start, end})
		}
	}
	if !ok {
		return nil
	}
	// Periods may come in any order; overlaps are refused because they would
	// count the same minutes twice.
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return int(out[a].start - out[b].start) })
	sorted := make([]span, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
		if i > 0 && sorted[i].start < sorted[i-1].end {
			*errs = append(*errs, crm.Invalid(fmt.Sprintf("%s[%d]", field, j), "overlaps %s[%d]", field, idx[i-1]))
			return nil
		}
	}
	return sorted
}

// parseClock parses "HH:MM" (00:00 to 24:00) into minutes.
func parseClock(s string) (int32, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range [4]int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int32(s[0]-'0')*10 + int32(s[1]-'0')
	m := int32(s[3]-'0')*10 + int32(s[4]-'0')
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

func parseDate(s string) (int32, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	y, m, d := t.Date()
	return daysFromCivil(y, m, d), true
}

// Name returns the calendar's name.
func (c *Calendar) Name() string { return c.name }

// Location returns the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Spec returns a copy of the specification the calendar was built from.
func (c *Calendar) Spec() Spec { return cloneSpec(&c.spec) }

// MarshalJSON encodes the calendar's [Spec].
func (c *Calendar) MarshalJSON() ([]byte, error) { return json.Marshal(c.spec) }

// spansOn returns the working periods of the civil day n.
func (c *Calendar) spansOn(n int32) []span {
	if s, ok := c.days[n]; ok {
		return s
	}
	return c.week[weekdayOf(n)]
}

// at returns the instant of minute min on civil day n in the calendar's zone.
// Wall times inside a daylight-saving gap are normalised by [time.Date].
func (c *Calendar) at(n int32, min int32) time.Time {
	y, m, d := civilFromDays(n)
	return time.Date(y, m, d, int(min/60), int(min%60), 0, 0, c.loc)
}

func (c *Calendar) dayOf(t time.Time) int32 {
	y, m, d := t.In(c.loc).Date()
	return daysFromCivil(y, m, d)
}

// IsOpen reports whether t lies within working time (start inclusive, end
// exclusive).
func (c *Calendar) IsOpen(t time.Time) bool {
	local := t.In(c.loc)
	y, m, d := local.Date()
	n := daysFromCivil(y, m, d)
	hh, mm, _ := local.Clock()
	wall := int32(hh*60 + mm)
	// A period of the previous day ends at this day's midnight at the latest,
	// so only today's periods can contain t. Periods far from t's wall clock
	// cannot contain it even across a daylight-saving shift (at most a few
	// hours), which saves converting them to instants.
	for _, s := range c.spansOn(n) {
		if wall < s.start-dstSlack || wall >= s.end+dstSlack {
			continue
		}
		if !t.Before(c.at(n, s.start)) && t.Before(c.at(n, s.end)) {
			return true
		}
	}
	return false
}

// dstSlack bounds, in minutes, how far a daylight-saving change can move a
// wall-clock time.
const dstSlack = 180

// Next returns the first working instant at or after t, or
// [ErrNoWorkingTime].
func (c *Calendar) Next(t time.Time) (time.Time, error) {
	n := c.dayOf(t) - 1
	for idle := 0; idle <= maxIdleDays; n++ {
		spans := c.spansOn(n)
		if len(spans) == 0 {
			idle++
		}
		for _, s := range spans {
			start, end := c.at(n, s.start), c.at(n, s.end)
			if !end.After(t) || !end.After(start) {
				continue
			}
			if start.Before(t) {
				return t, nil
			}
			return start, nil
		}
	}
	return time.Time{}, ErrNoWorkingTime
}

// Add returns the instant at which d of business time has passed after
// start. Time outside working periods does not count; a result that falls
// exactly at the end of a period is that end, not the next opening. Add(start,
// 0) is start. A negative d is a [*crm.ValidationError] on "duration"; a
// calendar with no working time within 400 days returns [ErrNoWorkingTime].
func (c *Calendar) Add(start time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, crm.Invalid("duration", "must not be negative, got %s", d)
	}
	if d == 0 {
		return start, nil
	}
	remaining := d
	// Start a day early: a period of the previous civil day may still be open.
	n := c.dayOf(start) - 1
	for idle := 0; idle <= maxIdleDays; n++ {
		spans := c.spansOn(n)
		if len(spans) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, s := range spans {
			from, end := c.at(n, s.start), c.at(n, s.end)
			if !end.After(start) || !end.After(from) {
				continue
			}
			if from.Before(start) {
				from = start
			}
			avail := end.Sub(from)
			if remaining <= avail {
				return from.Add(remaining), nil
			}
			remaining -= avail
		}
	}
	return time.Time{}, ErrNoWorkingTime
}

// Between returns the business time from a to b: the elapsed time inside
// working periods. It is negative when b is before a. Its cost grows with the
// number of days between a and b.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	var total time.Duration
	last := c.dayOf(b)
	for n := c.dayOf(a) - 1; n <= last; n++ {
		for _, s := range c.spansOn(n) {
			from, end := c.at(n, s.start), c.at(n, s.end)
			if from.Before(a) {
				from = a
			}
			if end.After(b) {
				end = b
			}
			if end.After(from) {
				total += end.Sub(from)
			}
		}
	}
	return total
}

// WorkingOn reports whether the local date of t has any working period.
func (c *Calendar) WorkingOn(t time.Time) bool { return len(c.spansOn(c.dayOf(t))) > 0 }

func weekdayOf(n int32) time.Weekday {
	// Day 0 (1970-01-01) was a Thursday.
	w := (int64(n) + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// daysFromCivil and civilFromDays convert between proleptic Gregorian dates
// and day numbers since 1970-01-01 without allocating (H. Hinnant's
// algorithms).
func daysFromCivil(y int, m time.Month, d int) int32 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era = (yy - 399) / 400
	}
	yoe := yy - era*400
	mm := int64(m)
	var mp int64
	if mm > 2 {
		mp = mm - 3
	} else {
		mp = mm + 9
	}
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}

func civilFromDays(n int32) (int, time.Month, int) {
	z := int64(n) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	var m int64
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

func sortedKeys(m map[string][]Span) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func cloneSpec(s *Spec) Spec {
	out := *s
	if s.Week != nil {
		out.Week = make(map[string][]Span, len(s.Week))
		for k, v := range s.Week {
			out.Week[k] = slices.Clone(v)
		}
	}
	out.Holidays = slices.Clone(s.Holidays)
	out.ExtraDays = slices.Clone(s.ExtraDays)
	for i := range out.ExtraDays {
		out.ExtraDays[i].Hours = slices.Clone(out.ExtraDays[i].Hours)
	}
	return out
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
