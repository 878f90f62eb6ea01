package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// world is one organisation expressed in both engines, with requests to
// ask them.
type world struct {
	doc    *permission.Document
	depts  []crm.Department
	users  []*crm.User
	policy *permission.Policy
	casbin *Casbin
	reqs   []request
}

type request struct {
	user    int // index into users (and subjects)
	subject permission.Subject
	action  permission.Action
	res     permission.Resource
}

func id(n int) crm.ID { return uuid.MustParse(fmt.Sprintf("00000000-0000-0000-0000-%012x", n)) }

var (
	types = []crm.RecordType{crm.TypeLead, crm.TypeCustomer, crm.TypeOpportunity, crm.TypeTicket}
	pools = []crm.ID{id(0x101), id(0x102)}
)

// scenarioDepartments is the organisation of testdata/crm_policy.json.
func scenarioDepartments() []crm.Department {
	names := []string{"", "Company", "Management", "Marketing", "Sales", "Sales East", "Sales West", "Service", "Finance", "IT"}
	parents := []int{0, 0, 1, 1, 1, 4, 4, 1, 1, 1}
	var out []crm.Department
	for i := 1; i < len(names); i++ {
		d := crm.Department{Meta: crm.Meta{ID: id(i)}, Name: names[i]}
		if parents[i] != 0 {
			d.ParentID = id(parents[i])
		}
		out = append(out, d)
	}
	return out
}

// scenarioWorld is the small size: the department scenario policy (tens
// of rules) and nUsers users spread over its departments.
func scenarioWorld(tb testing.TB, nUsers, nReqs int) *world {
	tb.Helper()
	b, err := os.ReadFile("testdata/crm_policy.json")
	require.NoError(tb, err)
	doc, err := permission.ParseDocument(b)
	require.NoError(tb, err)
	w := &world{doc: doc, depts: scenarioDepartments()}
	rng := rand.New(rand.NewPCG(1, 1))
	for u := 0; u < nUsers; u++ {
		usr := &crm.User{Meta: crm.Meta{ID: id(0x100000 + u)}, DepartmentID: w.depts[1+rng.IntN(len(w.depts)-1)].ID, Active: true}
		if rng.IntN(5) == 0 {
			usr.Roles = []string{"sales_manager"}
		}
		w.users = append(w.users, usr)
	}
	w.build(tb, rng, nReqs)
	return w
}

// generatedWorld builds nDepts departments (each below a random earlier
// one), nRoles roles of rulesPerRole rules (a tenth denials, some with
// owner-department, creator-department, pool or status conditions) and
// nUsers users holding one or two roles.
func generatedWorld(tb testing.TB, seed uint64, nDepts, nRoles, rulesPerRole, nUsers, nReqs int) *world {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	w := &world{doc: &permission.Document{}}
	for i := 0; i < nDepts; i++ {
		d := crm.Department{Meta: crm.Meta{ID: id(0x10000 + i)}, Name: fmt.Sprintf("dept %d", i)}
		if i > 0 {
			d.ParentID = w.depts[rng.IntN(i)].ID
		}
		w.depts = append(w.depts, d)
	}
	dept := func() crm.ID { return w.depts[rng.IntN(nDepts)].ID }
	for _, t := range types {
		w.doc.RecordTypes = append(w.doc.RecordTypes, permission.RecordTypeDoc{Name: t, Fields: []string{"name", "phone", "amount"}})
	}
	scopes := []permission.Scope{permission.ScopeOwn, permission.ScopeDepartment, permission.ScopeDepartmentTree, permission.ScopeAll, permission.ScopeCustom}
	for r := 0; r < nRoles; r++ {
		role := permission.RoleDoc{Name: fmt.Sprintf("role_%d", r)}
		if rng.IntN(8) == 0 {
			role.Departments = []crm.ID{dept()}
		}
		for k := 0; k < rulesPerRole; k++ {
			ru := permission.RuleDoc{RecordType: types[rng.IntN(len(types))], Scope: scopes[rng.IntN(len(scopes))]}
			for _, a := range permission.Actions() {
				if rng.IntN(4) == 0 {
					ru.Actions = append(ru.Actions, a)
				}
			}
			if len(ru.Actions) == 0 {
				ru.Actions = []permission.Action{permission.ActionView}
			}
			if ru.Scope == permission.ScopeCustom {
				ru.Departments = []crm.ID{dept()}
				ru.IncludeSubtrees = rng.IntN(2) == 0
			}
			if rng.IntN(10) == 0 {
				ru.Effect = permission.Deny
			}
			switch rng.IntN(12) {
			case 0, 1:
				ru.When = cond.Ptr(cond.Under("department_id", dept()))
			case 2:
				ru.When = cond.Ptr(cond.Under("creator_department_id", dept(), dept()))
			case 3:
				ru.When = cond.Ptr(cond.In("pool_id", pools[rng.IntN(len(pools))]))
			case 4:
				ru.When = cond.Ptr(cond.In("status", "new", "contacted"))
			}
			role.Rules = append(role.Rules, ru)
		}
		w.doc.Roles = append(w.doc.Roles, role)
	}
	for i := 0; i < nDepts/8; i++ {
		w.doc.Bindings = append(w.doc.Bindings, permission.BindingDoc{Department: dept(), Subtree: rng.IntN(2) == 0, Roles: []string{fmt.Sprintf("role_%d", rng.IntN(nRoles))}})
	}
	for u := 0; u < nUsers; u++ {
		usr := &crm.User{Meta: crm.Meta{ID: id(0x100000 + u)}, DepartmentID: dept(), Active: true,
			Roles: []string{fmt.Sprintf("role_%d", rng.IntN(nRoles))}}
		if rng.IntN(2) == 0 {
			usr.Roles = append(usr.Roles, fmt.Sprintf("role_%d", rng.IntN(nRoles)))
		}
		w.users = append(w.users, usr)
	}
	w.build(tb, rng, nReqs)
	return w
}

// build compiles both engines and draws random requests: any user, any
// action, a record of a random type owned by a random user (or pooled), in
// a random department (sometimes none), created in a random department.
func (w *world) build(tb testing.TB, rng *rand.Rand, nReqs int) {
	tb.Helper()
	var err error
	depts := make([]*crm.Department, len(w.depts))
	for i := range w.depts {
		depts[i] = &w.depts[i]
	}
	w.policy, err = permission.New(w.doc, depts, nil)
	require.NoError(tb, err)
	w.casbin, err = NewCasbin(w.doc, w.depts, w.users)
	require.NoError(tb, err)
	dept := func() crm.ID {
		if rng.IntN(25) == 0 {
			return crm.NilID
		}
		return w.depts[rng.IntN(len(w.depts))].ID
	}
	statuses := []string{"new", "contacted", "converted"}
	for i := 0; i < nReqs; i++ {
		u := rng.IntN(len(w.users))
		r := permission.Resource{
			Type: types[rng.IntN(len(types))], OwnerID: w.users[rng.IntN(len(w.users))].ID,
			DepartmentID: dept(), CreatorDepartmentID: dept(), Status: statuses[rng.IntN(len(statuses))],
		}
		if rng.IntN(4) == 0 {
			r.OwnerID = w.users[u].ID // the subject's own record
		}
		if rng.IntN(5) == 0 {
			r.OwnerID, r.PoolID = crm.NilID, pools[rng.IntN(len(pools))]
		}
		if rng.IntN(6) == 0 {
			r.DepartmentID = w.users[u].DepartmentID
		}
		w.reqs = append(w.reqs, request{
			user: u, subject: w.policy.Subject(w.users[u]),
			action: permission.Actions()[rng.IntN(8)], res: r,
		})
	}
}

func (w *world) casbinAllows(tb testing.TB, q *request) bool {
	u := w.users[q.user]
	ok, err := w.casbin.Enforce(u.ID, u.DepartmentID, q.action, &q.res)
	require.NoError(tb, err)
	return ok
}
