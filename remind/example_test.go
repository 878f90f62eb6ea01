package remind_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/store/memstore"
)

func Example() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})

	// A call due at 11:00, to be reminded of at 10:30.
	remindAt := clock.Now().Add(90 * time.Minute)
	call := crmtest.Task(ids, crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}, ids.NewID(), func(t *crm.Task) {
		t.Title, t.RemindAt, t.DueAt = "Call about the renewal", &remindAt, remindAt.Add(30*time.Minute)
	})
	if err := store.Tasks().Create(ctx, call); err != nil {
		panic(err)
	}

	sweeper, err := remind.New(store, &remind.Config{Clock: clock, IDs: ids})
	if err != nil {
		panic(err)
	}
	// The host's scheduler sweeps; at 10:45 the reminder is due, and a
	// second sweep at the same time fires nothing again.
	for range 2 {
		res, err := sweeper.Sweep(ctx, clock.Now().Add(105*time.Minute), 100)
		if err != nil {
			panic(err)
		}
		fmt.Println("fired:", res.Fired)
	}

	evs, _ := store.Outbox().Pending(ctx, 10)
	for _, ev := range evs {
		if ev.Type != remind.EventFired {
			continue
		}
		p, _ := crm.DecodePayload[remind.FiredPayload](ev)
		fmt.Println(p.Kind, p.Title, p.At.Format("15:04"))
	}
	// Output:
	// fired: map[task.reminder:1]
	// fired: map[]
	// task.reminder Call about the renewal 10:30
}
