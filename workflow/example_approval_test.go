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

// A 25% discount on a 2,000,000 CNY contract needs the sales manager, then
// the director and finance in parallel. The manager does not answer within
// 8 hours, so the request escalates to the director.
func ExampleApprovals() {
	rep := uuid.MustParse("0190a5a0-0000-7000-8000-000000000001")
	manager := uuid.MustParse("0190a5a0-0000-7000-8000-000000000002")
	director := uuid.MustParse("0190a5a0-0000-7000-8000-000000000003")
	finance := uuid.MustParse("0190a5a0-0000-7000-8000-000000000004")
	salesDept := uuid.MustParse("0190a5a0-0000-7000-8000-0000000000d1")
	tree, _ := crm.NewDepartmentTree([]crm.Department{{Meta: crm.Meta{ID: salesDept}, Name: "Sales", ManagerID: manager}})
	org, _ := workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: rep}, Name: "Li Wei", DepartmentID: salesDept, Active: true},
		{Meta: crm.Meta{ID: manager}, Name: "Liu Yang", DepartmentID: salesDept, Active: true},
		{Meta: crm.Meta{ID: director}, Name: "Chen Jie", Roles: []string{"director"}, Active: true},
		{Meta: crm.Meta{ID: finance}, Name: "Zhou Min", Roles: []string{"finance"}, Active: true},
	}, tree, nil)
	schema, _ := cond.NewSchema(
		cond.Field{Name: "discount_percent", Kind: cond.KindNumber},
		cond.Field{Name: "amount", Kind: cond.KindMoney, Currency: "CNY"},
	)
	def, err := workflow.ParseDefinition(schema, org, []byte(`{
		"key": "quote_discount", "version": 1, "record_type": "opportunity",
		"steps": [
			{"name": "sales_manager", "when": {"field": "discount_percent", "range": {"gt": 10}},
			 "approvers": [{"department_manager": {}}],
			 "timeout": "8h", "on_timeout": {"action": "escalate", "to": {"role": "director"}}},
			{"name": "director", "when": {"field": "discount_percent", "range": {"gt": 20}},
			 "approvers": [{"role": "director"}]},
			{"name": "finance", "when": {"field": "amount", "range": {"gt": "1000000 CNY"}},
			 "approvers": [{"role": "finance"}], "parallel": true}
		]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	approvals, _ := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: crmtest.NewIDs(), Clock: clock})

	quote := schema.NewRecord()
	_ = quote.SetNumber("discount_percent", decimal.RequireFromString("25"))
	amount, _ := crm.ParseMoney("2000000 CNY")
	_ = quote.SetMoney("amount", amount)
	opp := crm.Ref{Type: crm.TypeOpportunity, ID: uuid.MustParse("0190a5a0-0000-7000-8000-0000000000f1")}

	req, events, err := approvals.Submit(def, quote, opp, rep)
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(evs []crm.Event) {
		for _, e := range evs {
			fmt.Println("event:", e.Type)
		}
	}
	show(events)
	fmt.Println("locked:", req.IsLocked())

	events, _ = approvals.Tick(req, clock.Advance(8*time.Hour))
	show(events)
	events, _ = approvals.Approve(req, director, "approved for the manager")
	show(events)
	_, _ = approvals.Approve(req, director, "")
	events, _ = approvals.Approve(req, finance, "")
	show(events)
	fmt.Println("status:", req.Status, "locked:", req.IsLocked())
	// Output:
	// event: approval.submitted
	// locked: true
	// event: approval.escalated
	// event: approval.step_approved
	// event: approval.step_approved
	// event: approval.approved
	// status: approved locked: false
}
