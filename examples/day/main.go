// Command day shows a salesperson's morning on crmkit, in memory: the
// work queues (follow-ups due, customers about to fall back into the
// public pool, approvals waiting, tickets by SLA, leads that turned hot)
// and one customer's 360° view.
//
//	go run ./examples/day
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "day:", err)
		os.Exit(1)
	}
}

// run tells the morning to w.
func run(ctx context.Context, w io.Writer) error {
	clock := crmtest.NewClock(time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids})
	if err != nil {
		return err
	}
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	if err := store.Departments().Create(ctx, sales); err != nil {
		return err
	}
	li := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "Li Wei", sales.ID })
	if err := store.Users().Create(ctx, li); err != nil {
		return err
	}

	// Yesterday's work: a customer Li owns, its contact, an opportunity,
	// a ticket, a call, and a follow-up planned for this morning.
	acme := crmtest.Customer(ids, func(x *crm.Customer) { x.Name, x.Phone = "华腾科技（北京）有限公司", "+86 138 0013 8000" })
	if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: acme, Actor: li.ID, Own: true}); err != nil {
		return err
	}
	st := c.Store()
	contact := crmtest.Contact(ids, acme.ID, func(x *crm.Contact) { x.Name, x.Title = "张敏", "采购经理" })
	deal := crmtest.Opportunity(ids, acme.ID, func(x *crm.Opportunity) { x.Name, x.OwnerID, x.DepartmentID = "Annual licence", li.ID, sales.ID })
	issue := crmtest.Ticket(ids, func(x *crm.Ticket) { x.CustomerID, x.AssigneeID, x.DepartmentID = acme.ID, li.ID, sales.ID })
	if err := st.Contacts().Create(ctx, contact); err != nil {
		return err
	}
	if err := st.Opportunities().Create(ctx, deal); err != nil {
		return err
	}
	if err := st.Tickets().Create(ctx, issue); err != nil {
		return err
	}
	call := crmtest.Activity(ids, crm.Ref{Type: crm.TypeContact, ID: contact.ID}, li.ID, func(a *crm.Activity) {
		a.OccurredAt, a.Note = clock.Now().Add(-20*time.Hour), "asked for a quote"
	})
	if _, err := c.RecordActivity(ctx, crmkit.RecordActivityRequest{Activity: call, Actor: li.ID}); err != nil {
		return err
	}
	followUp := crmtest.Task(ids, crm.Ref{Type: crm.TypeOpportunity, ID: deal.ID}, li.ID, func(t *crm.Task) {
		t.Title, t.DepartmentID, t.DueAt = "Send the quote", sales.ID, clock.Now().Add(time.Hour)
	})
	if err := st.Tasks().Create(ctx, followUp); err != nil {
		return err
	}

	// The morning's queues.
	fmt.Fprintf(w, "Good morning, %s.\n", li.Name)
	due, err := c.TasksDue(ctx, crmkit.TasksDueRequest{Viewer: li.ID, Before: clock.Now().Add(10 * time.Hour)})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Follow-ups due today: %d\n", len(due.Items))
	for _, t := range due.Items {
		fmt.Fprintf(w, "  %s  %s\n", t.DueAt.Format("15:04"), t.Title)
	}
	falling, err := c.FallingBack(ctx, crmkit.FallingBackRequest{Viewer: li.ID, Within: 3 * 24 * time.Hour})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Customers falling back to the pool within 3 days: %d\n", len(falling.Items))
	tickets, err := c.TicketsBySLA(ctx, crmkit.TicketsBySLARequest{Viewer: li.ID})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Tickets with a running SLA: %d\n", len(tickets.Items))

	// One read of the customer.
	v, err := c.View(ctx, li.ID, acme.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s (360° view)\n", v.Customer.Name)
	fmt.Fprintf(w, "  contacts %d, opportunities %d, tickets %d, activities %d, open tasks %d\n",
		len(v.Contacts.Items), len(v.Opportunities.Items), len(v.Tickets.Items), len(v.Activities.Items), len(v.Tasks.Items))
	if v.Ownership != nil {
		fmt.Fprintf(w, "  standing: %s\n", v.Ownership.Standing.State)
	}
	fmt.Fprintf(w, "  ownership ledger entries: %d\n", len(v.Ledger.Items))
	fmt.Fprintln(w, "  timeline, newest first:")
	for _, e := range v.Timeline.Items {
		fmt.Fprintf(w, "    %-22s %s\n", e.Type, e.Subject.Type)
	}
	return nil
}
