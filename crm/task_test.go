package crm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

func TestRecurrenceAtStepsFromTheSeriesStart(t *testing.T) {
	t.Parallel()
	jan31 := time.Date(2026, 1, 31, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name string
		r    crm.Recurrence
		n    int
		want time.Time
	}{
		{"FirstOccurrenceIsTheStart", crm.Recurrence{Every: 3, Unit: crm.EveryDay}, 1, jan31},
		{"EveryThreeDays", crm.Recurrence{Every: 3, Unit: crm.EveryDay}, 3, jan31.AddDate(0, 0, 6)},
		{"EveryTwoWeeks", crm.Recurrence{Every: 2, Unit: crm.EveryWeek}, 2, jan31.AddDate(0, 0, 14)},
		{"MonthlyFromThe31stLandsOnTheLastDayOfFebruary", crm.Recurrence{Every: 1, Unit: crm.EveryMonth}, 2, time.Date(2026, 2, 28, 9, 30, 0, 0, time.UTC)},
		{"MonthlyFromThe31stKeepsThe31stInMarch", crm.Recurrence{Every: 1, Unit: crm.EveryMonth}, 3, time.Date(2026, 3, 31, 9, 30, 0, 0, time.UTC)},
		{"MonthlyInALeapYear", crm.Recurrence{Every: 1, Unit: crm.EveryMonth}, 26, time.Date(2028, 2, 29, 9, 30, 0, 0, time.UTC)},
		{"QuarterlyAcrossTheYear", crm.Recurrence{Every: 3, Unit: crm.EveryMonth}, 5, time.Date(2027, 1, 31, 9, 30, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.r.At(jan31, c.n))
		})
	}
}

func TestRecurrenceNextEndsWithCountAndUntil(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	weekly := func(count int, until *time.Time) crm.Recurrence {
		return crm.Recurrence{Every: 1, Unit: crm.EveryWeek, Count: count, Until: until}
	}
	until := start.AddDate(0, 0, 14)
	cases := []struct {
		name string
		r    crm.Recurrence
		n    int
		ok   bool
	}{
		{"UnboundedAlwaysContinues", weekly(0, nil), 100, true},
		{"CountOfThreeAfterTheSecond", weekly(3, nil), 2, true},
		{"CountOfThreeEndsAfterTheThird", weekly(3, nil), 3, false},
		{"UntilIncludesAnOccurrenceOnIt", weekly(0, &until), 2, true},
		{"UntilEndsAfterIt", weekly(0, &until), 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, ok := c.r.Next(start, c.n)
			require.Equal(t, c.ok, ok)
			if ok {
				require.Equal(t, c.r.At(start, c.n+1), next)
			}
		})
	}
}

// validTask returns a valid open to-do due a day after the epoch.
func validTask() *crm.Task {
	ids := crmtest.NewIDs()
	return crmtest.Task(ids, crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}, ids.NewID())
}

func appointment(t *crm.Task) {
	start := t.DueAt
	end := start.Add(time.Hour)
	t.Kind, t.StartAt, t.EndAt = crm.TaskAppointment, &start, &end
}

func recurring(r crm.Recurrence) func(*crm.Task) {
	return func(t *crm.Task) {
		start := t.DueAt
		t.Recurrence, t.SeriesStart, t.Occurrence = &r, &start, 1
	}
}

func TestTaskValidateNamesEveryBadField(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration) *time.Time { v := crmtest.Epoch().Add(24*time.Hour + d); return &v }
	cases := []struct {
		name  string
		edit  func(*crm.Task)
		field string // "" for valid
	}{
		{"AValidToDo", func(*crm.Task) {}, ""},
		{"AValidAppointment", appointment, ""},
		{"AValidRecurringToDo", recurring(crm.Recurrence{Every: 1, Unit: crm.EveryWeek, Count: 4}), ""},
		{"AReminderAtTheDueTime", func(t *crm.Task) { t.RemindAt = at(0) }, ""},
		{"AReminderAfterTheDueTime", func(t *crm.Task) { t.RemindAt = at(time.Second) }, "remind_at"},
		{"NoDueTime", func(t *crm.Task) { t.DueAt = time.Time{} }, "due_at"},
		{"AnAppointmentEndingBeforeItStarts", func(t *crm.Task) { appointment(t); t.EndAt = at(-time.Minute) }, "end_at"},
		{"AnAppointmentEndingAsItStarts", func(t *crm.Task) { appointment(t); t.EndAt = at(0) }, "end_at"},
		{"AnAppointmentWithoutAnEnd", func(t *crm.Task) { appointment(t); t.EndAt = nil }, "end_at"},
		{"AnAppointmentDueAfterItsStart", func(t *crm.Task) { appointment(t); t.DueAt = t.DueAt.Add(time.Minute) }, "due_at"},
		{"AToDoWithAStart", func(t *crm.Task) { t.StartAt = at(0) }, "start_at"},
		{"ARecurrenceUntilBeforeTheFirstDue", func(t *crm.Task) {
			recurring(crm.Recurrence{Every: 1, Unit: crm.EveryDay, Until: at(-time.Hour)})(t)
		}, "recurrence.until"},
		{"ARecurrenceUntilBeforeTheSecondOccurrence", func(t *crm.Task) {
			recurring(crm.Recurrence{Every: 1, Unit: crm.EveryMonth, Until: at(27 * 24 * time.Hour)})(t)
		}, "recurrence.until"},
		{"ARecurrenceUntilOnTheSecondOccurrence", func(t *crm.Task) {
			recurring(crm.Recurrence{Every: 1, Unit: crm.EveryDay, Until: at(24 * time.Hour)})(t)
		}, ""},
		{"ARecurrenceOfOneOccurrence", recurring(crm.Recurrence{Every: 1, Unit: crm.EveryDay, Count: 1}), "recurrence.count"},
		{"ARecurrenceEveryZeroDays", recurring(crm.Recurrence{Every: 0, Unit: crm.EveryDay}), "recurrence.every"},
		{"ARecurrenceOfAnUnknownUnit", recurring(crm.Recurrence{Every: 1, Unit: "fortnight"}), "recurrence.unit"},
		{"ARecurrenceWithoutASeriesStart", func(t *crm.Task) {
			recurring(crm.Recurrence{Every: 1, Unit: crm.EveryDay})(t)
			t.SeriesStart = nil
		}, "series_start"},
		{"AnOccurrencePastTheCount", func(t *crm.Task) {
			recurring(crm.Recurrence{Every: 1, Unit: crm.EveryDay, Count: 2})(t)
			t.Occurrence = 3
		}, "occurrence"},
		{"AnOccurrenceWithoutARecurrence", func(t *crm.Task) { t.Occurrence = 2 }, "occurrence"},
		{"ADoneTaskWithoutCompletedAt", func(t *crm.Task) { t.Status = crm.TaskDone }, "completed_at"},
		{"AnOpenTaskWithCompletedAt", func(t *crm.Task) { t.CompletedAt = at(0) }, "completed_at"},
		{"ACancelledTaskWithACompletingActivity", func(t *crm.Task) { t.Status, t.CompletedBy = crm.TaskCancelled, crm.ID{1} }, "completed_by"},
		{"ASubjectOfAnotherType", func(t *crm.Task) { t.Subject.Type = crm.TypeTask }, "subject.type"},
		{"NoAssignee", func(t *crm.Task) { t.AssigneeID = crm.NilID }, "assignee_id"},
		{"NoTitle", func(t *crm.Task) { t.Title = "\t" }, "title"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := validTask()
			c.edit(task)
			task.Normalise()
			err := task.Validate()
			if c.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var all crm.ValidationErrors
			require.True(t, errors.As(err, &all))
			require.Contains(t, all.Fields(), c.field, "%v", err)
		})
	}
}

func TestTaskCloneSharesNoMemory(t *testing.T) {
	t.Parallel()
	task := validTask()
	appointment(task)
	recurring(crm.Recurrence{Every: 1, Unit: crm.EveryDay, Until: ptrTo(task.DueAt.AddDate(0, 1, 0))})(task)
	c := task.Clone()
	*c.StartAt, *c.EndAt, *c.SeriesStart = time.Time{}, time.Time{}, time.Time{}
	*c.Recurrence.Until = time.Time{}
	c.Recurrence.Every = 7
	require.NoError(t, task.Validate())
	require.Equal(t, 1, task.Recurrence.Every)
}

func TestTaskFilterMatchesAppointmentsOverlappingAWindow(t *testing.T) {
	t.Parallel()
	task := validTask()
	appointment(task) // from due to due+1h
	s := task.DueAt
	cases := []struct {
		name     string
		from, to time.Duration
		want     bool
	}{
		{"ContainingIt", -time.Hour, 2 * time.Hour, true},
		{"InsideIt", 10 * time.Minute, 20 * time.Minute, true},
		{"EndingAsItStarts", -time.Hour, 0, false},
		{"StartingAsItEnds", time.Hour, 2 * time.Hour, false},
		{"OverlappingItsEnd", 59 * time.Minute, 2 * time.Hour, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := crm.TaskFilter{Overlapping: &crm.Window{From: s.Add(c.from), To: s.Add(c.to)}}
			require.Equal(t, c.want, f.Match(task, nil))
		})
	}
	todo := validTask()
	require.False(t, (&crm.TaskFilter{Overlapping: &crm.Window{From: s.Add(-time.Hour), To: s.Add(time.Hour)}}).Match(todo, nil),
		"a to-do has no span")
}

// FuzzRecurrence holds the stepping rules: the first occurrence is the
// start, occurrences strictly increase, a monthly step never moves past
// the start's day of the month, and Next ends where Count and Until say.
func FuzzRecurrence(f *testing.F) {
	f.Add(1, "day", int64(0), 0, int64(1767600000), 5)
	f.Add(2, "week", int64(86400*30), 3, int64(1767600000), 2)
	f.Add(1, "month", int64(0), 0, int64(1769851800), 13) // from Jan 31
	f.Add(999, "month", int64(0), 0, int64(1769851800), 40)
	f.Fuzz(func(t *testing.T, every int, unit string, untilAfter int64, count int, startUnix int64, n int) {
		if startUnix < 0 || startUnix > 1<<35 || n < 1 || n > 60 || untilAfter < 0 || untilAfter > 1<<35 {
			return
		}
		start := time.Unix(startUnix, 0).UTC()
		r := crm.Recurrence{Every: every, Unit: crm.RecurrenceUnit(unit), Count: count}
		if untilAfter > 0 {
			u := start.Add(time.Duration(untilAfter) * time.Second)
			r.Until = &u
		}
		task := validTask()
		task.DueAt, task.Recurrence, task.SeriesStart, task.Occurrence = start, &r, &start, 1
		if task.Validate() != nil {
			return
		}
		require.Equal(t, start, r.At(start, 1))
		prev := start
		for i := 2; i <= n; i++ {
			at := r.At(start, i)
			require.True(t, at.After(prev), "occurrence %d at %s is not after %s", i, at, prev)
			if r.Unit == crm.EveryMonth {
				require.LessOrEqual(t, at.Day(), start.Day())
				require.Equal(t, start.Hour(), at.Hour())
			}
			prev = at
		}
		second, ok := r.Next(start, 1)
		require.True(t, ok, "a valid recurrence fires at least once")
		require.Equal(t, r.At(start, 2), second)
		next, ok := r.Next(start, n)
		if ok {
			require.True(t, r.Count == 0 || n < r.Count)
			require.True(t, r.Until == nil || !next.After(*r.Until))
		} else {
			require.True(t, (r.Count > 0 && n >= r.Count) || (r.Until != nil && r.At(start, n+1).After(*r.Until)))
		}
	})
}
