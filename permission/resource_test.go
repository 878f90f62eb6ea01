package permission_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

func TestResourceHelpersDescribeRecords(t *testing.T) {
	t.Parallel()
	o := &crm.Opportunity{OwnerID: sid.ID, DepartmentID: salesWest, Stage: crm.StageQualification}
	require.Equal(t, permission.Resource{Type: crm.TypeOpportunity, OwnerID: sid.ID, DepartmentID: salesWest, CreatorDepartmentID: marketing, Status: string(crm.StageQualification)},
		permission.OpportunityResource(o, marketing))
	tk := &crm.Ticket{AssigneeID: ted.ID, DepartmentID: service, Status: crm.TicketStatus("open")}
	require.Equal(t, permission.Resource{Type: crm.TypeTicket, OwnerID: ted.ID, DepartmentID: service, Status: "open"},
		permission.TicketResource(tk, crm.NilID))
	c := &crm.Customer{DepartmentID: sales, PoolID: pool, Status: crm.CustomerPotential}
	require.Equal(t, pool, permission.CustomerResource(c, sales).PoolID)
	l := &crm.Lead{OwnerID: mia.ID, DepartmentID: marketing, Status: crm.LeadNew}
	require.Equal(t, "new", permission.LeadResource(l, marketing).Status)
}

func TestSubjectReportsWhatItResolved(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	s := p.Subject(sue)
	require.Equal(t, sue.ID, s.UserID())
	require.Equal(t, sales, s.DepartmentID())
	require.Equal(t, []string{"sales_rep", "sales_manager"}, s.Roles())
	// A role named outside the departments where it applies is dropped.
	e := p.Subject(eve)
	require.Equal(t, []string{"marketing"}, e.Roles())
	var zero permission.Subject
	require.Nil(t, zero.Roles())
	d := p.Check(&s, permission.ActionView, &samCust)
	require.Equal(t, d.Reason(), d.String())
}
