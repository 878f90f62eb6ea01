package permission_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/stretchr/testify/require"
)

// TestListFilterAgreesWithCheckOnMemstore lists random records through the
// compiled scope on memstore and compares the result with a per-row Check:
// equal when the filter is exact, a superset that post-filtering makes
// equal otherwise.
func TestListFilterAgreesWithCheckOnMemstore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("Seed%d", seed), func(t *testing.T) {
			t.Parallel()
			w := genWorld(t, seed, 25, 12, 8, 200, nil)
			st := memstore.New(nil)
			for i := range w.depts {
				d := *w.depts[i]
				require.NoError(t, st.Departments().Create(ctx, &d))
			}
			deptOf := make(map[crm.ID]crm.ID, len(w.subjects))
			for _, s := range w.subjects {
				deptOf[s.UserID()] = s.DepartmentID()
			}
			rng := rand.New(rand.NewPCG(seed, 99))
			ids := 0x7000000
			var customers []*crm.Customer
			var leads []*crm.Lead
			for i := 0; i < 1500; i++ {
				owner := w.subjects[rng.IntN(len(w.subjects))].UserID()
				creator := w.subjects[rng.IntN(len(w.subjects))].UserID()
				dept := w.depts[rng.IntN(len(w.depts))].ID
				if rng.IntN(20) == 0 {
					dept = crm.NilID
				}
				ids++
				c := &crm.Customer{Meta: crm.Meta{ID: id(ids)}, Name: "c", OwnerID: owner, DepartmentID: dept, CreatedBy: creator}
				if rng.IntN(4) == 0 {
					c.OwnerID, c.PoolID = crm.NilID, benchPools[rng.IntN(len(benchPools))]
				}
				require.NoError(t, st.Customers().Create(ctx, c))
				customers = append(customers, c)
				ids++
				l := &crm.Lead{Meta: crm.Meta{ID: id(ids)}, Name: "l", OwnerID: owner, DepartmentID: dept, CreatedBy: creator}
				require.NoError(t, st.Leads().Create(ctx, l))
				leads = append(leads, l)
			}
			exact, post := 0, 0
			for k := 0; k < 40; k++ {
				s := &w.subjects[rng.IntN(len(w.subjects))]
				a := permission.Actions()[rng.IntN(8)]
				for _, rt := range []crm.RecordType{crm.TypeCustomer, crm.TypeLead} {
					f := w.p.ListFilter(s, rt, a)
					require.NotNil(t, f.Scope)
					var listed, allowed, kept []crm.ID
					check := func(r permission.Resource) bool { return w.p.Check(s, a, &r).Allowed }
					if rt == crm.TypeCustomer {
						for _, c := range listAll(t, func(p crm.PageRequest) (crm.Page[crm.Customer], error) {
							return st.Customers().List(ctx, crm.CustomerFilter{Scope: f.Scope}, p)
						}) {
							listed = append(listed, c.ID)
							if check(permission.CustomerResource(c, deptOf[c.CreatedBy])) {
								kept = append(kept, c.ID)
							}
						}
						for _, c := range customers {
							if check(permission.CustomerResource(c, deptOf[c.CreatedBy])) {
								allowed = append(allowed, c.ID)
							}
						}
					} else {
						for _, l := range listAll(t, func(p crm.PageRequest) (crm.Page[crm.Lead], error) {
							return st.Leads().List(ctx, crm.LeadFilter{Scope: f.Scope}, p)
						}) {
							listed = append(listed, l.ID)
							if check(permission.LeadResource(l, deptOf[l.CreatedBy])) {
								kept = append(kept, l.ID)
							}
						}
						for _, l := range leads {
							if check(permission.LeadResource(l, deptOf[l.CreatedBy])) {
								allowed = append(allowed, l.ID)
							}
						}
					}
					if !f.PostFilter {
						exact++
						require.Equal(t, allowed, listed, "exact scope %+v for %s %s", f.Scope, a, rt)
						continue
					}
					post++
					require.Equal(t, allowed, kept, "post-filtered scope %+v for %s %s", f.Scope, a, rt)
				}
			}
			// Both kinds of filter were exercised.
			require.Positive(t, exact)
			require.Positive(t, post)
		})
	}
}

func listAll[T any](t *testing.T, list func(crm.PageRequest) (crm.Page[T], error)) []*T {
	t.Helper()
	var out []*T
	page := crm.PageRequest{Limit: 500}
	for {
		p, err := list(page)
		require.NoError(t, err)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out
		}
		page.Cursor = p.NextCursor
	}
}

func TestListFilterCarvesDeniedSubtreesOutExactly(t *testing.T) {
	t.Parallel()
	doc := &permission.Document{
		RecordTypes: []permission.RecordTypeDoc{{Name: "lead"}},
		Roles: []permission.RoleDoc{{Name: "auditor", Rules: []permission.RuleDoc{
			{RecordType: "lead", Actions: []permission.Action{permission.ActionView}, Scope: permission.ScopeCustom, Departments: []crm.ID{company}, IncludeSubtrees: true},
			{Effect: permission.Deny, RecordType: "lead", Actions: []permission.Action{permission.ActionView}, Scope: permission.ScopeAll, When: cond.Ptr(cond.Under("department_id", salesEast))},
		}}},
	}
	p, err := permission.New(doc, departments(), nil)
	require.NoError(t, err)
	s := p.SubjectOf(id(0x2000), finance, "auditor")
	f := p.ListFilter(&s, "lead", permission.ActionView)
	require.False(t, f.PostFilter)
	require.False(t, f.Scope.All)
	require.Empty(t, f.Scope.OwnerIDs)
	// Leaves are listed as departments; no subtree survives whole here.
	require.Equal(t, []crm.ID{company, management, marketing, sales, salesWest, service, finance, itDept}, f.Scope.DepartmentIDs)
	require.Empty(t, f.Scope.DepartmentTrees)

	// Denying a leaf of a deeper tree keeps its siblings' subtrees, each
	// department listed: a subtree root would be expanded by the stored
	// tree, which may have changed since compiling.
	doc.Roles[0].Rules[1].When = cond.Ptr(cond.Under("department_id", marketing))
	p, err = permission.New(doc, departments(), nil)
	require.NoError(t, err)
	s = p.SubjectOf(id(0x2000), finance, "auditor")
	f = p.ListFilter(&s, "lead", permission.ActionView)
	require.False(t, f.PostFilter)
	require.Equal(t, []crm.ID{company, management, sales, salesEast, salesWest, service, finance, itDept}, f.Scope.DepartmentIDs)
	require.Empty(t, f.Scope.DepartmentTrees)
}

func TestListFilterGivesNothingToBadSubjects(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	for name, s := range map[string]permission.Subject{
		"NoDepartment": p.Subject(user(40, crm.NilID)),
		"Inactive":     p.Subject(&crm.User{Meta: crm.Meta{ID: id(0x2001)}, DepartmentID: management}),
		"Zero":         {},
	} {
		t.Run(name, func(t *testing.T) {
			f := p.ListFilter(&s, crm.TypeLead, permission.ActionView)
			require.Equal(t, &crm.DataScope{}, f.Scope)
			require.False(t, f.PostFilter)
		})
	}
	s := p.Subject(max)
	require.Equal(t, &crm.DataScope{}, p.ListFilter(&s, "invoice", permission.ActionView).Scope)
	require.Equal(t, &crm.DataScope{}, p.ListFilter(nil, crm.TypeLead, permission.ActionView).Scope)
	// No grant at all: an empty, exact scope.
	f := p.ListFilter(&s, crm.TypeLead, permission.ActionEdit)
	require.Equal(t, &crm.DataScope{}, f.Scope)
	require.False(t, f.PostFilter)
	require.False(t, slices.Contains(f.Scope.OwnerIDs, max.ID))
}

func TestListFilterPushesPoolRulesDown(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, nil)
	rep := p.Subject(user(2, salesEast))
	f := p.ListFilter(&rep, crm.TypeCustomer, permission.ActionView)
	require.False(t, f.PostFilter, "an all-scope rule conditioned only on pools needs no post-filter")
	require.Equal(t, []crm.ID{pool}, f.Scope.PoolIDs)
	require.Equal(t, []crm.ID{rep.UserID()}, f.Scope.OwnerIDs)

	// Every record the scope admits is one Check allows, and the reverse.
	var flat []crm.Department
	for _, d := range departments() {
		flat = append(flat, *d)
	}
	tree, err := crm.NewDepartmentTree(flat)
	require.NoError(t, err)
	for _, c := range []*crm.Customer{
		{PoolID: pool},
		{PoolID: id(0x102)},
		{OwnerID: rep.UserID(), DepartmentID: salesEast},
		{OwnerID: id(0x1004), DepartmentID: salesWest},
	} {
		r := permission.CustomerResource(c, crm.NilID)
		want := p.Check(&rep, permission.ActionView, &r).Allowed
		got := (&crm.CustomerFilter{Scope: f.Scope}).Match(c, tree.Contains)
		require.Equal(t, want, got, "customer %+v", c)
	}
}
