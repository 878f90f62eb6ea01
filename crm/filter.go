package crm

import (
	"slices"
	"strings"
	"time"
)

// Filters select records in List calls. Every field is optional; an empty
// field does not constrain, and set fields must all hold (AND). A list field
// matches when the record's value is any of the listed values (IN). The
// Match methods define the semantics once; memstore uses them directly and
// pgstore translates them to SQL, and the conformance suite checks that both
// agree.

// maxFilterValues bounds each list in a filter.
const maxFilterValues = 1000

// maxFilterText bounds each string value of a filter, in characters: the
// longest text the matching record field may hold (64). Every string value
// must also be valid UTF-8 without NUL characters, so a filter that no
// stored record could match is refused the same way on every adapter
// rather than reaching a database that rejects it with an error of its own.
const maxFilterText = maxShort

// InTree reports whether department dept is root or below it. Adapters
// supply it when matching a [DataScope].
type InTree func(root, dept ID) bool

// DataScope restricts a list to the records a subject may see, as compiled by
// the permission package. A record matches when All is set, or its owner is
// in OwnerIDs, or its department is in DepartmentIDs, or its department is
// root of or inside the subtree of one of DepartmentTrees, or it sits in one
// of PoolIDs (only customers sit in pools). A non-nil empty scope matches
// nothing: an empty grant never widens into "everything".
type DataScope struct {
	All             bool `json:"all,omitempty"`
	OwnerIDs        []ID `json:"owner_ids,omitempty"`
	DepartmentIDs   []ID `json:"department_ids,omitempty"`
	DepartmentTrees []ID `json:"department_trees,omitempty"`
	PoolIDs         []ID `json:"pool_ids,omitempty"`
}

// Match reports whether a record with owner, department and pool (NilID for
// none) is in scope.
func (s *DataScope) Match(owner, dept, pool ID, inTree InTree) bool {
	if s == nil || s.All {
		return true
	}
	if owner != NilID && slices.Contains(s.OwnerIDs, owner) {
		return true
	}
	if pool != NilID && slices.Contains(s.PoolIDs, pool) {
		return true
	}
	if dept == NilID {
		return false
	}
	if slices.Contains(s.DepartmentIDs, dept) {
		return true
	}
	for _, root := range s.DepartmentTrees {
		if inTree(root, dept) {
			return true
		}
	}
	return false
}

func (s *DataScope) validate(v *Problems) {
	if s == nil {
		return
	}
	idList(v, "scope.owner_ids", s.OwnerIDs)
	idList(v, "scope.department_ids", s.DepartmentIDs)
	idList(v, "scope.department_trees", s.DepartmentTrees)
	idList(v, "scope.pool_ids", s.PoolIDs)
}

func idList(v *Problems, field string, ids []ID) {
	if len(ids) > maxFilterValues {
		v.Add(field, "has more than %d values", maxFilterValues)
	}
}

// strList checks a list of string values: at most maxFilterValues of them,
// each valid UTF-8 without NUL and at most maxFilterText characters, and,
// when valid is set, each one it accepts. A problem names the value's
// index, as in "regions[2]".
func strList[S ~string](v *Problems, field string, ss []S, valid func(S) bool) {
	if len(ss) > maxFilterValues {
		v.Add(field, "has more than %d values", maxFilterValues)
		return
	}
	for i, s := range ss {
		f := field + "[" + itoa(i) + "]"
		n := len(v.errs)
		checkText(v, f, string(s), maxFilterText)
		if len(v.errs) == n && valid != nil && !valid(s) {
			v.Add(f, "unknown value %q", truncate(string(s), 32))
		}
	}
}

func in[S comparable](set []S, v S) bool { return len(set) == 0 || slices.Contains(set, v) }

// LeadFilter selects leads. Each of Sources is at most 64 characters of
// valid UTF-8 without NUL; Validate refuses other values.
type LeadFilter struct {
	Statuses      []LeadStatus
	OwnerIDs      []ID
	DepartmentIDs []ID
	Sources       []string
	// ConvertedCustomerIDs selects the leads converted into one of these
	// customers ([Lead.ConvertedCustomerID]).
	ConvertedCustomerIDs []ID
	Scope                *DataScope
}

// Validate reports bad filter values.
func (f *LeadFilter) Validate() error {
	var v Problems
	strList(&v, "statuses", f.Statuses, LeadStatus.Valid)
	idList(&v, "owner_ids", f.OwnerIDs)
	idList(&v, "department_ids", f.DepartmentIDs)
	strList(&v, "sources", f.Sources, nil)
	idList(&v, "converted_customer_ids", f.ConvertedCustomerIDs)
	f.Scope.validate(&v)
	return v.Err()
}

// Match reports whether l passes the filter.
func (f *LeadFilter) Match(l *Lead, inTree InTree) bool {
	return in(f.Statuses, l.Status) && in(f.OwnerIDs, l.OwnerID) &&
		in(f.DepartmentIDs, l.DepartmentID) && in(f.Sources, l.Source) &&
		in(f.ConvertedCustomerIDs, l.ConvertedCustomerID) &&
		f.Scope.Match(l.OwnerID, l.DepartmentID, NilID, inTree)
}

// CustomerFilter selects customers. Each of Levels, Regions, Industries
// and Tags is at most 64 characters of valid UTF-8 without NUL; Validate
// refuses other values.
type CustomerFilter struct {
	Statuses      []CustomerStatus
	OwnerIDs      []ID
	DepartmentIDs []ID
	PoolIDs       []ID
	Levels        []string
	Regions       []string
	Industries    []string
	// Tags selects the customers that have any of these tags. Each value
	// must be a normalised tag ([NormaliseTag]: trimmed, lower case), as
	// customers' tags are stored; Validate refuses others. pgstore serves
	// it from a GIN index.
	Tags []string
	// Unowned selects customers without an owner; it cannot be combined
	// with OwnerIDs.
	Unowned bool
	Scope   *DataScope
}

// Validate reports bad filter values.
func (f *CustomerFilter) Validate() error {
	var v Problems
	strList(&v, "statuses", f.Statuses, CustomerStatus.Valid)
	idList(&v, "owner_ids", f.OwnerIDs)
	idList(&v, "department_ids", f.DepartmentIDs)
	idList(&v, "pool_ids", f.PoolIDs)
	strList(&v, "levels", f.Levels, nil)
	strList(&v, "regions", f.Regions, nil)
	strList(&v, "industries", f.Industries, nil)
	strList(&v, "tags", f.Tags, func(t string) bool { return t != "" && t == NormaliseTag(t) })
	if f.Unowned && len(f.OwnerIDs) > 0 {
		v.Add("unowned", "cannot be combined with owner_ids")
	}
	f.Scope.validate(&v)
	return v.Err()
}

// Match reports whether c passes the filter.
func (f *CustomerFilter) Match(c *Customer, inTree InTree) bool {
	return in(f.Statuses, c.Status) && in(f.OwnerIDs, c.OwnerID) &&
		in(f.DepartmentIDs, c.DepartmentID) && in(f.PoolIDs, c.PoolID) &&
		in(f.Levels, c.Level) && in(f.Regions, c.Region) && in(f.Industries, c.Industry) &&
		(len(f.Tags) == 0 || AnyTag(c.Tags, f.Tags)) &&
		(!f.Unowned || c.OwnerID == NilID) &&
		f.Scope.Match(c.OwnerID, c.DepartmentID, c.PoolID, inTree)
}

// AnyTag reports whether tags holds any of want.
func AnyTag(tags, want []string) bool {
	for _, t := range want {
		if slices.Contains(tags, t) {
			return true
		}
	}
	return false
}

// ContactFilter selects contacts.
type ContactFilter struct {
	CustomerIDs []ID
}

// Validate reports bad filter values.
func (f *ContactFilter) Validate() error {
	var v Problems
	idList(&v, "customer_ids", f.CustomerIDs)
	return v.Err()
}

// Match reports whether c passes the filter.
func (f *ContactFilter) Match(c *Contact, _ InTree) bool { return in(f.CustomerIDs, c.CustomerID) }

// OpportunityFilter selects opportunities.
type OpportunityFilter struct {
	CustomerIDs []ID
	OwnerIDs    []ID
	// Stages are built-in or configured stage names: each must be well
	// formed ([OpportunityStage.WellFormed]).
	Stages []OpportunityStage
	// Pipelines selects the deals of these pipeline keys; "" is the
	// built-in pipeline.
	Pipelines []string
	Scope     *DataScope
}

// Validate reports bad filter values.
func (f *OpportunityFilter) Validate() error {
	var v Problems
	idList(&v, "customer_ids", f.CustomerIDs)
	idList(&v, "owner_ids", f.OwnerIDs)
	strList(&v, "stages", f.Stages, OpportunityStage.WellFormed)
	strList(&v, "pipelines", f.Pipelines, func(p string) bool { return p == "" || IsIdentifier(p) })
	f.Scope.validate(&v)
	return v.Err()
}

// Match reports whether o passes the filter.
func (f *OpportunityFilter) Match(o *Opportunity, inTree InTree) bool {
	return in(f.CustomerIDs, o.CustomerID) && in(f.OwnerIDs, o.OwnerID) && in(f.Stages, o.Stage) &&
		in(f.Pipelines, o.Pipeline) && f.Scope.Match(o.OwnerID, o.DepartmentID, NilID, inTree)
}

// ActivityFilter selects activities.
type ActivityFilter struct {
	// Subject selects the activities of one record. Its type is at most 64
	// characters of valid UTF-8 without NUL.
	Subject *Ref
	// SubjectIDs selects the activities about any of these records (IDs
	// are unique across record types).
	SubjectIDs []ID
	ActorIDs   []ID
	Kinds      []ActivityKind
	// OccurredFrom (inclusive) and OccurredTo (exclusive) bound OccurredAt.
	OccurredFrom, OccurredTo *time.Time
}

// Validate reports bad filter values.
func (f *ActivityFilter) Validate() error {
	var v Problems
	idList(&v, "actor_ids", f.ActorIDs)
	idList(&v, "subject_ids", f.SubjectIDs)
	if f.Subject != nil {
		checkText(&v, "subject.type", string(f.Subject.Type), maxFilterText)
	}
	strList(&v, "kinds", f.Kinds, ActivityKind.Valid)
	if f.OccurredFrom != nil && f.OccurredTo != nil && !f.OccurredFrom.Before(*f.OccurredTo) {
		v.Add("occurred_to", "must be after occurred_from")
	}
	return v.Err()
}

// Match reports whether a passes the filter.
func (f *ActivityFilter) Match(a *Activity, _ InTree) bool {
	return (f.Subject == nil || *f.Subject == a.Subject) && in(f.SubjectIDs, a.Subject.ID) && in(f.ActorIDs, a.ActorID) &&
		in(f.Kinds, a.Kind) &&
		(f.OccurredFrom == nil || !a.OccurredAt.Before(*f.OccurredFrom)) &&
		(f.OccurredTo == nil || a.OccurredAt.Before(*f.OccurredTo))
}

// TicketFilter selects tickets. For data scopes a ticket's owner is its
// assignee.
type TicketFilter struct {
	CustomerIDs []ID
	AssigneeIDs []ID
	TeamIDs     []ID
	Statuses    []TicketStatus
	Scope       *DataScope
}

// Validate reports bad filter values.
func (f *TicketFilter) Validate() error {
	var v Problems
	idList(&v, "customer_ids", f.CustomerIDs)
	idList(&v, "assignee_ids", f.AssigneeIDs)
	idList(&v, "team_ids", f.TeamIDs)
	strList(&v, "statuses", f.Statuses, TicketStatus.Valid)
	f.Scope.validate(&v)
	return v.Err()
}

// Match reports whether t passes the filter.
func (f *TicketFilter) Match(t *Ticket, inTree InTree) bool {
	return in(f.CustomerIDs, t.CustomerID) && in(f.AssigneeIDs, t.AssigneeID) &&
		in(f.TeamIDs, t.TeamID) && in(f.Statuses, t.Status) &&
		f.Scope.Match(t.AssigneeID, t.DepartmentID, NilID, inTree)
}

// UserFilter selects users.
type UserFilter struct {
	DepartmentIDs []ID
	// Role selects users holding the role; at most 64 characters of valid
	// UTF-8 without NUL.
	Role string
	// Active, when set, selects active (true) or inactive (false) users.
	Active *bool
	// Email selects the user with this email, compared case-insensitively;
	// at most 254 characters of valid UTF-8 without NUL.
	Email string
}

// Validate reports bad filter values.
func (f *UserFilter) Validate() error {
	var v Problems
	idList(&v, "department_ids", f.DepartmentIDs)
	optional(&v, "role", f.Role, maxShort)
	optional(&v, "email", f.Email, 254)
	return v.Err()
}

// Match reports whether u passes the filter.
func (f *UserFilter) Match(u *User, _ InTree) bool {
	return in(f.DepartmentIDs, u.DepartmentID) &&
		(f.Role == "" || u.HasRole(f.Role)) &&
		(f.Active == nil || *f.Active == u.Active) &&
		(f.Email == "" || strings.ToLower(strings.TrimSpace(f.Email)) == u.EmailKey())
}

// DepartmentFilter selects departments.
type DepartmentFilter struct {
	// ParentID selects the children of one department; a pointer to NilID
	// selects the roots.
	ParentID *ID
}

// Validate reports bad filter values.
func (f *DepartmentFilter) Validate() error { return nil }

// Match reports whether d passes the filter.
func (f *DepartmentFilter) Match(d *Department, _ InTree) bool {
	return f.ParentID == nil || *f.ParentID == d.ParentID
}

// TeamFilter selects teams.
type TeamFilter struct {
	DepartmentIDs []ID
	// MemberID selects the teams a user belongs to.
	MemberID ID
}

// Validate reports bad filter values.
func (f *TeamFilter) Validate() error {
	var v Problems
	idList(&v, "department_ids", f.DepartmentIDs)
	return v.Err()
}

// Match reports whether t passes the filter.
func (f *TeamFilter) Match(t *Team, _ InTree) bool {
	return in(f.DepartmentIDs, t.DepartmentID) &&
		(f.MemberID == NilID || slices.Contains(t.MemberIDs, f.MemberID))
}

// Window is a span of time from From (inclusive) to To (exclusive).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Overlaps reports whether [start, end) shares an instant with w.
func (w Window) Overlaps(start, end time.Time) bool {
	return start.Before(w.To) && end.After(w.From)
}

// TaskFilter selects tasks and appointments. For data scopes a task's
// owner is its assignee.
type TaskFilter struct {
	AssigneeIDs   []ID
	DepartmentIDs []ID
	Statuses      []TaskStatus
	Kinds         []TaskKind
	// Subject selects the tasks of one record. Its type is at most 64
	// characters of valid UTF-8 without NUL.
	Subject *Ref
	// SubjectIDs selects the tasks about any of these records.
	SubjectIDs []ID
	// DueFrom (inclusive) and DueBefore (exclusive) bound DueAt.
	DueFrom, DueBefore *time.Time
	// Overlapping selects appointments whose StartAt-EndAt span shares an
	// instant with the window (to-dos have no span and never match).
	Overlapping *Window
	Scope       *DataScope
}

// Validate reports bad filter values.
func (f *TaskFilter) Validate() error {
	var v Problems
	idList(&v, "assignee_ids", f.AssigneeIDs)
	idList(&v, "department_ids", f.DepartmentIDs)
	strList(&v, "statuses", f.Statuses, TaskStatus.Valid)
	strList(&v, "kinds", f.Kinds, TaskKind.Valid)
	idList(&v, "subject_ids", f.SubjectIDs)
	if f.Subject != nil {
		checkText(&v, "subject.type", string(f.Subject.Type), maxFilterText)
	}
	if f.DueFrom != nil && f.DueBefore != nil && !f.DueFrom.Before(*f.DueBefore) {
		v.Add("due_before", "must be after due_from")
	}
	if f.Overlapping != nil && !f.Overlapping.From.Before(f.Overlapping.To) {
		v.Add("overlapping.to", "must be after overlapping.from")
	}
	f.Scope.validate(&v)
	return v.Err()
}

// Match reports whether t passes the filter.
func (f *TaskFilter) Match(t *Task, inTree InTree) bool {
	return in(f.AssigneeIDs, t.AssigneeID) && in(f.DepartmentIDs, t.DepartmentID) &&
		in(f.Statuses, t.Status) && in(f.Kinds, t.Kind) &&
		(f.Subject == nil || *f.Subject == t.Subject) && in(f.SubjectIDs, t.Subject.ID) &&
		(f.DueFrom == nil || !t.DueAt.Before(*f.DueFrom)) &&
		(f.DueBefore == nil || t.DueAt.Before(*f.DueBefore)) &&
		(f.Overlapping == nil || (t.StartAt != nil && t.EndAt != nil && f.Overlapping.Overlaps(*t.StartAt, *t.EndAt))) &&
		f.Scope.Match(t.AssigneeID, t.DepartmentID, NilID, inTree)
}
