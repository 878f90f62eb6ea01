// Command quickstart tells a short CRM story on the in-memory store: an
// organisation with departments and salespeople, a lead captured from a web
// form, a customer with a follow-up recorded in one unit of work, and a stale
// edit refused.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.SetFlags(0)
		log.Print("quickstart: ", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	clock := crm.SystemClock{}
	ids := crm.UUIDv7{Clock: clock}
	store := memstore.New(&memstore.Config{Clock: clock})

	fmt.Println("1. An organisation: a company with a sales department and its East China team.")
	company := &crm.Department{Meta: crm.Meta{ID: ids.NewID()}, Name: "Huateng Group"}
	sales := &crm.Department{Meta: crm.Meta{ID: ids.NewID()}, Name: "Sales", ParentID: company.ID}
	east := &crm.Department{Meta: crm.Meta{ID: ids.NewID()}, Name: "Sales East China", ParentID: sales.ID}
	liWei := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "李伟", Email: "li.wei@huateng.example",
		DepartmentID: east.ID, Roles: []string{"sales"}, Regions: []string{"cn-east"}, Capacity: 50, Active: true}
	zhang := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "张敏", Email: "zhang.min@huateng.example",
		DepartmentID: sales.ID, Roles: []string{"sales_manager"}, Active: true}
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, d := range []*crm.Department{company, sales, east} {
			if err := tx.Departments().Create(ctx, d); err != nil {
				return err
			}
		}
		sales.ManagerID = zhang.ID
		for _, u := range []*crm.User{liWei, zhang} {
			if err := tx.Users().Create(ctx, u); err != nil {
				return err
			}
		}
		return tx.Departments().Update(ctx, sales)
	})
	if err != nil {
		return fmt.Errorf("set up organisation: %w", err)
	}
	fmt.Printf("   %s > %s > %s; %s sells in %v, managed by %s\n", company.Name, sales.Name, east.Name, liWei.Name, liWei.Regions, zhang.Name)

	// A cycle in the tree is refused with the field that caused it.
	company.ParentID = east.ID
	err = store.Departments().Update(ctx, company)
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		fmt.Printf("   moving the company below its own team is refused: %s: %s\n", ve.Field, ve.Reason)
	}
	company.ParentID = crm.NilID

	fmt.Println("2. Marketing captures a lead from the web form.")
	lead := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "王芳", Company: "华腾科技(北京)有限公司",
		Title: "采购经理", Phone: "+86 138-0013-8000", Source: "web_form", Region: "cn-east", Industry: "manufacturing"}
	if err := store.Leads().Create(ctx, lead); err != nil {
		return fmt.Errorf("capture lead: %w", err)
	}
	fmt.Printf("   lead %q from %s, status %s\n", lead.Name, lead.Company, lead.Status)

	fmt.Println("3. Li Wei takes the account: customer, deal and first follow-up in one unit of work.")
	amount, err := crm.ParseMoney("280000.00 CNY")
	if err != nil {
		return err
	}
	customer := &crm.Customer{Meta: crm.Meta{ID: ids.NewID()}, Name: lead.Company, Level: "A",
		Industry: lead.Industry, Region: lead.Region, Source: lead.Source, Phone: lead.Phone,
		OwnerID: liWei.ID, DepartmentID: east.ID, Fields: crm.Fields{"wechat_group": crm.Bool(true)}}
	deal := &crm.Opportunity{Meta: crm.Meta{ID: ids.NewID()}, CustomerID: customer.ID, Name: "ERP rollout 2026",
		Amount: amount, Stage: crm.StageProposal, Probability: 40, OwnerID: liWei.ID, DepartmentID: east.ID}
	next := clock.Now().Add(72 * time.Hour)
	call := &crm.Activity{Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.ActivityCall,
		Subject: crm.Ref{Type: crm.TypeCustomer, ID: customer.ID}, ActorID: liWei.ID,
		OccurredAt: clock.Now(), Note: "Discussed rollout scope; send proposal", NextFollowUpAt: &next}
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := tx.Customers().Create(ctx, customer); err != nil {
			return err
		}
		if err := tx.Opportunities().Create(ctx, deal); err != nil {
			return err
		}
		if err := tx.Activities().Create(ctx, call); err != nil {
			return err
		}
		customer.LastFollowUpAt = &call.OccurredAt
		if err := tx.Customers().Update(ctx, customer); err != nil {
			return err
		}
		ev, err := crm.NewEvent(ids, clock, crm.EventActivityRecorded, call.Subject, liWei.ID,
			map[string]string{"activity_id": call.ID.String(), "kind": string(call.Kind)})
		if err != nil {
			return err
		}
		return tx.Events().Append(ctx, &ev)
	})
	if err != nil {
		return fmt.Errorf("take account: %w", err)
	}
	fmt.Printf("   %s owns %s (version %d), deal %q worth %s\n", liWei.Name, customer.Name, customer.Version, deal.Name, deal.Amount)

	// A unit of work that fails leaves nothing behind.
	bad := &crm.Opportunity{Meta: crm.Meta{ID: ids.NewID()}, CustomerID: customer.ID, Name: "Typo deal", Probability: 140}
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		customer.Level = "S"
		if err := tx.Customers().Update(ctx, customer); err != nil {
			return err
		}
		return tx.Opportunities().Create(ctx, bad)
	})
	stored, _ := store.Customers().Get(ctx, customer.ID)
	fmt.Printf("   a deal with probability 140 is refused (%v); the level change in the same unit of work is undone: level %s, version %d\n",
		errors.Is(err, crm.ErrInvalidArgument), stored.Level, stored.Version)

	fmt.Println("4. Two people edit the customer at once; the stale edit is refused.")
	mine, _ := store.Customers().Get(ctx, customer.ID)
	theirs, _ := store.Customers().Get(ctx, customer.ID)
	mine.Level = "A+"
	if err := store.Customers().Update(ctx, mine); err != nil {
		return err
	}
	theirs.Level = "B"
	err = store.Customers().Update(ctx, theirs)
	fmt.Printf("   first edit saved (version %d); second edit: conflict=%v\n", mine.Version, errors.Is(err, crm.ErrConflict))

	fmt.Println("5. The outbox holds the events to publish, in order.")
	events, err := store.Outbox().Pending(ctx, 10)
	if err != nil {
		return err
	}
	for _, e := range events {
		fmt.Printf("   #%d %s on %s\n", e.Seq, e.Type, e.Subject.Type)
	}
	ack := make([]crm.ID, len(events))
	for i, e := range events {
		ack[i] = e.ID
	}
	if err := store.Outbox().Ack(ctx, ack...); err != nil {
		return err
	}
	page, err := store.Customers().List(ctx, crm.CustomerFilter{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{sales.ID}}}, crm.PageRequest{Limit: 20})
	if err != nil {
		return err
	}
	fmt.Printf("6. Zhang Min's view of the sales department tree lists %d customer(s): %s\n", len(page.Items), page.Items[0].Name)
	return nil
}
