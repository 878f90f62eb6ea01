package workflow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// A ticket must get a first answer within 4 business hours. It arrives on
// Friday at 16:00, so the warning fires on Monday at 10:00 and the breach
// at 11:00, which escalates to the team lead; each Tick stores the timer
// and its event in one unit of work.
func ExampleTick() {
	day := []calendar.Span{{Start: "09:00", End: "18:00"}}
	office, _ := calendar.New(&calendar.Spec{Name: "support", TimeZone: "Asia/Shanghai", Week: map[string][]calendar.Span{
		"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day}})
	policies, err := workflow.ParseSLAPolicies([]byte(`{"policies": [
		{"name": "first_response", "target": "4h", "warn": "3h", "calendar": "support",
		 "on_warn": [{"kind": "notify", "department": "0190a5a0-0000-7000-8000-0000000000e1", "title": "answer the ticket within the hour"}],
		 "on_breach": [{"kind": "create_task", "department": "0190a5a0-0000-7000-8000-0000000000e1",
		                "title": "team lead: ticket not answered in 4 business hours"}]}]}`),
		map[string]*calendar.Calendar{"support": office})
	if err != nil {
		fmt.Println(err)
		return
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	clock := crmtest.NewClock(time.Date(2026, 6, 5, 16, 0, 0, 0, shanghai))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	ctx := context.Background()

	ticket := crm.Ref{Type: crm.TypeTicket, ID: ids.NewID()}
	timer, _ := policies[0].Start(ids.NewID(), ticket, clock.Now(), clock.Now())
	tick := func(now time.Time) {
		_ = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			if timer.Version == 0 {
				return w.Timers().CreateTimer(ctx, &timer)
			}
			fs, err := workflow.Tick(ctx, w, ids, now, 100)
			for _, f := range fs {
				fmt.Println(now.In(shanghai).Format("Mon 15:04"), f.EventType())
				for _, a := range policies[0].Actions(f) {
					fmt.Printf("  %s: %s\n", a.Kind, a.Title)
				}
			}
			return err
		})
	}
	tick(clock.Now())
	for _, at := range []string{"2026-06-06 12:00", "2026-06-08 10:00", "2026-06-08 10:30", "2026-06-08 11:00", "2026-06-08 11:00"} {
		now, _ := time.ParseInLocation("2006-01-02 15:04", at, shanghai)
		tick(now)
	}
	pending, _ := store.Outbox().Pending(ctx, 10)
	fmt.Println("events in the outbox:", len(pending))
	// Output:
	// Mon 10:00 sla.warned
	//   notify: answer the ticket within the hour
	// Mon 11:00 sla.breached
	//   create_task: team lead: ticket not answered in 4 business hours
	// events in the outbox: 2
}
