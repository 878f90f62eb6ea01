package ticket_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// A normal ticket must be resolved within 8 hours. The agent answers it
// after one hour, waits two days on the customer (which the SLA does not
// count), resolves it, and the customer gives 5 at the close.
func Example() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	policies, err := workflow.ParseSLAPolicies([]byte(`{"policies": [
		{"name": "resolution", "target": "8h", "on_breach": [{"kind": "escalate"}]}]}`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	svc, err := ticket.New(store, &ticket.Config{Clock: clock, IDs: crmtest.NewIDs(),
		SLA: map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: policies[0]}})
	if err != nil {
		fmt.Println(err)
		return
	}
	agent := crm.ID{15: 1}
	tk, err := svc.Create(ctx, ticket.CreateRequest{Ticket: &crm.Ticket{Subject: "Cannot log in"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tk.Status, tk.Priority)

	clock.Advance(time.Hour)
	m, _ := svc.Respond(ctx, ticket.RespondRequest{TicketID: tk.ID, Actor: agent})
	fmt.Println(m.Ticket.Status, "first response at", m.Ticket.FirstResponseAt.Format("15:04"))
	m, _ = svc.Transition(ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketPending, Actor: agent})
	fmt.Println(m.Ticket.Status, "timer", m.Event.Timer)
	clock.Advance(48 * time.Hour)
	m, _ = svc.Transition(ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen})
	fmt.Println(m.Ticket.Status, "timer", m.Event.Timer)
	m, _ = svc.Transition(ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketResolved, Actor: agent})
	fmt.Println(m.Ticket.Status, "timer", m.Event.Timer, "with", len(m.Late), "breaches")

	_, err = svc.Close(ctx, ticket.CloseRequest{TicketID: tk.ID, Satisfaction: 6})
	fmt.Println(err)
	m, _ = svc.Close(ctx, ticket.CloseRequest{TicketID: tk.ID, Satisfaction: 5})
	fmt.Println(m.Ticket.Status, "satisfaction", m.Ticket.Satisfaction)
	_, err = svc.Transition(ctx, ticket.TransitionRequest{TicketID: tk.ID, To: crm.TicketOpen})
	fmt.Println(err)

	events, _ := store.Outbox().Pending(ctx, 100)
	for _, e := range events {
		fmt.Print(e.Type, " ")
	}
	fmt.Println()
	// Output:
	// new normal
	// open first response at 10:00
	// pending timer paused
	// open timer resumed
	// resolved timer stopped with 0 breaches
	// ticket: close 00000000-0000-7000-8000-000000000001: invalid satisfaction: must be between 1 and 5, or 0 for none, got 6
	// closed satisfaction 5
	// ticket: status: cannot move from closed to open: a closed ticket is final; raise a new one
	// ticket.raised ticket.responded ticket.suspended ticket.opened ticket.resolved ticket.closed
}

// An agent's queue of tickets by SLA due time: the one waiting on the
// customer leaves it while its timer is paused, and comes back due later.
func ExampleService_BySLA() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	policies, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "resolution", "target": "8h"}]}`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	svc, err := ticket.New(store, &ticket.Config{Clock: clock, IDs: crmtest.NewIDs(),
		SLA: map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: policies[0]}})
	if err != nil {
		fmt.Println(err)
		return
	}
	agent := crm.ID{15: 1}
	var ids []crm.ID
	for _, subject := range []string{"Cannot log in", "Invoice is wrong"} {
		tk, err := svc.Create(ctx, ticket.CreateRequest{Ticket: &crm.Ticket{Subject: subject, AssigneeID: agent}})
		if err != nil {
			fmt.Println(err)
			return
		}
		ids = append(ids, tk.ID)
		clock.Advance(time.Hour)
	}
	show := func() {
		page, err := svc.BySLA(ctx, ticket.SLARequest{Actor: agent})
		if err != nil {
			fmt.Println(err)
			return
		}
		var line []string
		for _, tk := range page.Items {
			line = append(line, tk.Subject+" due "+tk.SLADueAt.Format("15:04"))
		}
		fmt.Println(strings.Join(line, "; "))
	}
	move := func(to crm.TicketStatus) {
		if _, err := svc.Transition(ctx, ticket.TransitionRequest{TicketID: ids[0], To: to, Actor: agent}); err != nil {
			fmt.Println(err)
		}
	}
	show()
	move(crm.TicketOpen)
	move(crm.TicketPending) // two of its eight hours used
	show()
	clock.Advance(3 * time.Hour)
	move(crm.TicketOpen) // six hours left from 14:00
	show()
	// Output:
	// Cannot log in due 17:00; Invoice is wrong due 18:00
	// Invoice is wrong due 18:00
	// Invoice is wrong due 18:00; Cannot log in due 20:00
}
