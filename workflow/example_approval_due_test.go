package workflow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// A host's scheduler fires approval step timeouts from storage: every few
// minutes it runs TickDue in units of work until nothing more is due. Three
// discount requests wait on the sales manager, who has 8 hours to answer;
// at the deadline all three escalate to the director, in batches of two.
func ExampleApprovals_TickDue() {
	rep := uuid.MustParse("0190a5a0-0000-7000-8000-000000000001")
	manager := uuid.MustParse("0190a5a0-0000-7000-8000-000000000002")
	director := uuid.MustParse("0190a5a0-0000-7000-8000-000000000003")
	org, _ := workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: rep}, Name: "Li Wei", Active: true},
		{Meta: crm.Meta{ID: manager}, Name: "Liu Yang", Roles: []string{"sales_manager"}, Active: true},
		{Meta: crm.Meta{ID: director}, Name: "Chen Jie", Roles: []string{"director"}, Active: true},
	}, nil, nil)
	schema, _ := cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	def, err := workflow.ParseDefinition(schema, org, []byte(`{
		"key": "quote_discount", "version": 1, "record_type": "opportunity",
		"steps": [{"name": "sales_manager", "approvers": [{"role": "sales_manager"}],
		           "timeout": "8h", "on_timeout": {"action": "escalate", "to": {"role": "director"}}}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	approvals, _ := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	store := memstore.New(&memstore.Config{Clock: clock})
	ctx := context.Background()
	inTx := func(fn func(ctx context.Context, w workflow.Tx) error) error {
		return store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			w, err := workflow.TxOf(tx)
			if err != nil {
				return err
			}
			return fn(ctx, w)
		})
	}

	quote := schema.NewRecord()
	_ = quote.SetNumber("discount_percent", decimal.RequireFromString("15"))
	for range 3 {
		opp := crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}
		if err := inTx(func(ctx context.Context, w workflow.Tx) error {
			_, err := approvals.SubmitTx(ctx, w, def, quote, opp, rep)
			return err
		}); err != nil {
			fmt.Println(err)
			return
		}
	}

	// The scheduler's job: batches until TickDue asks for no more.
	tick := func(now time.Time) {
		const limit = 2
		for {
			var res workflow.ApprovalTickResult
			if err := inTx(func(ctx context.Context, w workflow.Tx) error {
				var err error
				res, err = approvals.TickDue(ctx, w, now, limit)
				return err
			}); err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("%s: claimed %d, events %d\n", now.Format("15:04"), res.Claimed, len(res.Events))
			for _, in := range res.Saved {
				fmt.Println("  waiting on", len(in.PendingApprovers()), "approvers")
			}
			if !res.More(limit) {
				return
			}
		}
	}
	tick(clock.Advance(4 * time.Hour))
	tick(clock.Advance(4 * time.Hour))
	tick(clock.Now()) // again at the same instant: nothing fires twice

	pending, _ := store.Outbox().Pending(ctx, 100)
	escalations := 0
	for _, e := range pending {
		if e.Type == workflow.EventApprovalEscalated {
			escalations++
		}
	}
	fmt.Println("escalations in the outbox:", escalations)
	// Output:
	// 13:00: claimed 0, events 0
	// 17:00: claimed 2, events 2
	//   waiting on 2 approvers
	//   waiting on 2 approvers
	// 17:00: claimed 1, events 1
	//   waiting on 2 approvers
	// 17:00: claimed 0, events 0
	// escalations in the outbox: 3
}
