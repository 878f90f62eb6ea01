package workflow

import (
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Delegation hands one user's approvals to another for a period (while away),
// start inclusive, end exclusive.
type Delegation struct {
	From  crm.ID    `json:"from"`
	To    crm.ID    `json:"to"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Org is the view of the organisation approvals resolve approvers against:
// users with their roles and departments, the department tree, and
// delegations. Build it with [NewOrg]; it is immutable and safe for
// concurrent use.
type Org struct {
	users       map[crm.ID]*crm.User
	roles       map[string][]crm.ID
	tree        *crm.DepartmentTree
	delegations []Delegation
}

// NewOrg indexes users (by ID and role), the department tree (nil when the
// host has none) and delegations. A delegation with an unknown user or an
// empty period is a [crm.ValidationErrors] naming it.
func NewOrg(users []crm.User, tree *crm.DepartmentTree, delegations []Delegation) (*Org, error) {
	o := &Org{users: make(map[crm.ID]*crm.User, len(users)), roles: map[string][]crm.ID{}, tree: tree}
	var probs crm.Problems
	for i := range users {
		u := users[i].Clone()
		if u.ID == crm.NilID {
			probs.Add(fmt.Sprintf("users[%d].id", i), "is required")
			continue
		}
		o.users[u.ID] = u
		for _, r := range u.Roles {
			o.roles[r] = append(o.roles[r], u.ID)
		}
	}
	for r := range o.roles {
		slices.SortFunc(o.roles[r], func(a, b crm.ID) int { return compareIDs(a, b) })
	}
	for i, d := range delegations {
		p := fmt.Sprintf("delegations[%d]", i)
		if _, ok := o.users[d.From]; !ok {
			probs.Add(p+".from", "unknown user %s", d.From)
		}
		if _, ok := o.users[d.To]; !ok || d.To == d.From {
			probs.Add(p+".to", "must be another known user")
		}
		if !d.End.After(d.Start) {
			probs.Add(p+".end", "must be after start")
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	o.delegations = slices.Clone(delegations)
	return o, nil
}

func compareIDs(a, b crm.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// active reports whether id is a known, active user.
func (o *Org) active(id crm.ID) bool {
	u, ok := o.users[id]
	return ok && u.Active
}

// delegateOf returns who acts for user at t (following chains up to a few
// hops), or user itself. A delegation to submitter is passed over: the
// submitter never approves their own request.
func (o *Org) delegateOf(user crm.ID, t time.Time, submitter crm.ID) crm.ID {
	for hop := 0; hop < 5; hop++ {
		next := user
		for _, d := range o.delegations {
			if d.From == user && !t.Before(d.Start) && t.Before(d.End) && o.active(d.To) && d.To != submitter {
				next = d.To
				break
			}
		}
		if next == user {
			return user
		}
		user = next
	}
	return user
}

// managerOf returns the manager levels above dept (0 = dept's own manager),
// skipping managers equal to skip and departments without a manager.
func (o *Org) managerOf(dept crm.ID, levels int, skip crm.ID) (crm.ID, bool) {
	if o.tree == nil || !o.tree.Has(dept) {
		return crm.NilID, false
	}
	chain := append([]crm.ID{dept}, o.tree.Ancestors(dept)...)
	seen := 0
	for _, d := range chain {
		m, _ := o.tree.Manager(d)
		if m == crm.NilID || m == skip {
			continue
		}
		if seen == levels {
			return m, true
		}
		seen++
	}
	return crm.NilID, false
}
