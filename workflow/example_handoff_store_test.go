package workflow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// MoveTx keeps the stage and the history in the store: each move reads
// where the record stands, checks the move and stores the new stage with
// its event in the host's unit of work.
func ExampleMachine_MoveTx() {
	schema, _ := cond.NewSchema(cond.Field{Name: "priority", Kind: cond.KindString})
	m, err := workflow.ParseMachine(schema, nil, []byte(`{"name": "ticket_flow", "record_type": "ticket", "initial": "open",
		"stages": ["open", "waiting_on_customer", "solved"],
		"transitions": [{"from": "open", "to": "waiting_on_customer"}, {"from": "waiting_on_customer", "to": "solved"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	ticket, agent := ids.NewID(), ids.NewID()

	move := func(to string) {
		err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			_, err = m.MoveTx(ctx, w, ids, ticket, &workflow.Move{Record: schema.NewRecord(), To: to, Actor: agent, At: clock.Now()})
			return err
		})
		if err != nil {
			fmt.Println("refused:", err)
		}
		clock.Advance(time.Hour)
	}
	move("solved") // not straight from open
	move("waiting_on_customer")
	move("solved")

	_ = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, _ := workflow.TxOf(tx)
		st, err := w.Handoffs().GetHandoff(ctx, "ticket_flow", crm.Ref{Type: crm.TypeTicket, ID: ticket})
		if err != nil {
			return err
		}
		fmt.Printf("stage %s after %d moves (version %d)\n", st.Stage, len(st.History), st.Version)
		for _, h := range st.History {
			fmt.Printf("  %s %s -> %s\n", h.At.Format("15:04"), h.From, h.To)
		}
		return nil
	})
	pending, _ := store.Outbox().Pending(ctx, 10)
	fmt.Println(len(pending), "events, the first", pending[0].Type)
	// Output:
	// refused: workflow: ticket_flow: no transition from "open" to "solved": crm: failed precondition
	// stage solved after 2 moves (version 2)
	//   10:00 open -> waiting_on_customer
	//   11:00 waiting_on_customer -> solved
	// 2 events, the first ticket.handed_off
}
