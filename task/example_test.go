package task_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/task"
)

// Example books a weekly visit, completes the first occurrence with the
// activity that answered it, and gets the next one.
func Example() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	tasks, err := task.New(store, &task.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	agent := crmtest.User(ids)
	cust := crmtest.Customer(ids)
	if err := store.Users().Create(ctx, agent); err != nil {
		panic(err)
	}
	if err := store.Customers().Create(ctx, cust); err != nil {
		panic(err)
	}
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	res, err := tasks.Create(ctx, task.CreateRequest{Actor: agent.ID, Task: &crm.Task{
		Kind: crm.TaskAppointment, Title: "Weekly visit", AssigneeID: agent.ID,
		Subject: crm.Ref{Type: crm.TypeCustomer, ID: cust.ID}, StartAt: &start, EndAt: &end,
		Recurrence: &crm.Recurrence{Every: 1, Unit: crm.EveryWeek, Count: 4},
	}})
	if err != nil {
		panic(err)
	}
	visit := crmtest.Activity(ids, crm.Ref{Type: crm.TypeCustomer, ID: cust.ID}, agent.ID)
	if err := store.Activities().Create(ctx, visit); err != nil {
		panic(err)
	}
	done, err := tasks.Complete(ctx, task.CompleteRequest{TaskID: res.Task.ID, ActivityID: visit.ID, Actor: agent.ID})
	if err != nil {
		panic(err)
	}
	fmt.Println(done.Task.Status, done.Task.CompletedBy == visit.ID)
	fmt.Println("next:", done.Next.Occurrence, done.Next.StartAt.Format(time.DateTime))

	// A to-do due before it is planned is refused, naming the field.
	_, err = tasks.Create(ctx, task.CreateRequest{Task: &crm.Task{
		Title: "Call back", AssigneeID: agent.ID, Subject: crm.Ref{Type: crm.TypeCustomer, ID: cust.ID},
		DueAt: start.Add(-72 * time.Hour),
	}})
	var ve *crm.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Field)
	// Output:
	// done true
	// next: 2 2026-03-09 10:00:00
	// true due_at
}

// ExampleService_Due lists an agent's overdue tasks, then the tasks due
// within a day, a page at a time.
func ExampleService_Due() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	tasks, err := task.New(store, &task.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	agent := crmtest.User(ids)
	cust := crmtest.Customer(ids)
	if err := store.Users().Create(ctx, agent); err != nil {
		panic(err)
	}
	if err := store.Customers().Create(ctx, cust); err != nil {
		panic(err)
	}
	for _, plan := range []struct {
		title string
		in    time.Duration
	}{{"Send the quote", time.Hour}, {"Call back", 30 * time.Minute}, {"Visit", 30 * time.Hour}} {
		_, err := tasks.Create(ctx, task.CreateRequest{Actor: agent.ID, Task: &crm.Task{
			Title: plan.title, AssigneeID: agent.ID, Subject: crm.Ref{Type: crm.TypeCustomer, ID: cust.ID},
			DueAt: clock.Now().Add(plan.in),
		}})
		if err != nil {
			panic(err)
		}
	}
	clock.Advance(45 * time.Minute)
	overdue, err := tasks.Due(ctx, task.DueRequest{Actor: agent.ID})
	if err != nil {
		panic(err)
	}
	fmt.Println("overdue:", len(overdue.Items), overdue.Items[0].Title)
	req := task.DueRequest{Actor: agent.ID, Before: clock.Now().Add(24 * time.Hour), Page: crm.PageRequest{Limit: 1}}
	for {
		page, err := tasks.Due(ctx, req)
		if err != nil {
			panic(err)
		}
		for _, t := range page.Items {
			fmt.Println("due:", t.Title)
		}
		if page.NextCursor == "" {
			break
		}
		req.Page.Cursor = page.NextCursor
	}
	// Output:
	// overdue: 1 Call back
	// due: Call back
	// due: Send the quote
}
