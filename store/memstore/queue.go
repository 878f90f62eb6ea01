package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/task"
)

// This file serves the work queues: per owner and per department, an
// ordered index of the holdings in the queue (owned, unlocked, with a due
// time), kept up to date by putHolding, so a page costs a binary search
// and a merge of the scope's indexes rather than a scan.

var _ pool.FallingBackQueue = tx{}

// queueEntry is a holding's place in a queue: due time in microseconds,
// then customer ID.
type queueEntry struct {
	at int64
	id crm.ID
}

func (a queueEntry) less(b queueEntry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

// queueBlock bounds the blocks of a queueIndex: an insert or removal
// moves at most this many entries, plus one pointer per block.
const queueBlock = 512

// queueIndex is an ordered set of entries in blocks of at most 2*queueBlock,
// every block non-empty and every entry of a block before those of the
// next: a two-level B-tree, cheap to keep at a million entries.
type queueIndex struct {
	blocks [][]queueEntry
}

// block returns the index of the first block whose last entry is not
// before e (len(blocks) when none).
func (x *queueIndex) block(e queueEntry) int {
	return sort.Search(len(x.blocks), func(i int) bool {
		b := x.blocks[i]
		return !b[len(b)-1].less(e)
	})
}

func (x *queueIndex) insert(e queueEntry) {
	i := x.block(e)
	if i == len(x.blocks) {
		if i == 0 || len(x.blocks[i-1]) >= 2*queueBlock {
			x.blocks = append(x.blocks, []queueEntry{e})
			return
		}
		i--
	}
	b := x.blocks[i]
	j := sort.Search(len(b), func(k int) bool { return !b[k].less(e) })
	if j < len(b) && b[j] == e {
		return
	}
	b = slices.Insert(b, j, e)
	if len(b) > 2*queueBlock {
		tail := slices.Clone(b[queueBlock:])
		b = b[:queueBlock:queueBlock]
		x.blocks = slices.Insert(x.blocks, i+1, tail)
	}
	x.blocks[i] = b
}

func (x *queueIndex) remove(e queueEntry) {
	i := x.block(e)
	if i == len(x.blocks) {
		return
	}
	b := x.blocks[i]
	j := sort.Search(len(b), func(k int) bool { return !b[k].less(e) })
	if j == len(b) || b[j] != e {
		return
	}
	b = slices.Delete(b, j, j+1)
	if len(b) == 0 {
		x.blocks = slices.Delete(x.blocks, i, i+1)
		return
	}
	x.blocks[i] = b
}

// queueCursor walks a queueIndex from a position on.
type queueCursor struct {
	x    *queueIndex
	i, j int
}

// seek returns a cursor at the first entry after e (at the start when
// after is false).
func (x *queueIndex) seek(e queueEntry, after bool) queueCursor {
	if !after {
		return queueCursor{x: x}
	}
	i := sort.Search(len(x.blocks), func(i int) bool {
		b := x.blocks[i]
		return e.less(b[len(b)-1])
	})
	if i == len(x.blocks) {
		return queueCursor{x: x, i: i}
	}
	b := x.blocks[i]
	return queueCursor{x: x, i: i, j: sort.Search(len(b), func(k int) bool { return e.less(b[k]) })}
}

func (c *queueCursor) peek() (queueEntry, bool) {
	if c.x == nil || c.i >= len(c.x.blocks) {
		return queueEntry{}, false
	}
	return c.x.blocks[c.i][c.j], true
}

func (c *queueCursor) next() {
	if c.j++; c.j >= len(c.x.blocks[c.i]) {
		c.i, c.j = c.i+1, 0
	}
}

// queued reports whether h belongs in the work queues.
func queued(h *pool.Holding) bool { return h.Owned() && !h.Locked && !h.DueAt.IsZero() }

// indexQueues moves a holding's queue entries from old to h (either nil).
func (st *poolState) indexQueues(old, h *pool.Holding) {
	if old != nil && queued(old) {
		e := queueEntry{at: dueKey(old.DueAt), id: old.CustomerID}
		if x := st.byOwner[old.OwnerID]; x != nil {
			x.remove(e)
		}
		if x := st.byDept[old.OwnerDepartmentID]; x != nil {
			x.remove(e)
		}
	}
	if h != nil && queued(h) {
		e := queueEntry{at: dueKey(h.DueAt), id: h.CustomerID}
		indexOf(st.byOwner, h.OwnerID).insert(e)
		if h.OwnerDepartmentID != crm.NilID {
			indexOf(st.byDept, h.OwnerDepartmentID).insert(e)
		}
	}
}

func indexOf[K comparable](m map[K]*queueIndex, id K) *queueIndex {
	x, ok := m[id]
	if !ok {
		x = &queueIndex{}
		m[id] = x
	}
	return x
}

// PoolFallingBack implements [pool.FallingBackQueue]: it merges the
// ordered indexes of the scope's owners and departments (a nil or All
// scope reads the tenant's whole due index by merging every owner's).
func (t tx) PoolFallingBack(ctx context.Context, q pool.FallingBackQuery) (crm.Page[pool.Holding], error) {
	limit, after, err := pool.ResolveFallingBackPage(q.Page)
	if err != nil {
		return crm.Page[pool.Holding]{}, fmt.Errorf("memstore: falling back: %w", err)
	}
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return crm.Page[pool.Holding]{}, fmt.Errorf("memstore: falling back: %w", err)
	}
	defer unlock()
	st := t.poolState()
	tenant := crm.TenantFrom(ctx)
	idx := t.s.queueIndexes(tenant, q.Scope, st.byOwner, st.byDept)
	return queuePage(idx, after, q.By, limit, func(id crm.ID) *pool.Holding {
		if h := st.holdings[id]; h != nil && h.TenantID == tenant {
			c := *h
			return &c
		}
		return nil
	}, pool.FallingBackCursor), nil
}

// queuePage reads a page of limit records from idx after after, due at or
// before by: copy returns the tenant's record of an ID (a copy the caller
// owns), nil to skip it; cursor makes the next page's cursor.
func queuePage[T any](idx []*queueIndex, after *crm.QueueKey, by time.Time, limit int, copy func(crm.ID) *T, cursor func(*T) string) crm.Page[T] {
	var out crm.Page[T]
	mergeQueues(idx, after, by, limit+1, func(id crm.ID) bool {
		r := copy(id)
		if r != nil {
			out.Items = append(out.Items, r)
		}
		return r != nil
	})
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = cursor(out.Items[limit-1])
	}
	return out
}

// mergeQueues visits, in queue order, the entries of idx after after (nil:
// from the start) and due at or before by, each once, until n visits have
// returned true (visit returns whether it took the entry).
func mergeQueues(idx []*queueIndex, after *crm.QueueKey, by time.Time, n int, visit func(crm.ID) bool) {
	var from *queueEntry
	if after != nil {
		from = &queueEntry{at: after.DueAt.UnixMicro(), id: after.ID}
	}
	mergeEntries(idx, from, by.Truncate(time.Microsecond).UnixMicro(), n, func(e queueEntry) bool { return visit(e.id) })
}

// mergeEntries visits, in index order, the entries of idx after from
// (nil: from the start) up to those at cut, each once, until n visits
// have returned true (visit returns whether it took the entry).
func mergeEntries(idx []*queueIndex, from *queueEntry, cut int64, n int, visit func(queueEntry) bool) {
	curs := make([]queueCursor, 0, len(idx))
	for _, x := range idx {
		if from == nil {
			curs = append(curs, x.seek(queueEntry{}, false))
		} else {
			curs = append(curs, x.seek(*from, true))
		}
	}
	taken := 0
	var last queueEntry
	for taken < n {
		best := -1
		var be queueEntry
		for i := range curs {
			if e, ok := curs[i].peek(); ok && (best < 0 || e.less(be)) {
				best, be = i, e
			}
		}
		if best < 0 || be.at > cut {
			return
		}
		curs[best].next()
		if be == last {
			continue // in the scope twice: by owner and by department
		}
		last = be
		if visit(be) {
			taken++
		}
	}
}

// subtrees returns the tenant's departments at or below any of roots
// (the roots themselves even if not stored, as InTree matches them).
// Callers hold the lock.
func (s *Store) subtrees(tenant string, roots []crm.ID) []crm.ID {
	in := s.inTree(tenant)
	out := slices.Clone(roots)
	for id, d := range s.departments.rows {
		if d.TenantID != tenant || slices.Contains(roots, id) {
			continue
		}
		for _, r := range roots {
			if in(r, id) {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// indexTask moves a task's queue entries from old to c (either nil).
// Callers hold the lock.
func (s *Store) indexTask(old, c *crm.Task) {
	if old != nil && old.Open() {
		e := queueEntry{at: old.DueAt.UnixMicro(), id: old.ID}
		if x := s.tasksByAssignee[old.AssigneeID]; x != nil {
			x.remove(e)
		}
		if x := s.tasksByDept[old.DepartmentID]; x != nil {
			x.remove(e)
		}
	}
	if c != nil && c.Open() {
		e := queueEntry{at: c.DueAt.UnixMicro(), id: c.ID}
		if c.AssigneeID != crm.NilID {
			indexOf(s.tasksByAssignee, c.AssigneeID).insert(e)
		}
		if c.DepartmentID != crm.NilID {
			indexOf(s.tasksByDept, c.DepartmentID).insert(e)
		}
	}
}

var _ task.DueQueue = tx{}

// TasksDue implements [task.DueQueue] as PoolFallingBack does, over the
// ordered indexes of the scope's assignees and departments.
func (t tx) TasksDue(ctx context.Context, q task.DueQuery) (crm.Page[crm.Task], error) {
	limit, after, err := task.ResolveDuePage(q.Page)
	if err != nil {
		return crm.Page[crm.Task]{}, fmt.Errorf("memstore: tasks due: %w", err)
	}
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return crm.Page[crm.Task]{}, fmt.Errorf("memstore: tasks due: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	idx := t.s.queueIndexes(tenant, q.Scope, t.s.tasksByAssignee, t.s.tasksByDept)
	return queuePage(idx, after, q.Before, limit, func(id crm.ID) *crm.Task {
		if row := t.s.tasks.rows[id]; row != nil && row.TenantID == tenant {
			return row.Clone()
		}
		return nil
	}, task.DueCursor), nil
}

// queueIndexes returns the indexes of a scope's owners and departments
// (every owner's for a nil or All scope). Callers hold the lock.
func (s *Store) queueIndexes(tenant string, scope *crm.DataScope, byOwner, byDept map[crm.ID]*queueIndex) []*queueIndex {
	var idx []*queueIndex
	if scope == nil || scope.All {
		for _, x := range byOwner {
			idx = append(idx, x)
		}
		return idx
	}
	for _, id := range scope.OwnerIDs {
		if x, ok := byOwner[id]; ok {
			idx = append(idx, x)
		}
	}
	depts := slices.Clone(scope.DepartmentIDs)
	if len(scope.DepartmentTrees) > 0 {
		depts = append(depts, s.subtrees(tenant, scope.DepartmentTrees)...)
	}
	for _, id := range depts {
		if x, ok := byDept[id]; ok {
			idx = append(idx, x)
		}
	}
	return idx
}
