package crm

import (
	"slices"
	"strings"
)

// User is a person who works in the CRM: a salesperson, a manager, an agent.
// Email is unique per tenant (case-insensitive). Safe for concurrent reads.
type User struct {
	Meta
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
	// DepartmentID is the user's home department.
	DepartmentID ID `json:"department_id,omitzero"`
	// Roles are role names that the permission package resolves.
	Roles []string `json:"roles,omitempty"`
	// Skills and Regions drive skill- and region-based routing.
	Skills  []string `json:"skills,omitempty"`
	Regions []string `json:"regions,omitempty"`
	// Capacity is how many open items routing may give the user at once;
	// 0 means no limit.
	Capacity int `json:"capacity,omitempty"`
	// Active is false for users who left or are suspended; inactive users
	// are never routed to and cannot claim.
	Active bool   `json:"active"`
	Fields Fields `json:"fields,omitempty"`
}

// RecordType returns [TypeUser].
func (*User) RecordType() RecordType { return TypeUser }

// Clone returns a deep copy.
func (u *User) Clone() *User {
	out := *u
	out.Roles = slices.Clone(u.Roles)
	out.Skills = slices.Clone(u.Skills)
	out.Regions = slices.Clone(u.Regions)
	out.Fields = u.Fields.Clone()
	return &out
}

// Normalise has nothing to adjust for a user; emails keep their case and are
// compared case-insensitively.
func (u *User) Normalise() {}

// EmailKey is the unique key adapters enforce for a user's email.
func (u *User) EmailKey() string { return strings.ToLower(strings.TrimSpace(u.Email)) }

// HasRole reports whether the user has the role.
func (u *User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Validate reports every invalid field.
func (u *User) Validate() error {
	var v Problems
	u.Meta.validate(&v)
	if strings.TrimSpace(u.Name) == "" {
		v.Add("name", "is required")
	} else {
		checkText(&v, "name", u.Name, maxName)
	}
	if u.Email == "" {
		v.Add("email", "is required")
	}
	validEmail(&v, "email", u.Email)
	optional(&v, "phone", u.Phone, maxShort)
	stringList(&v, "roles", u.Roles, maxShort)
	stringList(&v, "skills", u.Skills, maxShort)
	stringList(&v, "regions", u.Regions, maxShort)
	if u.Capacity < 0 {
		v.Add("capacity", "must not be negative")
	}
	v.Prefix = "fields."
	v.Merge(u.Fields.Validate())
	return v.Err()
}

// Department is one node of the organisation tree. ParentID is NilID for a
// root. Adapters refuse a parent that does not exist or that would make a
// cycle. Safe for concurrent reads.
type Department struct {
	Meta
	Name     string `json:"name"`
	ParentID ID     `json:"parent_id,omitzero"`
	// ManagerID is the department's manager, used by approvals and data
	// scopes.
	ManagerID ID     `json:"manager_id,omitzero"`
	Fields    Fields `json:"fields,omitempty"`
}

// RecordType returns [TypeDepartment].
func (*Department) RecordType() RecordType { return TypeDepartment }

// Clone returns a deep copy.
func (d *Department) Clone() *Department {
	out := *d
	out.Fields = d.Fields.Clone()
	return &out
}

// Normalise has nothing to adjust for a department.
func (d *Department) Normalise() {}

// Validate reports every invalid field. Whether the parent exists and the tree
// stays acyclic needs the other departments: see [CheckDepartmentParent].
func (d *Department) Validate() error {
	var v Problems
	d.Meta.validate(&v)
	if strings.TrimSpace(d.Name) == "" {
		v.Add("name", "is required")
	} else {
		checkText(&v, "name", d.Name, maxName)
	}
	if d.ParentID != NilID && d.ParentID == d.ID {
		v.Add("parent_id", "a department cannot be its own parent")
	}
	v.Prefix = "fields."
	v.Merge(d.Fields.Validate())
	return v.Err()
}

// Team is a group of users that routing and SLAs can target, such as "East
// China inside sales" or "Tier 2 support". Safe for concurrent reads.
type Team struct {
	Meta
	Name         string `json:"name"`
	DepartmentID ID     `json:"department_id,omitzero"`
	// LeadID is the team lead, the first escalation target.
	LeadID    ID     `json:"lead_id,omitzero"`
	MemberIDs []ID   `json:"member_ids,omitempty"`
	Fields    Fields `json:"fields,omitempty"`
}

// RecordType returns [TypeTeam].
func (*Team) RecordType() RecordType { return TypeTeam }

// Clone returns a deep copy.
func (t *Team) Clone() *Team {
	out := *t
	out.MemberIDs = slices.Clone(t.MemberIDs)
	out.Fields = t.Fields.Clone()
	return &out
}

// Normalise has nothing to adjust for a team.
func (t *Team) Normalise() {}

// Validate reports every invalid field.
func (t *Team) Validate() error {
	var v Problems
	t.Meta.validate(&v)
	if strings.TrimSpace(t.Name) == "" {
		v.Add("name", "is required")
	} else {
		checkText(&v, "name", t.Name, maxName)
	}
	if len(t.MemberIDs) > 10000 {
		v.Add("member_ids", "has more than 10000 members")
	}
	seen := make(map[ID]struct{}, len(t.MemberIDs))
	for i, id := range t.MemberIDs {
		if id == NilID {
			v.Add("member_ids["+itoa(i)+"]", "is required")
		}
		if _, dup := seen[id]; dup {
			v.Add("member_ids["+itoa(i)+"]", "repeats %s", id)
		}
		seen[id] = struct{}{}
	}
	v.Prefix = "fields."
	v.Merge(t.Fields.Validate())
	return v.Err()
}
