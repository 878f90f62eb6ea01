package permission_test

import (
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

// The drift tests compile a policy against departments() and then ask about
// departments created or moved after compiling, as a host whose policy lags
// behind its stored organisation does.

var (
	hrDept    = id(0x0a) // added to the compiled tree below company
	hrPayroll = id(0x0b) // created after compiling, below hrDept
	lateDept  = id(0x0c) // created after compiling, below sales
	ghostDept = id(0x0d) // never compiled anywhere
	view      = permission.ActionView
	viewOnly  = []permission.Action{permission.ActionView}
)

func driftDepartments() []*crm.Department {
	return append(departments(), &crm.Department{Meta: crm.Meta{ID: hrDept}, Name: "HR", ParentID: company})
}

func driftPolicy(t *testing.T) *permission.Policy {
	t.Helper()
	doc := &permission.Document{
		RecordTypes: []permission.RecordTypeDoc{{Name: "lead", Fields: []string{"region"}}},
		Roles: []permission.RoleDoc{
			{Name: "owner_deny", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll, When: cond.Ptr(cond.Under("department_id", hrDept))},
			}},
			{Name: "custom_deny", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeCustom, Departments: []crm.ID{hrDept}, IncludeSubtrees: true},
			}},
			{Name: "tree_deny", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeDepartmentTree},
			}},
			{Name: "creator_deny", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll, When: cond.Ptr(cond.Under("creator_department_id", hrDept))},
			}},
			{Name: "closed_hr_deny", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll, When: cond.All(cond.Under("department_id", hrDept), cond.In("status", "closed"))},
			}},
			{Name: "own_deny", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeOwn},
			}},
			{Name: "sales_tree", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: viewOnly, Scope: permission.ScopeCustom, Departments: []crm.ID{sales}, IncludeSubtrees: true},
			}},
		},
	}
	p, err := permission.New(doc, driftDepartments(), nil)
	require.NoError(t, err)
	return p
}

func TestCheckDeniesDepartmentsTheCompiledTreeDoesNotKnow(t *testing.T) {
	t.Parallel()
	p := driftPolicy(t)
	require.True(t, p.KnowsDepartment(hrDept))
	require.False(t, p.KnowsDepartment(hrPayroll))
	require.False(t, p.KnowsDepartment(crm.NilID))
	lead := func(dept, creator crm.ID, status string) permission.Resource {
		return permission.Resource{Type: "lead", OwnerID: id(0x3000), DepartmentID: dept, CreatorDepartmentID: creator, Status: status}
	}
	tests := []struct {
		name    string
		role    string
		res     permission.Resource
		allowed bool
	}{
		{"AnOwnerDenyStillDeniesHR", "owner_deny", lead(hrDept, sales, ""), false},
		{"AnOwnerDenyAllowsAKnownDepartmentOutsideHR", "owner_deny", lead(sales, sales, ""), true},
		{"AnOwnerDenyDeniesASubDepartmentCreatedAfterCompiling", "owner_deny", lead(hrPayroll, sales, ""), false},
		{"AnOwnerDenyDeniesADepartmentNeverCompiled", "owner_deny", lead(ghostDept, sales, ""), false},
		{"AnOwnerDenyAllowsARecordWithoutDepartment", "owner_deny", lead(crm.NilID, sales, ""), true},
		{"ACustomSubtreeDenyDeniesASubDepartmentCreatedAfterCompiling", "custom_deny", lead(hrPayroll, sales, ""), false},
		{"ACustomSubtreeDenyAllowsAKnownDepartmentOutsideHR", "custom_deny", lead(salesEast, sales, ""), true},
		{"ATreeDenyDeniesAnUnknownDepartment", "tree_deny", lead(lateDept, sales, ""), false},
		{"ACreatorDenyDeniesAnUnknownCreatorDepartment", "creator_deny", lead(sales, hrPayroll, ""), false},
		{"ACreatorDenyDeniesAMissingCreatorDepartment", "creator_deny", lead(sales, crm.NilID, ""), false},
		{"ACreatorDenyAllowsAKnownCreatorOutsideHR", "creator_deny", lead(sales, sales, ""), true},
		// The deny also needs status closed: whatever the department's place,
		// an open lead is outside it.
		{"AConditionedDenyThatCannotHoldAllowsAnUnknownDepartment", "closed_hr_deny", lead(hrPayroll, sales, "open"), true},
		{"AConditionedDenyThatMayHoldDeniesAnUnknownDepartment", "closed_hr_deny", lead(hrPayroll, sales, "closed"), false},
		{"ADenyNotDependingOnDepartmentsAllowsAnUnknownDepartment", "own_deny", lead(hrPayroll, sales, ""), true},
		{"AnAllowByDepartmentDoesNotCoverAnUnknownDepartment", "sales_tree", lead(lateDept, sales, ""), false},
		{"AnAllowByDepartmentCoversAKnownDepartment", "sales_tree", lead(salesWest, sales, ""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.SubjectOf(id(0x2000), finance, tt.role)
			d := p.Check(&s, view, &tt.res)
			require.Equal(t, tt.allowed, d.Allowed, d.Reason())
		})
	}
}

// TestListFilterAgreesWithCheckWhateverTheTreesAge matches each subject's
// scope against a department tree changed after compiling (a department
// added below HR and one below Sales, Sales East moved below HR, Sales West
// moved below Marketing) as an adapter would, and requires the rows it
// admits, post-filtered when the filter says so, to be exactly those Check
// allows.
func TestListFilterAgreesWithCheckWhateverTheTreesAge(t *testing.T) {
	t.Parallel()
	p := driftPolicy(t)
	now := driftDepartments()
	for i := range now {
		switch now[i].ID {
		case salesEast:
			now[i].ParentID = hrDept
		case salesWest:
			now[i].ParentID = marketing
		}
	}
	now = append(now,
		&crm.Department{Meta: crm.Meta{ID: hrPayroll}, Name: "Payroll", ParentID: hrDept},
		&crm.Department{Meta: crm.Meta{ID: lateDept}, Name: "Sales North", ParentID: sales})
	flat := make([]crm.Department, len(now))
	for i, d := range now {
		flat[i] = *d
	}
	tree, err := crm.NewDepartmentTree(flat)
	require.NoError(t, err)
	inTree := func(root, dept crm.ID) bool { return dept == root || tree.Contains(root, dept) }
	var depts []crm.ID
	for i := range now {
		depts = append(depts, now[i].ID)
	}
	depts = append(depts, crm.NilID)
	for _, roleName := range []string{"owner_deny", "custom_deny", "tree_deny", "closed_hr_deny", "own_deny", "sales_tree"} {
		for _, home := range []crm.ID{company, sales, hrDept, salesEast} {
			s := p.SubjectOf(id(0x2000), home, roleName)
			f := p.ListFilter(&s, "lead", view)
			for _, dept := range depts {
				for _, status := range []string{"open", "closed"} {
					r := permission.Resource{Type: "lead", OwnerID: id(0x3000), DepartmentID: dept, CreatorDepartmentID: sales, Status: status}
					allowed := p.Check(&s, view, &r).Allowed
					listed := (&crm.LeadFilter{Scope: f.Scope}).Match(&crm.Lead{OwnerID: r.OwnerID, DepartmentID: dept}, inTree)
					if f.PostFilter {
						listed = listed && allowed
					}
					require.Equal(t, allowed, listed, "role %s at %s, lead of %s (%s): scope %+v post %v", roleName, home, dept, status, f.Scope, f.PostFilter)
				}
			}
		}
	}
}
