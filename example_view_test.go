package crmkit_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/store/memstore"
)

// One read of a customer for a service agent whose role sees customers
// (not their phones) and tickets, and nothing else: the phone reads empty
// and is named in Masked, the sections the agent may not see are left out
// with the reason, and the timeline runs newest first through the rest.
func ExampleCRM_View() {
	ctx := context.Background()
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	service := crmtest.Department(ids, "Service", crm.NilID)
	if err := store.Departments().Create(ctx, service); err != nil {
		fmt.Println(err)
		return
	}
	agent := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = service.ID, []string{"agent"} })
	if err := store.Users().Create(ctx, agent); err != nil {
		fmt.Println(err)
		return
	}
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "customer", "fields": ["phone"]}, {"name": "contact"}, {"name": "ticket"}],
	  "roles": [{"name": "agent",
	    "rules": [{"record_type": "customer", "actions": ["view"], "scope": "all"},
	              {"record_type": "ticket", "actions": ["view"], "scope": "all"}],
	    "fields": [{"record_type": "customer", "field": "phone", "access": "hidden"}]}]
	}`), []*crm.Department{service}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := crmkit.New(store, &crmkit.Config{IDs: ids, Permissions: policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The customer, a contact and a ticket, as an import would store them.
	cust := &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Phone: "+86 10 6552 9988"}
	if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: cust}); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Store().Contacts().Create(ctx, crmtest.Contact(ids, cust.ID)); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Store().Tickets().Create(ctx, crmtest.Ticket(ids, func(t *crm.Ticket) { t.CustomerID = cust.ID })); err != nil {
		fmt.Println(err)
		return
	}

	v, err := c.View(ctx, agent.ID, cust.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s, phone %q (masked: %v)\n", v.Customer.Name, v.Customer.Phone, v.Masked[crm.TypeCustomer])
	fmt.Println("tickets:", len(v.Tickets.Items))
	for _, o := range v.Omitted {
		fmt.Printf("left out: %s (%s)\n", o.Section, o.Reason)
	}
	for _, e := range v.Timeline.Items {
		fmt.Println("timeline:", e.Type)
	}
	// Output:
	// 北京华腾科技有限公司, phone "" (masked: [phone])
	// tickets: 1
	// left out: contacts (the viewer's roles grant no view of contact records)
	// left out: opportunities (the viewer's roles grant no view of opportunity records)
	// left out: activities (the viewer's roles grant no view of activity records)
	// left out: tasks (the viewer's roles grant no view of task records)
	// timeline: ticket.created
	// timeline: customer.created
}
