package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

// queueEnv is a pool environment with an organisation for the work
// queues: department root (managed by manager) with a child, and another
// department; an agent in root, one in child, one in other.
type queueEnv struct {
	*poolEnv
	root, child, other *crm.Department
	manager, inRoot    *crm.User
	inChild, inOther   *crm.User
	// held are the holdings stored, by customer ID.
	held map[crm.ID]*pool.Holding
}

func newQueueEnv(t *testing.T, h Harness) *queueEnv {
	t.Helper()
	e := &queueEnv{poolEnv: newPoolEnv(t, h, nil), held: map[crm.ID]*pool.Holding{}}
	e.manager = e.user()
	e.root = crmtest.Department(e.ids, "Sales", crm.NilID, func(d *crm.Department) { d.ManagerID = e.manager.ID })
	require.NoError(t, e.store.Departments().Create(e.ctx, e.root))
	e.child = crmtest.Department(e.ids, "Sales East", e.root.ID)
	require.NoError(t, e.store.Departments().Create(e.ctx, e.child))
	e.other = crmtest.Department(e.ids, "Service", crm.NilID)
	require.NoError(t, e.store.Departments().Create(e.ctx, e.other))
	e.inRoot, e.inChild, e.inOther = e.user(), e.user(), e.user()
	return e
}

// hold stores a holding of a new customer, owned by owner in dept, due
// after the clock's time by in (zero: no due time).
func (e *queueEnv) hold(ctx context.Context, owner *crm.User, dept *crm.Department, in time.Duration, edit func(*pool.Holding)) *pool.Holding {
	e.t.Helper()
	h := &pool.Holding{CustomerID: e.ids.NewID(), PoolID: e.pool.ID, OwnerID: owner.ID}
	if dept != nil {
		h.OwnerDepartmentID = dept.ID
	}
	if in != 0 {
		h.DueAt = crm.StorageTime(e.clock.Now().Add(in))
	}
	if edit != nil {
		edit(h)
	}
	require.NoError(e.t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return tx.(pool.Tx).PoolHoldings().Create(ctx, h)
	}))
	e.held[h.CustomerID] = h
	return h
}

// all reads every page of a request, limit at a time, and returns the
// customer IDs in order.
func (e *queueEnv) all(req pool.FallingBackRequest, limit int) []crm.ID {
	e.t.Helper()
	return readQueue(e.t, limit, func(page crm.PageRequest) (crm.Page[pool.Holding], error) {
		req.Page = page
		return e.svc.FallingBack(e.ctx, req)
	}, func(h *pool.Holding) crm.ID { return h.CustomerID })
}

// expectQueue returns the IDs of hs in queue order.
func expectQueue(hs ...*pool.Holding) []crm.ID {
	return queueOrder(hs, func(h *pool.Holding) (time.Time, crm.ID) { return h.DueAt, h.CustomerID })
}

// readQueue reads every page of a work queue, limit at a time, checking
// that a page with a cursor after it is full, and returns the IDs in
// order.
func readQueue[T any](t *testing.T, limit int, read func(crm.PageRequest) (crm.Page[T], error), id func(*T) crm.ID) []crm.ID {
	t.Helper()
	out := []crm.ID{}
	page := crm.PageRequest{Limit: limit}
	for range 100 {
		p, err := read(page)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Items), limit)
		for _, v := range p.Items {
			out = append(out, id(v))
		}
		if p.NextCursor == "" {
			return out
		}
		require.Len(t, p.Items, limit, "a page with a next cursor is full")
		page.Cursor = p.NextCursor
	}
	t.Fatal("the queue never ended")
	return nil
}

// queueOrder returns the IDs of vs in work-queue order: due time, then ID.
func queueOrder[T any](vs []T, key func(T) (time.Time, crm.ID)) []crm.ID {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, func(a, b T) int {
		at, aid := key(a)
		bt, bid := key(b)
		if c := at.Compare(bt); c != 0 {
			return c
		}
		return bytes.Compare(aid[:], bid[:])
	})
	out := make([]crm.ID, len(vs))
	for i, v := range vs {
		_, out[i] = key(v)
	}
	return out
}

// RunFallingBack checks the falling-back work queue
// ([pool.FallingBackQueue]) through [pool.Service.FallingBack].
func RunFallingBack(t *testing.T, h Harness) {
	const day = 24 * time.Hour
	probe := newPoolEnv(t, h, nil)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[pool.FallingBackQueue](tx)
		return nil
	}))
	if !has {
		require.False(t, h.Features.FallingBackQueue, "Features.FallingBackQueue is declared, but the adapter's Tx does not implement pool.FallingBackQueue")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			_, err := probe.svc.FallingBack(probe.ctx, pool.FallingBackRequest{Actor: probe.ids.NewID(), Within: day})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}

	t.Run("ListsTheActorsQueueEarliestFirstWithTiesByIDAcrossPages", func(t *testing.T) {
		t.Parallel()
		e := newQueueEnv(t, h)
		a := e.inRoot
		overdue := e.hold(e.ctx, a, e.root, -2*time.Hour, nil)
		tie1 := e.hold(e.ctx, a, e.root, day, nil)
		tie2 := e.hold(e.ctx, a, e.root, day, nil)
		tie3 := e.hold(e.ctx, a, e.root, day, func(h *pool.Holding) { h.CustomerID = crmtest.NewIDs().NewID() })
		soon := e.hold(e.ctx, a, e.root, 3*day, nil)
		edge := e.hold(e.ctx, a, e.root, 7*day, nil)
		e.hold(e.ctx, a, e.root, 7*day+time.Microsecond, nil)                          // beyond the window
		e.hold(e.ctx, a, e.root, day, func(h *pool.Holding) { h.Locked = true })       // locked: never falls back
		e.hold(e.ctx, a, e.root, 0, nil)                                               // no due time
		e.hold(e.ctx, e.inChild, e.child, day, nil)                                    // someone else's
		e.hold(e.ctx, a, e.root, day, func(h *pool.Holding) { h.OwnerID = crm.NilID }) // pooled
		want := expectQueue(overdue, tie1, tie2, tie3, soon, edge)
		req := pool.FallingBackRequest{Actor: a.ID, Within: 7 * day}
		for _, limit := range []int{1, 2, 4, 50} {
			require.Equal(t, want, e.all(req, limit), "limit %d", limit)
		}
		p, err := e.svc.FallingBack(e.ctx, req)
		require.NoError(t, err)
		require.Empty(t, p.NextCursor)
		got := p.Items[0]
		require.Equal(t, overdue.DueAt, got.DueAt)
		require.Equal(t, overdue.OwnerDepartmentID, got.OwnerDepartmentID)
		require.Equal(t, overdue.Version, got.Version)
	})

	t.Run("ListsATeamByScopeDepartmentTreesAndManagedDepartments", func(t *testing.T) {
		t.Parallel()
		e := newQueueEnv(t, h)
		r1 := e.hold(e.ctx, e.inRoot, e.root, day, nil)
		r2 := e.hold(e.ctx, e.manager, e.root, 2*day, nil)
		c1 := e.hold(e.ctx, e.inChild, e.child, day, nil)
		c2 := e.hold(e.ctx, e.inChild, e.child, -day, nil)
		o1 := e.hold(e.ctx, e.inOther, e.other, day, nil)
		// Owned from the child department, its owner now elsewhere: the
		// holding's department decides.
		moved := e.hold(e.ctx, e.inOther, e.child, 4*day, nil)
		tree := expectQueue(r1, r2, c1, c2, moved)
		within := 5 * day
		require.Equal(t, tree, e.all(pool.FallingBackRequest{Actor: e.manager.ID, Team: true, Within: within}, 2))
		require.Equal(t, tree, e.all(pool.FallingBackRequest{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{e.root.ID}}, Within: within}, 3))
		require.Equal(t, expectQueue(c1, c2, moved), e.all(pool.FallingBackRequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{e.child.ID}}, Within: within}, 50))
		// An owner and a department both matching one holding list it once.
		both := &crm.DataScope{OwnerIDs: []crm.ID{e.inOther.ID}, DepartmentIDs: []crm.ID{e.other.ID, e.child.ID}}
		require.Equal(t, expectQueue(c1, c2, o1, moved), e.all(pool.FallingBackRequest{Scope: both, Within: within}, 2))
		require.Equal(t, expectQueue(r1, r2, c1, c2, o1, moved), e.all(pool.FallingBackRequest{Scope: &crm.DataScope{All: true}, Within: within}, 4))
		require.Empty(t, e.all(pool.FallingBackRequest{Scope: &crm.DataScope{}, Within: within}, 4), "an empty scope matches nothing")
		require.Empty(t, e.all(pool.FallingBackRequest{Actor: e.inRoot.ID, Team: true, Within: within}, 4), "a manager of nothing has an empty team")
		require.Equal(t, expectQueue(c2), e.all(pool.FallingBackRequest{Scope: &crm.DataScope{PoolIDs: []crm.ID{e.pool.ID}, DepartmentIDs: []crm.ID{e.child.ID}}, Within: time.Hour}, 4), "pool IDs are ignored")
	})

	t.Run("KeepsTenantsApart", func(t *testing.T) {
		t.Parallel()
		e := newQueueEnv(t, h)
		mine := e.hold(e.ctx, e.inRoot, e.root, day, nil)
		e.hold(crm.WithTenant(e.ctx, "b"), e.inRoot, e.root, day, nil)
		req := pool.FallingBackRequest{Actor: e.inRoot.ID, Within: 2 * day}
		require.Equal(t, expectQueue(mine), e.all(req, 10))
		req.Scope = &crm.DataScope{All: true}
		require.Equal(t, expectQueue(mine), e.all(req, 10))
		p, err := e.svc.FallingBack(crm.WithTenant(e.ctx, "c"), req)
		require.NoError(t, err)
		require.Empty(t, p.Items)
	})

	t.Run("RefusesBadInputNamingTheField", func(t *testing.T) {
		t.Parallel()
		e := newQueueEnv(t, h)
		e.hold(e.ctx, e.inRoot, e.root, day, nil)
		e.hold(e.ctx, e.inRoot, e.root, day, nil)
		ok := pool.FallingBackRequest{Actor: e.inRoot.ID, Within: 2 * day}
		first, err := e.svc.FallingBack(e.ctx, pool.FallingBackRequest{Actor: ok.Actor, Within: ok.Within, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.NotEmpty(t, first.NextCursor)
		for name, tc := range map[string]struct {
			edit  func(*pool.FallingBackRequest)
			field string
		}{
			"no within":        {func(r *pool.FallingBackRequest) { r.Within = 0 }, "within"},
			"negative within":  {func(r *pool.FallingBackRequest) { r.Within = -day }, "within"},
			"within too far":   {func(r *pool.FallingBackRequest) { r.Within = pool.MaxFallingBackWithin + time.Second }, "within"},
			"no actor":         {func(r *pool.FallingBackRequest) { r.Actor = crm.NilID }, "actor"},
			"limit too big":    {func(r *pool.FallingBackRequest) { r.Page.Limit = crm.MaxPageLimit + 1 }, "page.limit"},
			"negative limit":   {func(r *pool.FallingBackRequest) { r.Page.Limit = -1 }, "page.limit"},
			"a list's cursor":  {func(r *pool.FallingBackRequest) { r.Page.Cursor = crm.CursorAfter(e.inRoot.ID) }, "page.cursor"},
			"garbage cursor":   {func(r *pool.FallingBackRequest) { r.Page.Cursor = "pfb.%%%" }, "page.cursor"},
			"truncated cursor": {func(r *pool.FallingBackRequest) { r.Page.Cursor = first.NextCursor[:len(first.NextCursor)-3] }, "page.cursor"},
		} {
			req := ok
			tc.edit(&req)
			_, err := e.svc.FallingBack(e.ctx, req)
			requireInvalid(t, err, tc.field)
			require.ErrorContains(t, err, tc.field, name)
		}
		// The port refuses a foreign cursor too, whoever calls it.
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			q, _ := crm.As[pool.FallingBackQueue](tx)
			_, err := q.PoolFallingBack(ctx, pool.FallingBackQuery{By: e.clock.Now(), Page: crm.PageRequest{Cursor: crm.CursorAfter(e.root.ID)}})
			requireInvalid(t, err, "page.cursor")
			return nil
		}))
	})
}
