package crm_test

import (
	"context"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func id(n byte) crm.ID { return crm.ID(uuid.UUID{15: n}) }

func dept(n, parent byte) crm.Department {
	d := crm.Department{Meta: crm.Meta{ID: id(n)}, Name: "d"}
	if parent != 0 {
		d.ParentID = id(parent)
	}
	return d
}

func TestDepartmentTreeContainsSubtrees(t *testing.T) {
	t.Parallel()
	// 1 company
	// ├── 2 sales ── 4 sales east ── 6 shanghai
	// │          └── 5 sales north
	// └── 3 service
	tree, err := crm.NewDepartmentTree([]crm.Department{dept(6, 4), dept(1, 0), dept(2, 1), dept(3, 1), dept(4, 2), dept(5, 2)})
	require.NoError(t, err)
	require.Equal(t, 6, tree.Len())
	tests := []struct {
		root, d byte
		want    bool
	}{
		{1, 6, true}, {2, 6, true}, {4, 6, true}, {6, 6, true}, {2, 5, true},
		{3, 6, false}, {5, 4, false}, {6, 4, false}, {4, 2, false}, {9, 1, false}, {1, 9, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tree.Contains(id(tt.root), id(tt.d)), "contains(%d, %d)", tt.root, tt.d)
	}
	require.ElementsMatch(t, []crm.ID{id(2), id(4), id(5), id(6)}, tree.Subtree(id(2)))
	require.Equal(t, []crm.ID{id(4), id(2), id(1)}, tree.Ancestors(id(6)))
	name, ok := tree.Name(id(3))
	require.True(t, ok)
	require.Equal(t, "d", name)
	for i := int32(0); i < int32(tree.Len()); i++ {
		at, ok := tree.At(i)
		require.True(t, ok)
		o, _ := tree.Order(at)
		require.Equal(t, i, o)
	}
	_, ok = tree.At(int32(tree.Len()))
	require.False(t, ok)
	lo, hi, ok := tree.Range(id(4))
	require.True(t, ok)
	o, _ := tree.Order(id(6))
	require.True(t, lo <= o && o < hi)
}

func TestDepartmentTreeRejectsBadShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		depts  []crm.Department
		fields []string
	}{
		{"Cycle", []crm.Department{dept(1, 0), dept(2, 3), dept(3, 2)}, []string{"departments[1].parent_id", "departments[2].parent_id"}},
		{"UnknownParent", []crm.Department{dept(1, 7)}, []string{"departments[0].parent_id"}},
		{"RepeatedID", []crm.Department{dept(1, 0), dept(1, 0)}, []string{"departments[1].id"}},
		{"MissingID", []crm.Department{{Name: "x"}}, []string{"departments[0].id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := crm.NewDepartmentTree(tt.depts)
			require.Equal(t, tt.fields, fieldsOf(t, err))
		})
	}
}

func TestCheckDepartmentParent(t *testing.T) {
	t.Parallel()
	parents := map[crm.ID]crm.ID{id(1): crm.NilID, id(2): id(1), id(3): id(2)}
	parentOf := func(_ context.Context, d crm.ID) (crm.ID, error) {
		p, ok := parents[d]
		if !ok {
			return crm.NilID, crm.ErrNotFound
		}
		return p, nil
	}
	ctx := context.Background()
	ok := dept(4, 3)
	require.NoError(t, crm.CheckDepartmentParent(ctx, &ok, parentOf))
	cycle := dept(1, 3) // moving the root below its grandchild
	require.Equal(t, []string{"parent_id"}, []string{fieldOfOne(t, crm.CheckDepartmentParent(ctx, &cycle, parentOf))})
	unknown := dept(5, 9)
	require.Equal(t, "parent_id", fieldOfOne(t, crm.CheckDepartmentParent(ctx, &unknown, parentOf)))
}

func fieldOfOne(t *testing.T, err error) string {
	t.Helper()
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	return ve.Field
}

func TestPageRequestResolve(t *testing.T) {
	t.Parallel()
	limit, after, err := crm.PageRequest{}.Resolve()
	require.NoError(t, err)
	require.Equal(t, crm.DefaultPageLimit, limit)
	require.Equal(t, crm.NilID, after)
	_, after, err = crm.PageRequest{Limit: 5, Cursor: crm.CursorAfter(id(7))}.Resolve()
	require.NoError(t, err)
	require.Equal(t, id(7), after)
	for _, bad := range []crm.PageRequest{{Limit: -1}, {Limit: crm.MaxPageLimit + 1}} {
		_, _, err := bad.Resolve()
		require.Equal(t, "page.limit", fieldOfOne(t, err))
	}
	_, _, err = crm.PageRequest{Cursor: "!!"}.Resolve()
	require.Equal(t, "page.cursor", fieldOfOne(t, err))
}

func TestFilterMatchAndScopes(t *testing.T) {
	t.Parallel()
	tree, err := crm.NewDepartmentTree([]crm.Department{dept(1, 0), dept(2, 1), dept(3, 2)})
	require.NoError(t, err)
	c := &crm.Customer{OwnerID: id(50), DepartmentID: id(3), Status: crm.CustomerPotential, Level: "A"}
	tests := []struct {
		name string
		f    crm.CustomerFilter
		want bool
	}{
		{"EmptyFilterMatchesAll", crm.CustomerFilter{}, true},
		{"NilScopeIsUnrestricted", crm.CustomerFilter{Scope: nil}, true},
		{"EmptyScopeMatchesNothing", crm.CustomerFilter{Scope: &crm.DataScope{}}, false},
		{"AllScope", crm.CustomerFilter{Scope: &crm.DataScope{All: true}}, true},
		{"OwnerScope", crm.CustomerFilter{Scope: &crm.DataScope{OwnerIDs: []crm.ID{id(50)}}}, true},
		{"DepartmentScopeIsExact", crm.CustomerFilter{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{id(2)}}}, false},
		{"TreeScopeIncludesDescendants", crm.CustomerFilter{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{id(1)}}}, true},
		{"FieldsAreANDed", crm.CustomerFilter{Levels: []string{"A"}, Statuses: []crm.CustomerStatus{crm.CustomerDealt}}, false},
		{"ListsAreORed", crm.CustomerFilter{Levels: []string{"B", "A"}}, true},
		{"Unowned", crm.CustomerFilter{Unowned: true}, false},
		{"PoolScopeNeedsThePool", crm.CustomerFilter{Scope: &crm.DataScope{PoolIDs: []crm.ID{id(60)}}}, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.f.Match(c, tree.Contains), tt.name)
	}
	pooled := &crm.Customer{DepartmentID: id(3), PoolID: id(60)}
	require.True(t, (&crm.CustomerFilter{Scope: &crm.DataScope{PoolIDs: []crm.ID{id(60)}}}).Match(pooled, tree.Contains))
	bad := crm.CustomerFilter{Statuses: []crm.CustomerStatus{"gone"}, Unowned: true, OwnerIDs: []crm.ID{id(1)}}
	require.Equal(t, []string{"statuses[0]", "unowned"}, fieldsOf(t, bad.Validate()))
}

func TestEventValidation(t *testing.T) {
	t.Parallel()
	clock := fixedClock{}
	_, err := crm.NewEvent(crm.UUIDv7{}, clock, "Customer Created", crm.Ref{}, crm.NilID, map[string]int{"a": 1})
	require.Equal(t, []string{"type", "subject.type", "subject.id", "occurred_at"}, fieldsOf(t, err))
	_, err = crm.NewEvent(crm.UUIDv7{}, clock, "customer.created", crm.Ref{Type: crm.TypeCustomer, ID: id(1)}, crm.NilID, func() {})
	require.Error(t, err)
}
