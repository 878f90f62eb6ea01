package crm_test

import (
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
)

func ExampleMoney() {
	price, _ := crm.ParseMoney("1999.90 CNY")
	discount := price.Mul(decimal.RequireFromString("0.15")).Round()
	net, _ := price.Sub(discount)
	fmt.Println(discount, net)

	_, err := price.Add(money("10 USD"))
	fmt.Println(errors.Is(err, crm.ErrCurrencyMismatch))
	// Output:
	// 299.99 CNY 1699.91 CNY
	// true
}

func ExampleValidationErrors() {
	c := crm.Customer{Name: "", Email: "li.wei at example.com"}
	err := c.Validate()
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		fmt.Println("first bad field:", ve.Field)
	}
	fmt.Println(err)
	fmt.Println(errors.Is(err, crm.ErrInvalidArgument))
	// Output:
	// first bad field: id
	// invalid id: is required; invalid name: is required; invalid email: not an email address: "li.wei at example.com"
	// true
}

func ExampleDepartmentTree() {
	company := crm.Department{Meta: crm.Meta{ID: id(1)}, Name: "Company"}
	sales := crm.Department{Meta: crm.Meta{ID: id(2)}, Name: "Sales", ParentID: company.ID}
	east := crm.Department{Meta: crm.Meta{ID: id(3)}, Name: "Sales East", ParentID: sales.ID}
	service := crm.Department{Meta: crm.Meta{ID: id(4)}, Name: "Service", ParentID: company.ID}
	tree, err := crm.NewDepartmentTree([]crm.Department{company, sales, east, service})
	if err != nil {
		panic(err)
	}
	fmt.Println(tree.Contains(sales.ID, east.ID), tree.Contains(sales.ID, service.ID))

	// A cycle is refused with the field that caused it.
	company.ParentID = east.ID
	_, err = crm.NewDepartmentTree([]crm.Department{company, sales, east, service})
	fmt.Println(err)
	// Output:
	// true false
	// invalid departments[0].parent_id: department 00000000-0000-0000-0000-000000000001 is on or below a cycle; invalid departments[1].parent_id: department 00000000-0000-0000-0000-000000000002 is on or below a cycle; invalid departments[2].parent_id: department 00000000-0000-0000-0000-000000000003 is on or below a cycle; invalid departments[3].parent_id: department 00000000-0000-0000-0000-000000000004 is on or below a cycle
}

// Problems gathers every problem of a document, so that all of them are
// reported at once, each naming its field.
func ExampleProblems() {
	rules := []struct{ ID, Field string }{{"r1", "region"}, {"", "industry"}, {"r3", ""}}
	var p crm.Problems
	for i, r := range rules {
		p.Prefix = fmt.Sprintf("rules[%d].", i)
		if r.ID == "" {
			p.Add("id", "is required")
		}
		if r.Field == "" {
			p.Add("field", "is required")
		}
	}
	fmt.Println(p.Len())
	fmt.Println(p.Err())
	// Output:
	// 2
	// invalid rules[1].id: is required; invalid rules[2].field: is required
}
