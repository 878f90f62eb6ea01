package pgstore

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/crm"
)

// The filters translate the Match methods of crm/filter.go to SQL, one
// condition per set field, all ANDed. Values always travel as parameters;
// only column names (constants of this package) are spliced into the text.

// query builds one parameterised statement.
type query struct {
	sql  strings.Builder
	args []any
	// selective marks a filter whose matching rows are few and found by an
	// index of their own (a set of subject records): a list reads them
	// first and orders them after, rather than walking the ID index and
	// testing every row.
	selective bool
}

// newQuery starts a query whose $1 is the tenant.
func newQuery(prefix, tenant string) *query {
	q := &query{args: []any{tenant}}
	q.sql.WriteString(prefix)
	return q
}

// arg adds a parameter and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// and appends " AND " and the parts of one condition.
func (q *query) and(parts ...string) {
	q.sql.WriteString(" AND ")
	for _, p := range parts {
		q.sql.WriteString(p)
	}
}

// textIn matches col against any of vals; no values, no condition.
func textIn[S ~string](q *query, col string, vals []S) {
	if len(vals) == 0 {
		return
	}
	ss := make([]string, len(vals))
	for i, v := range vals {
		ss[i] = string(v)
	}
	q.and(col, " = ANY(", q.arg(ss), "::text[])")
}

// idIn matches a reference column against any of ids; NilID in ids matches
// records that reference nothing (NULL), as Match does.
func idIn(q *query, col string, ids []crm.ID) {
	if len(ids) == 0 {
		return
	}
	p := q.arg(uuidArray(ids))
	if slices.Contains(ids, crm.NilID) {
		q.and("(", col, " = ANY(", p, "::uuid[]) OR ", col, " IS NULL)")
		return
	}
	q.and(col, " = ANY(", p, "::uuid[])")
}

func uuidArray(ids []crm.ID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}

// scope restricts to a data scope as [crm.DataScope.Match] does: nil or All
// is no restriction, a non-nil empty scope matches nothing. The department
// trees are expanded by a recursive query over the tenant's departments
// ($1), so a department belongs to a tree when its chain of parents reaches
// the root, and the root itself matches even if no department row has its
// ID (as InTree does).
//
// pool is the record's pool column, or "" for record types that have none,
// where PoolIDs match nothing.
func scope(q *query, departments, owner, dept, pool string, s *crm.DataScope) {
	if s == nil || s.All {
		return
	}
	var alts []string
	if len(s.OwnerIDs) > 0 {
		alts = append(alts, owner+" = ANY("+q.arg(uuidArray(s.OwnerIDs))+"::uuid[])")
	}
	if len(s.DepartmentIDs) > 0 {
		alts = append(alts, dept+" = ANY("+q.arg(uuidArray(s.DepartmentIDs))+"::uuid[])")
	}
	if len(s.PoolIDs) > 0 && pool != "" {
		alts = append(alts, pool+" = ANY("+q.arg(uuidArray(s.PoolIDs))+"::uuid[])")
	}
	if len(s.DepartmentTrees) > 0 {
		alts = append(alts, dept+" IN (WITH RECURSIVE tree(id) AS (SELECT unnest("+q.arg(uuidArray(s.DepartmentTrees))+
			"::uuid[]) UNION SELECT d.id FROM "+departments+" d JOIN tree ON d.parent_id = tree.id WHERE d.tenant_id = $1) SELECT id FROM tree)")
	}
	if len(alts) == 0 {
		q.and("false")
		return
	}
	q.and("(", strings.Join(alts, " OR "), ")")
}

// ceilMicro rounds t up to the next microsecond, so that comparing stored
// (microsecond) times with it in SQL gives the same answer as comparing with
// t itself in Go; PostgreSQL would otherwise truncate t.
func ceilMicro(t time.Time) time.Time {
	if tr := t.Truncate(time.Microsecond); !tr.Equal(t) {
		return tr.Add(time.Microsecond)
	}
	return t
}

func whereLead(departments string) func(*crm.LeadFilter, *query) {
	return func(f *crm.LeadFilter, q *query) {
		textIn(q, "status", f.Statuses)
		idIn(q, "owner_id", f.OwnerIDs)
		idIn(q, "department_id", f.DepartmentIDs)
		textIn(q, "source", f.Sources)
		idIn(q, "converted_customer_id", f.ConvertedCustomerIDs)
		scope(q, departments, "owner_id", "department_id", "", f.Scope)
	}
}

func whereCustomer(departments string) func(*crm.CustomerFilter, *query) {
	return func(f *crm.CustomerFilter, q *query) {
		textIn(q, "status", f.Statuses)
		idIn(q, "owner_id", f.OwnerIDs)
		idIn(q, "department_id", f.DepartmentIDs)
		idIn(q, "pool_id", f.PoolIDs)
		textIn(q, "level", f.Levels)
		textIn(q, "region", f.Regions)
		textIn(q, "industry", f.Industries)
		if len(f.Tags) > 0 {
			q.and("tags && ", q.arg(f.Tags), "::text[]")
		}
		if f.Unowned {
			q.and("owner_id IS NULL")
		}
		scope(q, departments, "owner_id", "department_id", "pool_id", f.Scope)
	}
}

func whereContact(f *crm.ContactFilter, q *query) {
	idIn(q, "customer_id", f.CustomerIDs)
}

func whereOpportunity(departments string) func(*crm.OpportunityFilter, *query) {
	return func(f *crm.OpportunityFilter, q *query) {
		idIn(q, "customer_id", f.CustomerIDs)
		idIn(q, "owner_id", f.OwnerIDs)
		textIn(q, "stage", f.Stages)
		textIn(q, "pipeline", f.Pipelines)
		scope(q, departments, "owner_id", "department_id", "", f.Scope)
	}
}

func whereActivity(f *crm.ActivityFilter, q *query) {
	if f.Subject != nil {
		q.and("subject_type = ", q.arg(string(f.Subject.Type)), " AND subject_id = ", q.arg(key(f.Subject.ID)))
	}
	idIn(q, "subject_id", f.SubjectIDs)
	q.selective = q.selective || len(f.SubjectIDs) > 0
	idIn(q, "actor_id", f.ActorIDs)
	textIn(q, "kind", f.Kinds)
	if f.OccurredFrom != nil {
		q.and("occurred_at >= ", q.arg(ceilMicro(*f.OccurredFrom)))
	}
	if f.OccurredTo != nil {
		q.and("occurred_at < ", q.arg(ceilMicro(*f.OccurredTo)))
	}
}

func whereTicket(departments string) func(*crm.TicketFilter, *query) {
	return func(f *crm.TicketFilter, q *query) {
		idIn(q, "customer_id", f.CustomerIDs)
		idIn(q, "assignee_id", f.AssigneeIDs)
		idIn(q, "team_id", f.TeamIDs)
		textIn(q, "status", f.Statuses)
		scope(q, departments, "assignee_id", "department_id", "", f.Scope)
	}
}

func whereUser(f *crm.UserFilter, q *query) {
	idIn(q, "department_id", f.DepartmentIDs)
	if f.Role != "" {
		// @> rather than = ANY so the GIN index on roles applies.
		q.and("roles @> ARRAY[", q.arg(f.Role), "::text]")
	}
	if f.Active != nil {
		q.and("active = ", q.arg(*f.Active))
	}
	if f.Email != "" {
		u := crm.User{Email: f.Email}
		q.and("email_key = ", q.arg(u.EmailKey()))
	}
}

func whereDepartment(f *crm.DepartmentFilter, q *query) {
	switch {
	case f.ParentID == nil:
	case *f.ParentID == crm.NilID:
		q.and("parent_id IS NULL")
	default:
		q.and("parent_id = ", q.arg(key(*f.ParentID)))
	}
}

func whereTeam(f *crm.TeamFilter, q *query) {
	idIn(q, "department_id", f.DepartmentIDs)
	if f.MemberID != crm.NilID {
		q.and("member_ids @> ARRAY[", q.arg(key(f.MemberID)), "::uuid]")
	}
}

func whereTask(departments string) func(*crm.TaskFilter, *query) {
	return func(f *crm.TaskFilter, q *query) {
		idIn(q, "assignee_id", f.AssigneeIDs)
		idIn(q, "department_id", f.DepartmentIDs)
		textIn(q, "status", f.Statuses)
		textIn(q, "kind", f.Kinds)
		if f.Subject != nil {
			q.and("subject_type = ", q.arg(string(f.Subject.Type)), " AND subject_id = ", q.arg(key(f.Subject.ID)))
		}
		idIn(q, "subject_id", f.SubjectIDs)
		q.selective = q.selective || len(f.SubjectIDs) > 0
		if f.DueFrom != nil {
			q.and("due_at >= ", q.arg(ceilMicro(*f.DueFrom)))
		}
		if f.DueBefore != nil {
			q.and("due_at < ", q.arg(ceilMicro(*f.DueBefore)))
		}
		if w := f.Overlapping; w != nil {
			// start < To and end > From; a stored (microsecond) end is
			// after From exactly when it is after From truncated.
			q.and("start_at < ", q.arg(ceilMicro(w.To)), " AND end_at > ", q.arg(w.From.Truncate(time.Microsecond)))
		}
		scope(q, departments, "assignee_id", "department_id", "", f.Scope)
	}
}
