package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
)

// runDedupeContacts checks contact deduplication within a customer: entries
// decided by the policy, concurrent entries of one contact, and the folding
// of one person's contacts when customers merge, with its undo.
func runDedupeContacts(t *testing.T, h Harness) {
	t.Run("AContactEntryDecidesByThePolicy", func(t *testing.T) { testContactEntryMatrix(t, h) })
	test(t, h, "OfSixteenConcurrentEntriesOfOneContactExactlyOneIsStored", testConcurrentContactEntries)
	t.Run("AMergeFoldsContactsThatAreOnePerson", func(t *testing.T) { testMergeFoldMatrix(t, h) })
	test(t, h, "AMergeFoldsOnePersonsContactsAndItsUndoRestoresThem", testMergeFoldAndUndo)
	test(t, h, "BadContactInputNamesTheFieldAndWritesNothing", testContactBadInput)
}

// enterCustomer stores a customer through svc.
func (e *env) enterCustomer(t *testing.T, svc *dedupe.Service, name, phone string) *crm.Customer {
	t.Helper()
	res, err := svc.Enter(e.ctx, dedupe.EntryRequest{Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: name, Phone: phone}})
	require.NoError(t, err)
	return res.Customer
}

// contactsOf returns the stored contacts of a customer.
func (e *env) contactsOf(t *testing.T, customer crm.ID) []*crm.Contact {
	t.Helper()
	p, err := e.store.Contacts().List(e.ctx, crm.ContactFilter{CustomerIDs: []crm.ID{customer}}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return p.Items
}

func person(name string, phones, emails []string) func(*crm.Contact) {
	return func(c *crm.Contact) { c.Name, c.Phones, c.Emails = name, phones, emails }
}

func testContactEntryMatrix(t *testing.T, h Harness) {
	block, warn := dedupe.Policy{BlockScore: 10}, dedupe.Policy{WarnScore: 10}
	stored := person("李伟", []string{"13800138000"}, []string{"liwei@huateng.cn"})
	for _, tc := range []struct {
		name      string
		policy    dedupe.Policy
		entered   func(*crm.Contact)
		elsewhere bool // entered at another customer
		want      dedupe.Action
		strong    bool
	}{
		{"TheSameNameAndPhoneIsBlockedWhateverThePolicy", warn, person("李伟", []string{"+86 138-0013-8000"}, nil), false, dedupe.Block, true},
		{"TheSameNameAndEmailIsBlockedByScore", block, person("李伟", nil, []string{"LiWei@huateng.cn"}), false, dedupe.Block, false},
		{"TheSameNameAndEmailIsWarnedAboutByScore", warn, person("李伟", nil, []string{"LiWei@huateng.cn"}), false, dedupe.Warn, false},
		{"AnotherPersonIsLetIn", block, person("王芳", []string{"13900139000"}, []string{"wangfang@huateng.cn"}), false, dedupe.Allow, false},
		{"AColleagueOnTheSameSwitchboardIsLetIn", block, person("王芳", []string{"13800138000"}, nil), false, dedupe.Allow, false},
		{"TheSamePersonAtAnotherCustomerIsLetIn", block, person("李伟", []string{"13800138000"}, []string{"liwei@huateng.cn"}), true, dedupe.Allow, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, h)
			svc := e.dedupeService(t)
			cust := e.enterCustomer(t, svc, "北京华腾科技有限公司", "010-62345678")
			first, err := svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, cust.ID, stored)})
			require.NoError(t, err)
			target := cust.ID
			if tc.elsewhere {
				target = e.enterCustomer(t, svc, "上海明远贸易有限公司", "021-55501234").ID
			}
			c := crmtest.Contact(e.ids, target, tc.entered)
			res, err := svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: c, Policy: tc.policy})
			if tc.want == dedupe.Block {
				require.ErrorIs(t, err, crm.ErrAlreadyExists)
				var be *dedupe.ContactBlockedError
				require.ErrorAs(t, err, &be)
				require.Equal(t, first.Contact.ID, be.Existing.ID)
				require.Equal(t, crm.Ref{Type: crm.TypeContact, ID: first.Contact.ID}, be.Best.Record)
				require.Equal(t, tc.strong, be.StrongKey)
				_, err := e.store.Contacts().Get(e.ctx, c.ID)
				require.ErrorIs(t, err, crm.ErrNotFound, "a blocked entry stores nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Action)
			if tc.want == dedupe.Warn {
				require.Equal(t, first.Contact.ID, res.Candidates[0].Record.ID)
			}
			require.Len(t, e.contactsOf(t, cust.ID), map[bool]int{true: 1, false: 2}[tc.elsewhere])
		})
	}
}

func testConcurrentContactEntries(t *testing.T, e *env) {
	svc := e.dedupeService(t)
	cust := e.enterCustomer(t, svc, "北京华腾科技有限公司", "010-62345678")
	const n = 16
	var stored atomic.Int32
	errs := make([]error, n)
	poolParallel(n, func(i int) {
		phone := "13800138000"
		if i%2 == 1 {
			phone = "+86 138 0013 8000"
		}
		// A policy that never blocks on score: only the strong key stops them.
		_, errs[i] = svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, cust.ID, person("李伟", []string{phone}, nil))})
		if errs[i] == nil {
			stored.Add(1)
		}
	})
	require.Equal(t, int32(1), stored.Load(), "errors: %v", errs)
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, crm.ErrAlreadyExists)
		}
	}
	require.Len(t, e.contactsOf(t, cust.ID), 1)
}

// twoCustomers stores two customers that are one company (the score
// decides; their strong keys differ) for a merge.
func (e *env) twoCustomers(t *testing.T, svc *dedupe.Service) (survivor, loser *crm.Customer) {
	t.Helper()
	return e.enterCustomer(t, svc, "北京华腾科技有限公司", "13800138000"), e.enterCustomer(t, svc, "华腾科技有限公司", "+86 138-0013-8000")
}

func testMergeFoldMatrix(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name     string
		own      func(*crm.Contact)
		theirs   func(*crm.Contact)
		folded   bool
		phones   []string
		emailsOK []string
	}{
		{"TheSameNameAndPhoneFold", person("李伟", []string{"13800138000"}, nil), person("李伟", []string{"+86 138-0013-8000"}, []string{"liwei@huateng.cn"}),
			true, []string{"13800138000"}, []string{"liwei@huateng.cn"}},
		{"TheSameNameAndEmailFold", person("Li Wei", nil, []string{"li.wei@huateng.cn"}), person("LI WEI", []string{"13900139000"}, []string{"Li.Wei@huateng.cn"}),
			true, []string{"13900139000"}, []string{"li.wei@huateng.cn"}},
		{"ASharedSwitchboardWithAnotherNameStaysApart", person("李伟", []string{"010-62345678"}, nil), person("王芳", []string{"010-62345678"}, nil),
			false, nil, nil},
		{"TheSameNameAloneStaysApart", person("Wang Wei", nil, nil), person("Wang Wei", nil, nil), false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, h)
			svc := e.dedupeService(t)
			survivor, loser := e.twoCustomers(t, svc)
			own := crmtest.Contact(e.ids, survivor.ID, tc.own)
			theirs := crmtest.Contact(e.ids, loser.ID, tc.theirs)
			require.NoError(t, e.store.Contacts().Create(e.ctx, own))
			require.NoError(t, e.store.Contacts().Create(e.ctx, theirs))
			m, err := svc.Merge(e.ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}})
			require.NoError(t, err)
			got := e.contactsOf(t, survivor.ID)
			if !tc.folded {
				require.Len(t, got, 2)
				require.Empty(t, m.Contacts)
				return
			}
			require.Len(t, got, 1, "one person, one contact")
			require.Equal(t, own.ID, got[0].ID, "the survivor's own contact lives on")
			require.Equal(t, own.Name, got[0].Name)
			for _, p := range tc.phones {
				require.Contains(t, got[0].Phones, p)
			}
			for _, em := range tc.emailsOK {
				require.Contains(t, got[0].Emails, em)
			}
			require.Len(t, m.Contacts, 1)
			require.Equal(t, theirs.ID, m.Contacts[0].Removed[0].ID)
		})
	}
}

func testMergeFoldAndUndo(t *testing.T, e *env) {
	svc := e.dedupeService(t)
	survivor, loser := e.twoCustomers(t, svc)
	own := crmtest.Contact(e.ids, survivor.ID, person("李伟", []string{"13800138000"}, []string{"liwei@huateng.cn"}))
	own.Title = "CTO"
	theirs := crmtest.Contact(e.ids, loser.ID, person("李伟", []string{"+86 138-0013-8000", "010-62345678"}, []string{"wei.li@gmail.com"}))
	theirs.Fields = crm.Fields{"wechat": crm.String("liwei88")}
	other := crmtest.Contact(e.ids, loser.ID, person("王芳", []string{"13900139000"}, nil))
	call := crmtest.Activity(e.ids, crm.Ref{Type: crm.TypeContact, ID: theirs.ID}, e.ids.NewID())
	ticket := crmtest.Ticket(e.ids, func(tk *crm.Ticket) { tk.CustomerID, tk.ContactID = loser.ID, theirs.ID })
	require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := errors.Join(tx.Contacts().Create(ctx, own), tx.Contacts().Create(ctx, theirs), tx.Contacts().Create(ctx, other)); err != nil {
			return err
		}
		if err := svc.IndexContactTx(ctx, tx, own); err != nil {
			return err
		}
		return errors.Join(tx.Activities().Create(ctx, call), tx.Tickets().Create(ctx, ticket))
	}))

	m, err := svc.Merge(e.ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}})
	require.NoError(t, err)
	got := e.contactsOf(t, survivor.ID)
	require.Len(t, got, 2, "李伟 once, 王芳 once")
	kept, err := e.store.Contacts().Get(e.ctx, own.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"13800138000", "010-62345678"}, kept.Phones, "the kept contact takes the numbers it lacks")
	require.Equal(t, []string{"liwei@huateng.cn", "wei.li@gmail.com"}, kept.Emails)
	require.Equal(t, "CTO", kept.Title)
	wechat, _ := kept.Fields["wechat"].Str()
	require.Equal(t, "liwei88", wechat)
	_, err = e.store.Contacts().Get(e.ctx, theirs.ID)
	require.ErrorIs(t, err, crm.ErrNotFound, "the duplicate contact is gone")
	gotCall, err := e.store.Activities().Get(e.ctx, call.ID)
	require.NoError(t, err)
	require.Equal(t, own.ID, gotCall.Subject.ID, "its activities follow the person")
	gotTicket, err := e.store.Tickets().Get(e.ctx, ticket.ID)
	require.NoError(t, err)
	require.Equal(t, own.ID, gotTicket.ContactID, "its tickets follow the person")
	require.Equal(t, survivor.ID, gotTicket.CustomerID)
	block := dedupe.Policy{BlockScore: 10}
	_, err = svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, survivor.ID, person("李伟", []string{"010-62345678"}, nil)), Policy: block})
	require.ErrorIs(t, err, crm.ErrAlreadyExists, "the merged contact's keys cover every number it now has")

	require.NoError(t, svc.Undo(e.ctx, m, crm.NilID))
	for _, want := range []*crm.Contact{own, theirs, other} {
		got, err := e.store.Contacts().Get(e.ctx, want.ID)
		require.NoError(t, err, "contact %s is back", want.Name)
		w := want.Clone()
		w.Version, w.CreatedAt, w.UpdatedAt = got.Version, got.CreatedAt, got.UpdatedAt
		requireSame(t, w, got)
	}
	gotCall, err = e.store.Activities().Get(e.ctx, call.ID)
	require.NoError(t, err)
	require.Equal(t, theirs.ID, gotCall.Subject.ID)
	gotTicket, err = e.store.Tickets().Get(e.ctx, ticket.ID)
	require.NoError(t, err)
	require.Equal(t, theirs.ID, gotTicket.ContactID)
	require.Equal(t, loser.ID, gotTicket.CustomerID)
	require.Len(t, e.contactsOf(t, survivor.ID), 1)
	require.Len(t, e.contactsOf(t, loser.ID), 2)
	// The restored contact is the loser's again: entering it there is
	// refused, at the survivor it is not.
	_, err = svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, loser.ID, person("李伟", []string{"010-62345678"}, nil)), Policy: block})
	require.ErrorIs(t, err, crm.ErrAlreadyExists)
	_, err = svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, survivor.ID, person("李伟", []string{"010-62345678"}, nil)), Policy: block})
	require.NoError(t, err)
}

func testContactBadInput(t *testing.T, e *env) {
	svc := e.dedupeService(t)
	cust := e.enterCustomer(t, svc, "北京华腾科技有限公司", "010-62345678")
	for _, tc := range []struct {
		name  string
		req   dedupe.ContactEntryRequest
		field string
	}{
		{"NoContact", dedupe.ContactEntryRequest{}, "contact"},
		{"NoCustomer", dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, crm.NilID)}, "customer_id"},
		{"NoName", dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, cust.ID, person(" ", nil, nil))}, "name"},
		{"ABadEmail", dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, cust.ID, person("李伟", nil, []string{"not-an-email"}))}, "emails[0]"},
		{"AWarningAboveTheBlock", dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, cust.ID), Policy: dedupe.Policy{BlockScore: 5, WarnScore: 8}}, "policy.warn_score"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := svc.EnterContact(e.ctx, tc.req)
				requireInvalid(t, err, tc.field)
			})
		})
	}
	require.Empty(t, e.contactsOf(t, cust.ID))
	_, err := svc.EnterContact(e.ctx, dedupe.ContactEntryRequest{Contact: crmtest.Contact(e.ids, e.ids.NewID())})
	require.ErrorIs(t, err, crm.ErrNotFound, "a contact of an unknown customer")
}
