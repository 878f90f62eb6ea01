package workflow_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

// A marketing lead moves to sales, is won, and goes to service for
// onboarding. Each move is checked against the machine (guard, required
// fields, the department allowed to move), carries the history so far, and
// asks the host to act: route the lead, create a task for service.
func ExampleMachine_Transition() {
	marketing := uuid.MustParse("0190a5a0-0000-7000-8000-0000000000d1")
	sales := uuid.MustParse("0190a5a0-0000-7000-8000-0000000000d2")
	service := uuid.MustParse("0190a5a0-0000-7000-8000-0000000000d3")
	tree, _ := crm.NewDepartmentTree([]crm.Department{
		{Meta: crm.Meta{ID: marketing}, Name: "Marketing"},
		{Meta: crm.Meta{ID: sales}, Name: "Sales"},
		{Meta: crm.Meta{ID: service}, Name: "Service"},
	})
	schema, _ := cond.NewSchema(
		cond.Field{Name: "score", Kind: cond.KindNumber},
		cond.Field{Name: "contract_id", Kind: cond.KindString},
	)
	m, err := workflow.ParseMachine(schema, tree, fmt.Appendf(nil, `{
		"name": "lead_to_service", "record_type": "lead", "initial": "marketing_lead",
		"stages": ["marketing_lead", "sales_follow_up", "won", "service_onboarding"],
		"transitions": [
			{"from": "marketing_lead", "to": "sales_follow_up", "guard": {"field": "score", "range": {"gte": 60}},
			 "departments": [%[1]q], "actions": [{"kind": "route", "rule_set": "inbound_leads"}]},
			{"from": "sales_follow_up", "to": "won", "required": ["contract_id"], "departments": [%[2]q],
			 "actions": [{"kind": "create_task", "department": %[3]q, "title": "onboard the customer"}]},
			{"from": "won", "to": "service_onboarding", "departments": [%[3]q]}
		]}`, marketing, sales, service))
	if err != nil {
		fmt.Println(err)
		return
	}
	lead := schema.NewRecord()
	_ = lead.SetNumber("score", decimal.NewFromInt(72))
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	ids := crmtest.NewIDs()
	leadID := ids.NewID()

	stage, history := m.Initial(), []workflow.Handoff(nil)
	move := func(to string, actor, dept crm.ID) {
		out, err := m.Transition(&workflow.Move{Record: lead, Stage: stage, History: history, To: to, Actor: actor, ActorDepartment: dept, At: at})
		if err != nil {
			fmt.Println("refused:", err)
			return
		}
		ev, _ := out.Event(ids, leadID)
		fmt.Printf("%s -> %s (event %s)\n", stage, out.Stage, ev.Type)
		for _, a := range out.Actions {
			fmt.Printf("  asks the host to %s %s%s\n", a.Kind, a.Title, a.RuleSet)
		}
		stage, history = out.Stage, out.History
		at = at.Add(24 * time.Hour)
	}
	move("sales_follow_up", uuid.MustParse("0190a5a0-0000-7000-8000-000000000001"), marketing)
	move("won", uuid.MustParse("0190a5a0-0000-7000-8000-000000000002"), sales)
	_ = lead.SetString("contract_id", "HT-2026-001")
	move("won", uuid.MustParse("0190a5a0-0000-7000-8000-000000000002"), sales)
	move("service_onboarding", uuid.MustParse("0190a5a0-0000-7000-8000-000000000003"), service)
	fmt.Println("history service sees:")
	for _, h := range history {
		fmt.Printf("  %s %s -> %s\n", h.At.Format(time.DateOnly), h.From, h.To)
	}
	// Output:
	// marketing_lead -> sales_follow_up (event lead.handed_off)
	//   asks the host to route inbound_leads
	// refused: workflow: lead_to_service: field contract_id is required to move to "won": crm: failed precondition
	// sales_follow_up -> won (event lead.handed_off)
	//   asks the host to create_task onboard the customer
	// won -> service_onboarding (event lead.handed_off)
	// history service sees:
	//   2026-06-01 marketing_lead -> sales_follow_up
	//   2026-06-02 sales_follow_up -> won
	//   2026-06-03 won -> service_onboarding
}
