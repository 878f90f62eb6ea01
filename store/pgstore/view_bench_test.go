package pgstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
)

// BenchmarkCustomerView reads the 360° view of a customer with 500
// related records (40 contacts, 40 opportunities, 40 tickets, 300
// activities on them and on the customer, 80 tasks) among 20 such
// customers, through crmkit.New on PostgreSQL, with a permission policy
// that hides two customer fields. It reports the 99th percentile of the
// views after a warm-up.
func BenchmarkCustomerView(b *testing.B) {
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := newStore(b, clock)
	ctx := context.Background()
	ids := crmtest.NewIDs()
	dept := crmtest.Department(ids, "Sales", crm.NilID)
	require.NoError(b, s.Departments().Create(ctx, dept))
	rep := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"rep"} })
	require.NoError(b, s.Users().Create(ctx, rep))
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "customer", "fields": ["phone", "email"]}, {"name": "contact"}, {"name": "opportunity"},
	    {"name": "ticket"}, {"name": "activity"}, {"name": "task"}, {"name": "lead"}],
	  "roles": [{"name": "rep", "rules": [
	    {"record_type": "customer", "actions": ["view", "create", "edit"], "scope": "department"},
	    {"record_type": "contact", "actions": ["view"], "scope": "department"},
	    {"record_type": "opportunity", "actions": ["view"], "scope": "department"},
	    {"record_type": "ticket", "actions": ["view"], "scope": "department"},
	    {"record_type": "activity", "actions": ["view"], "scope": "department"},
	    {"record_type": "task", "actions": ["view"], "scope": "department"}],
	    "fields": [{"record_type": "customer", "field": "phone", "access": "hidden"}, {"record_type": "customer", "field": "email", "access": "hidden"}]}]
	}`), []*crm.Department{dept}, nil)
	require.NoError(b, err)
	c, err := crmkit.New(s, &crmkit.Config{Clock: clock, IDs: ids, Permissions: p})
	require.NoError(b, err)
	var customers []crm.ID
	for range 20 {
		cu := crmtest.Customer(ids)
		_, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: cu, Actor: rep.ID, Own: true})
		require.NoError(b, err)
		customers = append(customers, cu.ID)
		require.NoError(b, c.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			subjects := []crm.Ref{{Type: crm.TypeCustomer, ID: cu.ID}}
			for range 40 {
				ct := crmtest.Contact(ids, cu.ID, func(x *crm.Contact) { x.OwnerID = rep.ID })
				op := crmtest.Opportunity(ids, cu.ID, func(x *crm.Opportunity) { x.OwnerID, x.DepartmentID = rep.ID, dept.ID })
				tk := crmtest.Ticket(ids, func(x *crm.Ticket) { x.CustomerID, x.AssigneeID, x.DepartmentID = cu.ID, rep.ID, dept.ID })
				if err := tx.Contacts().Create(ctx, ct); err != nil {
					return err
				}
				if err := tx.Opportunities().Create(ctx, op); err != nil {
					return err
				}
				if err := tx.Tickets().Create(ctx, tk); err != nil {
					return err
				}
				subjects = append(subjects, crm.Ref{Type: crm.TypeContact, ID: ct.ID}, crm.Ref{Type: crm.TypeOpportunity, ID: op.ID}, crm.Ref{Type: crm.TypeTicket, ID: tk.ID})
			}
			for i := range 300 {
				a := crmtest.Activity(ids, subjects[i%len(subjects)], rep.ID, func(a *crm.Activity) { a.OccurredAt = clock.Now() })
				if err := tx.Activities().Create(ctx, a); err != nil {
					return err
				}
			}
			for i := range 80 {
				k := crmtest.Task(ids, subjects[i%len(subjects)], rep.ID, func(k *crm.Task) { k.DepartmentID = dept.ID })
				if err := tx.Tasks().Create(ctx, k); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	_, err = testPool(b).Exec(ctx, "ANALYZE")
	require.NoError(b, err)
	// Warm every pooled connection's statement cache first: the figure is
	// the steady state, not the first use of each statement.
	for i := range 40 {
		if _, err := c.View(ctx, rep.ID, customers[i%len(customers)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var took []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		v, err := c.View(ctx, rep.ID, customers[i%len(customers)])
		took = append(took, time.Since(start))
		if err != nil || len(v.Activities.Items) != crmkit.DefaultViewLimit || v.Customer.Phone != "" || len(v.Timeline.Items) != crmkit.DefaultViewLimit {
			b.Fatalf("view: %v", err)
		}
		i++
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
