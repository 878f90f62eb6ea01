package workflow_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/workflow"
)

// A lead from East China goes to the inside-sales team by load; the
// manager asks why it went to Wang Fang.
func ExampleRouter_Explain() {
	schema, _ := cond.NewSchema(
		cond.Field{Name: "region", Kind: cond.KindString},
		cond.Field{Name: "company_size", Kind: cond.KindNumber},
	)
	liWei := uuid.MustParse("0190a5a0-0000-7000-8000-000000000001")
	wangFang := uuid.MustParse("0190a5a0-0000-7000-8000-000000000002")
	zhaoLei := uuid.MustParse("0190a5a0-0000-7000-8000-000000000003")
	team := uuid.MustParse("0190a5a0-0000-7000-8000-0000000000aa")

	rules, err := workflow.ParseRuleSet([]byte(`{
		"name": "inbound_leads", "record_type": "lead", "fallback_queue": "unassigned",
		"rules": [
			{"name": "key_accounts", "when": {"field": "company_size", "range": {"gte": 1000}},
			 "target": {"queue": "key_accounts"}},
			{"name": "east_china", "when": {"field": "region", "in": ["cn-east", "cn-shanghai"]},
			 "target": {"team": "0190a5a0-0000-7000-8000-0000000000aa"}, "strategy": "least_loaded"}
		]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	members := []workflow.Member{
		{UserID: liWei, Name: "Li Wei", Active: true, Capacity: 20},
		{UserID: wangFang, Name: "Wang Fang", Active: true, Capacity: 20},
		{UserID: zhaoLei, Name: "Zhao Lei", Active: true, Absences: []workflow.Absence{{
			From: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC)}}},
	}
	router, err := workflow.NewRouter(schema, rules, members, []workflow.Team{{ID: team, Members: []uuid.UUID{liWei, wangFang, zhaoLei}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	state := router.NewState()
	state.SetLoad(liWei, 12, 3)
	state.SetLoad(wangFang, 7, 2)

	lead := schema.NewRecord()
	_ = lead.SetString("region", "cn-shanghai")
	_ = lead.SetNumber("company_size", decimal.NewFromInt(80))
	why, err := router.Explain(state, &workflow.Request{Record: lead, Now: time.Date(2026, 6, 2, 3, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(why.Decision.UserID == wangFang)
	fmt.Println(why)
	// Output:
	// true
	// rule key_accounts did not match
	// rule east_china matched
	// strategy least_loaded
	//   Li Wei: skipped, another candidate ranked higher
	//   Wang Fang: chosen (open 7, today 2)
	//   Zhao Lei: skipped, absent
	// -> user 0190a5a0-0000-7000-8000-000000000002
}
