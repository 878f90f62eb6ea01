package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Print("routing: ", err)
		os.Exit(1)
	}
}

const rulesJSON = `{
	"name": "inbound_leads", "record_type": "lead", "fallback_queue": "unassigned",
	"time_zone": "Asia/Shanghai",
	"rules": [
		{"name": "key_accounts", "when": {"field": "company_size", "range": {"gte": 1000}},
		 "target": {"queue": "key_accounts"}},
		{"name": "east_china", "when": {"field": "region", "in": ["cn-east", "cn-shanghai"]},
		 "target": {"team": "%s"}, "strategy": "round_robin"}
	]}`

// run tells the story to out.
func run(ctx context.Context, out io.Writer) error {
	// A fixed clock and sequential IDs keep the output the same on every run.
	clock := crmtest.NewClock(time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)) // Tuesday 10:00 in Shanghai
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})

	fmt.Fprintln(out, "1. The East China team: three salespeople, one of them on leave this week.")
	var users []*crm.User
	for _, name := range []string{"Li Wei", "Wang Fang", "Zhao Lei"} {
		u := crmtest.User(ids, func(u *crm.User) { u.Name, u.Capacity = name, 20 })
		if err := store.Users().Create(ctx, u); err != nil {
			return err
		}
		users = append(users, u)
	}
	team := crmtest.Team(ids, "East China", []crm.ID{users[0].ID, users[1].ID, users[2].ID})
	if err := store.Teams().Create(ctx, team); err != nil {
		return err
	}
	members := make([]workflow.Member, len(users))
	for i, u := range users {
		members[i] = workflow.MemberFromUser(u)
	}
	members[2].Absences = []workflow.Absence{{From: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC)}}

	schema, err := cond.NewSchema(
		cond.Field{Name: "region", Kind: cond.KindString},
		cond.Field{Name: "company_size", Kind: cond.KindNumber},
	)
	if err != nil {
		return err
	}
	rules, err := workflow.ParseRuleSet(fmt.Appendf(nil, rulesJSON, team.ID))
	if err != nil {
		return err
	}
	router, err := workflow.NewRouter(schema, rules, members, []workflow.Team{workflow.TeamFromCRM(team)})
	if err != nil {
		return err
	}
	names := map[crm.ID]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}

	fmt.Fprintln(out, "\n2. Four leads from Shanghai arrive; round robin skips Zhao Lei, who is away.")
	for i := range 4 {
		lead := crmtest.Lead(ids, func(l *crm.Lead) { l.Region, l.Company = "cn-shanghai", fmt.Sprintf("Shanghai Trading %d", i+1) })
		d, err := routeLead(ctx, store, router, ids, lead, clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   %s -> %s\n", lead.Company, names[d.UserID])
	}

	fmt.Fprintln(out, "\n3. The manager asks why the next one would go where it goes.")
	why, err := explain(ctx, store, router, crmtest.Lead(ids, func(l *crm.Lead) { l.Region = "cn-east" }), clock.Now())
	if err != nil {
		return err
	}
	for _, r := range why.Rules {
		fmt.Fprintf(out, "   rule %s matched: %v\n", r.Name, r.Matched)
	}
	for _, c := range why.Candidates {
		if c.Chosen {
			fmt.Fprintf(out, "   %s: chosen (open %d, today %d)\n", c.Name, c.Open, c.Today)
		} else {
			fmt.Fprintf(out, "   %s: skipped, %s\n", c.Name, c.Skipped)
		}
	}

	fmt.Fprintln(out, "\n4. A lead from Chengdu matches no rule and waits in the fallback queue.")
	d, err := routeLead(ctx, store, router, ids, crmtest.Lead(ids, func(l *crm.Lead) { l.Region = "cn-southwest" }), clock.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   queue %s (fallback: %v)\n", d.Queue, d.Fallback)

	fmt.Fprintln(out, "\n5. Every routing is an event in the outbox, stored with the lead.")
	events, err := store.Outbox().Pending(ctx, 100)
	if err != nil {
		return err
	}
	routed := 0
	for _, e := range events {
		if e.Type == "lead.routed" {
			routed++
		}
	}
	fmt.Fprintf(out, "   %d lead.routed events\n", routed)
	return nil
}

// record is the routing view of a lead.
func record(schema *cond.Schema, l *crm.Lead) (*cond.Record, error) {
	r := schema.NewRecord()
	if err := r.SetString("region", l.Region); err != nil {
		return nil, err
	}
	return r, nil
}

// routeLead stores the lead, routes it and records the owner in one unit of
// work: the round-robin cursor, the owner's load and the "lead.routed"
// event move with the lead.
func routeLead(ctx context.Context, store crm.Store, router *workflow.Router, ids crm.IDGenerator, lead *crm.Lead, now time.Time) (workflow.Decision, error) {
	var d workflow.Decision
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		rec, err := record(router.Schema(), lead)
		if err != nil {
			return err
		}
		if d, err = router.RouteTx(ctx, w, ids, lead.ID, &workflow.Request{Record: rec, Now: now}); err != nil {
			return err
		}
		lead.OwnerID = d.UserID
		return tx.Leads().Create(ctx, lead)
	})
	return d, err
}

// explain loads the stored routing state and explains the decision for
// lead without changing anything.
func explain(ctx context.Context, store crm.Store, router *workflow.Router, lead *crm.Lead, now time.Time) (*workflow.Explanation, error) {
	var why *workflow.Explanation
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		st := router.NewState()
		if err := w.Routing().LoadRouting(ctx, router.RuleSet().Name, router.Day(now), st); err != nil {
			return err
		}
		rec, err := record(router.Schema(), lead)
		if err != nil {
			return err
		}
		why, err = router.Explain(st, &workflow.Request{Record: rec, Now: now})
		return err
	})
	return why, err
}
