package crm

import (
	"slices"
	"strings"
	"time"
)

// TaskKind says whether a task is a to-do with a due time or an
// appointment with a start and an end.
type TaskKind string

// Task kinds.
const (
	// TaskTodo is a follow-up to do by a due time (待办).
	TaskTodo TaskKind = "task"
	// TaskAppointment is a meeting, visit or call booked from StartAt to
	// EndAt (日程); its DueAt is its StartAt.
	TaskAppointment TaskKind = "appointment"
)

// Valid reports whether k is a known kind.
func (k TaskKind) Valid() bool { return k == TaskTodo || k == TaskAppointment }

// TaskStatus is where a task stands.
type TaskStatus string

// Task statuses.
const (
	TaskOpen      TaskStatus = "open"
	TaskDone      TaskStatus = "done"
	TaskCancelled TaskStatus = "cancelled"
)

// Valid reports whether s is a known status.
func (s TaskStatus) Valid() bool {
	switch s {
	case TaskOpen, TaskDone, TaskCancelled:
		return true
	}
	return false
}

// RecurrenceUnit is the step of a [Recurrence].
type RecurrenceUnit string

// Recurrence units.
const (
	EveryDay   RecurrenceUnit = "day"
	EveryWeek  RecurrenceUnit = "week"
	EveryMonth RecurrenceUnit = "month"
)

// Valid reports whether u is a known unit.
func (u RecurrenceUnit) Valid() bool {
	switch u {
	case EveryDay, EveryWeek, EveryMonth:
		return true
	}
	return false
}

// MaxRecurrenceEvery bounds [Recurrence.Every].
const MaxRecurrenceEvery = 999

// Recurrence repeats a task: when one occurrence is done, the next one is
// due Every Units after the series' first due time ([Task.SeriesStart]),
// counted from it so that monthly tasks keep their day of the month (the
// 31st falls on the last day of shorter months). A series ends after
// Count occurrences (0: no limit) or with the last occurrence due at or
// before Until (nil: no end). Times step in UTC.
type Recurrence struct {
	Every int            `json:"every"`
	Unit  RecurrenceUnit `json:"unit"`
	Until *time.Time     `json:"until,omitempty"`
	Count int            `json:"count,omitempty"`
}

// Clone returns a deep copy; nil for nil.
func (r *Recurrence) Clone() *Recurrence {
	if r == nil {
		return nil
	}
	out := *r
	out.Until = clonePtr(r.Until)
	return &out
}

// At returns the due time of occurrence n (1 is the first, at start) of a
// series whose first occurrence is due at start. Months are added to the
// calendar month and the day clamped to the month's last day.
func (r *Recurrence) At(start time.Time, n int) time.Time {
	start = start.UTC()
	steps := (n - 1) * r.Every
	switch r.Unit {
	case EveryDay:
		return start.AddDate(0, 0, steps)
	case EveryWeek:
		return start.AddDate(0, 0, 7*steps)
	}
	y, m, d := start.Date()
	first := time.Date(y, m+time.Month(steps), 1, 0, 0, 0, 0, time.UTC)
	if last := first.AddDate(0, 1, -1).Day(); d > last {
		d = last
	}
	hh, mm, ss := start.Clock()
	return time.Date(first.Year(), first.Month(), d, hh, mm, ss, start.Nanosecond(), time.UTC)
}

// Next returns the due time of occurrence n+1 of a series that started at
// start, and false when the series ends at occurrence n.
func (r *Recurrence) Next(start time.Time, n int) (time.Time, bool) {
	if r.Count > 0 && n+1 > r.Count {
		return time.Time{}, false
	}
	next := r.At(start, n+1)
	if r.Until != nil && next.After(*r.Until) {
		return time.Time{}, false
	}
	return next, true
}

// validate reports problems with fields under "recurrence.", given the
// series' first due time (zero when unknown). A rule that never fires a
// second occurrence is refused: it would only look like a repeating task.
func (r *Recurrence) validate(v *Problems, start time.Time) {
	if r.Every < 1 || r.Every > MaxRecurrenceEvery {
		v.Add("recurrence.every", "must be between 1 and %d, got %d", MaxRecurrenceEvery, r.Every)
	}
	if !r.Unit.Valid() {
		v.Add("recurrence.unit", "must be day, week or month, got %q", truncate(string(r.Unit), 32))
	}
	switch {
	case r.Count < 0:
		v.Add("recurrence.count", "must not be negative")
	case r.Count == 1:
		v.Add("recurrence.count", "of 1 never fires: the task itself is the only occurrence")
	}
	if r.Until != nil && !start.IsZero() && r.Every >= 1 && r.Every <= MaxRecurrenceEvery && r.Unit.Valid() {
		if second := r.At(start, 2); r.Until.Before(second) {
			v.Add("recurrence.until", "is before the second occurrence (%s): the recurrence never fires", second.Format(time.RFC3339))
		}
	}
}

// Task is a follow-up plan (跟进计划): a to-do due by a time, or an
// appointment booked from a start to an end, about a lead, customer,
// contact, opportunity or ticket, assigned to one user. Recording the
// activity that answers it completes it. Safe for concurrent reads.
type Task struct {
	Meta
	// Kind defaults to [TaskTodo].
	Kind  TaskKind `json:"kind"`
	Title string   `json:"title"`
	Note  string   `json:"note,omitempty"`
	// Subject is the record the task is about.
	Subject Ref `json:"subject"`
	// AssigneeID is the user who is to do it. Required.
	AssigneeID   ID `json:"assignee_id"`
	DepartmentID ID `json:"department_id,omitzero"`
	// CreatedBy is the user who planned it; NilID for the system.
	CreatedBy ID `json:"created_by,omitzero"`
	// Status defaults to [TaskOpen].
	Status TaskStatus `json:"status"`
	// DueAt is when the task is due; an appointment's is its StartAt.
	DueAt time.Time `json:"due_at"`
	// RemindAt is when to remind the assignee, at or before DueAt; nil
	// for no reminder.
	RemindAt *time.Time `json:"remind_at,omitempty"`
	// StartAt and EndAt book an appointment; a to-do has neither.
	StartAt *time.Time `json:"start_at,omitempty"`
	EndAt   *time.Time `json:"end_at,omitempty"`
	// Recurrence repeats the task; nil for a one-off.
	Recurrence *Recurrence `json:"recurrence,omitempty"`
	// SeriesStart is the due time of the series' first occurrence, from
	// which Recurrence counts; set with Recurrence.
	SeriesStart *time.Time `json:"series_start,omitempty"`
	// Occurrence numbers the task in its series from 1; 0 for a one-off.
	Occurrence int `json:"occurrence,omitempty"`
	// PreviousID is the occurrence this one follows; NilID for the first.
	PreviousID ID `json:"previous_id,omitzero"`
	// CompletedBy is the activity that completed the task, if one did.
	CompletedBy ID `json:"completed_by,omitzero"`
	// CompletedAt is when the task was done; set exactly when Status is
	// [TaskDone].
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Fields      Fields     `json:"fields,omitempty"`
}

// RecordType returns [TypeTask].
func (*Task) RecordType() RecordType { return TypeTask }

// Clone returns a deep copy.
func (t *Task) Clone() *Task {
	out := *t
	out.RemindAt = clonePtr(t.RemindAt)
	out.StartAt = clonePtr(t.StartAt)
	out.EndAt = clonePtr(t.EndAt)
	out.Recurrence = t.Recurrence.Clone()
	out.SeriesStart = clonePtr(t.SeriesStart)
	out.CompletedAt = clonePtr(t.CompletedAt)
	out.Fields = t.Fields.Clone()
	return &out
}

// Normalise defaults kind and status and brings times to storage
// precision.
func (t *Task) Normalise() {
	if t.Kind == "" {
		t.Kind = TaskTodo
	}
	if t.Status == "" {
		t.Status = TaskOpen
	}
	t.DueAt = StorageTime(t.DueAt)
	t.RemindAt = storageTimePtr(t.RemindAt)
	t.StartAt = storageTimePtr(t.StartAt)
	t.EndAt = storageTimePtr(t.EndAt)
	t.SeriesStart = storageTimePtr(t.SeriesStart)
	t.CompletedAt = storageTimePtr(t.CompletedAt)
	if t.Recurrence != nil {
		t.Recurrence.Until = storageTimePtr(t.Recurrence.Until)
	}
}

// Open reports whether the task is still to do.
func (t *Task) Open() bool { return t.Status == TaskOpen || t.Status == "" }

// Validate reports every invalid field.
func (t *Task) Validate() error {
	var v Problems
	t.Meta.validate(&v)
	if t.Kind != "" && !t.Kind.Valid() {
		v.Add("kind", "must be task or appointment, got %q", truncate(string(t.Kind), 32))
	}
	if strings.TrimSpace(t.Title) == "" {
		v.Add("title", "is required")
	} else {
		checkText(&v, "title", t.Title, maxName)
	}
	optional(&v, "note", t.Note, maxText)
	if !slices.Contains(subjectTypes, t.Subject.Type) {
		v.Add("subject.type", "must be lead, customer, contact, opportunity or ticket, got %q", truncate(string(t.Subject.Type), 32))
	}
	if t.Subject.ID == NilID {
		v.Add("subject.id", "is required")
	}
	if t.AssigneeID == NilID {
		v.Add("assignee_id", "is required")
	}
	if t.Status != "" && !t.Status.Valid() {
		v.Add("status", "unknown task status %q", truncate(string(t.Status), 32))
	}
	if t.DueAt.IsZero() {
		v.Add("due_at", "is required")
	}
	if t.RemindAt != nil && !t.DueAt.IsZero() && t.RemindAt.After(t.DueAt) {
		v.Add("remind_at", "is after due_at")
	}
	if t.Kind == TaskAppointment {
		switch {
		case t.StartAt == nil:
			v.Add("start_at", "is required for an appointment")
		case !t.DueAt.IsZero() && !t.StartAt.Equal(t.DueAt):
			v.Add("due_at", "of an appointment is its start_at")
		}
		switch {
		case t.EndAt == nil:
			v.Add("end_at", "is required for an appointment")
		case t.StartAt != nil && !t.EndAt.After(*t.StartAt):
			v.Add("end_at", "is not after start_at")
		}
	} else {
		if t.StartAt != nil {
			v.Add("start_at", "is only for appointments")
		}
		if t.EndAt != nil {
			v.Add("end_at", "is only for appointments")
		}
	}
	t.validateSeries(&v)
	switch {
	case t.Status == TaskDone && t.CompletedAt == nil:
		v.Add("completed_at", "is required for a done task")
	case t.Status != TaskDone && t.CompletedAt != nil:
		v.Add("completed_at", "is set only on a done task")
	}
	if t.Status != TaskDone && t.CompletedBy != NilID {
		v.Add("completed_by", "is set only on a done task")
	}
	v.Prefix = "fields."
	v.Merge(t.Fields.Validate())
	return v.Err()
}

func (t *Task) validateSeries(v *Problems) {
	if t.Recurrence == nil {
		if t.SeriesStart != nil {
			v.Add("series_start", "is set only with a recurrence")
		}
		if t.Occurrence != 0 {
			v.Add("occurrence", "is set only with a recurrence")
		}
		if t.PreviousID != NilID {
			v.Add("previous_id", "is set only with a recurrence")
		}
		return
	}
	start := t.DueAt
	if t.SeriesStart != nil {
		start = *t.SeriesStart
	}
	if t.SeriesStart == nil {
		v.Add("series_start", "is required with a recurrence")
	} else if !t.DueAt.IsZero() && t.DueAt.Before(*t.SeriesStart) {
		v.Add("series_start", "is after due_at")
	}
	t.Recurrence.validate(v, start)
	switch {
	case t.Occurrence < 1:
		v.Add("occurrence", "must be at least 1 with a recurrence")
	case t.Recurrence.Count > 0 && t.Occurrence > t.Recurrence.Count:
		v.Add("occurrence", "is past the recurrence's count of %d", t.Recurrence.Count)
	}
	if t.Occurrence == 1 && t.PreviousID != NilID {
		v.Add("previous_id", "is set on the first occurrence")
	}
}
