package remind_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/remind"
)

func TestTaskQueryTimeDecidesWhatIsDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	task := func(status crm.TaskStatus, remindAt *time.Time, due time.Time) *crm.Task {
		return &crm.Task{Meta: crm.Meta{ID: crm.ID{5}}, Status: status, RemindAt: remindAt, DueAt: due}
	}
	for _, tc := range []struct {
		name string
		kind remind.Kind
		task *crm.Task
		want time.Time
		due  bool
	}{
		{"a reminder reached", remind.KindTaskReminder, task(crm.TaskOpen, at(-time.Minute), now.Add(time.Hour)), now.Add(-time.Minute), true},
		{"a reminder reached this instant", remind.KindTaskReminder, task(crm.TaskOpen, at(0), now.Add(time.Hour)), now, true},
		{"a reminder still ahead", remind.KindTaskReminder, task(crm.TaskOpen, at(time.Minute), now.Add(time.Hour)), time.Time{}, false},
		{"no reminder set", remind.KindTaskReminder, task(crm.TaskOpen, nil, now.Add(-time.Hour)), time.Time{}, false},
		{"overdue", remind.KindTaskOverdue, task(crm.TaskOpen, nil, now.Add(-time.Second)), now.Add(-time.Second), true},
		{"due this instant is not overdue", remind.KindTaskOverdue, task(crm.TaskOpen, nil, now), time.Time{}, false},
		{"a done task", remind.KindTaskOverdue, task(crm.TaskDone, nil, now.Add(-time.Hour)), time.Time{}, false},
		{"a cancelled task", remind.KindTaskReminder, task(crm.TaskCancelled, at(-time.Hour), now), time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, due := remind.TaskQuery{Kind: tc.kind, Now: now}.Time(tc.task)
			require.Equal(t, tc.due, due)
			if due {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestPastOrdersByTimeThenID(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	low, high := crm.ID{1}, crm.ID{2}
	require.True(t, remind.Past(t0, low, time.Time{}, crm.NilID), "a zero cursor is the start")
	require.True(t, remind.Past(t0.Add(time.Second), low, t0, high), "a later time")
	require.True(t, remind.Past(t0, high, t0, low), "the same time, a higher ID")
	require.False(t, remind.Past(t0, low, t0, low), "the cursor itself")
	require.False(t, remind.Past(t0, low, t0, high), "the same time, a lower ID")
	require.False(t, remind.Past(t0.Add(-time.Second), high, t0, low), "an earlier time")
}
