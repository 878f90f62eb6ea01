package crmkit_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/store/memstore"
)

// A contact is checked against its customer's other contacts: the same
// person written another way is refused, naming the contact already there.
func ExampleCRM_CreateContact() {
	ctx := context.Background()
	c, err := crmkit.New(memstore.New(nil), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	cust, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	id := cust.Customer.ID
	if _, err := c.CreateContact(ctx, crmkit.CreateContactRequest{
		Contact: &crm.Contact{CustomerID: id, Name: "李伟", Phones: []string{"13800138000"}}}); err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.CreateContact(ctx, crmkit.CreateContactRequest{
		Contact: &crm.Contact{CustomerID: id, Name: "李 伟", Phones: []string{"+86 138-0013-8000"}}})
	var blocked *dedupe.ContactBlockedError
	if errors.As(err, &blocked) {
		fmt.Println("already a contact:", blocked.Existing.Name)
	}
	fmt.Println(errors.Is(err, crm.ErrAlreadyExists))
	// Output:
	// already a contact: 李伟
	// true
}
