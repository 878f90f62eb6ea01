package task_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/task"
)

// now is where every test clock starts.
var now = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

type env struct {
	ctx   context.Context
	clock *crmtest.Clock
	ids   *crmtest.IDs
	store *memstore.Store
	svc   *task.Service
	agent *crm.User
	cust  *crm.Customer
}

func newEnv(t *testing.T, policy task.OverlapPolicy) *env {
	t.Helper()
	e := &env{ctx: context.Background(), clock: crmtest.NewClock(now), ids: crmtest.NewIDs()}
	e.store = memstore.New(&memstore.Config{Clock: e.clock})
	svc, err := task.New(e.store, &task.Config{Clock: e.clock, IDs: e.ids, OverlapPolicy: policy})
	require.NoError(t, err)
	e.svc = svc
	dept := crmtest.Department(e.ids, "Sales", crm.NilID)
	require.NoError(t, e.store.Departments().Create(e.ctx, dept))
	e.agent = crmtest.User(e.ids, func(u *crm.User) { u.DepartmentID = dept.ID })
	require.NoError(t, e.store.Users().Create(e.ctx, e.agent))
	e.cust = crmtest.Customer(e.ids)
	require.NoError(t, e.store.Customers().Create(e.ctx, e.cust))
	return e
}

func (e *env) subject() crm.Ref { return crm.Ref{Type: crm.TypeCustomer, ID: e.cust.ID} }

func (e *env) todo(due time.Time, edits ...func(*crm.Task)) *crm.Task {
	t := &crm.Task{Title: "Call back", AssigneeID: e.agent.ID, Subject: e.subject(), DueAt: due}
	for _, ed := range edits {
		ed(t)
	}
	return t
}

func (e *env) appointment(start time.Time, d time.Duration) *crm.Task {
	end := start.Add(d)
	return &crm.Task{Kind: crm.TaskAppointment, Title: "Visit", AssigneeID: e.agent.ID, Subject: e.subject(), StartAt: &start, EndAt: &end}
}

func (e *env) create(t *testing.T, task0 *crm.Task) *task.CreateResult {
	t.Helper()
	res, err := e.svc.Create(e.ctx, task.CreateRequest{Task: task0, Actor: e.agent.ID})
	require.NoError(t, err)
	return res
}

func (e *env) activity(t *testing.T) *crm.Activity {
	t.Helper()
	a := crmtest.Activity(e.ids, e.subject(), e.agent.ID)
	require.NoError(t, e.store.Activities().Create(e.ctx, a))
	return a
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	fields := []string{}
	var all crm.ValidationErrors
	var one *crm.ValidationError
	switch {
	case errors.As(err, &all):
		fields = all.Fields()
	case errors.As(err, &one):
		fields = []string{one.Field}
	}
	require.Contains(t, fields, field, "%v", err)
}

func countTasks(t *testing.T, e *env) int {
	t.Helper()
	page, err := e.store.Tasks().List(e.ctx, crm.TaskFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return len(page.Items)
}

func TestNewRefusesAnUnknownOverlapPolicy(t *testing.T) {
	t.Parallel()
	_, err := task.New(memstore.New(nil), &task.Config{OverlapPolicy: "ask"})
	requireField(t, err, "overlap_policy")
	_, err = task.New(nil, nil)
	requireField(t, err, "store")
}

func TestCreateRefusesBadInputNamingTheFieldAndWritesNothing(t *testing.T) {
	t.Parallel()
	hour := time.Hour
	cases := []struct {
		name  string
		task  func(e *env) *crm.Task
		field string
	}{
		{"ADueTimeBeforeTheCreationTime", func(e *env) *crm.Task { return e.todo(now.Add(-time.Minute)) }, "due_at"},
		{"AnAppointmentStartingBeforeTheCreationTime", func(e *env) *crm.Task { return e.appointment(now.Add(-hour), 2*hour) }, "start_at"},
		{"AnAppointmentEndingBeforeItStarts", func(e *env) *crm.Task { return e.appointment(now.Add(hour), -time.Minute) }, "end_at"},
		{"AnAppointmentWithoutAnEnd", func(e *env) *crm.Task {
			a := e.appointment(now.Add(hour), hour)
			a.EndAt = nil
			return a
		}, "end_at"},
		{"AReminderAfterTheDueTime", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { r := now.Add(2 * hour); t.RemindAt = &r })
		}, "remind_at"},
		{"ARecurrenceUntilBeforeTheFirstDue", func(e *env) *crm.Task {
			return e.todo(now.Add(48*hour), func(t *crm.Task) {
				u := now.Add(24 * hour)
				t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryDay, Until: &u}
			})
		}, "recurrence.until"},
		{"ARecurrenceUntilBeforeItsSecondOccurrence", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) {
				u := now.Add(6 * 24 * hour)
				t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryWeek, Until: &u}
			})
		}, "recurrence.until"},
		{"ARecurrenceOfOneOccurrence", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryDay, Count: 1} })
		}, "recurrence.count"},
		{"ARecurrenceEveryZeroWeeks", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { t.Recurrence = &crm.Recurrence{Unit: crm.EveryWeek} })
		}, "recurrence.every"},
		{"ADoneTask", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { t.Status = crm.TaskDone })
		}, "status"},
		{"AnUnknownAssignee", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { t.AssigneeID = e.ids.NewID() })
		}, "assignee_id"},
		{"AnUnknownSubject", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { t.Subject = crm.Ref{Type: crm.TypeOpportunity, ID: e.ids.NewID()} })
		}, "subject.id"},
		{"ASubjectOfAnotherType", func(e *env) *crm.Task {
			return e.todo(now.Add(hour), func(t *crm.Task) { t.Subject.Type = crm.TypeUser })
		}, "subject.type"},
		{"NoTask", func(*env) *crm.Task { return nil }, "task"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, task.OverlapWarn)
			in := c.task(e)
			var before *crm.Task
			if in != nil {
				before = in.Clone()
			}
			_, err := e.svc.Create(e.ctx, task.CreateRequest{Task: in, Actor: e.agent.ID})
			requireField(t, err, c.field)
			require.Zero(t, countTasks(t, e), "a refused create wrote a task")
			require.Equal(t, before, in, "the request's task was modified")
		})
	}
}

func TestCreateFillsTheDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapWarn)
	res := e.create(t, e.todo(now, func(t *crm.Task) { t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryMonth} }))
	got := res.Task
	require.NotEqual(t, crm.NilID, got.ID)
	require.Equal(t, crm.TaskTodo, got.Kind)
	require.Equal(t, crm.TaskOpen, got.Status)
	require.Equal(t, e.agent.DepartmentID, got.DepartmentID, "the assignee's department")
	require.Equal(t, e.agent.ID, got.CreatedBy)
	require.Equal(t, now, *got.SeriesStart)
	require.Equal(t, 1, got.Occurrence)
	stored, err := e.store.Tasks().Get(e.ctx, got.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored)

	appt := e.create(t, e.appointment(now.Add(time.Hour), time.Hour)).Task
	require.Equal(t, *appt.StartAt, appt.DueAt, "an appointment is due when it starts")
}

func TestAppointmentOverlapsAreReportedOrRefused(t *testing.T) {
	t.Parallel()
	at := func(h int) time.Time { return now.Add(time.Duration(h) * time.Hour) }
	cases := []struct {
		name      string
		start     time.Time
		length    time.Duration
		overlaps  int
		otherUser bool
	}{
		{"InsideAnother", at(2).Add(15 * time.Minute), 30 * time.Minute, 1, false},
		{"SpanningTwo", at(2).Add(30 * time.Minute), 2 * time.Hour, 2, false},
		{"RightAfterAnother", at(3), time.Hour, 1, false}, // meets the 3-4 one only
		{"RightBeforeAnother", at(1), time.Hour, 0, false},
		{"OfAnotherUser", at(2), time.Hour, 0, true},
	}
	for _, policy := range []task.OverlapPolicy{task.OverlapWarn, task.OverlapRefuse} {
		for _, c := range cases {
			t.Run(string(policy)+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, policy)
				// Cancelled appointments and to-dos never count.
				cancelled := e.create(t, e.appointment(at(2), 3*time.Hour)).Task
				_, err := e.svc.Cancel(e.ctx, task.CancelRequest{TaskID: cancelled.ID})
				require.NoError(t, err)
				e.create(t, e.todo(at(2)))
				e.create(t, e.appointment(at(2), time.Hour))
				e.create(t, e.appointment(at(3).Add(time.Minute), time.Hour))
				before := countTasks(t, e)

				appt := e.appointment(c.start, c.length)
				if c.otherUser {
					other := crmtest.User(e.ids)
					require.NoError(t, e.store.Users().Create(e.ctx, other))
					appt.AssigneeID = other.ID
				}
				res, err := e.svc.Create(e.ctx, task.CreateRequest{Task: appt})
				if c.overlaps > 0 && policy == task.OverlapRefuse {
					var oe *task.OverlapError
					require.ErrorAs(t, err, &oe)
					require.ErrorIs(t, err, task.ErrOverlap)
					require.ErrorIs(t, err, crm.ErrFailedPrecondition)
					require.Len(t, oe.Overlaps, c.overlaps)
					require.Equal(t, before, countTasks(t, e))
					return
				}
				require.NoError(t, err)
				require.Len(t, res.Overlaps, c.overlaps)
				for i := 1; i < len(res.Overlaps); i++ {
					require.False(t, res.Overlaps[i].StartAt.Before(res.Overlaps[i-1].StartAt), "earliest first")
				}
			})
		}
	}
}

func TestCompleteMarksTheTaskDoneWithItsActivity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapWarn)
	tk := e.create(t, e.todo(now.Add(time.Hour))).Task
	a := e.activity(t)
	e.clock.Advance(30 * time.Minute)
	res, err := e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: tk.ID, ActivityID: a.ID, Actor: e.agent.ID})
	require.NoError(t, err)
	require.Equal(t, crm.TaskDone, res.Task.Status)
	require.Equal(t, a.ID, res.Task.CompletedBy)
	require.Equal(t, now.Add(30*time.Minute), *res.Task.CompletedAt)
	require.Nil(t, res.Next, "a one-off has no next occurrence")

	_, err = e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: tk.ID})
	require.ErrorIs(t, err, task.ErrNotOpen)
	_, err = e.svc.Cancel(e.ctx, task.CancelRequest{TaskID: tk.ID})
	require.ErrorIs(t, err, task.ErrNotOpen)
	_, err = e.svc.Reschedule(e.ctx, task.RescheduleRequest{TaskID: tk.ID, DueAt: now.Add(48 * time.Hour)})
	require.ErrorIs(t, err, task.ErrNotOpen)
}

func TestCompleteRefusesAnUnknownActivityAndAStaleVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapWarn)
	tk := e.create(t, e.todo(now.Add(time.Hour))).Task
	_, err := e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: tk.ID, ActivityID: e.ids.NewID()})
	requireField(t, err, "activity_id")
	_, err = e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: tk.ID, Version: tk.Version + 1})
	require.ErrorIs(t, err, crm.ErrConflict)
	_, err = e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: e.ids.NewID()})
	require.ErrorIs(t, err, crm.ErrNotFound)
	got, err := e.store.Tasks().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, crm.TaskOpen, got.Status)
}

func TestCompletingARecurringTaskStoresItsNextOccurrence(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		name      string
		rule      crm.Recurrence
		late      time.Duration // how long after the first due it is completed
		completed int           // occurrences completed in a row
		wantDue   []time.Duration
	}{
		{"DailyOnTime", crm.Recurrence{Every: 1, Unit: crm.EveryDay}, 0, 1, []time.Duration{day}},
		{"DailyThreeDaysLateSkipsThePastOnes", crm.Recurrence{Every: 1, Unit: crm.EveryDay}, 3*day + 2*time.Hour, 1, []time.Duration{4 * day}},
		{"WeeklyForThreeEndsAfterTheThird", crm.Recurrence{Every: 1, Unit: crm.EveryWeek, Count: 3}, 0, 3, []time.Duration{7 * day, 14 * day, -1}},
		{"EveryTwoDaysUntilTheFifthDay", crm.Recurrence{Every: 2, Unit: crm.EveryDay, Until: ptr(now.Add(5*day + time.Hour))}, 0, 3, []time.Duration{2 * day, 4 * day, -1}},
		{"LateBeyondTheCountEndsTheSeries", crm.Recurrence{Every: 1, Unit: crm.EveryDay, Count: 2}, 5 * day, 1, []time.Duration{-1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, task.OverlapWarn)
			first := e.todo(now.Add(time.Hour), func(t *crm.Task) {
				r := now.Add(30 * time.Minute)
				t.RemindAt, t.Recurrence = &r, &c.rule
			})
			cur := e.create(t, first).Task
			e.clock.Advance(c.late)
			for i := range c.completed {
				res, err := e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: cur.ID})
				require.NoError(t, err, "occurrence %d", i+1)
				if c.wantDue[i] < 0 {
					require.Nil(t, res.Next, "the series ends after completion %d", i+1)
					return
				}
				require.NotNil(t, res.Next, "completion %d", i+1)
				next := res.Next
				require.Equal(t, now.Add(time.Hour+c.wantDue[i]), next.DueAt)
				require.Equal(t, next.DueAt.Add(-30*time.Minute), *next.RemindAt, "the reminder moves with the due time")
				require.Equal(t, cur.ID, next.PreviousID)
				require.Equal(t, crm.TaskOpen, next.Status)
				require.Equal(t, *cur.SeriesStart, *next.SeriesStart)
				stored, err := e.store.Tasks().Get(e.ctx, next.ID)
				require.NoError(t, err)
				require.Equal(t, next, stored)
				cur = next
			}
		})
	}
}

func TestCancellingAnOccurrenceEndsTheSeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapWarn)
	tk := e.create(t, e.todo(now.Add(time.Hour), func(t *crm.Task) { t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryDay} })).Task
	got, err := e.svc.Cancel(e.ctx, task.CancelRequest{TaskID: tk.ID})
	require.NoError(t, err)
	require.Equal(t, crm.TaskCancelled, got.Status)
	require.Equal(t, 1, countTasks(t, e))
}

func TestRescheduleMovesTheSpanAndReminder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapRefuse)
	appt := e.appointment(now.Add(2*time.Hour), time.Hour)
	r := now.Add(time.Hour)
	appt.RemindAt = &r
	tk := e.create(t, appt).Task
	other := e.create(t, e.appointment(now.Add(26*time.Hour), time.Hour)).Task

	to := now.Add(24 * time.Hour)
	res, err := e.svc.Reschedule(e.ctx, task.RescheduleRequest{TaskID: tk.ID, DueAt: to})
	require.NoError(t, err)
	require.Equal(t, to, res.Task.DueAt)
	require.Equal(t, to, *res.Task.StartAt)
	require.Equal(t, to.Add(time.Hour), *res.Task.EndAt)
	require.Equal(t, to.Add(-time.Hour), *res.Task.RemindAt)

	_, err = e.svc.Reschedule(e.ctx, task.RescheduleRequest{TaskID: tk.ID, DueAt: other.DueAt.Add(-30 * time.Minute)})
	require.ErrorIs(t, err, task.ErrOverlap)
	_, err = e.svc.Reschedule(e.ctx, task.RescheduleRequest{TaskID: tk.ID, DueAt: now.Add(-time.Minute)})
	requireField(t, err, "due_at")
	end := to.Add(-time.Minute)
	_, err = e.svc.Reschedule(e.ctx, task.RescheduleRequest{TaskID: tk.ID, DueAt: to, EndAt: &end})
	requireField(t, err, "end_at")
	got, err := e.store.Tasks().Get(e.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, res.Task, got, "refused moves change nothing")
}

func TestRescheduleOfTheFirstOccurrenceMovesTheSeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapWarn)
	tk := e.create(t, e.todo(now.Add(time.Hour), func(t *crm.Task) { t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryWeek} })).Task
	to := now.Add(50 * time.Hour)
	res, err := e.svc.Reschedule(e.ctx, task.RescheduleRequest{TaskID: tk.ID, DueAt: to})
	require.NoError(t, err)
	require.Equal(t, to, *res.Task.SeriesStart)
	done, err := e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: tk.ID})
	require.NoError(t, err)
	require.Equal(t, to.AddDate(0, 0, 7), done.Next.DueAt)
}

func TestManyConcurrentCompletionsOfOneTaskHaveOneWinner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, task.OverlapWarn)
	tk := e.create(t, e.todo(now.Add(time.Hour), func(t *crm.Task) { t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryDay} })).Task
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.svc.Complete(e.ctx, task.CompleteRequest{TaskID: tk.ID, Actor: e.agent.ID})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.True(t, errors.Is(err, task.ErrNotOpen) || errors.Is(err, crm.ErrConflict), "%v", err)
	}
	require.Equal(t, 1, wins)
	require.Equal(t, 2, countTasks(t, e), "the task and exactly one next occurrence")
}

func ptr[T any](v T) *T { return &v }
