package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Print("approval: ", err)
		os.Exit(1)
	}
}

const chainJSON = `{
	"key": "quote_discount", "version": 1, "record_type": "opportunity",
	"entry": {"field": "discount_percent", "range": {"gt": 0}},
	"steps": [
		{"name": "sales_manager", "when": {"field": "discount_percent", "range": {"gt": 10}},
		 "approvers": [{"department_manager": {}}],
		 "timeout": "8h", "on_timeout": {"action": "escalate", "to": {"role": "director"}}},
		{"name": "director", "when": {"field": "discount_percent", "range": {"gt": 20}},
		 "approvers": [{"role": "director"}]},
		{"name": "finance", "when": {"field": "amount", "range": {"gt": "1000000 CNY"}},
		 "approvers": [{"role": "finance"}], "parallel": true}
	]}`

type world struct {
	out    io.Writer
	store  *memstore.Store
	crm    *crmkit.CRM
	clock  *crmtest.Clock
	ids    *crmtest.IDs
	schema *cond.Schema
	org    *workflow.Org
	names  map[crm.ID]string
	users  []*crm.User
}

// run tells the story to out.
func run(ctx context.Context, out io.Writer) error {
	// A fixed clock and sequential IDs keep the output the same on every run.
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC)) // Monday 09:00 in Shanghai
	ids := crmtest.NewIDs()
	w := &world{out: out, store: memstore.New(&memstore.Config{Clock: clock}), clock: clock, ids: ids, names: map[crm.ID]string{}}

	fmt.Fprintln(w.out, "1. The organisation: Sales (managed by Liu Yang), a director and finance.")
	fmt.Fprintln(w.out, "   Zhou Min (finance) is away this week; Wu Lan approves for her.")
	sales := crmtest.Department(ids, "Sales", crm.NilID)
	rep := w.user(func(u *crm.User) { u.Name, u.DepartmentID = "Li Wei", sales.ID })
	manager := w.user(func(u *crm.User) { u.Name, u.DepartmentID = "Liu Yang", sales.ID })
	director := w.user(func(u *crm.User) { u.Name, u.Roles = "Chen Jie", []string{"director"} })
	finance := w.user(func(u *crm.User) { u.Name, u.Roles = "Zhou Min", []string{"finance"} })
	deputy := w.user(func(u *crm.User) { u.Name = "Wu Lan" })
	away := workflow.Delegation{From: finance.ID, To: deputy.ID,
		Start: time.Date(2026, 5, 31, 16, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 7, 16, 0, 0, 0, time.UTC)}
	sales.ManagerID = manager.ID
	tree, err := crm.NewDepartmentTree([]crm.Department{*sales})
	if err != nil {
		return err
	}
	if w.org, err = workflow.NewOrg([]crm.User{*rep, *manager, *director, *finance, *deputy}, tree, []workflow.Delegation{away}); err != nil {
		return err
	}
	// The host's own directory: CreateCustomer reads the submitter (and
	// their department) from it.
	if err := w.store.Departments().Create(ctx, sales); err != nil {
		return err
	}
	for _, u := range w.users {
		if err := w.store.Users().Create(ctx, u); err != nil {
			return err
		}
	}
	if w.schema, err = cond.NewSchema(
		cond.Field{Name: "discount_percent", Kind: cond.KindNumber},
		cond.Field{Name: "amount", Kind: cond.KindMoney, Currency: "CNY"},
	); err != nil {
		return err
	}
	engine, err := workflow.NewApprovals(w.org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	if err != nil {
		return err
	}
	// The composition root runs the engine against the store: each
	// approval operation below is one call that loads the request, checks
	// its version, decides and stores it with its events.
	if w.crm, err = crmkit.New(w.store, &crmkit.Config{Clock: clock, IDs: ids, Approvals: engine}); err != nil {
		return err
	}

	fmt.Fprintln(w.out, "\n2. The chain is data: validated, then stored as version 1.")
	var spec workflow.DefinitionSpec
	if err := json.Unmarshal([]byte(chainJSON), &spec); err != nil {
		return err
	}
	if _, err := workflow.NewDefinition(w.schema, w.org, &spec); err != nil {
		return err
	}
	if err := w.inTx(ctx, func(ctx context.Context, tx workflow.Tx) error {
		return tx.ApprovalDefinitions().CreateDefinition(ctx, &spec)
	}); err != nil {
		return err
	}

	fmt.Fprintln(w.out, "\n3. An 8% discount on 500,000 CNY needs nobody: approved on submission.")
	small, err := w.submit(ctx, rep.ID, "8", "500000 CNY")
	if err != nil {
		return err
	}
	fmt.Fprintf(w.out, "   status %s\n", small.Status)

	fmt.Fprintln(w.out, "\n4. A 25% discount on 2,000,000 CNY goes to the sales manager first.")
	big, err := w.submit(ctx, rep.ID, "25", "2000000 CNY")
	if err != nil {
		return err
	}
	w.show(big)
	err = w.inTx(ctx, func(ctx context.Context, tx workflow.Tx) error {
		return workflow.CheckUnlocked(ctx, tx.ApprovalInstances(), big.Record)
	})
	fmt.Fprintf(w.out, "   editing the opportunity now is refused: %v\n", errors.Is(err, crm.ErrFailedPrecondition))

	fmt.Fprintln(w.out, "\n5. Liu Yang does not answer within 8 hours: the step escalates to the director.")
	clock.Advance(8 * time.Hour)
	// The host's scheduler ticks the due requests.
	if _, err := w.crm.Approvals.TickDue(ctx, clock.Now(), 100); err != nil {
		return err
	}
	if err := w.showID(ctx, big.ID); err != nil {
		return err
	}

	fmt.Fprintln(w.out, "\n6. Chen Jie approves for the manager, then as director; Wu Lan approves for finance.")
	for _, who := range []crm.ID{director.ID, director.ID, deputy.ID} {
		if _, err := w.crm.Approvals.Approve(ctx, workflow.DecisionRequest{InstanceID: big.ID, Actor: who}); err != nil {
			return err
		}
	}
	if err := w.showID(ctx, big.ID); err != nil {
		return err
	}

	fmt.Fprintln(w.out, "\n7. The outbox holds every change, ready for the host's relay.")
	events, err := w.store.Outbox().Pending(ctx, 100)
	if err != nil {
		return err
	}
	for _, e := range events {
		fmt.Fprintf(w.out, "   %d %s\n", e.Seq, e.Type)
	}
	return nil
}

func (w *world) user(edit func(*crm.User)) *crm.User {
	u := crmtest.User(w.ids, edit)
	w.names[u.ID] = u.Name
	w.users = append(w.users, u)
	return u
}

// inTx runs fn in one unit of work of the CRM with the workflow ports the
// definitions and the lock check need.
func (w *world) inTx(ctx context.Context, fn func(ctx context.Context, tx workflow.Tx) error) error {
	return w.crm.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		wtx, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return fn(ctx, wtx)
	})
}

// definition compiles the stored version a request runs on.
func (w *world) definition(ctx context.Context, tx workflow.Tx, version int) (*workflow.Definition, error) {
	spec, err := tx.ApprovalDefinitions().GetDefinition(ctx, "quote_discount", version)
	if err != nil {
		return nil, err
	}
	return workflow.NewDefinition(w.schema, w.org, spec)
}

// submit creates a customer and an opportunity with a discount and
// submits it for approval, in one unit of work: a refused submission keeps
// neither.
func (w *world) submit(ctx context.Context, by crm.ID, discount, amount string) (*workflow.Instance, error) {
	money, err := crm.ParseMoney(amount)
	if err != nil {
		return nil, err
	}
	rec := w.schema.NewRecord()
	if err := rec.SetNumber("discount_percent", decimal.RequireFromString(discount)); err != nil {
		return nil, err
	}
	if err := rec.SetMoney("amount", money); err != nil {
		return nil, err
	}
	var in *workflow.Instance
	err = w.inTx(ctx, func(ctx context.Context, tx workflow.Tx) error {
		def, err := w.definition(ctx, tx, 0)
		if err != nil {
			return err
		}
		customer, err := w.crm.CreateCustomerTx(ctx, tx, crmkit.CreateCustomerRequest{Customer: crmtest.Customer(w.ids), Actor: by, Own: true})
		if err != nil {
			return err
		}
		opp := crmtest.Opportunity(w.ids, customer.Customer.ID, func(o *crm.Opportunity) { o.Amount, o.OwnerID = money, by })
		if err := tx.Opportunities().Create(ctx, opp); err != nil {
			return err
		}
		in, err = w.crm.Approvals.SubmitTx(ctx, tx, workflow.SubmitRequest{
			Definition: def, Record: rec, Ref: crm.Ref{Type: crm.TypeOpportunity, ID: opp.ID}, Submitter: by,
		})
		return err
	})
	return in, err
}

// showID prints the stored request id.
func (w *world) showID(ctx context.Context, id crm.ID) error {
	in, err := w.crm.Approvals.Get(ctx, id)
	if err != nil {
		return err
	}
	w.show(in)
	return nil
}

func (w *world) show(in *workflow.Instance) {
	fmt.Fprintf(w.out, "   status %s, definition version %d, locked %v\n", in.Status, in.DefinitionVersion, in.IsLocked())
	for _, s := range in.Steps {
		fmt.Fprintf(w.out, "   step %-13s %-8s", s.Name, s.Status)
		for _, t := range s.Tasks {
			decision := t.Decision
			switch {
			case decision != "":
			case s.Status == workflow.StepActive:
				decision = "waiting"
			default:
				// The step settled without this approver's answer.
				decision = "no answer needed"
			}
			fmt.Fprintf(w.out, " %s: %s", w.names[t.Approver], decision)
			if t.OnBehalfOf != crm.NilID {
				fmt.Fprintf(w.out, " (for %s)", w.names[t.OnBehalfOf])
			}
			if t.Escalated {
				fmt.Fprint(w.out, " (escalated)")
			}
			fmt.Fprint(w.out, ";")
		}
		fmt.Fprintln(w.out)
	}
}
