package crmkit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// A sales manager's team inbox lists the approval requests waiting on
// anyone of the departments the manager runs, the longest waiting first,
// each once with the people it waits on.
func ExampleCRM_Inbox() {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	boss := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "Liu Yang", sales.ID })
	sales.ManagerID = boss.ID
	east := crmtest.Department(ids, "Sales East", sales.ID)
	wang := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "Wang Fang", sales.ID })
	zhao := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "Zhao Lei", east.ID })
	rep := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "Li Wei", east.ID })
	for _, d := range []*crm.Department{sales, east} {
		if err := store.Departments().Create(ctx, d); err != nil {
			fmt.Println(err)
			return
		}
	}
	users := []crm.User{}
	names := map[crm.ID]string{}
	for _, u := range []*crm.User{boss, wang, zhao, rep} {
		if err := store.Users().Create(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
		users, names[u.ID] = append(users, *u), u.Name
	}
	org, _ := workflow.NewOrg(users, nil, nil)
	engine, _ := workflow.NewApprovals(org, &workflow.ApprovalsConfig{Clock: clock, IDs: ids})
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids, Approvals: engine})
	if err != nil {
		fmt.Println(err)
		return
	}
	schema, _ := cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	ask := func(name string, approvers ...*crm.User) {
		spec := `{"key": "discount", "version": 1, "record_type": "opportunity", "steps": [{"name": "review", "rule": "all", "approvers": [`
		for i, a := range approvers {
			if i > 0 {
				spec += ", "
			}
			spec += fmt.Sprintf(`{"user": %q}`, a.ID)
		}
		def, err := workflow.ParseDefinition(schema, org, []byte(spec+`]}]}`))
		if err != nil {
			fmt.Println(err)
			return
		}
		opp := crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}
		names[opp.ID] = name
		if _, err := c.Approvals.Submit(ctx, workflow.SubmitRequest{Definition: def, Record: schema.NewRecord(), Ref: opp, Submitter: rep.ID}); err != nil {
			fmt.Println(err)
		}
		clock.Advance(90 * time.Minute)
	}
	ask("Acme renewal", wang)
	ask("Globex upsell", wang, zhao)
	ask("Initech pilot", zhao)

	page, err := c.Inbox(ctx, crmkit.InboxRequest{Viewer: boss.ID, Team: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range page.Items {
		fmt.Printf("%s since %s, waiting on", names[it.Instance.Record.ID], it.WaitingSince.Format("15:04"))
		for _, a := range it.Approvers {
			fmt.Print(" ", names[a])
		}
		fmt.Println()
	}
	// Output:
	// Acme renewal since 09:00, waiting on Wang Fang
	// Globex upsell since 10:30, waiting on Wang Fang Zhao Lei
	// Initech pilot since 12:00, waiting on Zhao Lei
}
