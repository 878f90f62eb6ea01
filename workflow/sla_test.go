package workflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

func firstResponse(t testing.TB) *workflow.SLAPolicy {
	return &workflow.SLAPolicy{Name: "first_response", Target: 4 * time.Hour, Warn: 3 * time.Hour, Calendar: officeCalendar(t)}
}

func sh(t testing.TB, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

func TestSLATimer(t *testing.T) {
	t.Parallel()
	p := firstResponse(t)
	ticket := crm.Ref{Type: crm.TypeTicket, ID: uid(1)}
	t.Run("DueTimesFollowBusinessHours", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-05 16:00"), sh(t, "2026-06-05 16:00"))
		require.NoError(t, err)
		require.True(t, sh(t, "2026-06-08 10:00").Equal(tm.WarnAt))
		require.True(t, sh(t, "2026-06-08 11:00").Equal(tm.DueAt))
	})
	t.Run("PauseAndResumeKeepTheRemainingTime", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-01 09:00"))
		require.NoError(t, err)
		require.NoError(t, p.Pause(&tm, sh(t, "2026-06-01 11:00")))
		require.Empty(t, workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-30 00:00")), "a paused timer never fires")
		require.ErrorIs(t, p.Pause(&tm, sh(t, "2026-06-01 12:00")), crm.ErrFailedPrecondition)
		require.NoError(t, p.Resume(&tm, sh(t, "2026-06-02 15:00")))
		require.True(t, sh(t, "2026-06-02 17:00").Equal(tm.DueAt))
		require.True(t, sh(t, "2026-06-02 16:00").Equal(tm.WarnAt))
	})
	t.Run("Pausing after the breach instant, before a tick fired it, keeps it due", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-01 09:00"))
		require.NoError(t, err)
		require.NoError(t, p.Pause(&tm, sh(t, "2026-06-01 13:30")))
		fs := workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-01 13:31"))
		require.Len(t, fs, 2, "both the warning and the breach were due before the pause")
		require.NoError(t, p.Resume(&tm, sh(t, "2026-06-02 09:00")), "a timer past its target resumes")
		require.True(t, sh(t, "2026-06-01 12:00").Equal(tm.WarnAt))
		require.True(t, sh(t, "2026-06-01 13:00").Equal(tm.DueAt))
		for _, f := range workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-02 09:00")) {
			tm.Fire(f)
		}
		require.True(t, tm.Warned && tm.Breached)
		require.Empty(t, workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-30 09:00")))
	})
	t.Run("Resuming after the warning time keeps the warning due and the breach in business time", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-01 09:00"))
		require.NoError(t, err)
		require.NoError(t, p.Pause(&tm, sh(t, "2026-06-01 12:30")))
		require.True(t, tm.DueAt.IsZero(), "the breach was not due yet")
		require.NoError(t, p.Resume(&tm, sh(t, "2026-06-02 10:00")))
		require.True(t, sh(t, "2026-06-01 12:00").Equal(tm.WarnAt))
		require.True(t, sh(t, "2026-06-02 10:30").Equal(tm.DueAt))
	})
	t.Run("A paused timer past its warning with no instant kept warns when it resumes", func(t *testing.T) {
		tm := workflow.Timer{ID: uid(10), Record: ticket, Policy: p.Name, Consumed: 3*time.Hour + 30*time.Minute}
		require.NoError(t, p.Resume(&tm, sh(t, "2026-06-02 10:00")))
		require.True(t, sh(t, "2026-06-02 10:00").Equal(tm.WarnAt))
		require.True(t, sh(t, "2026-06-02 10:30").Equal(tm.DueAt))
	})
	t.Run("WarningThenBreachFireOnce", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-01 09:00"))
		require.NoError(t, err)
		require.Empty(t, workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-01 11:59")))
		fs := workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-01 12:00"))
		require.Len(t, fs, 1)
		require.Equal(t, workflow.FiringWarning, fs[0].Kind)
		tm.Fire(fs[0])
		require.Empty(t, workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-01 12:30")))
		fs = workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-01 13:00"))
		require.Len(t, fs, 1)
		require.Equal(t, workflow.EventSLABreached, fs[0].EventType())
		tm.Fire(fs[0])
		require.Empty(t, workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-09 13:00")))
	})
	t.Run("ATimerInThePastIsRefused", func(t *testing.T) {
		_, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-03 09:00"))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
	t.Run("BadPoliciesAreRefused", func(t *testing.T) {
		bad := &workflow.SLAPolicy{Name: "x", Target: time.Hour, Warn: 2 * time.Hour}
		_, err := bad.Start(uid(10), ticket, time.Now(), time.Now())
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
	t.Run("A late answer stops the timer and returns the breach no tick fired yet", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-01 09:00"))
		require.NoError(t, err)
		tm.Fire(workflow.Due([]workflow.Timer{tm}, sh(t, "2026-06-01 12:00"))[0]) // the warning was ticked
		fired := p.Stop(&tm, sh(t, "2026-06-01 13:20"))
		require.Len(t, fired, 1)
		require.Equal(t, workflow.FiringBreach, fired[0].Kind)
		require.True(t, sh(t, "2026-06-01 13:00").Equal(fired[0].At))
		require.True(t, tm.Breached && tm.Stopped)
		require.NoError(t, tm.Validate())
		require.Empty(t, p.Stop(&tm, sh(t, "2026-06-01 14:00")), "stopping twice fires nothing again")
		require.Equal(t, 4*time.Hour+20*time.Minute, tm.Consumed)
	})
	t.Run("StoppedTimersNeverFire", func(t *testing.T) {
		tm, err := p.Start(uid(10), ticket, sh(t, "2026-06-01 09:00"), sh(t, "2026-06-01 09:00"))
		require.NoError(t, err)
		require.Empty(t, p.Stop(&tm, sh(t, "2026-06-01 10:30")), "an answer in time fires nothing")
		require.Equal(t, 90*time.Minute, tm.Consumed)
		require.Empty(t, workflow.Due([]workflow.Timer{tm}, sh(t, "2026-07-01 10:30")))
	})
}

// memTimers is a TimerStore in memory whose ClaimDue skips timers claimed
// by a unit of work still open, like SKIP LOCKED.
type memTimers struct {
	mu     sync.Mutex
	timers map[crm.ID]workflow.Timer
	events []crm.Event
}

func (m *memTimers) CreateTimer(_ context.Context, t *workflow.Timer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Version = 1
	m.timers[t.ID] = *t
	return nil
}

func (m *memTimers) GetTimer(_ context.Context, id crm.ID) (*workflow.Timer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.timers[id]
	if !ok {
		return nil, crm.ErrNotFound
	}
	return &t, nil
}

func (m *memTimers) UpdateTimer(_ context.Context, t *workflow.Timer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.timers[t.ID].Version != t.Version {
		return crm.ErrConflict
	}
	t.Version++
	m.timers[t.ID] = *t
	return nil
}

func (m *memTimers) UpdateTimers(_ context.Context, ts []*workflow.Timer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range ts {
		if m.timers[t.ID].Version != t.Version {
			return crm.ErrConflict
		}
	}
	for _, t := range ts {
		t.Version++
		m.timers[t.ID] = *t
	}
	return nil
}

// Timers and Events make memTimers a workflow.TickTx that records events.
func (m *memTimers) Timers() workflow.TimerStore { return m }
func (m *memTimers) Events() crm.EventWriter     { return m }

func (m *memTimers) Append(_ context.Context, events ...*crm.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return err
		}
		m.events = append(m.events, *e)
	}
	return nil
}

func (m *memTimers) ClaimDue(_ context.Context, now time.Time, limit int) ([]*workflow.Timer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*workflow.Timer
	for _, t := range m.timers {
		if next := t.NextAt(); !next.IsZero() && !now.Before(next) && len(out) < limit {
			c := t
			out = append(out, &c)
		}
	}
	return out, nil
}

func TestTickFiresEachTimerOnce(t *testing.T) {
	t.Parallel()
	p := &workflow.SLAPolicy{Name: "resolution", Target: time.Hour}
	store := &memTimers{timers: map[crm.ID]workflow.Timer{}}
	ids := crmtest.NewIDs()
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 50; i++ {
		tm, err := p.Start(uid(i+1), crm.Ref{Type: crm.TypeTicket, ID: uid(1000 + i)}, start, start)
		require.NoError(t, err)
		require.NoError(t, store.CreateTimer(context.Background(), &tm))
	}
	now := start.Add(2 * time.Hour)
	total := 0
	for {
		fs, err := workflow.Tick(context.Background(), store, ids, now, 20)
		require.NoError(t, err)
		if len(fs) == 0 {
			break
		}
		total += len(fs)
	}
	require.Equal(t, 50, total)
	require.Len(t, store.events, 50, "one event per firing")
	for _, e := range store.events {
		require.Equal(t, workflow.EventSLABreached, e.Type)
		require.Equal(t, workflow.RecordTypeSLA, e.Subject.Type)
		require.True(t, now.Equal(e.OccurredAt))
	}
	fs, err := workflow.Tick(context.Background(), store, ids, now, 20)
	require.NoError(t, err)
	require.Empty(t, fs, "tick is idempotent")
	_, err = workflow.Tick(context.Background(), store, ids, now, 0)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
}

func TestSLAPolicyActionsFollowTheFiring(t *testing.T) {
	t.Parallel()
	lead := workflow.ActionSpec{Kind: workflow.ActionCreateTask, Department: uid(20), Title: "answer the ticket"}
	agent := workflow.ActionSpec{Kind: workflow.ActionNotify, Title: "4 business hours nearly up"}
	p := &workflow.SLAPolicy{Name: "first_response", Target: 4 * time.Hour, Warn: 3 * time.Hour, OnWarn: []workflow.ActionSpec{agent}, OnBreach: []workflow.ActionSpec{lead}}
	cases := []struct {
		name string
		f    workflow.Firing
		want []workflow.ActionSpec
	}{
		{"a warning asks for the warning actions", workflow.Firing{Policy: "first_response", Kind: workflow.FiringWarning}, []workflow.ActionSpec{agent}},
		{"a breach asks for the breach actions", workflow.Firing{Policy: "first_response", Kind: workflow.FiringBreach}, []workflow.ActionSpec{lead}},
		{"a firing of another policy asks for nothing", workflow.Firing{Policy: "resolution", Kind: workflow.FiringBreach}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, p.Actions(tc.f))
		})
	}
}
