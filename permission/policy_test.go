package permission_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

func TestLoadRejectsBadPoliciesNamingTheField(t *testing.T) {
	t.Parallel()
	const base = `"record_types":[{"name":"lead","fields":["phone"]}]`
	tests := []struct {
		name, json string
		fields     []string
	}{
		{"UnknownRoleInABinding", `{` + base + `,"roles":[],"bindings":[{"department":"00000000-0000-0000-0000-000000000003","roles":["ghost"]}]}`, []string{"bindings[0].roles[0]"}},
		{"UnknownDepartmentInABinding", `{` + base + `,"roles":[{"name":"r"}],"bindings":[{"department":"00000000-0000-0000-0000-000000000999","roles":["r"]}]}`, []string{"bindings[0].department"}},
		{"UnknownDepartmentOfARole", `{` + base + `,"roles":[{"name":"r","departments":["00000000-0000-0000-0000-000000000999"]}]}`, []string{"roles[0].departments[0]"}},
		{"UnknownAction", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["fly"],"scope":"all"}]}]}`, []string{""}},
		{"UnknownRecordType", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"invoice","actions":["view"],"scope":"all"}]}]}`, []string{"roles[0].rules[0].record_type"}},
		{"UnknownScope", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"galaxy"}]}]}`, []string{"roles[0].rules[0].scope"}},
		{"MissingScope", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"]}]}]}`, []string{"roles[0].rules[0].scope"}},
		{"MissingActions", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","scope":"all"}]}]}`, []string{"roles[0].rules[0].actions"}},
		{"RepeatedAction", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view","view"],"scope":"all"}]}]}`, []string{"roles[0].rules[0].actions[1]"}},
		{"UnknownEffect", `{` + base + `,"roles":[{"name":"r","rules":[{"effect":"maybe","record_type":"lead","actions":["view"],"scope":"all"}]}]}`, []string{"roles[0].rules[0].effect"}},
		{"CustomScopeWithoutDepartments", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"custom"}]}]}`, []string{"roles[0].rules[0].departments"}},
		{"DepartmentsOutsideACustomScope", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"all","departments":["00000000-0000-0000-0000-000000000003"],"include_subtrees":true}]}]}`, []string{"roles[0].rules[0].departments", "roles[0].rules[0].include_subtrees"}},
		{"UnknownConditionDepartment", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"all","when":{"all":[{"field":"department_id","under":["00000000-0000-0000-0000-000000000999"]},{"field":"creator_department_id","under":["00000000-0000-0000-0000-000000000000"]}]}}]}]}`, []string{"roles[0].rules[0].when.all[0].under[0]", "roles[0].rules[0].when.all[1].under[0]"}},
		{"UnknownConditionField", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"all","when":{"all":[{"field":"fields.salary","equals":"1"},{"field":"pool_id","in":["00000000-0000-0000-0000-000000000000"]},{"field":"status","in":[""]}]}}]}]}`, []string{"roles[0].rules[0].when.all[0].field", "roles[0].rules[0].when.all[1].in[0]"}},
		{"RetiredConditionForm", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"all","when":{"owner_departments":["00000000-0000-0000-0000-000000000001"]}}]}]}`, []string{"roles[0].rules[0].when.owner_departments"}},
		{"UnknownFieldInAFieldRule", `{` + base + `,"roles":[{"name":"r","fields":[{"record_type":"lead","field":"salary","access":"hidden"},{"record_type":"lead","field":"phone","access":"secret"}]}]}`, []string{"roles[0].fields[0].field", "roles[0].fields[1].access"}},
		{"RepeatedFieldRule", `{` + base + `,"roles":[{"name":"r","fields":[{"record_type":"lead","field":"phone","access":"hidden"},{"record_type":"lead","field":"phone","access":"read_only"}]}]}`, []string{"roles[0].fields[1].field"}},
		{"RepeatedRoleAndRuleID", `{` + base + `,"roles":[{"name":"r","rules":[{"id":"x","record_type":"lead","actions":["view"],"scope":"all"}]},{"name":"r","rules":[{"id":"x","record_type":"lead","actions":["view"],"scope":"all"}]}]}`, []string{"roles[1].name", "roles[1].rules[0].id"}},
		{"BadRecordTypeAndFieldNames", `{"record_types":[{"name":"Lead","fields":["Phone","a","a"]},{"name":""}],"roles":[{"name":" r"}]}`, []string{"record_types[0].name", "record_types[0].fields[0]", "record_types[0].fields[2]", "record_types[1].name", "roles[0].name"}},
		{"UnknownJSONKey", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"all","scopes":"x"}]}]}`, []string{"roles[0].rules[0].scopes"}},
		{"RepeatedJSONKey", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"all","effect":"deny","effect":"allow"}]}]}`, []string{"roles[0].rules[0].effect"}},
		{"WrongJSONType", `{` + base + `,"roles":[{"name":"r","rules":[{"record_type":"lead","actions":"view","scope":"all"}]}]}`, []string{"roles.rules.actions"}},
		{"TrailingData", `{` + base + `,"roles":[]} {}`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := permission.Load([]byte(tt.json), departments(), nil)
			require.Error(t, err)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			require.True(t, strings.HasPrefix(err.Error(), "permission: "), err.Error())
			var es crm.ValidationErrors
			if errors.As(err, &es) {
				require.Equal(t, tt.fields, es.Fields(), err.Error())
				return
			}
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.fields, []string{ve.Field}, err.Error())
		})
	}
}

func TestNewRejectsADepartmentCycle(t *testing.T) {
	t.Parallel()
	depts := departments()
	depts[0].ParentID = salesEast // Company below Sales East
	_, err := permission.Load(policyJSON(t), depts, nil)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.Contains(t, err.Error(), "departments[0].parent_id")
	require.Contains(t, err.Error(), "cycle")
}

func TestNewRejectsANilDocument(t *testing.T) {
	t.Parallel()
	_, err := permission.New(nil, departments(), nil)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
}

func TestPolicyKeepsItsOwnCopyOfTheDocument(t *testing.T) {
	t.Parallel()
	doc, err := permission.ParseDocument(policyJSON(t))
	require.NoError(t, err)
	p, err := permission.New(doc, departments(), nil)
	require.NoError(t, err)
	doc.Roles[0].Rules[0].Actions[0] = permission.ActionDelete
	require.Equal(t, permission.ActionView, p.Document().Roles[0].Rules[0].Actions[0])
	require.Equal(t, 9, p.Departments().Len())
}

func TestActionsRoundTripThroughText(t *testing.T) {
	t.Parallel()
	for _, a := range permission.Actions() {
		b, err := a.MarshalText()
		require.NoError(t, err)
		var back permission.Action
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, a, back)
	}
	_, err := permission.Action(0).MarshalText()
	require.Error(t, err)
	require.Equal(t, "invalid", permission.Action(99).String())
}

func FuzzLoad(f *testing.F) {
	f.Add(policyJSON(f))
	f.Add([]byte(`{"record_types":[{"name":"lead"}],"roles":[{"name":"r","rules":[{"record_type":"lead","actions":["view"],"scope":"custom","departments":["00000000-0000-0000-0000-000000000004"]}]}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	depts := departments()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := permission.Load(data, depts, nil)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		// A policy that loads never panics and never allows a bad subject.
		s := p.SubjectOf(id(0x3000), crm.NilID, "r")
		for _, a := range permission.Actions() {
			require.False(t, p.Check(&s, a, &permission.Resource{Type: "lead"}).Allowed)
		}
		good := p.SubjectOf(id(0x3000), sales, "r")
		_ = p.Check(&good, permission.ActionView, &permission.Resource{Type: "lead", DepartmentID: salesEast}).Reason()
		_ = p.ListFilter(&good, "lead", permission.ActionView)
	})
}

func TestNewTakesDepartmentsAsAListReturnsThemAndRefusesANilOne(t *testing.T) {
	t.Parallel()
	doc, err := permission.ParseDocument(policyJSON(t))
	require.NoError(t, err)
	depts := departments()
	depts[3] = nil
	_, err = permission.New(doc, depts, nil)
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "departments[3]", ve.Field)
}
