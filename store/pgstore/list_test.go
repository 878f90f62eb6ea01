package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

// listAll pages through a list with a small limit and returns the IDs.
func listAll[T any, F any](t *testing.T, ctx context.Context, r crm.Repository[T, F], f F) []crm.ID {
	t.Helper()
	var ids []crm.ID
	page := crm.PageRequest{Limit: 3}
	for range 100 {
		p, err := r.List(ctx, f, page)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Items), 3)
		for _, v := range p.Items {
			ids = append(ids, any(v).(crm.Entity).GetMeta().ID)
		}
		if p.NextCursor == "" {
			return ids
		}
		page.Cursor = p.NextCursor
	}
	t.Fatal("list does not end")
	return nil
}

// want filters records with the Match method, the definition the SQL must
// agree with.
func want[T any](records []*T, match func(*T) bool) []crm.ID {
	var ids []crm.ID
	for _, r := range records {
		if match(r) {
			ids = append(ids, any(r).(crm.Entity).GetMeta().ID)
		}
	}
	return ids
}

// inTree walks up the parents like memstore does.
func inTree(deps []*crm.Department) crm.InTree {
	parent := map[crm.ID]crm.ID{}
	for _, d := range deps {
		parent[d.ID] = d.ParentID
	}
	return func(root, dept crm.ID) bool {
		for dept != crm.NilID {
			if dept == root {
				return true
			}
			p, ok := parent[dept]
			if !ok {
				return false
			}
			dept = p
		}
		return false
	}
}

func TestListAgreesWithMatch(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	ids := crmtest.NewIDs()
	ctx := crm.WithTenant(context.Background(), "acme")
	other := crm.WithTenant(context.Background(), "other")

	hq := crmtest.Department(ids, "HQ", crm.NilID)
	east := crmtest.Department(ids, "East", hq.ID)
	shanghai := crmtest.Department(ids, "Shanghai", east.ID)
	west := crmtest.Department(ids, "West", crm.NilID)
	deps := []*crm.Department{hq, east, shanghai, west}
	for _, d := range deps {
		require.NoError(t, s.Departments().Create(ctx, d))
	}
	ghost := ids.NewID() // a department ID with no row
	u1, u2 := crmtest.User(ids, func(u *crm.User) { u.Roles = []string{"sales", "lead"}; u.DepartmentID = east.ID }),
		crmtest.User(ids, func(u *crm.User) { u.Roles = []string{"support"}; u.Active = false; u.Email = "Zhang.Wei@Example.COM" })
	users := []*crm.User{u1, u2}
	for _, u := range users {
		require.NoError(t, s.Users().Create(ctx, u))
	}
	// A record of another tenant that no list of acme may return. It
	// cannot name acme's users or departments; ghost is nobody's.
	require.NoError(t, s.Customers().Create(other, crmtest.Customer(ids, func(c *crm.Customer) { c.DepartmentID = ghost })))

	var customers []*crm.Customer
	statuses := []crm.CustomerStatus{crm.CustomerPotential, crm.CustomerDealt, crm.CustomerLost}
	owners := []crm.ID{crm.NilID, u1.ID, u2.ID}
	depts := []crm.ID{crm.NilID, hq.ID, east.ID, shanghai.ID, west.ID, ghost}
	for i := range 30 {
		c := crmtest.Customer(ids, func(c *crm.Customer) {
			c.Status = statuses[i%3]
			c.OwnerID = owners[i%len(owners)]
			c.DepartmentID = depts[i%len(depts)]
			if c.OwnerID == crm.NilID && i%2 == 0 {
				c.PoolID = hq.ID
			}
			c.Level = []string{"A", "B"}[i%2]
			c.Region = []string{"cn-east", "cn-west", ""}[i%3]
			c.Industry = []string{"mfg", "retail", "it", "edu", ""}[i%5]
		})
		require.NoError(t, s.Customers().Create(ctx, c))
		customers = append(customers, c)
	}
	tree := inTree(deps)

	t.Run("Customers", func(t *testing.T) {
		filters := []crm.CustomerFilter{
			{},
			{Statuses: []crm.CustomerStatus{crm.CustomerDealt, crm.CustomerLost}},
			{OwnerIDs: []crm.ID{u1.ID}},
			{OwnerIDs: []crm.ID{crm.NilID, u2.ID}},
			{Unowned: true},
			{DepartmentIDs: []crm.ID{east.ID, crm.NilID}},
			{PoolIDs: []crm.ID{hq.ID}},
			{Levels: []string{"A"}, Regions: []string{"cn-east", ""}, Industries: []string{"mfg", "it"}},
			{Scope: &crm.DataScope{All: true}},
			{Scope: &crm.DataScope{}},
			{Scope: &crm.DataScope{OwnerIDs: []crm.ID{u2.ID}}},
			{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{west.ID}}},
			{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{east.ID}}},
			{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{hq.ID, ghost}}},
			{Scope: &crm.DataScope{OwnerIDs: []crm.ID{u1.ID}, DepartmentTrees: []crm.ID{west.ID}}, Statuses: []crm.CustomerStatus{crm.CustomerPotential}},
			{Scope: &crm.DataScope{OwnerIDs: []crm.ID{crm.NilID}}},
		}
		for i, f := range filters {
			t.Run(fmt.Sprintf("Filter%d", i), func(t *testing.T) {
				require.Equal(t, want(customers, func(c *crm.Customer) bool { return f.Match(c, tree) }),
					listAll(t, ctx, s.Customers(), f), "%+v", f)
			})
		}
	})

	t.Run("Users", func(t *testing.T) {
		inactive := false
		for i, f := range []crm.UserFilter{
			{Role: "lead"}, {Role: "le"}, {Active: &inactive}, {Email: " zhang.wei@example.com "},
			{DepartmentIDs: []crm.ID{east.ID}}, {DepartmentIDs: []crm.ID{crm.NilID}},
		} {
			require.Equal(t, want(users, func(u *crm.User) bool { return f.Match(u, tree) }),
				listAll(t, ctx, s.Users(), f), "filter %d: %+v", i, f)
		}
	})

	t.Run("Departments", func(t *testing.T) {
		nilID := crm.NilID
		for i, f := range []crm.DepartmentFilter{{}, {ParentID: &nilID}, {ParentID: &hq.ID}, {ParentID: &ghost}} {
			require.Equal(t, want(deps, func(d *crm.Department) bool { return f.Match(d, tree) }),
				listAll(t, ctx, s.Departments(), f), "filter %d", i)
		}
	})

	t.Run("Activities", func(t *testing.T) {
		base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		var acts []*crm.Activity
		for i := range 8 {
			a := crmtest.Activity(ids, crm.Ref{Type: crm.TypeCustomer, ID: customers[i%2].ID}, users[i%2].ID, func(a *crm.Activity) {
				a.OccurredAt = base.Add(time.Duration(i) * time.Hour)
				a.Kind = []crm.ActivityKind{crm.ActivityCall, crm.ActivityVisit}[i%2]
			})
			require.NoError(t, s.Activities().Create(ctx, a))
			acts = append(acts, a)
		}
		from := base.Add(2*time.Hour + 500) // 500ns after a stored time
		to := base.Add(6 * time.Hour)
		subject := crm.Ref{Type: crm.TypeCustomer, ID: customers[1].ID}
		for i, f := range []crm.ActivityFilter{
			{Subject: &subject}, {Subject: &crm.Ref{Type: crm.TypeLead, ID: customers[1].ID}},
			{ActorIDs: []crm.ID{u1.ID}}, {Kinds: []crm.ActivityKind{crm.ActivityVisit}},
			{OccurredFrom: &from}, {OccurredTo: &to}, {OccurredFrom: &from, OccurredTo: &to},
		} {
			require.Equal(t, want(acts, func(a *crm.Activity) bool { return f.Match(a, tree) }),
				listAll(t, ctx, s.Activities(), f), "filter %d", i)
		}
	})

	t.Run("TeamsAndTickets", func(t *testing.T) {
		var teams []*crm.Team
		for i := range 4 {
			tm := crmtest.Team(ids, fmt.Sprint("team ", i), []crm.ID{users[i%2].ID}, func(tm *crm.Team) { tm.DepartmentID = depts[i] })
			require.NoError(t, s.Teams().Create(ctx, tm))
			teams = append(teams, tm)
		}
		for i, f := range []crm.TeamFilter{{MemberID: u2.ID}, {DepartmentIDs: []crm.ID{hq.ID, crm.NilID}}} {
			require.Equal(t, want(teams, func(tm *crm.Team) bool { return f.Match(tm, tree) }),
				listAll(t, ctx, s.Teams(), f), "filter %d", i)
		}
		var tickets []*crm.Ticket
		for i := range 9 {
			tk := crmtest.Ticket(ids, func(tk *crm.Ticket) {
				tk.AssigneeID = owners[i%3]
				tk.DepartmentID = depts[i%len(depts)]
				tk.TeamID = teams[i%2].ID
				tk.CustomerID = customers[i%2].ID
				tk.Status = []crm.TicketStatus{crm.TicketNew, crm.TicketOpen, crm.TicketPending}[i%3]
			})
			require.NoError(t, s.Tickets().Create(ctx, tk))
			tickets = append(tickets, tk)
		}
		for i, f := range []crm.TicketFilter{
			{AssigneeIDs: []crm.ID{u1.ID}}, {TeamIDs: []crm.ID{teams[1].ID}}, {CustomerIDs: []crm.ID{customers[0].ID}},
			{Statuses: []crm.TicketStatus{crm.TicketOpen}}, {Statuses: []crm.TicketStatus{crm.TicketNew, crm.TicketPending}},
			{Scope: &crm.DataScope{OwnerIDs: []crm.ID{u2.ID}, DepartmentTrees: []crm.ID{east.ID}}},
		} {
			require.Equal(t, want(tickets, func(tk *crm.Ticket) bool { return f.Match(tk, tree) }),
				listAll(t, ctx, s.Tickets(), f), "filter %d", i)
		}
	})

	t.Run("RefusesBadPagesAndFilters", func(t *testing.T) {
		_, err := s.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit + 1})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = s.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{Cursor: "not a cursor"})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = s.Customers().List(ctx, crm.CustomerFilter{Unowned: true, OwnerIDs: []crm.ID{u1.ID}}, crm.PageRequest{})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = s.Customers().List(ctx, crm.CustomerFilter{Statuses: []crm.CustomerStatus{"x'; DROP TABLE crm_customers; --"}}, crm.PageRequest{})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestDepartments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()

	t.Run("RefusesUnknownParentsCyclesAndDeletingParents", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		root := crmtest.Department(ids, "HQ", crm.NilID)
		child := crmtest.Department(ids, "East", root.ID)
		require.NoError(t, s.Departments().Create(ctx, root))
		require.NoError(t, s.Departments().Create(ctx, child))

		var ve *crm.ValidationError
		require.ErrorAs(t, s.Departments().Create(ctx, crmtest.Department(ids, "Lost", ids.NewID())), &ve)
		require.Equal(t, "parent_id", ve.Field)
		require.ErrorAs(t, s.Departments().Create(crm.WithTenant(ctx, "other"), crmtest.Department(ids, "Foreign", root.ID)), &ve,
			"a parent of another tenant is unknown")

		root.ParentID = child.ID
		require.ErrorAs(t, s.Departments().Update(ctx, root), &ve)
		require.Equal(t, "parent_id", ve.Field)

		stale := *root
		stale.Version = 9
		require.ErrorIs(t, s.Departments().Update(ctx, &stale), crm.ErrConflict, "a stale version is reported before the cycle")

		err := s.Departments().Delete(ctx, root.ID, 1)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
		require.ErrorIs(t, s.Departments().Delete(ctx, child.ID, 2), crm.ErrConflict)
		require.NoError(t, s.Departments().Delete(ctx, child.ID, 1))
		require.NoError(t, s.Departments().Delete(ctx, root.ID, 1))
		require.ErrorIs(t, s.Departments().Delete(ctx, root.ID, 1), crm.ErrNotFound)
	})

	t.Run("ConcurrentMovesNeverMakeACycle", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		for round := range 5 {
			a := crmtest.Department(ids, fmt.Sprint("A", round), crm.NilID)
			b := crmtest.Department(ids, fmt.Sprint("B", round), crm.NilID)
			require.NoError(t, s.Departments().Create(ctx, a))
			require.NoError(t, s.Departments().Create(ctx, b))
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, move := range [][2]*crm.Department{{a, b}, {b, a}} {
				wg.Go(func() {
					d := *move[0]
					d.ParentID = move[1].ID
					errs[i] = s.Departments().Update(ctx, &d)
				})
			}
			wg.Wait()
			succeeded := 0
			for _, err := range errs {
				if err == nil {
					succeeded++
				} else {
					require.ErrorIs(t, err, crm.ErrInvalidArgument)
				}
			}
			require.Equal(t, 1, succeeded, "round %d: %v", round, errs)
		}
		page, err := s.Departments().List(ctx, crm.DepartmentFilter{}, crm.PageRequest{Limit: 100})
		require.NoError(t, err)
		all := make([]crm.Department, len(page.Items))
		for i, d := range page.Items {
			all[i] = *d
		}
		_, err = crm.NewDepartmentTree(all)
		require.NoError(t, err, "the stored tree is acyclic")
	})
}

func TestVersionsAndTenants(t *testing.T) {
	t.Parallel()
	s := newStore(t, crmtest.NewClock(at))
	ids := crmtest.NewIDs()
	ctx := crm.WithTenant(context.Background(), "acme")
	other := crm.WithTenant(context.Background(), "other")
	c := crmtest.Customer(ids)
	require.NoError(t, s.Customers().Create(ctx, c))
	require.Equal(t, "acme", c.TenantID)
	require.ErrorIs(t, s.Customers().Create(ctx, c), crm.ErrAlreadyExists)

	_, err := s.Customers().Get(other, c.ID)
	require.ErrorIs(t, err, crm.ErrNotFound)
	foreign := *c
	foreign.TenantID = ""
	require.ErrorIs(t, s.Customers().Update(other, &foreign), crm.ErrNotFound)
	require.ErrorIs(t, s.Customers().Delete(other, c.ID, c.Version), crm.ErrNotFound)
	moved := *c
	moved.TenantID = "other"
	require.ErrorIs(t, s.Customers().Update(ctx, &moved), crm.ErrInvalidArgument)

	before := *c
	c.Name = "" // invalid: refused before any statement, caller's value kept
	var ve *crm.ValidationError
	require.ErrorAs(t, s.Customers().Update(ctx, c), &ve)
	require.Equal(t, "name", ve.Field)
	require.Equal(t, int64(1), c.Version)
	c.Name = before.Name

	require.NoError(t, s.Customers().Update(ctx, c))
	require.Equal(t, int64(2), c.Version)
	require.Equal(t, before.CreatedAt, c.CreatedAt)
	require.ErrorIs(t, s.Customers().Update(ctx, &before), crm.ErrConflict)
	require.ErrorIs(t, s.Customers().Delete(ctx, c.ID, 1), crm.ErrConflict)
	require.NoError(t, s.Customers().Delete(ctx, c.ID, 2))
	require.ErrorIs(t, s.Customers().Update(ctx, c), crm.ErrNotFound)
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	ids := crmtest.NewIDs()
	ctx := context.Background()
	a, b, c := event(ids, ids.NewID()), event(ids, ids.NewID()), event(ids, ids.NewID())
	require.NoError(t, s.Events().Append(crm.WithTenant(ctx, "t1"), a, b))
	require.NoError(t, s.Events().Append(crm.WithTenant(ctx, "t2"), c))
	require.Less(t, a.Seq, b.Seq)
	require.Less(t, b.Seq, c.Seq)
	require.ErrorIs(t, s.Events().Append(crm.WithTenant(ctx, "t1"), event(ids, a.ID), a), crm.ErrAlreadyExists)
	d := event(ids, a.ID)
	require.ErrorIs(t, s.Events().Append(ctx, d, d), crm.ErrAlreadyExists)

	pending, err := s.Outbox().Pending(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, []crm.ID{a.ID, b.ID}, []crm.ID{pending[0].ID, pending[1].ID})
	require.NoError(t, s.Outbox().Ack(ctx, a.ID, ids.NewID()))
	require.NoError(t, s.Outbox().Ack(ctx, a.ID), "acknowledging twice is fine")
	pending, err = s.Outbox().Pending(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	require.Equal(t, "t1", pending[0].TenantID)
	require.Equal(t, "t2", pending[1].TenantID)
	_, err = s.Outbox().Pending(ctx, 0)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
}
