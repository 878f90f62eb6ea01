package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
)

// risingModel grades by industry (manufacturing A, retail B, any other
// D) and by web visits, ten points each (8 or more: 1, 6: 2, 3: 3, none:
// 4), so a test sets a lead's grade with its industry and the visits it
// scores with.
const risingModel = `{"id": "hot", "version": 1,
  "fit": {"groups": [{"name": "industry", "rules": [
    {"id": "mfg", "when": {"field": "industry", "equals": "manufacturing"}, "points": 80},
    {"id": "retail", "when": {"field": "industry", "equals": "retail"}, "points": 60}]}]},
  "engagement": {"groups": [{"name": "web", "rules": [
    {"id": "visits", "when": {"event": {"kind": "web_visit"}}, "points_each": 10, "max_points": 100}]}]}}`

// risingEnv is a subtest's world for the rising-leads queue: department
// root (managed by manager) with a child, and another department; a
// user in each; a lead service with the model "hot" stored.
type risingEnv struct {
	*env
	leads              *lead.Service
	root, child, other *crm.Department
	manager, inRoot    *crm.User
	inChild, inOther   *crm.User
}

func newRisingEnv(t *testing.T, h Harness) *risingEnv {
	t.Helper()
	e := &risingEnv{env: newEnv(t, h)}
	svc, err := lead.New(e.store, &lead.Config{Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	e.leads = svc
	m, err := lead.ParseModel([]byte(risingModel))
	require.NoError(t, err)
	require.NoError(t, svc.SaveModel(e.ctx, m))
	user := func() *crm.User {
		u := crmtest.User(e.ids)
		require.NoError(t, e.store.Users().Create(e.ctx, u))
		return u
	}
	e.manager = user()
	e.root = crmtest.Department(e.ids, "Sales", crm.NilID, func(d *crm.Department) { d.ManagerID = e.manager.ID })
	require.NoError(t, e.store.Departments().Create(e.ctx, e.root))
	e.child = crmtest.Department(e.ids, "Sales East", e.root.ID)
	require.NoError(t, e.store.Departments().Create(e.ctx, e.child))
	e.other = crmtest.Department(e.ids, "Service", crm.NilID)
	require.NoError(t, e.store.Departments().Create(e.ctx, e.other))
	e.inRoot, e.inChild, e.inOther = user(), user(), user()
	return e
}

// lead stores a lead of industry owned by u in dept.
func (e *risingEnv) lead(ctx context.Context, u *crm.User, dept *crm.Department, industry string, edits ...func(*crm.Lead)) *crm.Lead {
	e.t.Helper()
	l := crmtest.Lead(e.ids, func(l *crm.Lead) { l.OwnerID, l.DepartmentID, l.Industry = u.ID, dept.ID, industry })
	for _, edit := range edits {
		edit(l)
	}
	require.NoError(e.t, e.store.Leads().Create(ctx, l))
	return l
}

// score scores l with "hot" and visits web visits, now.
func (e *risingEnv) score(ctx context.Context, l *crm.Lead, visits int) *lead.ScoreSnapshot {
	e.t.Helper()
	var events []lead.Engagement
	if visits > 0 {
		events = []lead.Engagement{{Kind: "web_visit", At: e.clock.Now(), Count: visits}}
	}
	s, err := e.leads.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "hot", Events: events})
	require.NoError(e.t, err)
	return s
}

// editLead changes the stored lead in a unit of work of its own.
func (e *risingEnv) editLead(ctx context.Context, id crm.ID, edit func(*crm.Lead)) {
	e.t.Helper()
	require.NoError(e.t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		l, err := tx.Leads().Get(ctx, id)
		if err != nil {
			return err
		}
		edit(l)
		return tx.Leads().Update(ctx, l)
	}))
}

// all reads every page of a request, limit at a time, checking each
// entry, and returns the lead IDs in order.
func (e *risingEnv) all(ctx context.Context, req lead.RisingRequest, limit int) []crm.ID {
	e.t.Helper()
	if req.ModelID == "" {
		req.ModelID = "hot"
	}
	return readQueue(e.t, limit, func(page crm.PageRequest) (crm.Page[lead.RisingLead], error) {
		req.Page = page
		return e.leads.Rising(ctx, req)
	}, func(r *lead.RisingLead) crm.ID {
		require.Equal(e.t, r.Lead.ID, r.Score.LeadID)
		require.Equal(e.t, req.ModelID, r.Score.ModelID)
		require.True(e.t, lead.Open(r.Lead), "lead %s is %s", r.Lead.ID, r.Lead.Status)
		require.False(e.t, r.Score.RoseAt.Before(crm.StorageTime(req.Since)), "rose at %v, before %v", r.Score.RoseAt, req.Since)
		return r.Lead.ID
	})
}

// risingOrder returns the lead IDs of snapshots in the queue's order:
// newest RoseAt first, ties by lead ID descending.
func risingOrder(ss ...*lead.ScoreSnapshot) []crm.ID {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b *lead.ScoreSnapshot) int {
		if c := b.RoseAt.Compare(a.RoseAt); c != 0 {
			return c
		}
		return bytes.Compare(b.LeadID[:], a.LeadID[:])
	})
	out := make([]crm.ID, len(ss))
	for i, s := range ss {
		out[i] = s.LeadID
	}
	return out
}

// RunRisingLeads checks the rising-leads work queue ([lead.RisingQueue])
// through [lead.Service.ScoreLead], which marks rises, and
// [lead.Service.Rising]. [Run] runs it with Features.Leads.
func RunRisingLeads(t *testing.T, h Harness) {
	probe := newEnv(t, h)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[lead.RisingQueue](tx)
		return nil
	}))
	if !has {
		require.False(t, h.Features.RisingLeadsQueue, "Features.RisingLeadsQueue is declared, but the adapter's Tx does not implement lead.RisingQueue")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			svc, err := lead.New(probe.store, nil)
			require.NoError(t, err)
			_, err = svc.Rising(probe.ctx, lead.RisingRequest{Actor: probe.ids.NewID(), ModelID: "hot"})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}

	t.Run("StoresTheRiseWithTheSnapshot", func(t *testing.T) {
		t.Parallel()
		e := newRisingEnv(t, h)
		l := e.lead(e.ctx, e.inRoot, e.root, "other")
		s := &lead.ScoreSnapshot{LeadID: l.ID, ModelID: "hot", ModelVersion: 1, Grade: "A2", RoseFrom: "B3",
			ComputedAt: e.clock.Now(), RoseAt: e.clock.Now().Add(-time.Hour)}
		require.NoError(t, e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error { return tx.LeadScores().Save(ctx, s) }))
		require.Equal(t, crm.StorageTime(e.clock.Now().Add(-time.Hour)), s.RoseAt, "Save writes the stored time back")
		got, err := e.getSnapshot(e.ctx, l.ID, "hot")
		require.NoError(t, err)
		requireSame(t, s, got)
		require.Equal(t, []crm.ID{l.ID}, e.all(e.ctx, lead.RisingRequest{Actor: e.inRoot.ID}, 10))
		// A grade risen from without a rise is refused naming the field.
		bad := *got
		bad.RoseAt = time.Time{}
		requireInvalid(t, e.saveSnapshot(e.ctx, &bad), "rose_from")
		// Cleared, the rise leaves the queue.
		got.RoseAt, got.RoseFrom = time.Time{}, ""
		require.NoError(t, e.saveSnapshot(e.ctx, got))
		require.Empty(t, e.all(e.ctx, lead.RisingRequest{Actor: e.inRoot.ID}, 10))
	})

	t.Run("ListsRisesNewestFirstWithTiesByIDAcrossPagesButNotFallsOrSameGrades", func(t *testing.T) {
		t.Parallel()
		e := newRisingEnv(t, h)
		a := e.inRoot
		own := func(industry string) *crm.Lead { return e.lead(e.ctx, a, e.root, industry) }
		// Before since: a rise too old for the bound, and a rise that
		// falls later.
		old := own("retail")
		oldSnap := e.score(e.ctx, old, 0) // B4, first: rises from D4
		fell := own("manufacturing")
		e.score(e.ctx, fell, 8) // A1
		same := own("other")
		e.score(e.ctx, same, 0) // D4, first: the lowest grade does not rise
		since := e.tick()
		// At since: a rise from D4, and one that stays.
		rose := own("other")
		e.score(e.ctx, rose, 0)
		roseSnap := e.score(e.ctx, rose, 8) // D4 -> D1
		require.Equal(t, since, roseSnap.RoseAt)
		require.Equal(t, "D4", roseSnap.RoseFrom)
		stays := own("retail")
		staysSnap := e.score(e.ctx, stays, 6) // B2, first
		require.Empty(t, staysSnap.RoseFrom)
		e.tick()
		fellSnap := e.score(e.ctx, fell, 3) // A1 -> A3: a fall clears the rise
		require.True(t, fellSnap.RoseAt.IsZero())
		sameSnap := e.score(e.ctx, same, 0) // D4 again
		require.True(t, sameSnap.RoseAt.IsZero())
		later := e.score(e.ctx, stays, 6) // B2 again: the rise is kept
		require.Equal(t, staysSnap.RoseAt, later.RoseAt)
		first := own("manufacturing")
		firstSnap := e.score(e.ctx, first, 3) // A3, first
		e.tick()
		var ties []*lead.ScoreSnapshot
		for _, id := range []crm.ID{e.ids.NewID(), crmtest.NewIDs().NewID(), e.ids.NewID()} {
			l := e.lead(e.ctx, a, e.root, "retail", func(l *crm.Lead) { l.ID = id })
			ties = append(ties, e.score(e.ctx, l, 8)) // B1, first
		}
		// Not in the queue: someone else's rise, a disqualified lead's,
		// another model's.
		e.score(e.ctx, e.lead(e.ctx, e.inChild, e.child, "retail"), 8)
		dq := own("retail")
		dqSnap := e.score(e.ctx, dq, 8)
		e.editLead(e.ctx, dq.ID, func(l *crm.Lead) { l.Status, l.DisqualifyReason = crm.LeadDisqualified, "no budget" })
		other := &lead.ScoreSnapshot{LeadID: old.ID, ModelID: "cold", ModelVersion: 1, Grade: "A1", ComputedAt: e.clock.Now(), RoseAt: e.clock.Now()}
		require.NoError(t, e.saveSnapshot(e.ctx, other))

		want := risingOrder(append(slices.Clone(ties), firstSnap, roseSnap, staysSnap)...)
		req := lead.RisingRequest{Actor: a.ID, Since: since}
		for _, limit := range []int{1, 2, 3, 50} {
			require.Equal(t, want, e.all(e.ctx, req, limit), "limit %d", limit)
		}
		// Since is inclusive, to the microsecond; zero lists every rise.
		require.Equal(t, want[:len(want)-2], e.all(e.ctx, lead.RisingRequest{Actor: a.ID, Since: since.Add(time.Microsecond)}, 2))
		require.Equal(t, want[:len(want)-2], e.all(e.ctx, lead.RisingRequest{Actor: a.ID, Since: since.Add(time.Nanosecond)}, 2))
		all := risingOrder(append(slices.Clone(ties), firstSnap, roseSnap, staysSnap, oldSnap)...)
		require.Equal(t, all, e.all(e.ctx, lead.RisingRequest{Actor: a.ID}, 3))
		// Another model's queue is its own.
		require.Equal(t, []crm.ID{old.ID}, e.all(e.ctx, lead.RisingRequest{Actor: a.ID, ModelID: "cold"}, 3))
		// Reopened, the disqualified lead is back at its place.
		e.editLead(e.ctx, dq.ID, func(l *crm.Lead) { l.Status, l.DisqualifyReason = crm.LeadContacted, "" })
		require.Equal(t, risingOrder(append(slices.Clone(ties), dqSnap, firstSnap, roseSnap, staysSnap)...), e.all(e.ctx, req, 4))

		// An entry holds the lead as stored and its snapshot.
		p, err := e.leads.Rising(e.ctx, lead.RisingRequest{Actor: a.ID, ModelID: "hot", Since: since, Page: crm.PageRequest{Limit: 50}})
		require.NoError(t, err)
		require.Empty(t, p.NextCursor)
		last := p.Items[len(p.Items)-1] // rose: stays ties with it, and its ID is higher
		stored, err := e.store.Leads().Get(e.ctx, rose.ID)
		require.NoError(t, err)
		require.Equal(t, stored, last.Lead)
		got, err := e.getSnapshot(e.ctx, rose.ID, "hot")
		require.NoError(t, err)
		requireSame(t, got, last.Score)
	})

	t.Run("FollowsTheLeadsOwnerDepartmentAndStatus", func(t *testing.T) {
		t.Parallel()
		e := newRisingEnv(t, h)
		l := e.lead(e.ctx, e.inRoot, e.root, "manufacturing")
		snap := e.score(e.ctx, l, 8)
		kept := e.lead(e.ctx, e.inRoot, e.root, "retail")
		keptSnap := e.score(e.ctx, kept, 8)
		mine := func(u *crm.User) []crm.ID { return e.all(e.ctx, lead.RisingRequest{Actor: u.ID}, 2) }
		dept := func(d *crm.Department) []crm.ID {
			return e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{d.ID}}}, 2)
		}
		require.Equal(t, risingOrder(snap, keptSnap), mine(e.inRoot))
		e.editLead(e.ctx, l.ID, func(l *crm.Lead) { l.OwnerID, l.DepartmentID = e.inOther.ID, e.other.ID })
		require.Equal(t, risingOrder(keptSnap), mine(e.inRoot))
		require.Equal(t, risingOrder(snap), mine(e.inOther))
		require.Equal(t, risingOrder(keptSnap), dept(e.root))
		require.Equal(t, risingOrder(snap), dept(e.other))
		// A change of the other fields leaves the entry where it is.
		e.editLead(e.ctx, l.ID, func(l *crm.Lead) { l.Title = "Plant manager" })
		require.Equal(t, risingOrder(snap), mine(e.inOther))
		// A unit of work that fails keeps nothing of its owner change.
		boom := errors.New("boom")
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			got, err := tx.Leads().Get(ctx, l.ID)
			if err != nil {
				return err
			}
			got.OwnerID, got.DepartmentID = e.inChild.ID, e.child.ID
			if err := tx.Leads().Update(ctx, got); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, risingOrder(snap), mine(e.inOther))
		require.Empty(t, mine(e.inChild))
		// Nor of a rise.
		err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			_, err := e.leads.ScoreLeadTx(ctx, tx, lead.ScoreRequest{LeadID: kept.ID, ModelID: "hot"}) // B4: a fall
			if err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, risingOrder(keptSnap), mine(e.inRoot))
		// Converted or deleted, a lead leaves every queue.
		customer := crmtest.Customer(e.ids)
		require.NoError(t, e.store.Customers().Create(e.ctx, customer))
		e.editLead(e.ctx, kept.ID, func(l *crm.Lead) { l.Status, l.ConvertedCustomerID = crm.LeadConverted, customer.ID })
		require.Empty(t, mine(e.inRoot))
		require.Equal(t, risingOrder(snap), e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{All: true}}, 2))
		stored, err := e.store.Leads().Get(e.ctx, l.ID)
		require.NoError(t, err)
		require.NoError(t, e.store.Leads().Delete(e.ctx, l.ID, stored.Version))
		require.Empty(t, e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{All: true}}, 2))
		// A snapshot saved before its lead is stored joins the queue when
		// the lead is.
		early := crmtest.Lead(e.ids, func(l *crm.Lead) { l.OwnerID, l.DepartmentID = e.inChild.ID, e.child.ID })
		s := &lead.ScoreSnapshot{LeadID: early.ID, ModelID: "hot", ModelVersion: 1, Grade: "A1", ComputedAt: e.clock.Now(), RoseAt: e.clock.Now()}
		require.NoError(t, e.saveSnapshot(e.ctx, s))
		require.Empty(t, e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{All: true}}, 2))
		require.NoError(t, e.store.Leads().Create(e.ctx, early))
		require.Equal(t, []crm.ID{early.ID}, mine(e.inChild))
	})

	t.Run("ListsATeamByScopeDepartmentTreesAndManagedDepartments", func(t *testing.T) {
		t.Parallel()
		e := newRisingEnv(t, h)
		r1 := e.score(e.ctx, e.lead(e.ctx, e.inRoot, e.root, "retail"), 8)
		m1 := e.score(e.ctx, e.lead(e.ctx, e.manager, e.root, "retail"), 8)
		e.tick()
		c1 := e.score(e.ctx, e.lead(e.ctx, e.inChild, e.child, "manufacturing"), 6)
		o1 := e.score(e.ctx, e.lead(e.ctx, e.inOther, e.other, "retail"), 8)
		e.tick()
		moved := e.score(e.ctx, e.lead(e.ctx, e.inOther, e.child, "retail"), 3) // the lead's department decides
		tree := risingOrder(r1, m1, c1, moved)
		require.Equal(t, tree, e.all(e.ctx, lead.RisingRequest{Actor: e.manager.ID, Team: true}, 2))
		require.Equal(t, tree, e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{DepartmentTrees: []crm.ID{e.root.ID}}}, 3))
		require.Equal(t, risingOrder(c1, moved), e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{e.child.ID}}}, 50))
		// An owner and a department both matching one lead list it once.
		both := &crm.DataScope{OwnerIDs: []crm.ID{e.inOther.ID}, DepartmentIDs: []crm.ID{e.other.ID, e.child.ID}}
		require.Equal(t, risingOrder(c1, o1, moved), e.all(e.ctx, lead.RisingRequest{Scope: both}, 2))
		require.Equal(t, risingOrder(r1, m1, c1, o1, moved), e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{All: true}}, 2))
		require.Empty(t, e.all(e.ctx, lead.RisingRequest{Scope: &crm.DataScope{}}, 4), "an empty scope matches nothing")
		require.Empty(t, e.all(e.ctx, lead.RisingRequest{Actor: e.inRoot.ID, Team: true}, 4), "a manager of nothing has an empty team")
	})

	t.Run("KeepsTenantsApart", func(t *testing.T) {
		t.Parallel()
		e := newRisingEnv(t, h)
		mine := e.score(e.ctx, e.lead(e.ctx, e.inRoot, e.root, "retail"), 8)
		// Tenant b: the same model ID, a lead of its own that rose later.
		m, err := lead.ParseModel([]byte(risingModel))
		require.NoError(t, err)
		require.NoError(t, e.leads.SaveModel(e.ctxB, m))
		u := crmtest.User(e.ids)
		require.NoError(t, e.store.Users().Create(e.ctxB, u))
		d := crmtest.Department(e.ids, "B", crm.NilID)
		require.NoError(t, e.store.Departments().Create(e.ctxB, d))
		e.tick()
		theirs := e.score(e.ctxB, e.lead(e.ctxB, u, d, "manufacturing"), 8)
		all := lead.RisingRequest{Scope: &crm.DataScope{All: true}}
		require.Equal(t, risingOrder(mine), e.all(e.ctx, all, 1))
		require.Equal(t, risingOrder(theirs), e.all(e.ctxB, all, 1))
		require.Empty(t, e.all(e.ctxB, lead.RisingRequest{Actor: e.inRoot.ID}, 2))
		require.Empty(t, e.all(e.ctxA, all, 2))
	})

	t.Run("RefusesBadInputNamingTheField", func(t *testing.T) {
		t.Parallel()
		e := newRisingEnv(t, h)
		e.score(e.ctx, e.lead(e.ctx, e.inRoot, e.root, "retail"), 8)
		e.score(e.ctx, e.lead(e.ctx, e.inRoot, e.root, "retail"), 8)
		ok := lead.RisingRequest{Actor: e.inRoot.ID, ModelID: "hot"}
		first, err := e.leads.Rising(e.ctx, lead.RisingRequest{Actor: ok.Actor, ModelID: ok.ModelID, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.Len(t, first.Items, 1)
		require.NotEmpty(t, first.NextCursor)
		for name, tc := range map[string]struct {
			edit  func(*lead.RisingRequest)
			field string
		}{
			"no model":                 {func(r *lead.RisingRequest) { r.ModelID = "" }, "model_id"},
			"a model ID with a NUL":    {func(r *lead.RisingRequest) { r.ModelID = "h\x00t" }, "model_id"},
			"no actor":                 {func(r *lead.RisingRequest) { r.Actor = crm.NilID }, "actor"},
			"limit too big":            {func(r *lead.RisingRequest) { r.Page.Limit = crm.MaxPageLimit + 1 }, "page.limit"},
			"a list's cursor":          {func(r *lead.RisingRequest) { r.Page.Cursor = crm.CursorAfter(e.inRoot.ID) }, "page.cursor"},
			"the due-tasks cursor":     {func(r *lead.RisingRequest) { r.Page.Cursor = "tdu" + first.NextCursor[3:] }, "page.cursor"},
			"a truncated cursor":       {func(r *lead.RisingRequest) { r.Page.Cursor = first.NextCursor[:10] }, "page.cursor"},
			"too many scope owner IDs": {func(r *lead.RisingRequest) { r.Scope = &crm.DataScope{OwnerIDs: make([]crm.ID, 1001)} }, "scope.owner_ids"},
		} {
			req := ok
			tc.edit(&req)
			_, err := e.leads.Rising(e.ctx, req)
			requireInvalid(t, err, tc.field)
			require.ErrorContains(t, err, tc.field, name)
		}
		// The port refuses them too, whoever calls it.
		require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			q, _ := crm.As[lead.RisingQueue](tx)
			_, err := q.LeadsRising(ctx, lead.RisingQuery{ModelID: "hot", Page: crm.PageRequest{Cursor: crm.CursorAfter(e.root.ID)}})
			requireInvalid(t, err, "page.cursor")
			_, err = q.LeadsRising(ctx, lead.RisingQuery{})
			requireInvalid(t, err, "model_id")
			return nil
		}))
	})
}
