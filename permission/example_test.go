package permission_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/store/memstore"
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
	// marketing: denied: rule "marketing.keep_off_sales" of role "marketing" (deny edit/delete lead in scope all when department_id under [Sales, Service])
	// sales:    allowed: rule "sales_rep.rules[0]" of role "sales_rep" (allow view/edit lead in scope all)
	// sales:    denied: field "budget" is read-only for the subject
	// sales:    denied: rule "sales.keep_marketing_leads" of role "sales_rep" (deny delete lead in scope all when creator_department_id under [Marketing])
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

// A filtered list: the opportunities a sales manager, a salesperson and
// the management team may see, compiled into a scope that the storage
// adapter (here memstore) evaluates itself instead of loading every row.
func ExamplePolicy_ListFilter() {
	ctx := context.Background()
	data, _ := os.ReadFile("testdata/crm_policy.json")
	depts := departments()
	p, err := permission.Load(data, depts, nil)
	if err != nil {
		panic(err)
	}
	store := memstore.New(nil)
	for i := range depts {
		if err := store.Departments().Create(ctx, depts[i]); err != nil {
			panic(err)
		}
	}
	ids := crmtest.NewIDs()
	sam, sid, sue := id(0x1002), id(0x1004), id(0x1003)
	for _, o := range []struct {
		name        string
		owner, dept crm.ID
	}{{"east deal", sam, salesEast}, {"west deal", sid, salesWest}, {"key account", sue, sales}, {"expo booth", id(0x1001), marketing}} {
		opp := crmtest.Opportunity(ids, ids.NewID(), func(x *crm.Opportunity) { x.Name, x.OwnerID, x.DepartmentID = o.name, o.owner, o.dept })
		if err := store.Opportunities().Create(ctx, opp); err != nil {
			panic(err)
		}
	}
	for _, who := range []struct {
		label string
		s     permission.Subject
	}{
		{"manager", p.SubjectOf(sue, sales, "sales_manager")},
		{"sales", p.SubjectOf(sam, salesEast)},
		{"board", p.SubjectOf(id(0x1008), management)},
	} {
		f := p.ListFilter(&who.s, crm.TypeOpportunity, permission.ActionView)
		page, err := store.Opportunities().List(ctx, crm.OpportunityFilter{Scope: f.Scope}, crm.PageRequest{})
		if err != nil {
			panic(err)
		}
		var names []string
		for _, o := range page.Items {
			names = append(names, o.Name)
		}
		fmt.Printf("%-8s %d owners, %d departments, post-filter %v: %s\n", who.label+":",
			len(f.Scope.OwnerIDs), len(f.Scope.DepartmentIDs), f.PostFilter, strings.Join(names, ", "))
	}
	// Output:
	// manager: 1 owners, 3 departments, post-filter false: east deal, west deal, key account
	// sales:   1 owners, 0 departments, post-filter false: east deal
	// board:   0 owners, 0 departments, post-filter false: east deal, west deal, key account, expo booth
}

// Every change to the policy is recorded before it takes effect.
func ExampleRegistry() {
	ctx := context.Background()
	data, _ := os.ReadFile("testdata/crm_policy.json")
	doc, err := permission.ParseDocument(data)
	if err != nil {
		panic(err)
	}
	audit := printAudit{}
	clock := crmtest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	admin := id(0x9000)
	reg, err := permission.NewRegistry(ctx, admin, doc, departments(), &permission.RegistryConfig{Audit: audit, Clock: clock})
	if err != nil {
		panic(err)
	}
	next := doc.Clone()
	next.Roles = next.Roles[:len(next.Roles)-1] // retire the management role
	next.Bindings = next.Bindings[1:]           // and its binding
	clock.Advance(time.Hour)
	if _, err := reg.Replace(ctx, admin, next, "management uses reports instead"); err != nil {
		panic(err)
	}
	// An invalid change is refused and recorded nowhere.
	next.Roles[0].Rules[0].Scope = "everything"
	_, err = reg.Replace(ctx, admin, next, "")
	fmt.Println(err)
	// Output:
	// 09:00 first policy: 7 roles
	// 10:00 7 roles -> 6 roles (management uses reports instead)
	// permission: invalid roles[0].rules[0].scope: unknown scope "everything" (want own, department, department_tree, all or custom)
}

type printAudit struct{}

func (printAudit) RecordPolicyChange(_ context.Context, c permission.PolicyChange) error {
	if c.Before == nil {
		fmt.Printf("%s first policy: %d roles\n", c.At.Format("15:04"), len(c.After.Roles))
		return nil
	}
	fmt.Printf("%s %d roles -> %d roles (%s)\n", c.At.Format("15:04"), len(c.Before.Roles), len(c.After.Roles), c.Note)
	return nil
}
