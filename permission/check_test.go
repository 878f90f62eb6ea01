package permission_test

import (
	"context"
	"errors"
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

var (
	mia = user(1, marketing)
	sam = user(2, salesEast)
	sue = user(3, sales, "sales_manager")
	sid = user(4, salesWest)
	ted = user(5, service)
	fay = user(6, finance)
	ian = user(7, itDept)
	max = user(8, management)
	eve = user(9, marketing, "sales_manager") // the role does not apply outside Sales
)

var (
	mktLead     = permission.Resource{Type: crm.TypeLead, OwnerID: mia.ID, DepartmentID: marketing, CreatorDepartmentID: marketing}
	salesLead   = permission.Resource{Type: crm.TypeLead, OwnerID: sam.ID, DepartmentID: salesEast, CreatorDepartmentID: salesEast}
	handedLead  = permission.Resource{Type: crm.TypeLead, OwnerID: sam.ID, DepartmentID: salesEast, CreatorDepartmentID: marketing}
	newMktLead  = permission.Resource{Type: crm.TypeLead, OwnerID: mia.ID, DepartmentID: marketing}
	newSaleLead = permission.Resource{Type: crm.TypeLead, OwnerID: mia.ID, DepartmentID: sales}
	pooledCust  = permission.Resource{Type: crm.TypeCustomer, DepartmentID: sales, PoolID: pool}
	samCust     = permission.Resource{Type: crm.TypeCustomer, OwnerID: sam.ID, DepartmentID: salesEast}
	miaCust     = permission.Resource{Type: crm.TypeCustomer, OwnerID: mia.ID, DepartmentID: marketing}
	sidOpp      = permission.Resource{Type: crm.TypeOpportunity, OwnerID: sid.ID, DepartmentID: salesWest}
	svcTicket   = permission.Resource{Type: crm.TypeTicket, OwnerID: ted.ID, DepartmentID: service}
)

func TestCheckFollowsTheDepartmentScenario(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	tests := []struct {
		name    string
		who     *crm.User
		action  permission.Action
		res     permission.Resource
		allowed bool
		rule    string
	}{
		{"MarketingViewsASalesLead", mia, permission.ActionView, salesLead, true, "marketing.rules[0]"},
		{"MarketingEditsItsOwnLead", mia, permission.ActionEdit, mktLead, true, "marketing.rules[0]"},
		{"MarketingMayNotEditASalesOwnedLead", mia, permission.ActionEdit, salesLead, false, "marketing.keep_off_sales"},
		{"MarketingMayNotDeleteASalesOwnedLead", mia, permission.ActionDelete, handedLead, false, "marketing.keep_off_sales"},
		{"MarketingCreatesLeadsInItsDepartment", mia, permission.ActionCreate, newMktLead, true, "marketing.rules[1]"},
		{"MarketingMayNotCreateLeadsForSales", mia, permission.ActionCreate, newSaleLead, false, ""},
		{"SalesEditsAMarketingLead", sam, permission.ActionEdit, mktLead, true, "sales_rep.rules[0]"},
		{"SalesMayNotDeleteMarketingsLead", sam, permission.ActionDelete, handedLead, false, "sales.keep_marketing_leads"},
		{"SalesDeletesItsOwnLead", sam, permission.ActionDelete, salesLead, true, "sales_rep.rules[1]"},
		{"SalesClaimsFromTheSharedPool", sid, permission.ActionClaim, pooledCust, true, "sales_rep.rules[5]"},
		{"SalesMayNotViewAColleaguesCustomer", sid, permission.ActionView, samCust, false, ""},
		{"SalesManagerSeesTheDepartmentTree", sue, permission.ActionView, samCust, true, "sales_manager.rules[1]"},
		{"SalesManagerDoesNotSeeMarketingsCustomers", sue, permission.ActionView, miaCust, false, ""},
		{"ARoleOutsideItsDepartmentsGrantsNothing", eve, permission.ActionView, samCust, false, ""},
		{"FinanceSeesOpportunities", fay, permission.ActionView, sidOpp, true, "finance.rules[0]"},
		{"ITAdministersCustomers", ian, permission.ActionEdit, samCust, true, "it_admin.rules[1]"},
		{"ManagementSeesTickets", max, permission.ActionView, svcTicket, true, "management.rules[3]"},
		{"ManagementDoesNotEditLeads", max, permission.ActionEdit, salesLead, false, ""},
		{"ServiceEditsTickets", ted, permission.ActionEdit, svcTicket, true, "service.rules[0]"},
		{"ServiceMayNotDeleteTickets", ted, permission.ActionDelete, svcTicket, false, ""},
		{"AUserWithoutDepartmentIsDenied", user(20, crm.NilID, "sales_manager"), permission.ActionView, samCust, false, ""},
		{"AnInactiveUserIsDenied", func() *crm.User { u := user(21, sales, "sales_manager"); u.Active = false; return u }(), permission.ActionView, samCust, false, ""},
		{"AUserOfAnUnknownDepartmentIsDenied", user(22, id(999), "sales_manager"), permission.ActionView, samCust, false, ""},
		{"AnUndeclaredRecordTypeIsDenied", max, permission.ActionView, permission.Resource{Type: "invoice", DepartmentID: sales}, false, ""},
		{"AnInvalidActionIsDenied", max, permission.Action(0), salesLead, false, ""},
		{"AnOutOfRangeActionIsDenied", max, permission.Action(200), salesLead, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.Subject(tt.who)
			d := p.Check(&s, tt.action, &tt.res)
			require.Equal(t, tt.allowed, d.Allowed, d.Reason())
			require.Equal(t, tt.rule, d.Rule(), d.Reason())
			require.NotEmpty(t, d.Reason())
			if tt.allowed {
				require.NoError(t, d.Err())
				require.Contains(t, d.Reason(), "allowed")
			} else {
				require.ErrorIs(t, d.Err(), crm.ErrPermissionDenied)
				require.Contains(t, d.Reason(), "denied")
			}
		})
	}
}

func TestCheckExplainsDenials(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	reason := func(u *crm.User, a permission.Action, r permission.Resource) string {
		s := p.Subject(u)
		return p.Check(&s, a, &r).Reason()
	}
	require.Equal(t, `denied: rule "marketing.keep_off_sales" of role "marketing" (deny edit/delete lead in scope all when department_id under [Sales, Service])`,
		reason(mia, permission.ActionEdit, salesLead))
	require.Equal(t, "denied: none of the subject's roles may edit lead", reason(max, permission.ActionEdit, salesLead))
	require.Equal(t, "denied: the subject's roles may view customer but no rule covers this record", reason(sid, permission.ActionView, samCust))
	require.Equal(t, "denied: the subject has no department", reason(user(20, crm.NilID), permission.ActionView, samCust))
	require.Equal(t, "denied: the record type is not declared in the policy", reason(max, permission.ActionView, permission.Resource{Type: "invoice"}))
}

func TestCheckRefusesSubjectsItDidNotResolve(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	other := loadPolicy(t, nil)
	s := other.Subject(max)
	d := p.Check(&s, permission.ActionView, &salesLead)
	require.False(t, d.Allowed)
	require.Equal(t, "denied: the subject was resolved by another policy", d.Reason())

	var zero permission.Subject
	require.False(t, p.Check(&zero, permission.ActionView, &salesLead).Allowed)
	require.False(t, p.Check(nil, permission.ActionView, &salesLead).Allowed)
	s = p.Subject(max)
	require.False(t, p.Check(&s, permission.ActionView, nil).Allowed)
	require.False(t, p.Check(&s, permission.ActionView, nil).Allowed)
	require.Equal(t, "denied: no policy (zero decision)", permission.Decision{}.Reason())
	nobody := p.Subject(nil)
	require.False(t, p.Check(&nobody, permission.ActionView, &salesLead).Allowed)
}

func TestConditionsOnStatusAndFieldsNarrowARule(t *testing.T) {
	t.Parallel()
	doc := &permission.Document{
		RecordTypes: []permission.RecordTypeDoc{{Name: "lead", Fields: []string{"channel"}}},
		Roles: []permission.RoleDoc{{Name: "agent", Rules: []permission.RuleDoc{{
			RecordType: "lead", Actions: []permission.Action{permission.ActionEdit}, Scope: permission.ScopeAll,
			When: cond.All(cond.In("status", "new"), cond.Equals("fields.channel", "web")),
		}}}},
	}
	p, err := permission.New(doc, departments(), nil)
	require.NoError(t, err)
	s := p.SubjectOf(id(0x2000), sales, "agent")
	web := crm.Fields{"channel": crm.String("web")}
	check := func(r permission.Resource) bool { return p.Check(&s, permission.ActionEdit, &r).Allowed }
	require.True(t, check(permission.Resource{Type: "lead", Status: "new", Fields: web}))
	require.False(t, check(permission.Resource{Type: "lead", Status: "contacted", Fields: web}))
	require.False(t, check(permission.Resource{Type: "lead", Status: "new", Fields: crm.Fields{"channel": crm.String("phone")}}))
	require.False(t, check(permission.Resource{Type: "lead", Status: "new", Fields: crm.Fields{"channel": crm.Bool(true)}}))
	require.False(t, check(permission.Resource{Type: "lead", Status: "new"}))
}

func TestCustomScopeCoversListedDepartments(t *testing.T) {
	t.Parallel()
	rule := func(subtrees bool) *permission.Document {
		return &permission.Document{
			RecordTypes: []permission.RecordTypeDoc{{Name: "lead"}},
			Roles: []permission.RoleDoc{{Name: "auditor", Rules: []permission.RuleDoc{{
				RecordType: "lead", Actions: []permission.Action{permission.ActionView}, Scope: permission.ScopeCustom,
				Departments: []crm.ID{sales}, IncludeSubtrees: subtrees,
			}}}},
		}
	}
	for _, subtrees := range []bool{false, true} {
		p, err := permission.New(rule(subtrees), departments(), nil)
		require.NoError(t, err)
		s := p.SubjectOf(id(0x2000), finance, "auditor")
		at := func(d crm.ID) bool {
			return p.Check(&s, permission.ActionView, &permission.Resource{Type: "lead", DepartmentID: d}).Allowed
		}
		require.True(t, at(sales))
		require.Equal(t, subtrees, at(salesEast))
		require.False(t, at(marketing))
		require.False(t, at(crm.NilID))
	}
}

func TestAuthorizeReturnsPermissionDeniedWithTheReason(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	ctx := context.Background()
	require.NoError(t, p.Authorize(ctx, sam, permission.ActionEdit, &mktLead))
	err := p.Authorize(ctx, mia, permission.ActionEdit, &salesLead)
	require.ErrorIs(t, err, crm.ErrPermissionDenied)
	require.Contains(t, err.Error(), "permission: denied: rule \"marketing.keep_off_sales\"")
	d, ok := permission.IsDenied(err)
	require.True(t, ok)
	require.Equal(t, "marketing.keep_off_sales", d.Rule())

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = p.Authorize(cancelled, sam, permission.ActionEdit, &mktLead)
	require.ErrorIs(t, err, context.Canceled)
	_, ok = permission.IsDenied(err)
	require.False(t, ok)
	_, ok = permission.IsDenied(errors.New("other"))
	require.False(t, ok)
}

func TestFieldLevelSecurity(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	subject := func(u *crm.User) *permission.Subject { s := p.Subject(u); return &s }

	t.Run("SalesMayChangeFollowUpStatusOnly", func(t *testing.T) {
		s := subject(sam)
		require.True(t, p.CheckField(s, permission.ActionEdit, &mktLead, "follow_up_status").Allowed)
		d := p.CheckField(s, permission.ActionEdit, &mktLead, "phone")
		require.False(t, d.Allowed)
		require.Equal(t, `denied: field "phone" is read-only for the subject`, d.Reason())
		require.True(t, p.CheckField(s, permission.ActionView, &mktLead, "phone").Allowed)
		require.Equal(t, []string{"follow_up_status"}, p.FieldMask(s, crm.TypeLead, permission.ActionEdit).Fields())

		changed, err := p.Fields(crm.TypeLead, "follow_up_status", "budget")
		require.NoError(t, err)
		d = p.CheckFields(s, permission.ActionEdit, &mktLead, changed)
		require.False(t, d.Allowed)
		require.Contains(t, d.Reason(), `"budget"`)
	})
	t.Run("ITDoesNotSeeCustomersPhoneNumbers", func(t *testing.T) {
		s := subject(ian)
		m := p.FieldMask(s, crm.TypeCustomer, permission.ActionView)
		require.False(t, m.Allows("phone"))
		require.True(t, m.Allows("email"))
		require.False(t, m.Allows("no_such_field"))
		d := p.CheckField(s, permission.ActionView, &samCust, "phone")
		require.Equal(t, `denied: field "phone" is hidden from the subject`, d.Reason())
		require.False(t, p.CheckField(s, permission.ActionEdit, &samCust, "phone").Allowed)
	})
	t.Run("FinanceSeesAmountsMarketingDoesNot", func(t *testing.T) {
		require.True(t, p.FieldMask(subject(fay), crm.TypeOpportunity, permission.ActionView).Allows("amount"))
		require.False(t, p.FieldMask(subject(mia), crm.TypeOpportunity, permission.ActionView).Allows("amount"))
		require.True(t, p.FieldMask(subject(mia), crm.TypeOpportunity, permission.ActionView).Allows("stage"))
	})
	t.Run("NoGrantMeansNoFields", func(t *testing.T) {
		require.Empty(t, p.FieldMask(subject(max), crm.TypeLead, permission.ActionEdit).Fields())
		require.Empty(t, p.FieldMask(subject(max), "invoice", permission.ActionView).Fields())
		require.Empty(t, p.FieldMask(subject(user(30, crm.NilID)), crm.TypeLead, permission.ActionView).Fields())
		require.Equal(t, 0, p.FieldMask(subject(max), crm.TypeLead, permission.Action(0)).Set().Len())
		require.False(t, permission.FieldMask{}.Allows("name"))
	})
	t.Run("HiddenTestsFieldPathsForHistoryReads", func(t *testing.T) {
		tests := []struct {
			name   string
			user   *crm.User
			rt     crm.RecordType
			field  string
			hidden bool
		}{
			{"a hidden declared field", ian, crm.TypeCustomer, "phone", true},
			{"a visible declared field", ian, crm.TypeCustomer, "email", false},
			{"a field the policy does not declare cannot be restricted", ian, crm.TypeCustomer, "fields.credit_limit", false},
			{"finance sees amounts", fay, crm.TypeOpportunity, "amount", false},
			{"marketing does not", mia, crm.TypeOpportunity, "amount", true},
			{"no grant on the type hides every field", max, "invoice", "number", true},
			{"an unresolved subject sees nothing", user(30, crm.NilID), crm.TypeLead, "name", true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				require.Equal(t, tc.hidden, p.Hidden(subject(tc.user), tc.rt, permission.ActionView)(tc.field))
			})
		}
		require.True(t, p.Hidden(nil, crm.TypeLead, permission.ActionView)("name"))
	})
	t.Run("UnknownFieldsAreDenied", func(t *testing.T) {
		d := p.CheckField(subject(max), permission.ActionView, &salesLead, "salary")
		require.False(t, d.Allowed)
		require.Equal(t, "denied: the field is not declared for lead", d.Reason())
		_, err := p.Fields(crm.TypeLead, "salary")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = p.Fields("invoice")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}
