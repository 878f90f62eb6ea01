package bench

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

// TestScenarioCasesAgree runs the department scenario's cases through both
// engines and checks each against the expected answer.
func TestScenarioCasesAgree(t *testing.T) {
	w := scenarioWorld(t, 0, 0)
	user := func(n int, dept crm.ID, roles ...string) *crm.User {
		u := &crm.User{Meta: crm.Meta{ID: id(0x1000 + n)}, DepartmentID: dept, Roles: roles, Active: true}
		w.users = append(w.users, u)
		return u
	}
	marketing, sales, salesEast, salesWest, service, finance, it, management := id(3), id(4), id(5), id(6), id(7), id(8), id(9), id(2)
	mia, sam, sue, sid := user(1, marketing), user(2, salesEast), user(3, sales, "sales_manager"), user(4, salesWest)
	ted, fay, ian, max := user(5, service), user(6, finance), user(7, it), user(8, management)
	eve, nobody := user(9, marketing, "sales_manager"), user(10, crm.NilID, "sales_manager")
	var err error
	w.casbin, err = NewCasbin(w.doc, w.depts, w.users)
	require.NoError(t, err)

	lead := func(owner *crm.User, dept, creator crm.ID) permission.Resource {
		return permission.Resource{Type: crm.TypeLead, OwnerID: owner.ID, DepartmentID: dept, CreatorDepartmentID: creator}
	}
	customer := func(owner *crm.User, dept crm.ID) permission.Resource {
		return permission.Resource{Type: crm.TypeCustomer, OwnerID: owner.ID, DepartmentID: dept}
	}
	pooled := permission.Resource{Type: crm.TypeCustomer, DepartmentID: sales, PoolID: id(0x101)}
	opp := permission.Resource{Type: crm.TypeOpportunity, OwnerID: sid.ID, DepartmentID: salesWest}
	ticket := permission.Resource{Type: crm.TypeTicket, OwnerID: ted.ID, DepartmentID: service}
	tests := []struct {
		name string
		who  *crm.User
		a    permission.Action
		res  permission.Resource
		want bool
	}{
		{"MarketingViewsASalesLead", mia, permission.ActionView, lead(sam, salesEast, salesEast), true},
		{"MarketingEditsItsLead", mia, permission.ActionEdit, lead(mia, marketing, marketing), true},
		{"MarketingMayNotEditSalesLeads", mia, permission.ActionEdit, lead(sam, salesEast, salesEast), false},
		{"MarketingMayNotDeleteServiceLeads", mia, permission.ActionDelete, lead(ted, service, marketing), false},
		{"MarketingCreatesInItsDepartment", mia, permission.ActionCreate, lead(mia, marketing, marketing), true},
		{"MarketingMayNotCreateForSales", mia, permission.ActionCreate, lead(mia, sales, marketing), false},
		{"SalesEditsMarketingLeads", sam, permission.ActionEdit, lead(mia, marketing, marketing), true},
		{"SalesMayNotDeleteMarketingsLead", sam, permission.ActionDelete, lead(sam, salesEast, marketing), false},
		{"SalesDeletesItsOwnLead", sam, permission.ActionDelete, lead(sam, salesEast, salesEast), true},
		{"SalesClaimsFromThePool", sid, permission.ActionClaim, pooled, true},
		{"SalesMayNotViewAColleaguesCustomer", sid, permission.ActionView, customer(sam, salesEast), false},
		{"ManagerSeesTheTree", sue, permission.ActionView, customer(sam, salesEast), true},
		{"ManagerDoesNotSeeMarketing", sue, permission.ActionView, customer(mia, marketing), false},
		{"RoleOutsideItsDepartments", eve, permission.ActionView, customer(sam, salesEast), false},
		{"FinanceSeesDeals", fay, permission.ActionView, opp, true},
		{"FinanceApprovesDeals", fay, permission.ActionApprove, opp, true},
		{"ITEditsCustomers", ian, permission.ActionEdit, customer(sam, salesEast), true},
		{"ManagementSeesTickets", max, permission.ActionView, ticket, true},
		{"ManagementDoesNotEditLeads", max, permission.ActionEdit, lead(sam, salesEast, salesEast), false},
		{"ServiceEditsTickets", ted, permission.ActionEdit, ticket, true},
		{"NoDepartmentNoAccess", nobody, permission.ActionView, customer(sam, salesEast), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := w.policy.Subject(tt.who)
			d := w.policy.Check(&s, tt.a, &tt.res)
			require.Equal(t, tt.want, d.Allowed, "crmkit: %s", d.Reason())
			got, err := w.casbin.Enforce(tt.who.ID, tt.who.DepartmentID, tt.a, &tt.res)
			require.NoError(t, err)
			require.Equal(t, tt.want, got, "casbin")
		})
	}
}

// TestRandomRequestsAgree runs random requests at every size through both
// engines and fails on the first disagreement.
func TestRandomRequestsAgree(t *testing.T) {
	worlds := []struct {
		name string
		w    func() *world
	}{
		{"Scenario", func() *world { return scenarioWorld(t, 200, 3000) }},
		{"Medium", func() *world { return generatedWorld(t, 2, 12, 10, 7, 1000, 3000) }},
		{"Large", func() *world { return generatedWorld(t, 3, 40, 50, 10, 10000, 600) }},
	}
	for _, tc := range worlds {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w()
			allowed := 0
			for i := range w.reqs {
				q := &w.reqs[i]
				want := w.casbinAllows(t, q)
				d := w.policy.Check(&q.subject, q.action, &q.res)
				if d.Allowed != want {
					u := w.users[q.user]
					t.Fatalf("request %d disagrees: casbin %v, crmkit %v (%s)\nuser %s dept %s roles %v subject roles %v\naction %s resource %+v",
						i, want, d.Allowed, d.Reason(), u.ID, u.DepartmentID, u.Roles, q.subject.Roles(), q.action, q.res)
				}
				if want {
					allowed++
				}
			}
			// Both answers occur, so agreement is not trivial.
			require.Positive(t, allowed, "no request was allowed")
			require.Less(t, allowed, len(w.reqs), "every request was allowed")
			t.Logf("%d of %d requests allowed", allowed, len(w.reqs))
		})
	}
}
