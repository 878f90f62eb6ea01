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

// ContactResource describes a contact, which lives under its customer: its
// owner is its own when set, otherwise the customer's, and its department
// and pool are the customer's. customer may be nil (an orphan contact: no
// department, no pool).
func ContactResource(c *crm.Contact, customer *crm.Customer) Resource {
	r := Resource{Type: crm.TypeContact, OwnerID: c.OwnerID, Fields: c.Fields}
	if customer != nil {
		if r.OwnerID == crm.NilID {
			r.OwnerID = customer.OwnerID
		}
		r.DepartmentID, r.PoolID = customer.DepartmentID, customer.PoolID
	}
	return r
}

// ActivityResource describes a follow-up activity: its owner is the user
// who did it, its department that user's (actorDepartment; NilID when
// unknown), its status its kind.
func ActivityResource(a *crm.Activity, actorDepartment crm.ID) Resource {
	return Resource{Type: crm.TypeActivity, OwnerID: a.ActorID, DepartmentID: actorDepartment, Status: string(a.Kind), Fields: a.Fields}
}

// TaskResource describes a task: its owner is its assignee, as in work
// queues and data scopes.
func TaskResource(t *crm.Task) Resource {
	return Resource{Type: crm.TypeTask, OwnerID: t.AssigneeID, DepartmentID: t.DepartmentID, Status: string(t.Status), Fields: t.Fields}
}
