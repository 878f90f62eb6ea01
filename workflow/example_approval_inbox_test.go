package workflow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// An approver's inbox lists the requests waiting on them, the longest
// waiting first. Three quotes ask for a discount through the sales
// manager, then finance; once the manager approves one, it waits on
// finance, since the manager's approval. A team's inbox lists each
// request once, naming whom it waits on.
func ExampleApprovalService_Inbox() {
	rep := uuid.MustParse("0190a5a0-0000-7000-8000-000000000001")
	manager := uuid.MustParse("0190a5a0-0000-7000-8000-000000000002")
	finance := uuid.MustParse("0190a5a0-0000-7000-8000-000000000003")
	names := map[crm.ID]string{rep: "Li Wei", manager: "Liu Yang", finance: "Chen Jie"}
	org, _ := workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: rep}, Name: names[rep], Active: true},
		{Meta: crm.Meta{ID: manager}, Name: names[manager], Roles: []string{"sales_manager"}, Active: true},
		{Meta: crm.Meta{ID: finance}, Name: names[finance], Roles: []string{"finance"}, Active: true},
	}, nil, nil)
	schema, _ := cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	def, err := workflow.ParseDefinition(schema, org, []byte(`{
		"key": "quote_discount", "version": 1, "record_type": "opportunity",
		"steps": [{"name": "sales_manager", "approvers": [{"role": "sales_manager"}]},
		          {"name": "finance", "approvers": [{"role": "finance"}]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	engine, _ := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	svc, _ := workflow.NewApprovalService(memstore.New(&memstore.Config{Clock: clock}), engine, nil)
	ctx := context.Background()

	var quotes []*workflow.Instance
	for _, q := range []string{"Acme", "Globex", "Initech"} {
		opp := crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}
		names[opp.ID] = q
		in, err := svc.Submit(ctx, workflow.SubmitRequest{Definition: def, Record: schema.NewRecord(), Ref: opp, Submitter: rep})
		if err != nil {
			fmt.Println(err)
			return
		}
		quotes = append(quotes, in)
		clock.Advance(time.Hour)
	}
	if _, err := svc.Approve(ctx, workflow.DecisionRequest{InstanceID: quotes[1].ID, Actor: manager}); err != nil {
		fmt.Println(err)
		return
	}

	show := func(title string, req workflow.InboxRequest) {
		fmt.Println(title)
		page, err := svc.Inbox(ctx, req)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, it := range page.Items {
			var who []string
			for _, a := range it.Approvers {
				who = append(who, names[a])
			}
			fmt.Printf("  %s, waiting on %v since %s\n", names[it.Instance.Record.ID], who, it.WaitingSince.Format("15:04"))
		}
	}
	show("Liu Yang:", workflow.InboxRequest{Approver: manager})
	show("Chen Jie:", workflow.InboxRequest{Approver: finance})
	show("The team:", workflow.InboxRequest{Approvers: []crm.ID{finance, manager}})
	// Output:
	// Liu Yang:
	//   Acme, waiting on [Liu Yang] since 09:00
	//   Initech, waiting on [Liu Yang] since 11:00
	// Chen Jie:
	//   Globex, waiting on [Chen Jie] since 12:00
	// The team:
	//   Acme, waiting on [Liu Yang] since 09:00
	//   Initech, waiting on [Liu Yang] since 11:00
	//   Globex, waiting on [Chen Jie] since 12:00
}
