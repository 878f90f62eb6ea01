package permission

import "github.com/crmkit/crmkit/crm"

// The helpers below describe stored records as resources. A record keeps
// only its creator's user ID, so the caller passes the creator's department
// (NilID when unknown: a deny's creator condition then holds and an
// allow's does not).

// LeadResource describes a lead.
func LeadResource(l *crm.Lead, creatorDepartment crm.ID) Resource {
	return Resource{
		Type: crm.TypeLead, OwnerID: l.OwnerID, DepartmentID: l.DepartmentID,
		CreatorDepartmentID: creatorDepartment, Status: string(l.Status), Fields: l.Fields,
	}
}

// CustomerResource describes a customer, including the pool holding it.
func CustomerResource(c *crm.Customer, creatorDepartment crm.ID) Resource {
	return Resource{
		Type: crm.TypeCustomer, OwnerID: c.OwnerID, DepartmentID: c.DepartmentID,
		CreatorDepartmentID: creatorDepartment, PoolID: c.PoolID, Status: string(c.Status), Fields: c.Fields,
	}
}

// OpportunityResource describes an opportunity; its status is its stage.
func OpportunityResource(o *crm.Opportunity, creatorDepartment crm.ID) Resource {
	return Resource{
		Type: crm.TypeOpportunity, OwnerID: o.OwnerID, DepartmentID: o.DepartmentID,
		CreatorDepartmentID: creatorDepartment, Status: string(o.Stage), Fields: o.Fields,
	}
}

// TicketResource describes a ticket; its owner is its assignee, as in
// [crm.TicketFilter].
func TicketResource(t *crm.Ticket, creatorDepartment crm.ID) Resource {
	return Resource{
		Type: crm.TypeTicket, OwnerID: t.AssigneeID, DepartmentID: t.DepartmentID,
		CreatorDepartmentID: creatorDepartment, Status: string(t.Status), Fields: t.Fields,
	}
}
