package storetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// record is the pointer side of a stored record type T.
type record[T any] interface {
	*T
	crm.Entity
	Clone() *T
}

// filter is the pointer side of a list filter F over records T.
type filter[T any, F any] interface {
	*F
	Validate() error
	Match(*T, crm.InTree) bool
}

// invalidCase breaks exactly one field of a valid record.
type invalidCase[T any] struct {
	name  string
	field string
	edit  func(*T)
}

// badFilter is a filter that Validate refuses, naming field.
type badFilter[F any] struct {
	name   string
	field  string
	filter F
}

// kind describes one record type to the generic tests, so the CRUD,
// tenancy, list and unit-of-work checks are written once for all ten.
type kind[T any, F any, PT record[T], PF filter[T, F]] struct {
	name string
	repo func(crm.Tx) crm.Repository[T, F]
	// full returns a valid record with every field set (optional fields,
	// custom fields of every kind, times with nanoseconds in a non-UTC
	// zone), creating in ctx whatever it must refer to.
	full func(e *env, ctx context.Context) *T
	// minimal returns a valid record with only the required fields set.
	minimal func(e *env, ctx context.Context) *T
	// change sets every mutable field of v to another valid value.
	change func(e *env, ctx context.Context, v *T)
	// scribble changes, in place, the memory v shares through slices, maps
	// and pointers, so an adapter that kept a reference would see it.
	scribble func(v *T)
	// fields returns the record's custom fields.
	fields func(v *T) *crm.Fields
	// invalid lists type-specific bad records; runKind adds the ones every
	// type shares (id, version, custom fields).
	invalid []invalidCase[T]
	// random returns a random valid record (its ID is set by the caller)
	// whose values come from w's small pools, so random filters hit.
	random func(w *world, tenant string) *T
	// randomFilter returns a random valid filter over w's pools.
	randomFilter func(w *world) F
	// fixedFilters are checked besides the random ones: the zero filter and
	// edge cases such as the nil, empty and All data scopes.
	fixedFilters func(w *world) []F
	// seeded returns the records of this type that newWorld stored in the
	// tenant before the test (the departments).
	seeded func(w *world, tenant string) []*T
	// badFilters are filters that List must refuse.
	badFilters []badFilter[F]
}

func (k kind[T, F, PT, PF]) meta(v *T) *crm.Meta { return PT(v).GetMeta() }

// stored returns the value an adapter must return for v after a successful
// Create or Update that wrote its Meta back into v: normalised, deep copied.
func (k kind[T, F, PT, PF]) stored(v *T) *T {
	c := PT(v).Clone()
	PT(c).Normalise()
	return c
}

func (k kind[T, F, PT, PF]) get(t *testing.T, ctx context.Context, s crm.Store, id crm.ID) *T {
	t.Helper()
	got, err := k.repo(s).Get(ctx, id)
	require.NoError(t, err, "get %s %s", k.name, id)
	return got
}

func (k kind[T, F, PT, PF]) create(t *testing.T, ctx context.Context, s crm.Store, v *T) *T {
	t.Helper()
	require.NoError(t, k.repo(s).Create(ctx, v), "create %s", k.name)
	return v
}

func (k kind[T, F, PT, PF]) requireMissing(t *testing.T, ctx context.Context, s crm.Store, id crm.ID) {
	t.Helper()
	_, err := k.repo(s).Get(ctx, id)
	require.ErrorIs(t, err, crm.ErrNotFound, "%s %s should not be stored", k.name, id)
}

// listAll walks every page of a list and checks the paging rules on the way.
func listAll[T any, F any, PT record[T]](t *testing.T, ctx context.Context, repo crm.Repository[T, F], f F, limit int) []*T {
	t.Helper()
	effective := limit
	if effective == 0 {
		effective = crm.DefaultPageLimit
	}
	var out []*T
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100000, "list does not end")
		p, err := repo.List(ctx, f, crm.PageRequest{Limit: limit, Cursor: cursor})
		require.NoError(t, err, "list page %d with limit %d", pages, limit)
		require.LessOrEqual(t, len(p.Items), effective, "page %d holds more than the limit", pages)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		require.NotEmpty(t, p.Items, "page %d is empty but has a NextCursor", pages)
		cursor = p.NextCursor
	}
	for i := 1; i < len(out); i++ {
		a, b := PT(out[i-1]).GetMeta().ID, PT(out[i]).GetMeta().ID
		require.Negative(t, bytes.Compare(a[:], b[:]), "list not in strictly increasing ID order at %d: %s then %s", i, a, b)
	}
	return out
}

func ids[T any, PT record[T]](vs []*T) []crm.ID {
	out := make([]crm.ID, len(vs))
	for i, v := range vs {
		out[i] = PT(v).GetMeta().ID
	}
	return out
}

func compareIDs(a, b crm.ID) int { return bytes.Compare(a[:], b[:]) }

// world holds small pools of values that random records and filters draw
// from, and a department tree stored in tenants "a" and "b" for data scopes.
type world struct {
	e *env
	r *rand.Rand
	// depts are the stored departments of each tenant.
	depts map[string][]*crm.Department
	// deptIDs are what records point at: tenant "a"'s departments, a
	// department of tenant "b", one that does not exist, and none.
	deptIDs []crm.ID
	// recordDepts are what a random record of each tenant points at: the
	// tenant's departments, one that does not exist, and none. A
	// department of another tenant is no valid reference, so only filters
	// name tenant "b"'s department.
	recordDepts map[string][]crm.ID
	owners      []crm.ID // includes NilID
	users       []crm.ID
	custs       []crm.ID
	pools       []crm.ID
	teams       []crm.ID
	times       []time.Time
	words       []string
	roles       []string
	nextUser    int
}

func newWorld(t *testing.T, e *env, seed uint64) *world {
	t.Helper()
	w := &world{e: e, r: rand.New(rand.NewPCG(seed, 0x5eed)), depts: map[string][]*crm.Department{}}
	mk := func(n int) []crm.ID {
		out := make([]crm.ID, n)
		for i := range out {
			out[i] = w.randomID()
		}
		return out
	}
	for _, tenant := range []string{"a", "b"} {
		ctx := crm.WithTenant(e.ctx, tenant)
		var made []*crm.Department
		for i := range 8 {
			d := &crm.Department{Meta: crm.Meta{ID: w.randomID()}, Name: fmt.Sprintf("Dept %s%d", tenant, i)}
			if i > 0 && w.r.IntN(4) != 0 {
				d.ParentID = made[w.r.IntN(len(made))].ID
			}
			require.NoError(t, e.store.Departments().Create(ctx, d))
			made = append(made, d)
		}
		w.depts[tenant] = made
	}
	for _, d := range w.depts["a"] {
		w.deptIDs = append(w.deptIDs, d.ID)
	}
	w.deptIDs = append(w.deptIDs, w.depts["b"][0].ID, w.randomID(), crm.NilID)
	w.recordDepts = map[string][]crm.ID{}
	for tenant, ds := range w.depts {
		for _, d := range ds {
			w.recordDepts[tenant] = append(w.recordDepts[tenant], d.ID)
		}
		w.recordDepts[tenant] = append(w.recordDepts[tenant], w.deptIDs[len(w.deptIDs)-2], crm.NilID)
	}
	w.users = mk(6)
	w.owners = append(slices.Clone(w.users[:4]), crm.NilID)
	w.custs = mk(5)
	w.pools = append(mk(2), crm.NilID)
	w.teams = append(mk(3), crm.NilID)
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	for i := range 8 {
		w.times = append(w.times, base.Add(time.Duration(i)*37*time.Minute+time.Duration(i)*time.Microsecond))
	}
	w.words = []string{"", "web", "expo", "referral", "east"}
	w.roles = []string{"sales", "manager", "agent"}
	return w
}

// randomID returns a random version-7-shaped ID, so creation order and ID
// order differ and the suite sees whether lists really sort by ID.
func (w *world) randomID() crm.ID {
	var id crm.ID
	for i := range id {
		id[i] = byte(w.r.UintN(256))
	}
	id[6] = 0x70 | id[6]&0x0f
	id[8] = 0x80 | id[8]&0x3f
	return id
}

// tree returns the tenant's department tree as the suite knows it.
func (w *world) tree(t *testing.T, tenant string) *crm.DepartmentTree {
	t.Helper()
	var ds []crm.Department
	for _, d := range w.depts[tenant] {
		ds = append(ds, *d)
	}
	tree, err := crm.NewDepartmentTree(ds)
	require.NoError(t, err)
	return tree
}

func pick[T any](w *world, xs []T) T { return xs[w.r.IntN(len(xs))] }

// some returns nil half the time, else one to three values of xs.
func some[T comparable](w *world, xs []T) []T {
	if w.r.IntN(2) == 0 {
		return nil
	}
	n := 1 + w.r.IntN(3)
	var out []T
	for range n {
		if v := pick(w, xs); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// subsetOf returns a random subset of xs, possibly empty, in xs order.
func subsetOf[T any](w *world, xs []T) []T {
	var out []T
	for _, x := range xs {
		if w.r.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	return out
}

// scope returns a random data scope: nil, empty, All, or a mix of owners,
// departments and department trees, the NilID among them now and then.
func (w *world) scope() *crm.DataScope {
	switch w.r.IntN(8) {
	case 0, 1, 2:
		return nil
	case 3:
		return &crm.DataScope{}
	case 4:
		return &crm.DataScope{All: true, OwnerIDs: some(w, w.owners)}
	}
	return &crm.DataScope{
		OwnerIDs:        some(w, w.owners),
		DepartmentIDs:   some(w, w.deptIDs),
		DepartmentTrees: some(w, w.deptIDs),
	}
}

// scopeFilters are the data scopes every scoped type is checked with.
func scopeEdges(w *world) []*crm.DataScope {
	a := w.depts["a"]
	return []*crm.DataScope{
		nil, {}, {All: true},
		{OwnerIDs: []crm.ID{w.owners[0]}},
		{OwnerIDs: []crm.ID{crm.NilID}},
		{DepartmentIDs: []crm.ID{a[0].ID, crm.NilID}},
		{DepartmentTrees: []crm.ID{a[0].ID}},
		{DepartmentTrees: []crm.ID{a[len(a)-1].ID, w.deptIDs[len(w.deptIDs)-2]}},
		{OwnerIDs: []crm.ID{w.owners[1]}, DepartmentTrees: []crm.ID{a[1].ID}},
	}
}

// randomCase returns s in random letter case.
func (w *world) randomCase(s string) string {
	var b strings.Builder
	for _, c := range s {
		if w.r.IntN(2) == 0 {
			b.WriteString(strings.ToUpper(string(c)))
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func tooManyIDs() []crm.ID { return make([]crm.ID, 1001) }
