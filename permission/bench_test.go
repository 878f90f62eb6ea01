package permission_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

// world is a generated organisation: a policy, subjects and requests.
type world struct {
	p        *permission.Policy
	depts    []*crm.Department
	subjects []permission.Subject
	res      []permission.Resource
	acts     []permission.Action
}

var benchPools = []crm.ID{id(0x101), id(0x102)}

var benchTypes = []crm.RecordType{crm.TypeLead, crm.TypeCustomer, crm.TypeOpportunity, crm.TypeTicket}

// genWorld builds nDepts departments (a root, then each below a random
// earlier one), nRoles roles of rulesPerRole rules (a tenth denials, a
// fifth with an owner-department condition) and nUsers users with one or
// two roles.
func genWorld(tb testing.TB, seed uint64, nDepts, nRoles, rulesPerRole, nUsers int, cfg *permission.Config) *world {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	w := &world{}
	for i := 0; i < nDepts; i++ {
		d := &crm.Department{Meta: crm.Meta{ID: id(0x10000 + i)}, Name: fmt.Sprintf("dept %d", i)}
		if i > 0 {
			d.ParentID = w.depts[rng.IntN(i)].ID
		}
		w.depts = append(w.depts, d)
	}
	dept := func() crm.ID { return w.depts[rng.IntN(nDepts)].ID }
	doc := &permission.Document{}
	for _, t := range benchTypes {
		doc.RecordTypes = append(doc.RecordTypes, permission.RecordTypeDoc{Name: t, Fields: []string{"name", "phone", "email", "amount", "status"}})
	}
	scopes := []permission.Scope{permission.ScopeOwn, permission.ScopeDepartment, permission.ScopeDepartmentTree, permission.ScopeAll, permission.ScopeCustom}
	for r := 0; r < nRoles; r++ {
		role := permission.RoleDoc{Name: fmt.Sprintf("role_%d", r)}
		for k := 0; k < rulesPerRole; k++ {
			ru := permission.RuleDoc{RecordType: benchTypes[rng.IntN(len(benchTypes))], Scope: scopes[rng.IntN(len(scopes))]}
			for _, a := range permission.Actions() {
				if rng.IntN(3) == 0 {
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
			switch rng.IntN(10) {
			case 0, 1:
				ru.When = cond.Ptr(cond.Under("department_id", dept()))
			case 2:
				ru.When = cond.Ptr(cond.Under("creator_department_id", dept()))
			case 3:
				ru.When = cond.Ptr(cond.In("pool_id", benchPools[rng.IntN(len(benchPools))]))
			}
			role.Rules = append(role.Rules, ru)
		}
		if rng.IntN(4) == 0 {
			role.Fields = []permission.FieldRuleDoc{{RecordType: benchTypes[rng.IntN(len(benchTypes))], Field: "phone", Access: permission.AccessHidden}}
		}
		doc.Roles = append(doc.Roles, role)
	}
	p, err := permission.New(doc, w.depts, cfg)
	require.NoError(tb, err)
	w.p = p
	for u := 0; u < nUsers; u++ {
		roles := []string{fmt.Sprintf("role_%d", rng.IntN(nRoles))}
		if rng.IntN(2) == 0 {
			roles = append(roles, fmt.Sprintf("role_%d", rng.IntN(nRoles)))
		}
		w.subjects = append(w.subjects, p.SubjectOf(id(0x100000+u), dept(), roles...))
	}
	for i := 0; i < 4096; i++ {
		owner := id(0x100000 + rng.IntN(nUsers))
		r := permission.Resource{
			Type: benchTypes[rng.IntN(len(benchTypes))], OwnerID: owner, DepartmentID: dept(), CreatorDepartmentID: dept(),
		}
		if rng.IntN(4) == 0 {
			r.OwnerID, r.PoolID = crm.NilID, benchPools[rng.IntN(len(benchPools))]
		}
		w.res = append(w.res, r)
		w.acts = append(w.acts, permission.Actions()[rng.IntN(8)])
	}
	return w
}

var benchSizes = []struct {
	name                              string
	depts, roles, rulesPerRole, users int
}{
	{"small/100users-24rules", 6, 4, 6, 100},
	{"medium/1000users-70rules", 12, 10, 7, 1000},
	{"large/10000users-500rules", 40, 50, 10, 10000},
}

func BenchmarkCheck(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			w := genWorld(b, 1, sz.depts, sz.roles, sz.rulesPerRole, sz.users, nil)
			b.ReportAllocs()
			b.ResetTimer()
			allowed := 0
			for i := 0; b.Loop(); i++ {
				if w.p.Check(&w.subjects[i%len(w.subjects)], w.acts[i&4095], &w.res[i&4095]).Allowed {
					allowed++
				}
			}
			_ = allowed
		})
	}
}

// countingSink counts decisions without allocating.
type countingSink struct{ n int }

func (c *countingSink) Record(permission.DecisionEvent) { c.n++ }

func BenchmarkCheckWithDecisionSink(b *testing.B) {
	w := genWorld(b, 1, 40, 50, 10, 10000, &permission.Config{DecisionSink: &countingSink{}})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = w.p.Check(&w.subjects[i%len(w.subjects)], w.acts[i&4095], &w.res[i&4095])
	}
}

func BenchmarkFieldMask(b *testing.B) {
	w := genWorld(b, 1, 40, 50, 10, 10000, nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = w.p.FieldMask(&w.subjects[i%len(w.subjects)], benchTypes[i&3], w.acts[i&4095])
	}
}

func BenchmarkListFilter(b *testing.B) {
	w := genWorld(b, 1, 40, 50, 10, 10000, nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = w.p.ListFilter(&w.subjects[i%len(w.subjects)], benchTypes[i&3], permission.ActionView)
	}
}

func BenchmarkSubject(b *testing.B) {
	w := genWorld(b, 1, 40, 50, 10, 10000, nil)
	u := &crm.User{Meta: crm.Meta{ID: id(0x100001)}, DepartmentID: w.depts[7].ID, Roles: []string{"role_3", "role_9"}, Active: true}
	b.ReportAllocs()
	for b.Loop() {
		_ = w.p.Subject(u)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	w := genWorld(t, 2, 40, 50, 10, 1000, nil)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		_ = w.p.Check(&w.subjects[i%len(w.subjects)], w.acts[i&4095], &w.res[i&4095])
		_ = w.p.FieldMask(&w.subjects[i%len(w.subjects)], benchTypes[i&3], permission.ActionEdit)
		i++
	})
	require.Zero(t, allocs)
}
