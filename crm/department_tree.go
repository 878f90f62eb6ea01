package crm

import (
	"context"
	"errors"
	"fmt"
)

// maxDepartmentDepth bounds walks up the tree, so corrupt data cannot loop
// forever.
const maxDepartmentDepth = 1000

// CheckDepartmentParent verifies that d may hang below d.ParentID: the parent
// exists and d is not among the parent's ancestors (which would make a cycle).
// parentOf returns a department's parent ID, or an error matching
// [ErrNotFound]. Storage adapters call it inside the unit of work that writes
// d, so the rule lives here once.
func CheckDepartmentParent(ctx context.Context, d *Department, parentOf func(ctx context.Context, id ID) (ID, error)) error {
	if d.ParentID == NilID {
		return nil
	}
	if d.ParentID == d.ID {
		return Invalid("parent_id", "a department cannot be its own parent")
	}
	cur := d.ParentID
	for depth := 0; cur != NilID; depth++ {
		if depth > maxDepartmentDepth {
			return Invalid("parent_id", "department tree deeper than %d", maxDepartmentDepth)
		}
		next, err := parentOf(ctx, cur)
		if errors.Is(err, ErrNotFound) {
			if cur == d.ParentID {
				return Invalid("parent_id", "unknown department %s", cur)
			}
			return fmt.Errorf("crm: department %s has a missing ancestor %s: %w", d.ID, cur, ErrFailedPrecondition)
		}
		if err != nil {
			return err
		}
		if next == d.ID {
			return Invalid("parent_id", "moving department %s below %s would make a cycle", d.ID, d.ParentID)
		}
		cur = next
	}
	return nil
}

// DepartmentTree is an immutable, validated view of an organisation tree with
// pre-order numbering, so "is X inside the subtree of Y" is two integer
// comparisons. Build it with [NewDepartmentTree]; it is safe for concurrent
// use.
type DepartmentTree struct {
	index map[ID]int32
	nodes []treeNode // in pre-order
}

type treeNode struct {
	id, parent ID
	name       string
	manager    ID
	end        int32 // one past the last pre-order index of the subtree
	depth      int32
}

// NewDepartmentTree builds a tree from departments in any order. It reports
// repeated IDs, unknown parents and cycles as [ValidationErrors] naming the
// department.
func NewDepartmentTree(depts []Department) (*DepartmentTree, error) {
	var v Problems
	byID := make(map[ID]*Department, len(depts))
	children := make(map[ID][]ID, len(depts))
	for i := range depts {
		d := &depts[i]
		f := fmt.Sprintf("departments[%d]", i)
		if d.ID == NilID {
			v.Add(f+".id", "is required")
			continue
		}
		if _, dup := byID[d.ID]; dup {
			v.Add(f+".id", "repeats %s", d.ID)
			continue
		}
		byID[d.ID] = d
	}
	var roots []ID
	for i := range depts {
		d := &depts[i]
		if byID[d.ID] != d {
			continue
		}
		switch {
		case d.ParentID == NilID:
			roots = append(roots, d.ID)
		case byID[d.ParentID] == nil:
			v.Add(fmt.Sprintf("departments[%d].parent_id", i), "unknown department %s", d.ParentID)
		default:
			children[d.ParentID] = append(children[d.ParentID], d.ID)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t := &DepartmentTree{index: make(map[ID]int32, len(byID)), nodes: make([]treeNode, 0, len(byID))}
	// Iterative pre-order walk; children keep input order.
	type frame struct {
		id    ID
		depth int32
		next  int
	}
	for _, r := range roots {
		stack := []frame{{id: r}}
		t.push(byID[r], 0)
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			kids := children[top.id]
			if top.next < len(kids) {
				c := kids[top.next]
				top.next++
				t.push(byID[c], top.depth+1)
				stack = append(stack, frame{id: c, depth: top.depth + 1})
				continue
			}
			t.nodes[t.index[top.id]].end = int32(len(t.nodes))
			stack = stack[:len(stack)-1]
		}
	}
	if len(t.nodes) != len(byID) {
		// Whatever was not reached from a root sits on a cycle.
		for i := range depts {
			if _, ok := t.index[depts[i].ID]; !ok {
				v.Add(fmt.Sprintf("departments[%d].parent_id", i), "department %s is on or below a cycle", depts[i].ID)
			}
		}
		return nil, v.Err()
	}
	return t, nil
}

func (t *DepartmentTree) push(d *Department, depth int32) {
	t.index[d.ID] = int32(len(t.nodes))
	t.nodes = append(t.nodes, treeNode{id: d.ID, parent: d.ParentID, name: d.Name, manager: d.ManagerID, depth: depth})
}

// Len returns the number of departments.
func (t *DepartmentTree) Len() int { return len(t.nodes) }

// Has reports whether id is in the tree.
func (t *DepartmentTree) Has(id ID) bool { _, ok := t.index[id]; return ok }

// Contains reports whether id is root or below it. Unknown IDs are never
// contained. It does not allocate.
func (t *DepartmentTree) Contains(root, id ID) bool {
	r, ok := t.index[root]
	if !ok {
		return false
	}
	i, ok := t.index[id]
	return ok && i >= r && i < t.nodes[r].end
}

// Range returns the pre-order interval [lo, hi) of root's subtree and whether
// root is known. A department d is in the subtree when lo <= Order(d) < hi.
func (t *DepartmentTree) Range(root ID) (lo, hi int32, ok bool) {
	r, ok := t.index[root]
	if !ok {
		return 0, 0, false
	}
	return r, t.nodes[r].end, true
}

// Span returns the pre-order interval [lo, hi] of root's subtree, both
// ends included, and whether root is known, so a tree serves as the
// hierarchy of a condition's "under" test (package cond's Tree).
func (t *DepartmentTree) Span(root ID) (lo, hi int32, ok bool) {
	lo, hi, ok = t.Range(root)
	return lo, hi - 1, ok
}

// Order returns the pre-order number of id and whether it is known.
func (t *DepartmentTree) Order(id ID) (int32, bool) {
	i, ok := t.index[id]
	return i, ok
}

// Subtree returns root and every department below it, in pre-order.
func (t *DepartmentTree) Subtree(root ID) []ID {
	lo, hi, ok := t.Range(root)
	if !ok {
		return nil
	}
	out := make([]ID, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, t.nodes[i].id)
	}
	return out
}

// Parent returns the parent of id (NilID for a root) and whether id is known.
func (t *DepartmentTree) Parent(id ID) (ID, bool) {
	i, ok := t.index[id]
	if !ok {
		return NilID, false
	}
	return t.nodes[i].parent, true
}

// Manager returns the manager of id and whether id is known.
func (t *DepartmentTree) Manager(id ID) (ID, bool) {
	i, ok := t.index[id]
	if !ok {
		return NilID, false
	}
	return t.nodes[i].manager, true
}

// Ancestors returns the departments above id, nearest first.
func (t *DepartmentTree) Ancestors(id ID) []ID {
	var out []ID
	for p, ok := t.Parent(id); ok && p != NilID; p, ok = t.Parent(p) {
		out = append(out, p)
	}
	return out
}

// Name returns the name of id and whether id is known.
func (t *DepartmentTree) Name(id ID) (string, bool) {
	i, ok := t.index[id]
	if !ok {
		return "", false
	}
	return t.nodes[i].name, true
}

// At returns the department with pre-order number order (see
// [DepartmentTree.Order]) and whether the number is in range.
func (t *DepartmentTree) At(order int32) (ID, bool) {
	if order < 0 || int(order) >= len(t.nodes) {
		return NilID, false
	}
	return t.nodes[order].id, true
}

// DepartmentTreeVersions is an optional port of a unit of work (memstore
// and pgstore implement it): a token that changes whenever the context
// tenant's department tree changes — a department created, moved, renamed,
// given another manager or deleted. A permission policy compiled against
// the tree compares it before deciding (permission.Registry.Sync), so a
// department moved in the store is decided on where it sits now. Tokens
// are opaque; compare them for equality only.
type DepartmentTreeVersions interface {
	DepartmentTreeVersion(ctx context.Context) (string, error)
}
