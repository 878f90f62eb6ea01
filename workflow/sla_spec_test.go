package workflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
	"github.com/crmkit/crmkit/workflow/calendar"
)

const slaDoc = `{"policies": [
	{"name": "first_response", "target": "4h", "warn": "3h", "calendar": "office",
	 "on_warn": [{"kind": "notify", "department": "0190a5a0-0000-7000-8000-0000000000d1", "title": "Answer soon"}],
	 "on_breach": [{"kind": "create_task", "department": "0190a5a0-0000-7000-8000-0000000000d1", "title": "Escalate to the team lead"}]},
	{"name": "resolution", "target": "72h"}
]}`

func TestParseSLAPolicies(t *testing.T) {
	t.Parallel()
	cals := map[string]*calendar.Calendar{"office": officeCalendar(t)}
	t.Run("ReadsPoliciesWithCalendarsAndActions", func(t *testing.T) {
		ps, err := workflow.ParseSLAPolicies([]byte(slaDoc), cals)
		require.NoError(t, err)
		require.Len(t, ps, 2)
		require.Equal(t, "first_response", ps[0].Name)
		require.Equal(t, 4*time.Hour, ps[0].Target)
		require.Equal(t, 3*time.Hour, ps[0].Warn)
		require.Same(t, cals["office"], ps[0].Calendar)
		require.Len(t, ps[0].OnBreach, 1)
		require.Equal(t, workflow.ActionCreateTask, ps[0].OnBreach[0].Kind)
		require.Nil(t, ps[1].Calendar)
		tm, err := ps[0].Start(uid(1), crm.Ref{Type: crm.TypeTicket, ID: uid(2)}, sh(t, "2026-06-05 16:00"), sh(t, "2026-06-05 16:00"))
		require.NoError(t, err)
		require.True(t, sh(t, "2026-06-08 11:00").Equal(tm.DueAt), "the loaded calendar counts business hours")
	})
	for _, tc := range []struct {
		name, doc string
		fields    []string
	}{
		{"NamesANegativeTarget", `{"policies": [{"name": "a", "target": "-1h"}]}`, []string{"policies[0].target"}},
		{"NamesAWarningAfterTheTarget", `{"policies": [{"name": "a", "target": "1h", "warn": "2h"}]}`, []string{"policies[0].warn"}},
		{"NamesAnUnknownCalendar", `{"policies": [{"name": "a", "target": "1h", "calendar": "moon"}]}`, []string{"policies[0].calendar"}},
		{"NamesABadName", `{"policies": [{"name": "A B", "target": "1h"}]}`, []string{"policies[0].name"}},
		{"NamesARepeatedName", `{"policies": [{"name": "a", "target": "1h"}, {"name": "a", "target": "2h"}]}`, []string{"policies[1].name"}},
		{"NamesABadAction", `{"policies": [{"name": "a", "target": "1h", "on_breach": [{"kind": "explode"}, {"kind": "notify"}]}]}`,
			[]string{"policies[0].on_breach[0].kind", "policies[0].on_breach[1].department"}},
		{"NamesAWarnActionWithoutAWarnTime", `{"policies": [{"name": "a", "target": "1h", "on_warn": [{"kind": "route", "rule_set": "x"}]}]}`, []string{"policies[0].on_warn"}},
		{"RefusesAnEmptyList", `{"policies": []}`, []string{"policies"}},
		{"ReportsEveryProblemAtOnce", `{"policies": [{"name": "a", "target": "0s"}, {"name": "b", "target": "1h", "calendar": "x"}]}`,
			[]string{"policies[0].target", "policies[1].calendar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workflow.ParseSLAPolicies([]byte(tc.doc), cals)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Equal(t, tc.fields, es.Fields())
		})
	}
	t.Run("AcceptsEscalateAndRouteOnBreach", func(t *testing.T) {
		ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "a", "target": "1h", "warn": "30m",
			"on_warn": [{"kind": "escalate"}], "on_breach": [{"kind": "route", "rule_set": "tier2"}, {"kind": "escalate"}]}]}`), nil)
		require.NoError(t, err)
		require.Equal(t, []workflow.ActionSpec{{Kind: workflow.ActionRoute, RuleSet: "tier2"}, {Kind: workflow.ActionEscalate}},
			ps[0].Actions(workflow.Firing{Policy: "a", Kind: workflow.FiringBreach}))
	})
	t.Run("RefusesUnknownKeysAndBadDurations", func(t *testing.T) {
		for _, doc := range []string{`{"policies": [{"name": "a", "target": "1h", "colour": "red"}]}`, `{"policies": [{"name": "a", "target": "soon"}]}`, `[`} {
			_, err := workflow.ParseSLAPolicies([]byte(doc), nil)
			require.ErrorIs(t, err, crm.ErrInvalidArgument, doc)
		}
	})
}

func FuzzParseSLAPolicies(f *testing.F) {
	f.Add([]byte(slaDoc))
	f.Add([]byte(`{"policies": [{"name": "a", "target": "1h", "warn": "59m"}]}`))
	f.Add([]byte(`{"policies": [{"name": "a", "target": "-5m", "calendar": ""}]}`))
	f.Add([]byte(`{}`))
	cals := map[string]*calendar.Calendar{"office": officeCalendar(f)}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := workflow.ParseSLAPolicies(data, cals)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		for _, p := range ps {
			require.Positive(t, p.Target)
			require.Less(t, p.Warn, p.Target)
		}
	})
}

func TestTickWritesEventsWithTheTimers(t *testing.T) {
	t.Parallel()
	p := &workflow.SLAPolicy{Name: "first_response", Target: 2 * time.Hour, Warn: time.Hour}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	newStore := func(t *testing.T) *memTimers {
		store := &memTimers{timers: map[crm.ID]workflow.Timer{}}
		tm, err := p.Start(uid(1), crm.Ref{Type: crm.TypeTicket, ID: uid(100)}, start, start)
		require.NoError(t, err)
		tm.TenantID = "acme"
		require.NoError(t, store.CreateTimer(context.Background(), &tm))
		return store
	}
	t.Run("AWarningThenABreachEachWriteOneEvent", func(t *testing.T) {
		store := newStore(t)
		ids := crmtest.NewIDs()
		fs, err := workflow.Tick(context.Background(), store, ids, start.Add(90*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, fs, 1)
		require.Equal(t, "acme", fs[0].TenantID)
		fs, err = workflow.Tick(context.Background(), store, ids, start.Add(3*time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, fs, 1)
		require.Len(t, store.events, 2)
		require.Equal(t, workflow.EventSLAWarned, store.events[0].Type)
		require.Equal(t, workflow.EventSLABreached, store.events[1].Type)
		require.Equal(t, "acme", store.events[1].TenantID)
		require.JSONEq(t, `{"record": {"type": "ticket", "id": "`+uid(100).String()+`"}, "policy": "first_response", "kind": "breach", "due_at": "2026-06-01T02:00:00Z"}`,
			string(store.events[1].Payload))
		stored, err := store.GetTimer(context.Background(), uid(1))
		require.NoError(t, err)
		require.True(t, stored.Warned && stored.Breached)
		require.Equal(t, int64(3), stored.Version)
	})
	t.Run("BothFireInOneTickWhenLate", func(t *testing.T) {
		store := newStore(t)
		fs, err := workflow.Tick(context.Background(), store, crmtest.NewIDs(), start.Add(5*time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, fs, 2)
		require.Len(t, store.events, 2)
	})
	t.Run("BadArgumentsAreRefused", func(t *testing.T) {
		store := newStore(t)
		_, err := workflow.Tick(context.Background(), store, nil, start, 10)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = workflow.Tick(context.Background(), store, crmtest.NewIDs(), time.Time{}, 10)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = workflow.Tick(context.Background(), store, crmtest.NewIDs(), start, workflow.MaxTickLimit+1)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestTimerValidate(t *testing.T) {
	t.Parallel()
	tm := workflow.Timer{Stopped: true, DueAt: time.Now(), Consumed: -1}
	var es crm.ValidationErrors
	require.True(t, errors.As(tm.Validate(), &es))
	require.Equal(t, []string{"id", "record", "policy", "consumed", "stopped"}, es.Fields())
}
