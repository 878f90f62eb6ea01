package dedupe_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/store/memstore"
)

// newExampleService returns a service on a fresh in-memory store with a
// fixed clock and sequential IDs.
func newExampleService() (*dedupe.Service, *memstore.Store) {
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	if err != nil {
		panic(err)
	}
	svc, err := dedupe.NewService(store, mt, &dedupe.ServiceConfig{Clock: clock, IDs: crmtest.NewIDs()})
	if err != nil {
		panic(err)
	}
	return svc, store
}

func ExampleService_Enter() {
	ctx := context.Background()
	svc, _ := newExampleService()
	liWei := crmtest.SequentialID(1000)
	form := dedupe.Policy{BlockScore: 10, WarnScore: 4}
	_, err := svc.Enter(ctx, dedupe.EntryRequest{Policy: form,
		Customer: &crm.Customer{Name: "北京华腾科技有限公司", Phone: "13800138000", OwnerID: liWei}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Another rep types the same company another way.
	_, err = svc.Enter(ctx, dedupe.EntryRequest{Policy: form,
		Customer: &crm.Customer{Name: "华腾科技(北京)有限公司", Phone: "+86 138-0013-8000"}})
	var blocked *dedupe.BlockedError
	if errors.As(err, &blocked) {
		fmt.Println("blocked, duplicates", blocked.Existing.Name)
		fmt.Println("owner is Li Wei:", blocked.Best.OwnerID == liWei)
		fmt.Println("already exists:", errors.Is(err, crm.ErrAlreadyExists))
	}
	// Output:
	// blocked, duplicates 北京华腾科技有限公司
	// owner is Li Wei: true
	// already exists: true
}

func ExampleService_Check() {
	ctx := context.Background()
	svc, _ := newExampleService()
	for _, c := range []*crm.Customer{
		{Name: "北京华腾科技有限公司", Phone: "13800138000"},
		{Name: "Acme Widgets Ltd.", Phone: "+44 20 7946 0958"},
	} {
		if _, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: c}); err != nil {
			fmt.Println(err)
			return
		}
	}
	cands, err := svc.Check(ctx, &crm.Customer{Name: "华腾科技有限公司", Phone: "010 8888 6666"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cands {
		fmt.Println(c.Class, c.Reasons[0])
	}
	// Output:
	// possible_match company: exact (+10.6)
}

func ExampleService_Merge() {
	ctx := context.Background()
	svc, store := newExampleService()
	var ids []crm.ID
	for _, c := range []*crm.Customer{
		{Name: "上海远航物流有限公司", Phone: "021-6888 1234"},
		{Name: "远航物流", Phone: "+86 21 6888 1234", Email: "sales@yuanhang.example"},
	} {
		res, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: c})
		if err != nil {
			fmt.Println(err)
			return
		}
		ids = append(ids, res.Customer.ID)
	}
	m, err := svc.Merge(ctx, dedupe.MergeRequest{SurvivorID: ids[0], LoserIDs: ids[1:]})
	if err != nil {
		fmt.Println(err)
		return
	}
	golden, _ := store.Customers().Get(ctx, ids[0])
	fmt.Println("merged:", golden.Name, golden.Email)
	if err := svc.Undo(ctx, m, crm.NilID); err != nil {
		fmt.Println(err)
		return
	}
	restored, _ := store.Customers().Get(ctx, ids[0])
	fmt.Printf("undone: %s %q\n", restored.Name, restored.Email)
	// Output:
	// merged: 上海远航物流有限公司 sales@yuanhang.example
	// undone: 上海远航物流有限公司 ""
}

// A contact is a duplicate only within its customer: the same name and
// phone, written another way, is refused whatever the policy.
func ExampleService_EnterContact() {
	ctx := context.Background()
	svc, _ := newExampleService()
	cust, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	id := cust.Customer.ID
	_, err = svc.EnterContact(ctx, dedupe.ContactEntryRequest{Contact: &crm.Contact{CustomerID: id, Name: "李伟", Phones: []string{"13800138000"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = svc.EnterContact(ctx, dedupe.ContactEntryRequest{Contact: &crm.Contact{CustomerID: id, Name: "李 伟", Phones: []string{"+86 138-0013-8000"}}})
	var blocked *dedupe.ContactBlockedError
	if errors.As(err, &blocked) {
		fmt.Println("blocked, same name and phone:", blocked.StrongKey, blocked.Existing.Name)
	}
	// A colleague on the same switchboard is another person.
	res, err := svc.EnterContact(ctx, dedupe.ContactEntryRequest{Contact: &crm.Contact{CustomerID: id, Name: "王芳", Phones: []string{"13800138000"}},
		Policy: dedupe.Policy{BlockScore: 10}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Action)
	// Output:
	// blocked, same name and phone: true 李伟
	// allow
}

// A merge folds the contacts of the merged customers that are one person
// into the survivor's own, and its undo puts them back.
func ExampleService_Merge_contacts() {
	ctx := context.Background()
	svc, store := newExampleService()
	enter := func(name, phone string) crm.ID {
		res, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: &crm.Customer{Name: name, Phone: phone}})
		if err != nil {
			panic(err)
		}
		return res.Customer.ID
	}
	survivor, loser := enter("北京华腾科技有限公司", "13800138000"), enter("华腾科技有限公司", "+86 138-0013-8000")
	for _, c := range []*crm.Contact{
		{CustomerID: survivor, Name: "李伟", Phones: []string{"13800138000"}},
		{CustomerID: loser, Name: "李伟", Phones: []string{"+86 138 0013 8000"}, Emails: []string{"liwei@huateng.cn"}},
	} {
		if _, err := svc.EnterContact(ctx, dedupe.ContactEntryRequest{Contact: c}); err != nil {
			panic(err)
		}
	}
	count := func(id crm.ID) int {
		p, _ := store.Contacts().List(ctx, crm.ContactFilter{CustomerIDs: []crm.ID{id}}, crm.PageRequest{Limit: 10})
		return len(p.Items)
	}
	m, err := svc.Merge(ctx, dedupe.MergeRequest{SurvivorID: survivor, LoserIDs: []crm.ID{loser}})
	if err != nil {
		fmt.Println(err)
		return
	}
	kept, _ := store.Contacts().Get(ctx, m.Contacts[0].Kept.ID)
	fmt.Println("contacts after the merge:", count(survivor), kept.Name, kept.Emails)
	if err := svc.Undo(ctx, m, crm.NilID); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after the undo:", count(survivor), count(loser))
	// Output:
	// contacts after the merge: 1 李伟 [liwei@huateng.cn]
	// after the undo: 1 1
}

func ExampleService_EnterManyTx() {
	ctx := context.Background()
	svc, store := newExampleService()
	form := dedupe.Policy{BlockScore: 10, WarnScore: 4}
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		out, err := svc.EnterManyTx(ctx, tx, dedupe.EntryManyRequest{Policy: form, Customers: []*crm.Customer{
			{Name: "北京华腾科技有限公司", Phone: "13800138000"},
			{Name: "上海明达贸易有限公司", Phone: "13900139000"},
			// The first company again, typed another way: checked against
			// the customers entered before it in the same call.
			{Name: "华腾科技(北京)有限公司", Phone: "+86 138-0013-8000"},
		}})
		if err != nil {
			return err
		}
		for _, o := range out {
			if o.Blocked != nil {
				fmt.Println("blocked, duplicates", o.Blocked.Existing.Name)
				continue
			}
			fmt.Println("entered", o.Entered.Customer.Name)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// entered 北京华腾科技有限公司
	// entered 上海明达贸易有限公司
	// blocked, duplicates 北京华腾科技有限公司
}
