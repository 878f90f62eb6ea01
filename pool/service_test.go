package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// fixture is a memstore with one pool, three salespeople and an admin.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	clock   *crmtest.Clock
	ids     *crmtest.IDs
	store   *memstore.Store
	svc     *pool.Service
	pool    *pool.Pool
	admin   *crm.User
	alice   *crm.User
	bob     *crm.User
	carol   *crm.User
	manager *crm.User
	dept    *crm.Department
}

func newFixture(t *testing.T, edit func(*pool.Pool, *pool.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), clock: crmtest.NewClock(crmtest.Epoch()), ids: crmtest.NewIDs()}
	f.store = memstore.New(&memstore.Config{Clock: f.clock})
	f.manager = f.user(crm.NilID)
	f.dept = crmtest.Department(f.ids, "East sales", crm.NilID, func(d *crm.Department) { d.ManagerID = f.manager.ID })
	require.NoError(t, f.store.Departments().Create(f.ctx, f.dept))
	f.admin = f.user(crm.NilID)
	f.alice = f.user(f.dept.ID)
	f.bob = f.user(f.dept.ID)
	f.carol = f.user(f.dept.ID)
	f.pool = &pool.Pool{
		ID: f.ids.NewID(), Name: "East China", Priority: 1, TimeZone: "Asia/Shanghai",
		Admins:  []crm.ID{f.admin.ID},
		Members: pool.Members{DepartmentTrees: []crm.ID{f.dept.ID}},
		Recycle: []pool.RecycleRule{{
			ID: "r1", EffectiveFrom: crmtest.Epoch().Add(-365 * 24 * time.Hour), Combine: pool.Any,
			Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 15}},
			Exclude:    pool.Exclusions{Dealt: true, OpenOpportunity: true},
		}},
	}
	cfg := &pool.Config{Clock: f.clock, IDs: f.ids}
	if edit != nil {
		edit(f.pool, cfg)
	}
	svc, err := pool.New(f.store, cfg)
	require.NoError(t, err)
	f.svc = svc
	require.NoError(t, f.svc.CreatePool(f.ctx, f.pool))
	return f
}

func (f *fixture) user(dept crm.ID) *crm.User {
	u := crmtest.User(f.ids, func(u *crm.User) { u.DepartmentID = dept })
	require.NoError(f.t, f.store.Users().Create(f.ctx, u))
	return u
}

// pooled creates a customer and puts it into the fixture's pool.
func (f *fixture) pooled(edits ...func(*crm.Customer)) *crm.Customer {
	f.t.Helper()
	c := crmtest.Customer(f.ids, edits...)
	require.NoError(f.t, f.store.Customers().Create(f.ctx, c))
	_, err := f.svc.Enter(f.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: f.pool.ID})
	require.NoError(f.t, err)
	return c
}

func (f *fixture) claim(u *crm.User, c *crm.Customer) (*pool.Result, error) {
	return f.svc.Claim(f.ctx, pool.ClaimRequest{Actor: u.ID, CustomerID: c.ID})
}

func (f *fixture) customer(id crm.ID) *crm.Customer {
	c, err := f.store.Customers().Get(f.ctx, id)
	require.NoError(f.t, err)
	return c
}

func (f *fixture) holding(id crm.ID) *pool.Holding {
	h, err := f.svc.Holding(f.ctx, id)
	require.NoError(f.t, err)
	return h
}

func (f *fixture) ledger(id crm.ID) []*pool.Entry {
	es, err := f.svc.Ledger(f.ctx, id, 0, crm.MaxPageLimit)
	require.NoError(f.t, err)
	return es
}

func TestClaim(t *testing.T) {
	t.Run("MakesTheActorOwnerAndWritesLedgerAndEvent", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		res, err := f.claim(f.alice, c)
		require.NoError(t, err)
		require.Equal(t, f.alice.ID, res.Holding.OwnerID)
		got := f.customer(c.ID)
		require.Equal(t, f.alice.ID, got.OwnerID)
		require.Equal(t, crm.NilID, got.PoolID)
		es := f.ledger(c.ID)
		require.Len(t, es, 2)
		require.Equal(t, pool.OpClaim, es[1].Op)
		require.Equal(t, f.alice.ID, es[1].ToOwner)
		require.Equal(t, f.pool.ID, es[1].FromPool)
		require.Equal(t, f.alice.ID, es[1].ActorID)
		evs, err := f.store.Outbox().Pending(f.ctx, 100)
		require.NoError(t, err)
		require.Equal(t, pool.EventClaimed, evs[len(evs)-1].Type)
		require.Equal(t, c.ID, evs[len(evs)-1].Subject.ID)
		// The due time counts from the claim.
		require.Equal(t, crm.StorageTime(f.clock.Now()).Add(15*24*time.Hour), res.Holding.DueAt)
		require.Equal(t, pool.NoFollowUp, res.Holding.DueReason)
	})
	t.Run("RefusesASecondClaimWithErrTaken", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		require.NoError(t, err)
		_, err = f.claim(f.bob, c)
		require.ErrorIs(t, err, pool.ErrTaken)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	})
	t.Run("RefusesACustomerNotInAPool", func(t *testing.T) {
		f := newFixture(t, nil)
		c := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, c))
		_, err := f.claim(f.alice, c)
		require.ErrorIs(t, err, pool.ErrNotInPool)
	})
	t.Run("RefusesNonMembers", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		outsider := f.user(crm.NilID)
		_, err := f.claim(outsider, c)
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		require.Equal(t, crm.NilID, f.customer(c.ID).OwnerID)
	})
	t.Run("RefusesInactiveUsers", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		f.alice.Active = false
		require.NoError(t, f.store.Users().Update(f.ctx, f.alice))
		_, err := f.claim(f.alice, c)
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
	})
	t.Run("ReturnsTheFirstResultForARetriedKey", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		req := pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID, IdempotencyKey: "claim-1"}
		first, err := f.svc.Claim(f.ctx, req)
		require.NoError(t, err)
		again, err := f.svc.Claim(f.ctx, req)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.Entry.ID, again.Entry.ID)
		require.Len(t, f.ledger(c.ID), 2, "the retry wrote nothing")
		_, err = f.svc.Claim(f.ctx, pool.ClaimRequest{Actor: f.bob.ID, CustomerID: c.ID, IdempotencyKey: "claim-1"})
		require.ErrorIs(t, err, pool.ErrKeyReused)
	})
	t.Run("ReportsMissingFieldsByName", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.svc.Claim(f.ctx, pool.ClaimRequest{})
		var ve crm.ValidationErrors
		require.ErrorAs(t, err, &ve)
		require.Equal(t, []string{"actor", "customer_id"}, ve.Fields())
	})
}

func TestCooldowns(t *testing.T) {
	t.Run("NewEntryCooldownStopsEveryone", func(t *testing.T) {
		f := newFixture(t, func(p *pool.Pool, _ *pool.Config) { p.NewEntryCooldownHours = 2 })
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		var ce *pool.CooldownError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, pool.CooldownNewEntry, ce.Kind)
		require.ErrorIs(t, err, pool.ErrCooldown)
		f.clock.Advance(2 * time.Hour)
		_, err = f.claim(f.alice, c)
		require.NoError(t, err)
	})
	t.Run("PreviousOwnerWaitsButOthersMayClaim", func(t *testing.T) {
		f := newFixture(t, func(p *pool.Pool, _ *pool.Config) { p.PreviousOwnerCooldownDays = 7 })
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		require.NoError(t, err)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: c.ID, Reason: "no_budget"})
		require.NoError(t, err)
		f.clock.Advance(6 * 24 * time.Hour)
		_, err = f.claim(f.alice, c)
		var ce *pool.CooldownError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, pool.CooldownPreviousOwner, ce.Kind)
		st, err := f.svc.Status(f.ctx, f.alice.ID, c.ID)
		require.NoError(t, err)
		require.Equal(t, pool.StatePooled, st.State)
		require.Equal(t, ce.Until, st.ClaimableFrom)
		_, err = f.claim(f.bob, c)
		require.NoError(t, err)
	})
}

func TestLimits(t *testing.T) {
	t.Run("OwnedCapRefusesTheClaimBeyondIt", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 2}}
		})
		for range 2 {
			_, err := f.claim(f.alice, f.pooled())
			require.NoError(t, err)
		}
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		var le *crm.LimitError
		require.ErrorAs(t, err, &le)
		require.Equal(t, "owned_customers", le.Limit)
		require.EqualValues(t, 2, le.Max)
		require.EqualValues(t, 2, le.Current)
		require.Equal(t, crm.NilID, f.customer(c.ID).OwnerID, "nothing changed")
		require.Len(t, f.ledger(c.ID), 1)
	})
	t.Run("DealtCustomersDoNotCountUnlessConfigured", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 1}}
		})
		dealt := f.pooled(func(c *crm.Customer) { c.Status = crm.CustomerDealt })
		_, err := f.claim(f.alice, dealt)
		require.NoError(t, err)
		_, err = f.claim(f.alice, f.pooled())
		require.NoError(t, err, "the dealt customer does not count")
		_, err = f.claim(f.alice, f.pooled())
		require.ErrorIs(t, err, crm.ErrLimitExceeded)
	})
	t.Run("ExceptionReplacesTheGeneralCapForOneUser", func(t *testing.T) {
		// The limits name the fixture's users, so the service comes after it.
		g := newFixture(t, nil)
		svc, err := pool.New(g.store, &pool.Config{Clock: g.clock, IDs: g.ids, Limits: []pool.Limit{
			{Kind: pool.OwnedCustomers, Max: 1},
			{Kind: pool.OwnedCustomers, Max: 5, Departments: []crm.ID{g.dept.ID}},
			{Kind: pool.OwnedCustomers, Max: 3, Users: []crm.ID{g.bob.ID}, Exception: true},
		}})
		require.NoError(t, err)
		g.svc = svc
		claimN := func(u *crm.User, n int) int {
			ok := 0
			for range n {
				if _, err := g.claim(u, g.pooled()); err == nil {
					ok++
				} else {
					require.ErrorIs(t, err, crm.ErrLimitExceeded)
				}
			}
			return ok
		}
		require.Equal(t, 1, claimN(g.alice, 4), "strictest of 1 and 5 wins")
		require.Equal(t, 3, claimN(g.bob, 6), "the exception replaces both")
	})
	t.Run("DailyClaimLimitCountsReleasedClaimsInThePoolsTimeZone", func(t *testing.T) {
		f := newFixture(t, func(p *pool.Pool, _ *pool.Config) {
			p.Limits = []pool.Limit{{Kind: pool.DailyClaims, Max: 2}}
		})
		// 2026-01-05 09:00 UTC is 17:00 in Shanghai.
		c := f.pooled()
		for range 2 {
			_, err := f.claim(f.alice, c)
			require.NoError(t, err)
			_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: c.ID, Reason: "wrong_region"})
			require.NoError(t, err)
		}
		_, err := f.claim(f.alice, c)
		var le *crm.LimitError
		require.ErrorAs(t, err, &le)
		require.Equal(t, "daily_claims", le.Limit)
		f.clock.Advance(6*time.Hour + time.Minute) // 23:01 Shanghai: same day
		_, err = f.claim(f.alice, c)
		require.ErrorIs(t, err, crm.ErrLimitExceeded)
		f.clock.Advance(time.Hour) // 00:01 Shanghai, next day; still 16:01 UTC
		_, err = f.claim(f.alice, c)
		require.NoError(t, err)
	})
	t.Run("LockCapHolds", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Limits = []pool.Limit{{Kind: pool.LockedCustomers, Max: 1}}
		})
		a, b := f.pooled(), f.pooled()
		for _, c := range []*crm.Customer{a, b} {
			_, err := f.claim(f.alice, c)
			require.NoError(t, err)
		}
		_, err := f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: a.ID})
		require.NoError(t, err)
		_, err = f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: b.ID})
		require.ErrorIs(t, err, crm.ErrLimitExceeded)
		_, err = f.svc.Unlock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: a.ID})
		require.NoError(t, err)
		_, err = f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: b.ID})
		require.NoError(t, err)
	})
}

func TestReleaseAssignTransferMove(t *testing.T) {
	t.Run("ReleaseByANonOwnerIsRefused", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		require.NoError(t, err)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.bob.ID, CustomerID: c.ID, Reason: "x"})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: c.ID})
		requireField(t, err, "reason")
	})
	t.Run("ReleaseOfALockedCustomerNeedsAnUnlock", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		_, err := f.claim(f.alice, c)
		require.NoError(t, err)
		_, err = f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: c.ID})
		require.NoError(t, err)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: c.ID, Reason: "x"})
		require.ErrorIs(t, err, pool.ErrLocked)
	})
	t.Run("AssignByAdminAndTransferByManager", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.pooled()
		_, err := f.svc.Assign(f.ctx, pool.AssignRequest{Actor: f.bob.ID, CustomerID: c.ID, To: f.alice.ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		_, err = f.svc.Assign(f.ctx, pool.AssignRequest{Actor: f.admin.ID, CustomerID: c.ID, To: f.alice.ID})
		require.NoError(t, err)
		_, err = f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: f.alice.ID, CustomerID: c.ID, To: f.bob.ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		res, err := f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: f.manager.ID, CustomerID: c.ID, To: f.bob.ID})
		require.NoError(t, err)
		require.Equal(t, f.alice.ID, res.Entry.FromOwner)
		require.Equal(t, f.bob.ID, res.Entry.ToOwner)
		require.Equal(t, f.bob.ID, f.customer(c.ID).OwnerID)
	})
	t.Run("MoveChangesThePoolOfAPooledCustomer", func(t *testing.T) {
		f := newFixture(t, nil)
		other := &pool.Pool{ID: f.ids.NewID(), Name: "North", Admins: []crm.ID{f.admin.ID}, Members: pool.Members{All: true}}
		require.NoError(t, f.svc.CreatePool(f.ctx, other))
		c := f.pooled()
		_, err := f.svc.Move(f.ctx, pool.MoveRequest{Actor: f.alice.ID, CustomerID: c.ID, PoolID: other.ID})
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		_, err = f.svc.Move(f.ctx, pool.MoveRequest{Actor: f.admin.ID, CustomerID: c.ID, PoolID: other.ID})
		require.NoError(t, err)
		require.Equal(t, other.ID, f.customer(c.ID).PoolID)
		_, err = f.svc.Move(f.ctx, pool.MoveRequest{Actor: f.admin.ID, CustomerID: c.ID, PoolID: f.ids.NewID()})
		requireField(t, err, "pool_id")
	})
}

func TestEnter(t *testing.T) {
	t.Run("ByRuleTheHighestPriorityWinsAndTiesGoToTheLowestID", func(t *testing.T) {
		f := newFixture(t, nil)
		mk := func(prio int) *pool.Pool {
			p := &pool.Pool{ID: f.ids.NewID(), Name: "p", Priority: prio, Members: pool.Members{All: true},
				Entry: cond.Ptr(cond.In("region", "Shanghai"))}
			require.NoError(t, f.svc.CreatePool(f.ctx, p))
			return p
		}
		mk(1)
		hi1, _ := mk(5), mk(5)
		c := crmtest.Customer(f.ids, func(c *crm.Customer) { c.Region = "Shanghai" })
		require.NoError(t, f.store.Customers().Create(f.ctx, c))
		res, err := f.svc.Enter(f.ctx, pool.EnterRequest{CustomerID: c.ID})
		require.NoError(t, err)
		require.Equal(t, hi1.ID, res.Holding.PoolID)
		require.Equal(t, crm.NilID, res.Entry.ActorID, "the system acted")
	})
	t.Run("WithoutAMatchingRuleFails", func(t *testing.T) {
		f := newFixture(t, nil)
		c := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, c))
		_, err := f.svc.Enter(f.ctx, pool.EnterRequest{CustomerID: c.ID})
		require.ErrorIs(t, err, pool.ErrNoMatchingPool)
	})
}

func TestRecycle(t *testing.T) {
	t.Run("SweepRecyclesNeglectedCustomersOnce", func(t *testing.T) {
		f := newFixture(t, func(p *pool.Pool, _ *pool.Config) { p.PreviousOwnerCooldownDays = 3 })
		neglected, visited := f.pooled(), f.pooled()
		for _, c := range []*crm.Customer{neglected, visited} {
			_, err := f.claim(f.alice, c)
			require.NoError(t, err)
		}
		f.clock.Advance(10 * 24 * time.Hour)
		got := f.customer(visited.ID)
		at := f.clock.Now()
		got.LastFollowUpAt = &at
		require.NoError(t, f.store.Customers().Update(f.ctx, got))
		// No Recompute: the sweep re-checks the facts itself.
		f.clock.Advance(6 * 24 * time.Hour)
		plan, err := f.svc.Plan(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Len(t, plan, 1)
		require.Equal(t, neglected.ID, plan[0].CustomerID)
		require.Equal(t, pool.NoFollowUp, plan[0].Reason)
		require.Equal(t, f.alice.ID, f.customer(neglected.ID).OwnerID, "a plan changes nothing")

		res, err := f.svc.Sweep(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, pool.SweepResult{Recycled: 1, Rescheduled: 1}, res)
		c := f.customer(neglected.ID)
		require.Equal(t, crm.NilID, c.OwnerID)
		require.Equal(t, f.pool.ID, c.PoolID)
		es := f.ledger(neglected.ID)
		last := es[len(es)-1]
		require.Equal(t, pool.OpRecycle, last.Op)
		require.Equal(t, "r1", last.RuleID)
		require.Equal(t, string(pool.NoFollowUp), last.Reason)
		require.Equal(t, crm.NilID, last.ActorID)
		require.JSONEq(t, `"r1"`, string(mustField(t, last.Rule, "id")))
		require.Equal(t, f.alice.ID, f.customer(visited.ID).OwnerID)

		again, err := f.svc.Sweep(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, pool.SweepResult{}, again, "a second sweep finds nothing")
		_, err = f.claim(f.alice, neglected)
		require.ErrorIs(t, err, pool.ErrCooldown, "the previous owner waits")
	})
	t.Run("LockedDealtAndOpenOpportunityCustomersStay", func(t *testing.T) {
		f := newFixture(t, nil)
		locked, dealt, withOpp, lostOpp := f.pooled(), f.pooled(), f.pooled(), f.pooled()
		// A configured pipeline's stage names are its own: a deal open in
		// one protects, one it closed (signed) does not.
		openCustom, signed := f.pooled(), f.pooled()
		for _, c := range []*crm.Customer{locked, dealt, withOpp, lostOpp, openCustom, signed} {
			_, err := f.claim(f.alice, c)
			require.NoError(t, err)
		}
		_, err := f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: locked.ID})
		require.NoError(t, err)
		d := f.customer(dealt.ID)
		d.Status = crm.CustomerDealt
		require.NoError(t, f.store.Customers().Update(f.ctx, d))
		require.NoError(t, f.store.Opportunities().Create(f.ctx, crmtest.Opportunity(f.ids, withOpp.ID)))
		require.NoError(t, f.store.Opportunities().Create(f.ctx, crmtest.Opportunity(f.ids, lostOpp.ID, func(o *crm.Opportunity) { o.Stage = crm.StageLost })))
		require.NoError(t, f.store.Opportunities().Create(f.ctx, crmtest.Opportunity(f.ids, openCustom.ID, func(o *crm.Opportunity) {
			o.Pipeline, o.Stage = "projects", "site_survey"
		})))
		closed := f.clock.Now()
		require.NoError(t, f.store.Opportunities().Create(f.ctx, crmtest.Opportunity(f.ids, signed.ID, func(o *crm.Opportunity) {
			o.Pipeline, o.Stage, o.ClosedAt = "projects", "signed", &closed
		})))
		for _, c := range []*crm.Customer{dealt, withOpp, lostOpp, openCustom, signed} {
			_, err := f.svc.Recompute(f.ctx, c.ID)
			require.NoError(t, err)
		}
		f.clock.Advance(30 * 24 * time.Hour)
		res, err := f.svc.Sweep(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, 2, res.Recycled)
		require.Equal(t, crm.NilID, f.customer(lostOpp.ID).OwnerID, "a lost opportunity does not protect")
		require.Equal(t, crm.NilID, f.customer(signed.ID).OwnerID, "nor a deal its pipeline closed")
		for _, c := range []*crm.Customer{locked, dealt, withOpp, openCustom} {
			require.Equal(t, f.alice.ID, f.customer(c.ID).OwnerID)
		}
	})
	t.Run("ClaimAndReleaseCascadeContactsWhenConfigured", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Cascade = pool.Cascade{
				OnClaim:   pool.CascadeRule{Contacts: pool.CascadeFollow, OpenOpportunities: pool.CascadeFollow},
				OnRelease: pool.CascadeRule{Contacts: pool.CascadeFollow, OpenOpportunities: pool.CascadeKeep},
			}
		})
		c := f.pooled()
		ct := crmtest.Contact(f.ids, c.ID)
		require.NoError(t, f.store.Contacts().Create(f.ctx, ct))
		op := crmtest.Opportunity(f.ids, c.ID)
		require.NoError(t, f.store.Opportunities().Create(f.ctx, op))
		_, err := f.claim(f.alice, c)
		require.NoError(t, err)
		gotCt, _ := f.store.Contacts().Get(f.ctx, ct.ID)
		gotOp, _ := f.store.Opportunities().Get(f.ctx, op.ID)
		require.Equal(t, f.alice.ID, gotCt.OwnerID)
		require.Equal(t, f.alice.ID, gotOp.OwnerID)
		_, err = f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: c.ID, Reason: "x"})
		require.NoError(t, err)
		gotCt, _ = f.store.Contacts().Get(f.ctx, ct.ID)
		gotOp, _ = f.store.Opportunities().Get(f.ctx, op.ID)
		require.Equal(t, crm.NilID, gotCt.OwnerID)
		require.Equal(t, f.alice.ID, gotOp.OwnerID, "open opportunities are kept on release")
	})
}

// phoneDup reports customers with the same phone number.
type phoneDup struct{}

func (phoneDup) Duplicates(ctx context.Context, tx crm.Tx, c *crm.Customer) ([]crm.ID, error) {
	var out []crm.ID
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := tx.Customers().List(ctx, crm.CustomerFilter{}, page)
		if err != nil {
			return nil, err
		}
		for _, o := range got.Items {
			if o.ID != c.ID && o.Phone != "" && o.Phone == c.Phone {
				out = append(out, o.ID)
			}
		}
		if got.NextCursor == "" {
			return out, nil
		}
		page.Cursor = got.NextCursor
	}
}

func TestCollision(t *testing.T) {
	t.Run("CreateIsBlockedAndTheOwnerNamedOnlyToThoseWhoMaySee", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) { cfg.Duplicates = phoneDup{} })
		first := crmtest.Customer(f.ids, func(c *crm.Customer) { c.Phone = "13800138000" })
		_, err := f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: first})
		require.NoError(t, err)
		require.Equal(t, f.alice.ID, first.OwnerID)

		dup := crmtest.Customer(f.ids, func(c *crm.Customer) { c.Phone = "13800138000" })
		_, err = f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.bob.ID, Customer: dup})
		var ce *pool.CollisionError
		require.ErrorAs(t, err, &ce)
		require.ErrorIs(t, err, pool.ErrCollision)
		require.Equal(t, pool.StateTaken, ce.Collisions[0].State)
		require.Equal(t, crm.NilID, ce.Collisions[0].OwnerID, "bob may not see who owns it")
		_, err = f.store.Customers().Get(f.ctx, dup.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "nothing was created")

		st, err := f.svc.CheckCollision(f.ctx, f.manager.ID, dup)
		require.NoError(t, err)
		require.Len(t, st, 1)
		require.Equal(t, f.alice.ID, st[0].OwnerID, "alice's manager may see")
	})
	t.Run("WarnModeLetsTheClaimThroughWithWarnings", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Duplicates = phoneDup{}
			cfg.CollisionOnClaim = pool.CollisionWarn
		})
		owned := crmtest.Customer(f.ids, func(c *crm.Customer) { c.Phone = "13900139000" })
		_, err := f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: owned})
		require.NoError(t, err)
		c := f.pooled(func(c *crm.Customer) { c.Phone = "13900139000" })
		res, err := f.claim(f.bob, c)
		require.NoError(t, err)
		require.Len(t, res.Warnings, 1)
		require.Equal(t, owned.ID, res.Warnings[0].CustomerID)
	})
}

func TestStatus(t *testing.T) {
	f := newFixture(t, nil)
	free := crmtest.Customer(f.ids)
	require.NoError(t, f.store.Customers().Create(f.ctx, free))
	pooled, mine := f.pooled(), f.pooled()
	_, err := f.claim(f.alice, mine)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		actor *crm.User
		id    crm.ID
		want  pool.State
		owner crm.ID
	}{
		{"FreeCustomer", f.bob, free.ID, pool.StateFree, crm.NilID},
		{"PooledCustomer", f.bob, pooled.ID, pool.StatePooled, crm.NilID},
		{"OwnCustomer", f.alice, mine.ID, pool.StateYours, f.alice.ID},
		{"ColleaguesCustomerHidesTheOwner", f.bob, mine.ID, pool.StateTaken, crm.NilID},
		{"ManagerSeesTheOwner", f.manager, mine.ID, pool.StateTaken, f.alice.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := f.svc.Status(f.ctx, tc.actor.ID, tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.want, st.State)
			require.Equal(t, tc.owner, st.OwnerID)
		})
	}
}

func TestUnsupportedStore(t *testing.T) {
	svc, err := pool.New(bareStore{memstore.New(nil)}, nil)
	require.NoError(t, err)
	_, err = svc.Claim(context.Background(), pool.ClaimRequest{Actor: crmtest.SequentialID(1), CustomerID: crmtest.SequentialID(2)})
	require.ErrorIs(t, err, crm.ErrUnsupported)
}

// bareStore hides the pool ports of memstore's units of work and its
// optional ports: it has crm.Store's methods only.
type bareStore struct{ crm.Store }

func (s bareStore) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return fn(ctx, struct{ crm.Tx }{tx})
	})
}

func mustField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[name]
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "want a validation error, got %v", err)
	require.Equal(t, field, ve.Field)
}

func TestView(t *testing.T) {
	f := newFixture(t, func(p *pool.Pool, _ *pool.Config) { p.HiddenFields = []string{"phone"} })
	c := f.pooled(func(c *crm.Customer) { c.Phone = "13812345678" })
	got, err := f.svc.View(f.ctx, f.alice.ID, c.ID)
	require.NoError(t, err)
	require.Equal(t, "138****5678", got.Phone, "masked while pooled")
	_, err = f.claim(f.alice, c)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		actor *crm.User
		phone string
	}{
		{"TheOwnerSeesThePhone", f.alice, "13812345678"},
		{"AColleagueSeesItMasked", f.bob, "138****5678"},
		{"TheManagerSeesThePhone", f.manager, "13812345678"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.View(f.ctx, tc.actor.ID, c.ID)
			require.NoError(t, err)
			require.Equal(t, tc.phone, got.Phone)
		})
	}
}

func TestRecomputeAdjustsDealtCounting(t *testing.T) {
	f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
		cfg.Limits = []pool.Limit{{Kind: pool.OwnedCustomers, Max: 1}}
	})
	a, b := f.pooled(), f.pooled()
	_, err := f.claim(f.alice, a)
	require.NoError(t, err)
	_, err = f.claim(f.alice, b)
	require.ErrorIs(t, err, crm.ErrLimitExceeded)
	got := f.customer(a.ID)
	got.Status = crm.CustomerDealt
	require.NoError(t, f.store.Customers().Update(f.ctx, got))
	h, err := f.svc.Recompute(f.ctx, a.ID)
	require.NoError(t, err)
	require.True(t, h.Dealt)
	require.True(t, h.DueAt.IsZero(), "dealt customers are excluded from recycling")
	_, err = f.claim(f.alice, b)
	require.NoError(t, err, "the dealt customer no longer counts against the cap")
	_, err = f.svc.Recompute(f.ctx, crmtest.SequentialID(999999))
	require.ErrorIs(t, err, pool.ErrNotInPool)
}

func TestCreate(t *testing.T) {
	t.Run("ChoosesThePoolByRuleAndStartsProtection", func(t *testing.T) {
		f := newFixture(t, nil)
		home := &pool.Pool{ID: f.ids.NewID(), Name: "Key accounts", Members: pool.Members{All: true}, ProtectionDays: 30,
			Entry: cond.Ptr(cond.In("level", "A")),
			Recycle: []pool.RecycleRule{{ID: "p", EffectiveFrom: crmtest.Epoch().Add(-time.Hour),
				Conditions: []pool.Condition{{Kind: pool.ProtectionExpired}}}}}
		require.NoError(t, f.svc.CreatePool(f.ctx, home))
		c := crmtest.Customer(f.ids, func(c *crm.Customer) { c.Level = "A" })
		res, err := f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: c})
		require.NoError(t, err)
		require.Equal(t, home.ID, res.Holding.PoolID)
		require.Equal(t, f.alice.ID, c.OwnerID)
		require.Equal(t, f.dept.ID, c.DepartmentID, "the actor's department by default")
		want := crm.StorageTime(f.clock.Now()).Add(30 * 24 * time.Hour)
		require.Equal(t, want, res.Holding.ProtectedUntil)
		require.Equal(t, want, res.Holding.DueAt)
		require.Equal(t, pool.ProtectionExpired, res.Holding.DueReason)
	})
	t.Run("ARepeatedCustomerIsRefused", func(t *testing.T) {
		f := newFixture(t, nil)
		c := crmtest.Customer(f.ids)
		_, err := f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: c})
		require.NoError(t, err)
		_, err = f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: c})
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		_, err = f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID})
		requireField(t, err, "customer")
	})
}

func TestMoveOfAnOwnedCustomerChangesItsRules(t *testing.T) {
	f := newFixture(t, nil)
	strict := &pool.Pool{ID: f.ids.NewID(), Name: "Strict", Admins: []crm.ID{f.admin.ID}, Members: pool.Members{All: true},
		Recycle: []pool.RecycleRule{{ID: "s", EffectiveFrom: crmtest.Epoch().Add(-time.Hour),
			Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 3}}}}}
	require.NoError(t, f.svc.CreatePool(f.ctx, strict))
	c := f.pooled()
	_, err := f.claim(f.alice, c)
	require.NoError(t, err)
	res, err := f.svc.Move(f.ctx, pool.MoveRequest{Actor: f.admin.ID, CustomerID: c.ID, PoolID: strict.ID})
	require.NoError(t, err)
	require.Equal(t, f.alice.ID, res.Holding.OwnerID, "the owner keeps the customer")
	require.Equal(t, "s", res.Holding.DueRuleID)
	require.Equal(t, crm.NilID, f.customer(c.ID).PoolID)
}

// flakyStore fails one unit of work of its choice, after running it, so
// that everything the unit did is rolled back.
type flakyStore struct {
	*memstore.Store
	calls, failAt atomic.Int32
}

var errFlaky = errors.New("flaky store: injected failure")

func (s *flakyStore) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if s.calls.Add(1) == s.failAt.Load() {
			return errFlaky
		}
		return nil
	})
}

func TestSweepWorkers(t *testing.T) {
	t.Run("AFailedBatchStopsTheSweepAndKeepsWhatCommitted", func(t *testing.T) {
		f := newFixture(t, nil)
		flaky := &flakyStore{Store: f.store}
		svc, err := pool.New(flaky, &pool.Config{Clock: f.clock, IDs: f.ids, SweepBatch: 2, SweepWorkers: 3})
		require.NoError(t, err)
		cs := make([]*crm.Customer, 12)
		for i := range cs {
			cs[i] = f.pooled()
			_, err := f.claim(f.alice, cs[i])
			require.NoError(t, err)
		}
		f.clock.Advance(16 * 24 * time.Hour)
		flaky.failAt.Store(3) // the third batch fails after doing its work

		res, err := svc.Sweep(f.ctx, f.clock.Now(), 100)
		require.ErrorIs(t, err, errFlaky, "the failure itself, not the cancellations it caused")
		// The other workers may still recycle the failed batch's customers
		// before they see the cancellation, so all of them may be gone.
		require.LessOrEqual(t, res.Recycled, len(cs))
		require.Zero(t, res.Recycled%2, "only whole batches count")
		owned := 0
		for _, c := range cs {
			if f.customer(c.ID).OwnerID == f.alice.ID {
				owned++
			}
		}
		require.Equal(t, len(cs)-res.Recycled, owned, "the failed batch left no customer recycled")

		rest, err := svc.Sweep(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, len(cs), res.Recycled+rest.Recycled, "a later sweep recycles the rest")
		for _, c := range cs {
			recycles := 0
			for _, e := range f.ledger(c.ID) {
				if e.Op == pool.OpRecycle {
					recycles++
				}
			}
			require.Equal(t, 1, recycles, "customer %s", c.ID)
		}
	})
	t.Run("FourWorkersStopAtTheLimit", func(t *testing.T) {
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) { cfg.SweepBatch, cfg.SweepWorkers = 3, 4 })
		for range 20 {
			_, err := f.claim(f.alice, f.pooled())
			require.NoError(t, err)
		}
		f.clock.Advance(16 * 24 * time.Hour)
		res, err := f.svc.Sweep(f.ctx, f.clock.Now(), 11)
		require.NoError(t, err)
		require.Equal(t, pool.SweepResult{Recycled: 11}, res)
		res, err = f.svc.Sweep(f.ctx, f.clock.Now(), 100)
		require.NoError(t, err)
		require.Equal(t, pool.SweepResult{Recycled: 9}, res)
	})
}
