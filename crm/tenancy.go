package crm

import "slices"

// Tenancy of references.
//
// A record refers to others by ID: a customer to its owner, department and
// pool, a contact to its customer, a team to its members. Every such
// reference must name a record of the referring record's own tenant, or no
// stored record at all (a user who was deleted, a record the host has not
// stored yet): a reference to a record of another tenant is refused by
// Create and Update with a [*ValidationError] naming the field. Adapters
// find a record's references with [References] and the record types they
// must look in with [ReferenceTypes], so the list of reference fields lives
// here, once.

// TypePool names the public pools of package pool, the target of
// [Customer.PoolID]. Pools are stored through package pool's ports, not as a
// shared record, so [RecordType.Valid] reports false for it.
const TypePool RecordType = "pool"

// Reference is one field of a record that names another stored record.
type Reference struct {
	// Field is the field's path as validation errors name it: "owner_id",
	// "subject.id", "member_ids[2]".
	Field string
	// Type is the type of the record named.
	Type RecordType
	// ID is the record named; never NilID.
	ID ID
}

// subjectTypes are the record types an activity or a task may be about.
var subjectTypes = []RecordType{TypeLead, TypeCustomer, TypeContact, TypeOpportunity, TypeTicket}

// ReferenceTypes returns the types of record that a record of type t may
// refer to, each once, in a fixed order; nil for a type that refers to
// nothing or is not one of the shared record types. The slice is the
// caller's.
func ReferenceTypes(t RecordType) []RecordType {
	switch t {
	case TypeLead:
		return []RecordType{TypeUser, TypeDepartment, TypeCustomer, TypeContact, TypeOpportunity}
	case TypeCustomer:
		return []RecordType{TypeUser, TypeDepartment, TypePool}
	case TypeContact:
		return []RecordType{TypeCustomer, TypeUser}
	case TypeOpportunity:
		return []RecordType{TypeCustomer, TypeUser, TypeDepartment}
	case TypeActivity:
		return append([]RecordType{TypeUser}, subjectTypes...)
	case TypeTicket:
		return []RecordType{TypeCustomer, TypeContact, TypeUser, TypeTeam, TypeDepartment}
	case TypeUser:
		return []RecordType{TypeDepartment}
	case TypeDepartment:
		return []RecordType{TypeDepartment, TypeUser}
	case TypeTeam:
		return []RecordType{TypeDepartment, TypeUser}
	case TypeTask:
		return append([]RecordType{TypeUser, TypeDepartment, TypeActivity, TypeTask}, subjectTypes...)
	}
	return nil
}

// References appends to dst every reference e makes to another record, in
// field order, skipping fields that are NilID, and returns the extended
// slice. An activity's subject counts only when its type is one an activity
// may be about (Validate refuses the others). Types other than the shared
// record types have no references.
func References(dst []Reference, e Entity) []Reference {
	add := func(field string, t RecordType, id ID) {
		if id != NilID {
			dst = append(dst, Reference{Field: field, Type: t, ID: id})
		}
	}
	switch v := e.(type) {
	case *Lead:
		add("owner_id", TypeUser, v.OwnerID)
		add("department_id", TypeDepartment, v.DepartmentID)
		add("created_by", TypeUser, v.CreatedBy)
		add("converted_customer_id", TypeCustomer, v.ConvertedCustomerID)
		add("converted_contact_id", TypeContact, v.ConvertedContactID)
		add("converted_opportunity_id", TypeOpportunity, v.ConvertedOpportunityID)
	case *Customer:
		add("owner_id", TypeUser, v.OwnerID)
		add("department_id", TypeDepartment, v.DepartmentID)
		add("pool_id", TypePool, v.PoolID)
		add("created_by", TypeUser, v.CreatedBy)
	case *Contact:
		add("customer_id", TypeCustomer, v.CustomerID)
		add("owner_id", TypeUser, v.OwnerID)
	case *Opportunity:
		add("customer_id", TypeCustomer, v.CustomerID)
		add("owner_id", TypeUser, v.OwnerID)
		add("department_id", TypeDepartment, v.DepartmentID)
	case *Activity:
		if slices.Contains(subjectTypes, v.Subject.Type) {
			add("subject.id", v.Subject.Type, v.Subject.ID)
		}
		add("actor_id", TypeUser, v.ActorID)
	case *Ticket:
		add("customer_id", TypeCustomer, v.CustomerID)
		add("contact_id", TypeContact, v.ContactID)
		add("assignee_id", TypeUser, v.AssigneeID)
		add("team_id", TypeTeam, v.TeamID)
		add("department_id", TypeDepartment, v.DepartmentID)
	case *User:
		add("department_id", TypeDepartment, v.DepartmentID)
	case *Department:
		add("parent_id", TypeDepartment, v.ParentID)
		add("manager_id", TypeUser, v.ManagerID)
	case *Team:
		add("department_id", TypeDepartment, v.DepartmentID)
		add("lead_id", TypeUser, v.LeadID)
		for i, id := range v.MemberIDs {
			add("member_ids["+itoa(i)+"]", TypeUser, id)
		}
	case *Task:
		if slices.Contains(subjectTypes, v.Subject.Type) {
			add("subject.id", v.Subject.Type, v.Subject.ID)
		}
		add("assignee_id", TypeUser, v.AssigneeID)
		add("department_id", TypeDepartment, v.DepartmentID)
		add("created_by", TypeUser, v.CreatedBy)
		add("previous_id", TypeTask, v.PreviousID)
		add("completed_by", TypeActivity, v.CompletedBy)
	}
	return dst
}

// ForeignReference returns the error for a reference (field) to a record of
// another tenant. It says no more than that: neither the tenant nor anything
// of the record.
func ForeignReference(field string) *ValidationError {
	return Invalid(field, "refers to a record of another tenant")
}

// IDTakenByAnotherTenant returns the error for a Create whose ID is already
// the ID of a record of another tenant. Record IDs are unique across the
// whole store, so the record cannot be stored under that ID; the error is
// not [ErrAlreadyExists], which means "a record the caller can read exists",
// and it says nothing of the other record.
func IDTakenByAnotherTenant() *ValidationError {
	return Invalid("id", "is not available; use a new ID")
}
