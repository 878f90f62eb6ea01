package workflow_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

var marketing, sales, service = uid(301), uid(302), uid(303)

func handoffSchema(t testing.TB) *cond.Schema {
	t.Helper()
	s, err := cond.NewSchema(
		cond.Field{Name: "score", Kind: cond.KindNumber},
		cond.Field{Name: "contract_id", Kind: cond.KindString},
		cond.Field{Name: "region", Kind: cond.KindString},
	)
	require.NoError(t, err)
	return s
}

func handoffTree(t testing.TB) *crm.DepartmentTree {
	t.Helper()
	tree, err := crm.NewDepartmentTree([]crm.Department{
		{Meta: crm.Meta{ID: company}, Name: "Company"},
		{Meta: crm.Meta{ID: marketing}, Name: "Marketing", ParentID: company},
		{Meta: crm.Meta{ID: sales}, Name: "Sales", ParentID: company},
		{Meta: crm.Meta{ID: uid(304)}, Name: "Sales East", ParentID: sales},
		{Meta: crm.Meta{ID: service}, Name: "Service", ParentID: company},
	})
	require.NoError(t, err)
	return tree
}

var pipeline = fmt.Sprintf(`{
	"name": "lead_to_service", "record_type": "lead", "initial": "marketing_lead",
	"stages": ["marketing_lead", "sales_follow_up", "won", "lost", "service_onboarding"],
	"transitions": [
		{"from": "marketing_lead", "to": "sales_follow_up", "guard": {"field": "score", "range": {"gte": 60}},
		 "departments": [%q], "actions": [{"kind": "route", "rule_set": "inbound_leads"}]},
		{"from": "sales_follow_up", "to": "won", "required": ["contract_id"], "departments": [%q],
		 "actions": [{"kind": "create_task", "department": %q, "title": "onboard the customer"}]},
		{"from": "sales_follow_up", "to": "lost", "departments": [%q]},
		{"from": "won", "to": "service_onboarding", "departments": [%q],
		 "actions": [{"kind": "notify", "department": %q, "title": "customer in onboarding"}]}
	]}`, marketing, sales, service, sales, service, sales)

func TestHandoffCarriesHistoryAcrossDepartments(t *testing.T) {
	t.Parallel()
	s := handoffSchema(t)
	m, err := workflow.ParseMachine(s, handoffTree(t), []byte(pipeline))
	require.NoError(t, err)
	rec := s.NewRecord()
	require.NoError(t, rec.SetNumber("score", decimalOf(t, "72")))
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

	out, err := m.Transition(&workflow.Move{Record: rec, Stage: m.Initial(), To: "sales_follow_up", Actor: uid(1), ActorDepartment: marketing, At: at})
	require.NoError(t, err)
	require.Equal(t, []workflow.ActionSpec{{Kind: workflow.ActionRoute, RuleSet: "inbound_leads"}}, out.Actions)

	t.Run("RequiredFieldsGuardTheMove", func(t *testing.T) {
		_, err := m.Transition(&workflow.Move{Record: rec, Stage: out.Stage, History: out.History, To: "won", Actor: uid(2), ActorDepartment: uid(304), At: at})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
		require.Contains(t, err.Error(), "contract_id")
	})
	t.Run("OtherDepartmentsMayNotMove", func(t *testing.T) {
		_, err := m.Transition(&workflow.Move{Record: rec, Stage: out.Stage, History: out.History, To: "lost", Actor: uid(1), ActorDepartment: marketing, At: at})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
	})
	t.Run("UndeclaredMovesAreRefused", func(t *testing.T) {
		_, err := m.Transition(&workflow.Move{Record: rec, Stage: out.Stage, To: "service_onboarding", Actor: uid(1), ActorDepartment: service, At: at})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	})

	require.NoError(t, rec.SetString("contract_id", "HT-2026-001"))
	// A member of Sales East acts for Sales: sub-departments are allowed.
	out, err = m.Transition(&workflow.Move{Record: rec, Stage: out.Stage, History: out.History, To: "won", Actor: uid(2), ActorDepartment: uid(304), At: at.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, workflow.ActionCreateTask, out.Actions[0].Kind)
	require.Equal(t, service, out.Actions[0].Department)

	out, err = m.Transition(&workflow.Move{Record: rec, Stage: out.Stage, History: out.History, To: "service_onboarding", Actor: uid(3), ActorDepartment: service, At: at.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "service_onboarding", out.Stage)
	var path []string
	for _, h := range out.History {
		path = append(path, h.From+">"+h.To)
	}
	require.Equal(t, []string{"marketing_lead>sales_follow_up", "sales_follow_up>won", "won>service_onboarding"}, path)
}

func TestHandoffGuardFails(t *testing.T) {
	t.Parallel()
	s := handoffSchema(t)
	m, err := workflow.ParseMachine(s, handoffTree(t), []byte(pipeline))
	require.NoError(t, err)
	rec := s.NewRecord()
	require.NoError(t, rec.SetNumber("score", decimalOf(t, "59.9")))
	_, err = m.Transition(&workflow.Move{Record: rec, Stage: "marketing_lead", To: "sales_follow_up", Actor: uid(1), ActorDepartment: marketing, At: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition)
}

func TestHandoffRefusesIncompleteMoves(t *testing.T) {
	t.Parallel()
	s := handoffSchema(t)
	m, err := workflow.ParseMachine(s, handoffTree(t), []byte(pipeline))
	require.NoError(t, err)
	rec := s.NewRecord()
	require.NoError(t, rec.SetNumber("score", decimalOf(t, "90")))
	other, err := cond.NewSchema(cond.Field{Name: "score", Kind: cond.KindNumber})
	require.NoError(t, err)
	foreign := other.NewRecord()
	require.NoError(t, foreign.SetNumber("score", decimalOf(t, "90")))
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	move := func(edit func(*workflow.Move)) *workflow.Move {
		mv := &workflow.Move{Record: rec, Stage: "marketing_lead", To: "sales_follow_up", Actor: uid(1), ActorDepartment: marketing, At: at}
		edit(mv)
		return mv
	}
	cases := []struct {
		name  string
		move  *workflow.Move
		field string
	}{
		{"a missing move names the record", nil, "record"},
		{"a missing record is refused", move(func(mv *workflow.Move) { mv.Record = nil }), "record"},
		{"a record of another schema is refused instead of failing its guard", move(func(mv *workflow.Move) { mv.Record = foreign }), "record"},
		{"a move by nobody is refused: the history names who moved", move(func(mv *workflow.Move) { mv.Actor = crm.NilID }), "actor"},
		{"a move without a time is refused", move(func(mv *workflow.Move) { mv.At = time.Time{} }), "at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Transition(tc.move)
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
		})
	}
	_, err = m.Transition(move(func(*workflow.Move) {}))
	require.NoError(t, err, "the same move, complete, is allowed")
}

func TestHandoffEvent(t *testing.T) {
	t.Parallel()
	s := handoffSchema(t)
	m, err := workflow.ParseMachine(s, handoffTree(t), []byte(pipeline))
	require.NoError(t, err)
	rec := s.NewRecord()
	require.NoError(t, rec.SetNumber("score", decimalOf(t, "90")))
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	out, err := m.Transition(&workflow.Move{Record: rec, Stage: "marketing_lead", To: "sales_follow_up", Actor: uid(7), ActorDepartment: marketing, At: at, Note: "asked for a demo"})
	require.NoError(t, err)
	lead := uid(900)
	ev, err := out.Event(crmtest.NewIDs(), lead)
	require.NoError(t, err)
	require.Equal(t, workflow.EventLeadHandedOff, ev.Type)
	require.Equal(t, crm.Ref{Type: "lead", ID: lead}, ev.Subject)
	require.Equal(t, uid(7), ev.ActorID)
	require.Equal(t, at, ev.OccurredAt)
	require.JSONEq(t, `{"machine":"lead_to_service","from":"marketing_lead","to":"sales_follow_up","department":"`+marketing.String()+`",
		"note":"asked for a demo","actions":[{"kind":"route","rule_set":"inbound_leads"}]}`, string(ev.Payload))

	t.Run("an event needs the record and an id generator", func(t *testing.T) {
		_, err := out.Event(crmtest.NewIDs(), crm.NilID)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = out.Event(nil, lead)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestMachineValidation(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, spec, field string }{
		{"Cycle", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b","c"],"transitions":[{"from":"a","to":"b"},{"from":"b","to":"c"},{"from":"c","to":"a"}]}`, "transitions"},
		{"Unreachable", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b","c"],"transitions":[{"from":"a","to":"b"}]}`, "stages[2]"},
		{"UnknownStage", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"x"}]}`, "transitions[0].to"},
		{"UnknownInitial", `{"name":"m","record_type":"lead","initial":"z","stages":["a"],"transitions":[]}`, "initial"},
		{"UnknownGuardField", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"b","guard":{"field":"scor","exists":true}}]}`, "transitions[0].guard.field"},
		{"UnknownRequiredField", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"b","required":["contract"]}]}`, "transitions[0].required[0]"},
		{"UnknownDepartment", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"b","departments":["` + uid(999).String() + `"]}]}`, "transitions[0].departments[0]"},
		{"TaskWithoutDepartment", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"b","actions":[{"kind":"create_task"}]}]}`, "transitions[0].actions[0].department"},
		{"EscalateIsForSLAPolicies", `{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"b","actions":[{"kind":"escalate"}]}]}`, "transitions[0].actions[0].kind"},
		{"BadName", `{"name":"Lead Flow","record_type":"lead","initial":"a","stages":["a"],"transitions":[]}`, "name"},
		{"MissingRecordType", `{"name":"m","initial":"a","stages":["a"],"transitions":[]}`, "record_type"},
		{"SelfLoop", `{"name":"m","record_type":"lead","initial":"a","stages":["a"],"transitions":[{"from":"a","to":"a"}]}`, "transitions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workflow.ParseMachine(handoffSchema(t), handoffTree(t), []byte(tc.spec))
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Contains(t, es.Fields(), tc.field, err.Error())
		})
	}
}
