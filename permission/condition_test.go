package permission_test

import (
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// TestConditionsThatCannotBeEvaluated runs the matrix of records a condition
// cannot read (an absent field, a number or bool where the rule has text,
// an empty status) against a deny, which must then deny, and an allow,
// which must then not allow. Field values compare case-insensitively, so a
// case difference matches both ways, and a list holds when an element
// does, as everywhere in the condition language.
func TestConditionsThatCannotBeEvaluated(t *testing.T) {
	t.Parallel()
	edit := []permission.Action{permission.ActionEdit}
	region := cond.Ptr(cond.Equals("fields.region", "East"))
	closed := cond.Ptr(cond.In("status", "closed"))
	doc := &permission.Document{
		RecordTypes: []permission.RecordTypeDoc{{Name: "lead", Fields: []string{"region"}}},
		Roles: []permission.RoleDoc{
			{Name: "deny_region", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: edit, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: edit, Scope: permission.ScopeAll, When: region},
			}},
			{Name: "deny_closed", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: edit, Scope: permission.ScopeAll},
				{Effect: permission.Deny, RecordType: "lead", Actions: edit, Scope: permission.ScopeAll, When: closed},
			}},
			{Name: "allow_region", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: edit, Scope: permission.ScopeAll, When: region},
			}},
			{Name: "allow_closed", Rules: []permission.RuleDoc{
				{RecordType: "lead", Actions: edit, Scope: permission.ScopeAll, When: closed},
			}},
		},
	}
	p, err := permission.New(doc, departments(), nil)
	require.NoError(t, err)
	withRegion := func(v crm.FieldValue) crm.Fields { return crm.Fields{"region": v} }
	records := []struct {
		name   string
		fields crm.Fields
		status string
		// matches says whether the condition holds for certain (true),
		// cannot hold (false) or cannot be evaluated (nil).
		regionHolds, closedHolds *bool
	}{
		{"FieldEqual", withRegion(crm.String("East")), "closed", ptr(true), ptr(true)},
		{"FieldDifferent", withRegion(crm.String("West")), "open", ptr(false), ptr(false)},
		{"FieldInAnotherCase", withRegion(crm.String("EAST")), "open", ptr(true), ptr(false)},
		{"FieldAbsent", crm.Fields{}, "open", nil, ptr(false)},
		{"NilFields", nil, "open", nil, ptr(false)},
		{"FieldListHoldsIt", withRegion(crm.Strings("East", "West")), "open", ptr(true), ptr(false)},
		{"FieldListLacksIt", withRegion(crm.Strings("West")), "open", ptr(false), ptr(false)},
		{"FieldHoldsANumber", withRegion(crm.Number(decimal.NewFromInt(7))), "open", nil, ptr(false)},
		{"FieldHoldsABool", withRegion(crm.Bool(true)), "open", nil, ptr(false)},
		{"EmptyStatus", withRegion(crm.String("West")), "", ptr(false), nil},
	}
	for _, rec := range records {
		r := permission.Resource{Type: "lead", DepartmentID: sales, CreatorDepartmentID: sales, Status: rec.status, Fields: rec.fields}
		for _, c := range []struct {
			role  string
			holds *bool
			deny  bool
		}{
			{"deny_region", rec.regionHolds, true},
			{"deny_closed", rec.closedHolds, true},
			{"allow_region", rec.regionHolds, false},
			{"allow_closed", rec.closedHolds, false},
		} {
			// A deny that holds or cannot be evaluated denies; an allow
			// allows only when it holds for certain.
			want := c.holds != nil && *c.holds
			if c.deny {
				want = c.holds != nil && !*c.holds
			}
			t.Run(c.role+"/"+rec.name, func(t *testing.T) {
				s := p.SubjectOf(id(0x2000), sales, c.role)
				d := p.Check(&s, permission.ActionEdit, &r)
				require.Equal(t, want, d.Allowed, d.Reason())
				// A list is no wider than Check: post-filtered when a
				// condition cannot be pushed down.
				f := p.ListFilter(&s, "lead", permission.ActionEdit)
				if !f.PostFilter {
					require.Equal(t, want, (&crm.LeadFilter{Scope: f.Scope}).Match(&crm.Lead{DepartmentID: sales}, nil), "scope %+v", f.Scope)
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }
