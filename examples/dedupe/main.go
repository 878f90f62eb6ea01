package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Print("dedupe: ", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	// A recording store keeps every change's history and change event
	// (crmkit.New records by itself).
	rec, err := history.New(&history.Config{Clock: clock, IDs: ids})
	if err != nil {
		return err
	}
	store := rec.WrapStore(memstore.New(&memstore.Config{Clock: clock}))
	mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	if err != nil {
		return err
	}
	svc, err := dedupe.NewService(store, mt, &dedupe.ServiceConfig{Clock: clock, IDs: ids})
	if err != nil {
		return err
	}
	// The web form blocks strong matches and warns about possible ones.
	form := dedupe.Policy{BlockScore: 10, WarnScore: 4}

	liWei := &crm.User{Meta: crm.Meta{ID: ids.NewID()}, Name: "李伟", Email: "li.wei@example.com"}
	if err := store.Users().Create(ctx, liWei); err != nil {
		return err
	}
	existing := &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Phone: "13800138000", OwnerID: liWei.ID}
	if _, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: existing, Policy: form, ActorID: liWei.ID}); err != nil {
		return err
	}
	fmt.Fprintf(w, "stored: %s (%s), owned by %s\n", existing.Name, existing.Phone, liWei.Name)

	// 1. The entry check blocks the duplicate.
	typed := &crm.Customer{Kind: crm.CustomerCompany, Name: "华腾科技(北京)有限公司", Phone: "+86 138-0013-8000"}
	fmt.Fprintf(w, "\nentering: %s (%s)\n", typed.Name, typed.Phone)
	_, err = svc.Enter(ctx, dedupe.EntryRequest{Customer: typed, Policy: form})
	var blocked *dedupe.BlockedError
	if !errors.As(err, &blocked) {
		return fmt.Errorf("want the entry blocked, got %v", err)
	}
	owner, err := store.Users().Get(ctx, blocked.Best.OwnerID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "blocked: this looks like %s, owned by %s\n", blocked.Existing.Name, owner.Name)
	fmt.Fprintf(w, "  %s (score %.1f)", blocked.Best.Class, blocked.Best.Score)
	if blocked.StrongKey {
		fmt.Fprint(w, "; same company and region, which only one customer may hold")
	}
	fmt.Fprintln(w)
	for _, r := range blocked.Best.Reasons {
		if r.Level != dedupe.LevelMissing {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	page, err := store.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "customers stored: %d\n", len(page.Items))

	// 2. Two duplicates entered before the check existed are merged.
	survivor := &crm.Customer{Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.CustomerCompany,
		Name: "上海远航物流有限公司", Phone: "021-6888 1234", Source: "crm"}
	loser := &crm.Customer{Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.CustomerCompany,
		Name: "远航物流", Phone: "+86 21 6888 1234", Email: "sales@yuanhang.example",
		Address: "上海市浦东新区张江路88号", Industry: "logistics", Source: "import"}
	contact := &crm.Contact{Meta: crm.Meta{ID: ids.NewID()}, CustomerID: loser.ID, Name: "王芳"}
	call := &crm.Activity{Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.ActivityCall, ActorID: liWei.ID,
		Subject: crm.Ref{Type: crm.TypeCustomer, ID: loser.ID}, OccurredAt: clock.Now(), Note: "asked for a quote"}
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, c := range []*crm.Customer{survivor, loser} {
			if err := tx.Customers().Create(ctx, c); err != nil {
				return err
			}
			if err := svc.IndexCustomerTx(ctx, tx, c); err != nil {
				return err
			}
		}
		if err := tx.Contacts().Create(ctx, contact); err != nil {
			return err
		}
		return tx.Activities().Create(ctx, call)
	})
	if err != nil {
		return err
	}
	cands, err := svc.Check(ctx, survivor)
	if err != nil {
		return err
	}
	if len(cands) == 0 {
		return errors.New("want the two customers to match")
	}
	fmt.Fprintf(w, "\n%s and %s: %s (score %.1f)\n", survivor.Name, loser.Name, cands[0].Class, cands[0].Score)

	m, err := svc.Merge(ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}, ActorID: liWei.ID})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "merged:")
	for _, g := range m.Result.Golden {
		if g.Value.Value == "" {
			continue
		}
		from := "survivor"
		if g.Value.From != survivor.ID.String() {
			from = "duplicate"
		}
		fmt.Fprintf(w, "  %-7s %s (%s, from the %s)", g.Field, g.Value.Value, g.Rule, from)
		for _, o := range g.Others {
			fmt.Fprintf(w, "; also %s", o.Value)
		}
		fmt.Fprintln(w)
	}
	golden, err := store.Customers().Get(ctx, survivor.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  industry %s (taken from the duplicate)\n", golden.Industry)
	fmt.Fprintf(w, "re-pointed: %d records\n", len(m.Repointed))
	if err := printWhereabouts(ctx, w, store, contact.ID, call.ID, survivor, loser); err != nil {
		return err
	}
	merged, err := store.Customers().Get(ctx, loser.ID)
	if err != nil {
		return err
	}
	into, _ := merged.Fields[dedupe.MergedIntoField].Str()
	fmt.Fprintf(w, "%s is kept, merged into %s\n", merged.Name, nameOf(into, survivor, loser))

	// 3. The merge is undone.
	if err := svc.Undo(ctx, m, liWei.ID); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nundone:")
	for _, c := range []*crm.Customer{survivor, loser} {
		got, err := store.Customers().Get(ctx, c.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s: email %q, industry %q\n", got.Name, got.Email, got.Industry)
	}
	if err := printWhereabouts(ctx, w, store, contact.ID, call.ID, survivor, loser); err != nil {
		return err
	}
	events, err := store.Outbox().Pending(ctx, 100)
	if err != nil {
		return err
	}
	fmt.Fprint(w, "events:")
	for _, e := range events {
		fmt.Fprintf(w, " %s", e.Type)
	}
	fmt.Fprintln(w)
	return nil
}

// printWhereabouts says which customer the contact and the call belong to.
func printWhereabouts(ctx context.Context, w io.Writer, store crm.Store, contactID, callID crm.ID, a, b *crm.Customer) error {
	c, err := store.Contacts().Get(ctx, contactID)
	if err != nil {
		return err
	}
	act, err := store.Activities().Get(ctx, callID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  contact %s belongs to %s; the call belongs to %s\n", c.Name,
		nameOf(c.CustomerID.String(), a, b), nameOf(act.Subject.ID.String(), a, b))
	return nil
}

func nameOf(id string, cs ...*crm.Customer) string {
	for _, c := range cs {
		if c.ID.String() == id {
			return c.Name
		}
	}
	return id
}
