package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/google/uuid"
)

//go:embed policy.json
var policyJSON []byte

// Fixed IDs keep the policy file readable: departments 1-9, pool 0x101,
// users from 0x1000.
func id(n int) crm.ID { return uuid.MustParse(fmt.Sprintf("00000000-0000-0000-0000-%012x", n)) }

var (
	company, management, marketing, sales = id(1), id(2), id(3), id(4)
	salesEast, salesWest, service         = id(5), id(6), id(7)
	finance, itDept, publicPool           = id(8), id(9), id(0x101)
)

func departments() []*crm.Department {
	d := func(id crm.ID, name string, parent crm.ID) *crm.Department {
		return &crm.Department{Meta: crm.Meta{ID: id}, Name: name, ParentID: parent}
	}
	return []*crm.Department{
		d(company, "Company", crm.NilID), d(management, "Management", company),
		d(marketing, "Marketing", company), d(sales, "Sales", company),
		d(salesEast, "Sales East", sales), d(salesWest, "Sales West", sales),
		d(service, "Service", company), d(finance, "Finance", company), d(itDept, "IT", company),
	}
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Print("permission: ", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	depts := departments()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	admin := id(0x9000)
	audit := &printAudit{w: w}
	doc, err := permission.ParseDocument(policyJSON)
	if err != nil {
		return err
	}
	reg, err := permission.NewRegistry(ctx, admin, doc, depts, &permission.RegistryConfig{Audit: audit, Clock: clock})
	if err != nil {
		return err
	}
	p := reg.Policy()

	user := func(n int, name string, dept crm.ID, roles ...string) *crm.User {
		return &crm.User{Meta: crm.Meta{ID: id(n)}, Name: name, Email: fmt.Sprintf("u%x@example.com", n), DepartmentID: dept, Roles: roles, Active: true}
	}
	mia := user(0x1001, "Mia (marketing)", marketing)
	sam := user(0x1002, "Sam (sales east)", salesEast)
	sue := user(0x1003, "Sue (sales manager)", sales, "sales_manager")
	fay := user(0x1006, "Fay (finance)", finance)
	ian := user(0x1007, "Ian (IT)", itDept)
	max := user(0x1008, "Max (management)", management)

	fmt.Fprintln(w, "1. Who may do what, and why.")
	mktLead := permission.Resource{Type: crm.TypeLead, OwnerID: mia.ID, DepartmentID: marketing, CreatorDepartmentID: marketing}
	handed := permission.Resource{Type: crm.TypeLead, OwnerID: sam.ID, DepartmentID: salesEast, CreatorDepartmentID: marketing}
	customer := permission.Resource{Type: crm.TypeCustomer, OwnerID: sam.ID, DepartmentID: salesEast}
	pooled := permission.Resource{Type: crm.TypeCustomer, PoolID: publicPool}
	ask := func(u *crm.User, a permission.Action, r *permission.Resource, what string) {
		s := p.Subject(u)
		fmt.Fprintf(w, "   %-20s %-34s %s\n", u.Name, what, p.Check(&s, a, r).Reason())
	}
	ask(mia, permission.ActionEdit, &mktLead, "edit marketing's lead")
	ask(mia, permission.ActionEdit, &handed, "edit a lead owned by sales")
	ask(sam, permission.ActionDelete, &handed, "delete marketing's lead")
	ask(sam, permission.ActionClaim, &pooled, "claim from the public pool")
	ask(sue, permission.ActionView, &customer, "view a customer of Sales East")
	ask(max, permission.ActionView, &customer, "view any customer")
	samS := p.Subject(sam)
	fmt.Fprintf(w, "   %-20s %-34s %s\n", sam.Name, "change follow_up_status", p.CheckField(&samS, permission.ActionEdit, &mktLead, "follow_up_status").Reason())
	fmt.Fprintf(w, "   %-20s %-34s %s\n", sam.Name, "change budget", p.CheckField(&samS, permission.ActionEdit, &mktLead, "budget").Reason())

	fmt.Fprintln(w, "2. Field masks: finance sees amounts, IT administers customers without their phone numbers.")
	for _, u := range []*crm.User{fay, mia} {
		s := p.Subject(u)
		fmt.Fprintf(w, "   %-20s opportunity fields visible: %v\n", u.Name, p.FieldMask(&s, crm.TypeOpportunity, permission.ActionView).Fields())
	}
	ianS := p.Subject(ian)
	fmt.Fprintf(w, "   %-20s customer fields visible: %v\n", ian.Name, p.FieldMask(&ianS, crm.TypeCustomer, permission.ActionView).Fields())

	fmt.Fprintln(w, "3. A filtered list: the store evaluates the subject's scope; no row is checked in Go.")
	store := memstore.New(&memstore.Config{Clock: clock})
	for i := range depts {
		if err := store.Departments().Create(ctx, depts[i]); err != nil {
			return err
		}
	}
	ids := crmtest.NewIDs()
	for _, c := range []struct {
		name        string
		owner, dept crm.ID
		pool        crm.ID
	}{{"Huateng (east)", sam.ID, salesEast, crm.NilID}, {"Xinda (west)", id(0x1004), salesWest, crm.NilID},
		{"Key account", sue.ID, sales, crm.NilID}, {"Service contract", id(0x1005), service, crm.NilID},
		{"Hongda (in the public pool)", crm.NilID, crm.NilID, publicPool}} {
		rec := crmtest.Customer(ids, func(x *crm.Customer) { x.Name, x.OwnerID, x.DepartmentID, x.PoolID = c.name, c.owner, c.dept, c.pool })
		if err := store.Customers().Create(ctx, rec); err != nil {
			return err
		}
	}
	for _, u := range []*crm.User{sam, sue, max} {
		s := p.Subject(u)
		f := p.ListFilter(&s, crm.TypeCustomer, permission.ActionView)
		page, err := store.Customers().List(ctx, crm.CustomerFilter{Scope: f.Scope}, crm.PageRequest{})
		if err != nil {
			return err
		}
		var names []string
		for _, c := range page.Items {
			if f.PostFilter {
				r := permission.CustomerResource(c, crm.NilID)
				if !p.Check(&s, permission.ActionView, &r).Allowed {
					continue
				}
			}
			names = append(names, c.Name)
		}
		fmt.Fprintf(w, "   %-20s sees %s (pushed down: %d owners, %d departments, %d pools; post-filter %v)\n",
			u.Name, strings.Join(names, ", "), len(f.Scope.OwnerIDs), len(f.Scope.DepartmentIDs), len(f.Scope.PoolIDs), f.PostFilter)
	}

	fmt.Fprintln(w, "4. Policy changes are audited before they take effect.")
	next := doc.Clone()
	for i := range next.Roles {
		if next.Roles[i].Name == "it_admin" {
			next.Roles[i].Rules = next.Roles[i].Rules[:2] // IT stops administering tickets
		}
	}
	clock.Advance(time.Hour)
	if _, err := reg.Replace(ctx, admin, next, "tickets move to the service desk tool"); err != nil {
		return err
	}
	next.Roles[0].Rules[0].Scope = "everything"
	_, err = reg.Replace(ctx, admin, next, "typo")
	fmt.Fprintf(w, "   an invalid policy is refused and the current one stays: %v\n", err)
	return nil
}

type printAudit struct{ w io.Writer }

func (a *printAudit) RecordPolicyChange(_ context.Context, c permission.PolicyChange) error {
	if c.Before == nil {
		fmt.Fprintf(a.w, "   audit %s: first policy, %d roles\n", c.At.Format("15:04"), len(c.After.Roles))
		return nil
	}
	fmt.Fprintf(a.w, "   audit %s: policy changed by %s (%s)\n", c.At.Format("15:04"), c.Actor, c.Note)
	return nil
}
