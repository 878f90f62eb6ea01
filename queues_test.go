package crmkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// queueWorld is an organisation for the work queues: Sales (managed by
// manager) with East below it, and Service; a rep in each; customers
// owned and due within days.
type queueWorld struct {
	ctx                 context.Context
	ids                 *crmtest.IDs
	clock               *crmtest.Clock
	store               *memstore.Store
	sales, east, svc    *crm.Department
	manager, rep, east1 *crm.User
	svc1, picky         *crm.User
}

func newQueueWorld(t *testing.T) *queueWorld {
	t.Helper()
	w := &queueWorld{ctx: context.Background(), ids: crmtest.NewIDs(), clock: crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	w.store = memstore.New(&memstore.Config{Clock: w.clock})
	user := func(d *crm.Department, role string) *crm.User {
		u := crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID, u.Roles = d.ID, []string{role} })
		require.NoError(t, w.store.Users().Create(w.ctx, u))
		return u
	}
	w.sales = crmtest.Department(w.ids, "Sales", crm.NilID)
	require.NoError(t, w.store.Departments().Create(w.ctx, w.sales))
	w.manager = user(w.sales, "lead")
	w.sales.ManagerID = w.manager.ID
	require.NoError(t, w.store.Departments().Update(w.ctx, w.sales))
	w.east = crmtest.Department(w.ids, "East", w.sales.ID)
	w.svc = crmtest.Department(w.ids, "Service", crm.NilID)
	for _, d := range []*crm.Department{w.east, w.svc} {
		require.NoError(t, w.store.Departments().Create(w.ctx, d))
	}
	w.rep, w.east1, w.svc1, w.picky = user(w.sales, "rep"), user(w.east, "rep"), user(w.svc, "rep"), user(w.sales, "picky")
	return w
}

// hold stores a customer owned by u (in u's department) with status st,
// due in days days.
func (w *queueWorld) hold(t *testing.T, u *crm.User, days int, st crm.CustomerStatus) crm.ID {
	t.Helper()
	c := crmtest.Customer(w.ids, func(c *crm.Customer) { c.OwnerID, c.DepartmentID, c.Status = u.ID, u.DepartmentID, st })
	require.NoError(t, w.store.Customers().Create(w.ctx, c))
	require.NoError(t, w.store.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		return tx.(pool.Tx).PoolHoldings().Create(ctx, &pool.Holding{
			CustomerID: c.ID, OwnerID: u.ID, OwnerDepartmentID: u.DepartmentID,
			DueAt: w.clock.Now().Add(time.Duration(days) * 24 * time.Hour),
		})
	}))
	return c.ID
}

func (w *queueWorld) crm(t *testing.T, perms permission.Authorizer) *crmkit.CRM {
	t.Helper()
	c, err := crmkit.New(w.store, &crmkit.Config{Clock: w.clock, IDs: w.ids, Permissions: perms})
	require.NoError(t, err)
	return c
}

func (w *queueWorld) policy(t *testing.T) *permission.Policy {
	t.Helper()
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "customer", "fields": ["name"]}, {"name": "task", "fields": ["title"]}],
	  "roles": [
	    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "customer", "actions": ["view"], "scope": "own"},
	      {"id": "rep.tasks", "record_type": "task", "actions": ["view"], "scope": "own"}]},
	    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "customer", "actions": ["view"], "scope": "department_tree"},
	      {"id": "lead.tasks", "record_type": "task", "actions": ["view"], "scope": "department_tree"}]},
	    {"name": "picky", "rules": [{"id": "picky.own", "record_type": "customer", "actions": ["view"], "scope": "own",
	      "when": {"field": "status", "in": ["dealt"]}},
	      {"id": "picky.tasks", "record_type": "task", "actions": ["view"], "scope": "own", "when": {"field": "status", "in": ["done"]}}]}]
	}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
	require.NoError(t, err)
	return p
}

func fallingIDs(t *testing.T, c *crmkit.CRM, req crmkit.FallingBackRequest) []crm.ID {
	t.Helper()
	p, err := c.FallingBack(context.Background(), req)
	require.NoError(t, err)
	out := []crm.ID{}
	for _, h := range p.Items {
		out = append(out, h.CustomerID)
	}
	return out
}

func TestFallingBackListsMineAndTheManagedTeamWithoutPermissions(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	r1 := w.hold(t, w.rep, 2, crm.CustomerPotential)
	e1 := w.hold(t, w.east1, 1, crm.CustomerPotential)
	w.hold(t, w.svc1, 1, crm.CustomerPotential)
	w.hold(t, w.rep, 20, crm.CustomerPotential)
	c := w.crm(t, nil)
	week := 7 * 24 * time.Hour
	require.Equal(t, []crm.ID{r1}, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.rep.ID, Within: week}))
	require.Equal(t, []crm.ID{e1, r1}, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.manager.ID, Team: true, Within: week}))
	require.Empty(t, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.rep.ID, Team: true, Within: week}))
}

func TestFallingBackKeepsTheViewerWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	r1 := w.hold(t, w.rep, 2, crm.CustomerPotential)
	e1 := w.hold(t, w.east1, 1, crm.CustomerPotential)
	s1 := w.hold(t, w.svc1, 1, crm.CustomerPotential)
	m1 := w.hold(t, w.manager, 3, crm.CustomerPotential)
	dealt := w.hold(t, w.picky, 1, crm.CustomerDealt)
	w.hold(t, w.picky, 2, crm.CustomerPotential)
	c := w.crm(t, w.policy(t))
	week := 7 * 24 * time.Hour
	// A rep's team is what the rep may view: the rep's own.
	require.Equal(t, []crm.ID{r1}, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.rep.ID, Team: true, Within: week}))
	require.Equal(t, []crm.ID{s1}, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.svc1.ID, Within: week}))
	// A lead's team is the department tree the policy grants.
	require.Equal(t, []crm.ID{e1, dealt, r1, m1}[0:1], fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.manager.ID, Team: true, Within: week, Page: crm.PageRequest{Limit: 1}}))
	team := fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.manager.ID, Team: true, Within: week})
	require.ElementsMatch(t, team[:2], []crm.ID{e1, dealt})
	require.Len(t, team, 5)
	require.NotContains(t, team, s1)
	// A scope wider than the policy (a status condition) is checked record
	// by record: the picky viewer sees only the dealt customer.
	require.Equal(t, []crm.ID{dealt}, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.picky.ID, Within: week}))
	require.Equal(t, []crm.ID{dealt}, fallingIDs(t, c, crmkit.FallingBackRequest{Viewer: w.picky.ID, Team: true, Within: week}))
}

func TestFallingBackRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	week := 7 * 24 * time.Hour
	for _, c := range []*crmkit.CRM{w.crm(t, nil), w.crm(t, w.policy(t))} {
		for field, req := range map[string]crmkit.FallingBackRequest{
			"viewer":      {Within: week},
			"within":      {Viewer: w.rep.ID},
			"page.cursor": {Viewer: w.rep.ID, Within: week, Page: crm.PageRequest{Cursor: crm.CursorAfter(w.rep.ID)}},
			"page.limit":  {Viewer: w.rep.ID, Within: week, Page: crm.PageRequest{Limit: -1}},
		} {
			_, err := c.FallingBack(w.ctx, req)
			requireFieldIn(t, err, field)
		}
	}
	_, err := w.crm(t, w.policy(t)).FallingBack(w.ctx, crmkit.FallingBackRequest{Viewer: w.ids.NewID(), Within: week})
	requireFieldIn(t, err, "viewer")
}

// due stores an open task assigned to u (in u's department) due in hours
// hours.
func (w *queueWorld) due(t *testing.T, u *crm.User, hours int) crm.ID {
	t.Helper()
	tk := crmtest.Task(w.ids, crm.Ref{Type: crm.TypeCustomer, ID: w.ids.NewID()}, u.ID, func(tk *crm.Task) {
		tk.DepartmentID, tk.DueAt = u.DepartmentID, w.clock.Now().Add(time.Duration(hours)*time.Hour)
	})
	require.NoError(t, w.store.Tasks().Create(w.ctx, tk))
	return tk.ID
}

func dueIDs(t *testing.T, c *crmkit.CRM, req crmkit.TasksDueRequest) []crm.ID {
	t.Helper()
	p, err := c.TasksDue(context.Background(), req)
	require.NoError(t, err)
	out := []crm.ID{}
	for _, tk := range p.Items {
		out = append(out, tk.ID)
	}
	return out
}

func TestTasksDueListsMineAndTheTeamWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	r1 := w.due(t, w.rep, 5)
	e1 := w.due(t, w.east1, 4)
	s1 := w.due(t, w.svc1, 3)
	p1 := w.due(t, w.picky, 2)
	w.due(t, w.rep, 50)
	w.clock.Advance(3*time.Hour + time.Minute) // s1 and p1 are overdue
	day := w.clock.Now().Add(24 * time.Hour)

	plain := w.crm(t, nil)
	require.Equal(t, []crm.ID{r1}, dueIDs(t, plain, crmkit.TasksDueRequest{Viewer: w.rep.ID, Before: day}))
	require.Equal(t, []crm.ID{p1}, dueIDs(t, plain, crmkit.TasksDueRequest{Viewer: w.picky.ID}), "zero Before lists the overdue")
	require.Equal(t, []crm.ID{p1, e1, r1}, dueIDs(t, plain, crmkit.TasksDueRequest{Viewer: w.manager.ID, Team: true, Before: day}))

	c := w.crm(t, w.policy(t))
	require.Equal(t, []crm.ID{r1}, dueIDs(t, c, crmkit.TasksDueRequest{Viewer: w.rep.ID, Team: true, Before: day}))
	require.Equal(t, []crm.ID{s1}, dueIDs(t, c, crmkit.TasksDueRequest{Viewer: w.svc1.ID}))
	require.Equal(t, []crm.ID{p1, e1, r1}, dueIDs(t, c, crmkit.TasksDueRequest{Viewer: w.manager.ID, Team: true, Before: day}))
	// The picky viewer may view only done tasks: its open ones are checked
	// one by one and dropped.
	require.Empty(t, dueIDs(t, c, crmkit.TasksDueRequest{Viewer: w.picky.ID, Before: day}))
	require.Empty(t, dueIDs(t, c, crmkit.TasksDueRequest{Viewer: w.picky.ID, Team: true, Before: day}))

	for _, c := range []*crmkit.CRM{plain, c} {
		_, err := c.TasksDue(w.ctx, crmkit.TasksDueRequest{Before: day})
		requireFieldIn(t, err, "viewer")
		_, err = c.TasksDue(w.ctx, crmkit.TasksDueRequest{Viewer: w.rep.ID, Page: crm.PageRequest{Cursor: "pfb.AAAA"}})
		requireFieldIn(t, err, "page.cursor")
	}
}
