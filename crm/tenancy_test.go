package crm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestReferencesListsEverySetReferenceWithATypeReferenceTypesNames(t *testing.T) {
	n := byte(0)
	id := func() crm.ID { n++; return crm.ID{15: n} }
	cases := []struct {
		e      crm.Entity
		fields []string
	}{
		{&crm.Lead{OwnerID: id(), DepartmentID: id(), CreatedBy: id(), ConvertedCustomerID: id(), ConvertedContactID: id(), ConvertedOpportunityID: id()},
			[]string{"owner_id", "department_id", "created_by", "converted_customer_id", "converted_contact_id", "converted_opportunity_id"}},
		{&crm.Customer{OwnerID: id(), DepartmentID: id(), PoolID: id(), CreatedBy: id()},
			[]string{"owner_id", "department_id", "pool_id", "created_by"}},
		{&crm.Contact{CustomerID: id(), OwnerID: id()}, []string{"customer_id", "owner_id"}},
		{&crm.Opportunity{CustomerID: id(), OwnerID: id(), DepartmentID: id()}, []string{"customer_id", "owner_id", "department_id"}},
		{&crm.Activity{Subject: crm.Ref{Type: crm.TypeTicket, ID: id()}, ActorID: id()}, []string{"subject.id", "actor_id"}},
		{&crm.Activity{Subject: crm.Ref{Type: "invoice", ID: id()}, ActorID: id()}, []string{"actor_id"}},
		{&crm.Ticket{CustomerID: id(), ContactID: id(), AssigneeID: id(), TeamID: id(), DepartmentID: id()},
			[]string{"customer_id", "contact_id", "assignee_id", "team_id", "department_id"}},
		{&crm.User{DepartmentID: id()}, []string{"department_id"}},
		{&crm.Department{ParentID: id(), ManagerID: id()}, []string{"parent_id", "manager_id"}},
		{&crm.Team{DepartmentID: id(), LeadID: id(), MemberIDs: []crm.ID{id(), id()}},
			[]string{"department_id", "lead_id", "member_ids[0]", "member_ids[1]"}},
		{&crm.Task{Subject: crm.Ref{Type: crm.TypeContact, ID: id()}, AssigneeID: id(), DepartmentID: id(), CreatedBy: id(),
			PreviousID: id(), CompletedBy: id()},
			[]string{"subject.id", "assignee_id", "department_id", "created_by", "previous_id", "completed_by"}},
	}
	for _, c := range cases {
		t.Run(string(c.e.RecordType()), func(t *testing.T) {
			refs := crm.References(nil, c.e)
			var fields []string
			for _, r := range refs {
				fields = append(fields, r.Field)
				require.NotEqual(t, crm.NilID, r.ID)
				require.Contains(t, crm.ReferenceTypes(c.e.RecordType()), r.Type, "field %s", r.Field)
			}
			require.Equal(t, c.fields, fields)
		})
	}
}

func TestReferencesSkipsUnsetFields(t *testing.T) {
	for _, e := range []crm.Entity{&crm.Lead{}, &crm.Customer{}, &crm.Contact{}, &crm.Opportunity{}, &crm.Activity{},
		&crm.Ticket{}, &crm.User{}, &crm.Department{}, &crm.Team{MemberIDs: []crm.ID{crm.NilID}}, &crm.Task{}} {
		require.Empty(t, crm.References(nil, e), "%s", e.RecordType())
	}
}

func TestReferenceErrorsNameTheFieldAndMatchErrInvalidArgument(t *testing.T) {
	require.ErrorIs(t, crm.ForeignReference("owner_id"), crm.ErrInvalidArgument)
	require.Equal(t, "owner_id", crm.ForeignReference("owner_id").Field)
	require.ErrorIs(t, crm.IDTakenByAnotherTenant(), crm.ErrInvalidArgument)
	require.NotErrorIs(t, crm.IDTakenByAnotherTenant(), crm.ErrAlreadyExists)
	require.Equal(t, "id", crm.IDTakenByAnotherTenant().Field)
}
