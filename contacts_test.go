package crmkit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/store/memstore"
)

func TestCreateContactChecksTheCustomersContactsAndThePolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	dept := crmtest.Department(ids, "Sales", crm.NilID)
	require.NoError(t, store.Departments().Create(ctx, dept))
	rep := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"rep"} })
	stranger := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"rep"} })
	for _, u := range []*crm.User{rep, stranger} {
		require.NoError(t, store.Users().Create(ctx, u))
	}
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "customer", "fields": ["name"]}],
	  "roles": [{"name": "rep", "rules": [
	    {"id": "rep.create", "record_type": "customer", "actions": ["create"], "scope": "all"},
	    {"id": "rep.own", "record_type": "customer", "actions": ["view", "edit"], "scope": "own"}]}]
	}`), []*crm.Department{dept}, nil)
	require.NoError(t, err)
	c, err := crmkit.New(store, &crmkit.Config{IDs: ids, Permissions: policy})
	require.NoError(t, err)
	cust, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Actor: rep.ID, Own: true,
		Customer: &crm.Customer{Name: "北京华腾科技有限公司"}})
	require.NoError(t, err)
	id := cust.Customer.ID
	count := func() int {
		page, err := store.Contacts().List(ctx, crm.ContactFilter{CustomerIDs: []crm.ID{id}}, crm.PageRequest{Limit: 100})
		require.NoError(t, err)
		return len(page.Items)
	}

	first, err := c.CreateContact(ctx, crmkit.CreateContactRequest{Actor: rep.ID,
		Contact: &crm.Contact{CustomerID: id, Name: "李伟", Phones: []string{"13800138000"}}})
	require.NoError(t, err)
	require.NotEqual(t, crm.NilID, first.Contact.ID)

	for _, tc := range []struct {
		name  string
		req   crmkit.CreateContactRequest
		check func(t *testing.T, err error)
	}{
		{"the same person again, written otherwise", crmkit.CreateContactRequest{Actor: rep.ID,
			Contact: &crm.Contact{CustomerID: id, Name: "李 伟", Phones: []string{"+86 138-0013-8000"}}},
			func(t *testing.T, err error) {
				var blocked *dedupe.ContactBlockedError
				require.ErrorAs(t, err, &blocked)
				require.ErrorIs(t, err, crm.ErrAlreadyExists)
			}},
		{"someone who may not edit the customer", crmkit.CreateContactRequest{Actor: stranger.ID,
			Contact: &crm.Contact{CustomerID: id, Name: "王芳", Phones: []string{"13900139000"}}},
			func(t *testing.T, err error) { require.ErrorIs(t, err, crm.ErrPermissionDenied) }},
		{"an unknown customer", crmkit.CreateContactRequest{Actor: rep.ID,
			Contact: &crm.Contact{CustomerID: ids.NewID(), Name: "王芳"}},
			func(t *testing.T, err error) { require.ErrorIs(t, err, crm.ErrNotFound) }},
		{"no contact", crmkit.CreateContactRequest{Actor: rep.ID},
			func(t *testing.T, err error) { requireField(t, err, "contact") }},
		{"no customer", crmkit.CreateContactRequest{Actor: rep.ID, Contact: &crm.Contact{Name: "王芳"}},
			func(t *testing.T, err error) { requireField(t, err, "contact.customer_id") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateContact(ctx, tc.req)
			tc.check(t, err)
			require.Equal(t, 1, count(), "a refused contact writes nothing")
		})
	}

	// The same name at another number may be the same person: a policy
	// that warns stores it and names the contact it may duplicate.
	res, err := c.CreateContact(ctx, crmkit.CreateContactRequest{Actor: rep.ID,
		Contact: &crm.Contact{CustomerID: id, Name: "李伟", Emails: []string{"li.wei@huateng.cn"}},
		Policy:  &dedupe.Policy{WarnScore: 1, BlockScore: 1000}})
	require.NoError(t, err)
	require.Equal(t, 2, count())
	require.NotEmpty(t, res.Candidates, "the warning names the contact of the same name")
	require.Equal(t, crm.Ref{Type: crm.TypeContact, ID: first.Contact.ID}, res.Candidates[0].Record)
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "want a validation error, got %v", err)
	require.Equal(t, field, ve.Field)
}

func TestConvertingALeadIntoACustomerThatHasItsPersonReusesTheContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	c, err := crmkit.New(store, &crmkit.Config{IDs: ids})
	require.NoError(t, err)
	cust, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司"}})
	require.NoError(t, err)
	id := cust.Customer.ID
	existing, err := c.CreateContact(ctx, crmkit.CreateContactRequest{
		Contact: &crm.Contact{CustomerID: id, Name: "李伟", Phones: []string{"13800138000"}}})
	require.NoError(t, err)

	convert := func(name, phone string) *crm.Contact {
		t.Helper()
		l := crmtest.Lead(ids, func(l *crm.Lead) { l.Name, l.Phone, l.Company = name, phone, "北京华腾科技有限公司" })
		require.NoError(t, store.Leads().Create(ctx, l))
		conv, err := c.Leads.Convert(ctx, lead.ConvertRequest{LeadID: l.ID, CustomerID: id})
		require.NoError(t, err)
		require.True(t, conv.Attached)
		return conv.Contact
	}
	again := convert("李 伟", "+86 138-0013-8000")
	require.Equal(t, existing.Contact.ID, again.ID, "the customer's contact is the lead's person")
	other := convert("王芳", "13900139000")
	require.NotEqual(t, existing.Contact.ID, other.ID)
	page, err := store.Contacts().List(ctx, crm.ContactFilter{CustomerIDs: []crm.ID{id}}, crm.PageRequest{Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Items, 2, "李伟 once, 王芳 once")
}
