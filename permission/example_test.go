package permission_test

import (
	"fmt"
	"os"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
)

// The department scenario: marketing, sales, a sales manager, IT and
// management working in one CRM under one policy (testdata/crm_policy.json).
func Example() {
	data, err := os.ReadFile("testdata/crm_policy.json")
	if err != nil {
		panic(err)
	}
	p, err := permission.Load(data, departments(), nil)
	if err != nil {
		panic(err)
	}
	mia := p.Subject(&crm.User{Meta: crm.Meta{ID: id(0x1001)}, DepartmentID: marketing, Active: true})
	sam := p.Subject(&crm.User{Meta: crm.Meta{ID: id(0x1002)}, DepartmentID: salesEast, Active: true})
	sue := p.Subject(&crm.User{Meta: crm.Meta{ID: id(0x1003)}, DepartmentID: sales, Roles: []string{"sales_manager"}, Active: true})
	max := p.Subject(&crm.User{Meta: crm.Meta{ID: id(0x1008)}, DepartmentID: management, Active: true})

	mktLead := permission.Resource{Type: crm.TypeLead, OwnerID: mia.UserID(), DepartmentID: marketing, CreatorDepartmentID: marketing}
	handed := permission.Resource{Type: crm.TypeLead, OwnerID: sam.UserID(), DepartmentID: salesEast, CreatorDepartmentID: marketing}
	customer := permission.Resource{Type: crm.TypeCustomer, OwnerID: sam.UserID(), DepartmentID: salesEast}

	show := func(who string, d permission.Decision) { fmt.Printf("%-9s %v\n", who+":", d.Reason()) }
	show("marketing", p.Check(&mia, permission.ActionEdit, &mktLead))
	show("marketing", p.Check(&mia, permission.ActionEdit, &handed))
	show("sales", p.CheckField(&sam, permission.ActionEdit, &mktLead, "follow_up_status"))
	show("sales", p.CheckField(&sam, permission.ActionEdit, &mktLead, "budget"))
	show("sales", p.Check(&sam, permission.ActionDelete, &handed))
	show("manager", p.Check(&sue, permission.ActionView, &customer))
	show("board", p.Check(&max, permission.ActionView, &customer))
	// Output:
	// marketing: allowed: rule "marketing.rules[0]" of role "marketing" (allow view/edit lead in scope all)
	// marketing: denied: rule "marketing.keep_off_sales" of role "marketing" (deny edit/delete lead in scope all when owned in Sales, Service)
	// sales:    allowed: rule "sales_rep.rules[0]" of role "sales_rep" (allow view/edit lead in scope all)
	// sales:    denied: field "budget" is read-only for the subject
	// sales:    denied: rule "sales.keep_marketing_leads" of role "sales_rep" (deny delete lead in scope all when created in Marketing)
	// manager:  allowed: rule "sales_manager.rules[1]" of role "sales_manager" (allow view/edit/assign/export customer in scope department_tree)
	// board:    allowed: rule "management.rules[1]" of role "management" (allow view/export customer in scope all)
}

// Field masks: finance sees deal amounts, marketing does not, and IT
// administers customers without seeing their phone numbers.
func ExamplePolicy_FieldMask() {
	data, _ := os.ReadFile("testdata/crm_policy.json")
	p, err := permission.Load(data, departments(), nil)
	if err != nil {
		panic(err)
	}
	fin := p.SubjectOf(id(0x1006), finance)
	mkt := p.SubjectOf(id(0x1001), marketing)
	it := p.SubjectOf(id(0x1007), itDept)
	fmt.Println(p.FieldMask(&fin, crm.TypeOpportunity, permission.ActionView).Fields())
	fmt.Println(p.FieldMask(&mkt, crm.TypeOpportunity, permission.ActionView).Fields())
	fmt.Println(p.FieldMask(&it, crm.TypeCustomer, permission.ActionEdit).Fields())
	// Output:
	// [name amount stage expected_close]
	// [name stage expected_close]
	// [name email level address credit_limit]
}

// A compiled list filter: the opportunities a sales manager, a salesperson
// and the management team may list, as a scope the storage adapter evaluates in
// the database.
func ExamplePolicy_ListFilter() {
	data, _ := os.ReadFile("testdata/crm_policy.json")
	p, err := permission.Load(data, departments(), nil)
	if err != nil {
		panic(err)
	}
	sue := p.SubjectOf(id(0x1003), sales, "sales_manager")
	sam := p.SubjectOf(id(0x1002), salesEast)
	max := p.SubjectOf(id(0x1008), management)
	name := map[crm.ID]string{sales: "Sales", id(0x1002): "sam", id(0x1003): "sue"}
	names := func(ids []crm.ID) (out []string) {
		for _, id := range ids {
			out = append(out, name[id])
		}
		return out
	}
	for _, who := range []struct {
		label string
		s     *permission.Subject
	}{{"manager", &sue}, {"sales", &sam}, {"board", &max}} {
		f := p.ListFilter(who.s, crm.TypeOpportunity, permission.ActionView)
		fmt.Printf("%-8s all=%v owners=%v trees=%v post-filter=%v\n", who.label+":", f.Scope.All,
			names(f.Scope.OwnerIDs), names(f.Scope.DepartmentTrees), f.PostFilter)
	}
	// Output:
	// manager: all=false owners=[sue] trees=[Sales] post-filter=false
	// sales:   all=false owners=[sam] trees=[] post-filter=false
	// board:   all=true owners=[] trees=[] post-filter=false
}
