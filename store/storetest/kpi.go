package storetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/kpi"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/workflow"
)

// RunKPIs checks the figures of package kpi ([kpi.Store]) on random data:
// leads, activities, customers with won deals, tickets with and without
// SLA timers and pool ledger entries, at random times around the bucket
// edges of several time zones, across owners, departments, pools and a
// second tenant. Every report, for each bucket width, zone and data
// scope, must equal a count made by the test itself from what it stored,
// so every adapter that passes returns the same figures. [Run] runs it
// with Features.Pools and Features.Workflow.
func RunKPIs(t *testing.T, h Harness) {
	probe := newEnv(t, h)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[kpi.Store](tx)
		return nil
	}))
	svc, err := kpi.New(probe.store)
	require.NoError(t, err)
	if !has {
		require.False(t, h.Features.KPIs, "Features.KPIs is declared, but the adapter's Tx does not implement kpi.Store")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			_, err := svc.Report(probe.ctx, kpi.Request{Period: crm.Period{From: clockStart(), To: clockStart().Add(time.Hour), Bucket: crm.BucketDay}})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}

	t.Run("RefusesBadPeriodsNamingTheField", func(t *testing.T) {
		t.Parallel()
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, c := range []struct {
			name  string
			p     crm.Period
			field string
		}{
			{"EndBeforeStart", crm.Period{From: from, To: from.Add(-time.Hour), Bucket: crm.BucketDay}, "period.to"},
			{"DailyBucketsOverTwentyYears", crm.Period{From: from, To: from.AddDate(20, 0, 0), Bucket: crm.BucketDay}, "period.bucket"},
			{"UnknownBucket", crm.Period{From: from, To: from.AddDate(0, 1, 0), Bucket: "fortnight"}, "period.bucket"},
			{"LocalZone", crm.Period{From: from, To: from.AddDate(0, 1, 0), Bucket: crm.BucketDay, Location: time.Local}, "period.location"},
			{"FixedZoneUnderAnIANAName", crm.Period{From: from, To: from.AddDate(0, 1, 0), Bucket: crm.BucketDay, Location: time.FixedZone("EST", 8*3600)}, "period.location"},
		} {
			_, err := svc.Report(probe.ctx, kpi.Request{Period: c.p})
			requireInvalid(t, err, c.field)
		}
	})

	t.Run("EqualsAnIndependentCountOnRandomData", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, h)
		d := genKPIData(t, e, rand.New(rand.NewPCG(19, 2026)))
		svc, err := kpi.New(e.store)
		require.NoError(t, err)
		zones := []string{"UTC", "Asia/Shanghai", "America/New_York"}
		buckets := []crm.Bucket{crm.BucketDay, crm.BucketWeek, crm.BucketMonth, crm.BucketQuarter}
		scopes := []struct {
			name string
			s    *crm.DataScope
		}{
			{"Everything", nil},
			{"AManagersDepartmentTree", &crm.DataScope{DepartmentTrees: []crm.ID{d.depts[1]}}},
			{"OwnersAndAPool", &crm.DataScope{OwnerIDs: d.owners[:2], PoolIDs: d.pools[:1]}},
			{"OneDepartment", &crm.DataScope{DepartmentIDs: []crm.ID{d.depts[2]}}},
			{"Nothing", &crm.DataScope{}},
		}
		n := 0
		for zi, zone := range zones {
			loc, err := time.LoadLocation(zone)
			require.NoError(t, err)
			for bi, b := range buckets {
				// Periods that start on a bucket edge and inside a bucket.
				from := time.Date(2025, 11, 1, 0, 0, 0, 0, loc)
				if (zi+bi)%2 == 1 {
					from = from.Add(41*time.Hour + 7*time.Microsecond)
				}
				p := crm.Period{From: from, To: time.Date(2026, 4, 15, 0, 0, 0, 0, loc), Bucket: b, Location: loc}
				if zone == "UTC" && b == crm.BucketWeek {
					p.Location = nil
				}
				for _, sc := range scopes {
					got, err := svc.Report(e.ctx, kpi.Request{Period: p, Scope: kpi.Same(sc.s)})
					require.NoError(t, err)
					want := d.expect(p, sc.s)
					msg := fmt.Sprintf("zone %s, bucket %s, scope %s", zone, b, sc.name)
					require.Equal(t, want.Leads, kpiRows(got.Leads, loc), msg)
					require.Equal(t, want.Customers, kpiRows(got.Customers, loc), msg)
					require.Equal(t, want.Tickets, kpiRows(got.Tickets, loc), msg)
					require.Equal(t, want.Pools, kpiRows(got.Pools, loc), msg)
					if sc.s == nil {
						n += len(got.Leads) + len(got.Customers) + len(got.Tickets) + len(got.Pools)
					}
				}
			}
		}
		require.Greater(t, n, 200, "the random data fill many rows")
	})
}

// kpiRows returns rows with their bucket starts rebuilt from the instant
// in loc, so rows compare by value.
func kpiRows[R any](rows []R, loc *time.Location) []R {
	out := make([]R, len(rows))
	for i, r := range rows {
		switch x := any(&r).(type) {
		case *kpi.LeadRow:
			x.Bucket = time.UnixMicro(x.Bucket.UnixMicro()).In(loc)
		case *kpi.CustomerRow:
			x.Bucket = time.UnixMicro(x.Bucket.UnixMicro()).In(loc)
		case *kpi.TicketRow:
			x.Bucket = time.UnixMicro(x.Bucket.UnixMicro()).In(loc)
		case *kpi.PoolRow:
			x.Bucket = time.UnixMicro(x.Bucket.UnixMicro()).In(loc)
		}
		out[i] = r
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// kpiData is what genKPIData stored for the default tenant.
type kpiData struct {
	depts, owners, pools []crm.ID
	parent               map[crm.ID]crm.ID
	leads                []*crm.Lead
	activities           []*crm.Activity
	customers            map[crm.ID]*crm.Customer
	deals                []*crm.Opportunity
	tickets              []*crm.Ticket
	breached             map[crm.ID]bool // stored timers
	entries              []*pool.Entry
}

// genKPIData stores random records in the default tenant and a few in
// tenant "b", which no figure of the default tenant may count.
func genKPIData(t *testing.T, e *env, r *rand.Rand) *kpiData {
	d := &kpiData{parent: map[crm.ID]crm.ID{}, customers: map[crm.ID]*crm.Customer{}, breached: map[crm.ID]bool{}}
	// A tree root > sales > east, and a second root.
	for i, name := range []string{"HQ", "Sales", "East", "Other"} {
		parent := crm.NilID
		if i == 1 || i == 2 {
			parent = d.depts[i-1]
		}
		dep := crmtest.Department(e.ids, name, parent)
		require.NoError(t, e.store.Departments().Create(e.ctx, dep))
		d.depts = append(d.depts, dep.ID)
		d.parent[dep.ID] = parent
	}
	for range 5 {
		d.owners = append(d.owners, e.ids.NewID())
	}
	d.pools = []crm.ID{e.ids.NewID(), e.ids.NewID(), e.ids.NewID()}
	pick := func(ids []crm.ID) crm.ID {
		if r.IntN(6) == 0 {
			return crm.NilID
		}
		return ids[r.IntN(len(ids))]
	}
	// Times near the bucket edges of each zone: midnights, month and
	// quarter starts and Mondays, give or take a little.
	var edges []time.Time
	for _, z := range []string{"UTC", "Asia/Shanghai", "America/New_York"} {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		for m := 0; m < 9; m++ {
			edges = append(edges, time.Date(2025, time.October+time.Month(m), 1, 0, 0, 0, 0, loc))
		}
		for w := 0; w < 30; w++ {
			edges = append(edges, time.Date(2025, 10, 6+7*w, 0, 0, 0, 0, loc))
		}
	}
	at := func() time.Time {
		base := edges[r.IntN(len(edges))]
		var off time.Duration
		switch r.IntN(4) {
		case 0:
			off = time.Duration(r.IntN(5)-2) * time.Microsecond
		case 1:
			off = time.Duration(r.IntN(7200)-3600) * time.Second
		default:
			off = time.Duration(r.Int64N(int64(20*24*time.Hour))) - 10*24*time.Hour
		}
		return crm.StorageTime(base.Add(off))
	}
	later := func(from time.Time) *time.Time {
		v := crm.StorageTime(from.Add(time.Duration(r.Int64N(int64(9*24*time.Hour))) + time.Duration(r.IntN(999))*time.Microsecond))
		return &v
	}
	create := func(when time.Time, fn func() error) {
		e.clock.Set(when)
		require.NoError(t, fn())
	}
	sources := []string{"web_form", "trade_fair", "referral", ""}
	for _, ctx := range []context.Context{e.ctx, e.ctxB} {
		mine := ctx == e.ctx
		nLeads, nCust, nTickets := 160, 60, 160
		if !mine {
			nLeads, nCust, nTickets = 10, 5, 10
		}
		for range nLeads {
			l := crmtest.Lead(e.ids, func(l *crm.Lead) {
				l.Source = sources[r.IntN(len(sources))]
				if mine {
					l.OwnerID, l.DepartmentID = pick(d.owners), pick(d.depts)
				}
				if r.IntN(3) == 0 {
					l.Status, l.ConvertedCustomerID = crm.LeadConverted, e.ids.NewID()
				}
			})
			create(at(), func() error { return e.store.Leads().Create(ctx, l) })
			for range r.IntN(3) {
				a := crmtest.Activity(e.ids, crm.Ref{Type: crm.TypeLead, ID: l.ID}, e.ids.NewID(), func(a *crm.Activity) {
					a.OccurredAt = crm.StorageTime(l.CreatedAt.Add(time.Duration(r.Int64N(int64(5*24*time.Hour))) - time.Hour))
				})
				require.NoError(t, e.store.Activities().Create(ctx, a))
				if mine {
					d.activities = append(d.activities, a)
				}
			}
			if mine {
				d.leads = append(d.leads, l)
			}
		}
		for range nCust {
			c := crmtest.Customer(e.ids, func(c *crm.Customer) {
				c.Status = []crm.CustomerStatus{crm.CustomerPotential, crm.CustomerDealt, crm.CustomerLost}[r.IntN(3)]
				if mine {
					c.DepartmentID = pick(d.depts)
					if r.IntN(3) == 0 {
						c.PoolID = pick(d.pools)
					} else {
						c.OwnerID = pick(d.owners)
					}
				}
			})
			require.NoError(t, e.store.Customers().Create(ctx, c))
			for range r.IntN(6) {
				o := crmtest.Opportunity(e.ids, c.ID, func(o *crm.Opportunity) {
					o.Stage = []crm.OpportunityStage{crm.StageWon, crm.StageWon, crm.StageWon, crm.StageLost, crm.StageProposal}[r.IntN(5)]
					if o.Stage != crm.StageProposal {
						closed := at()
						o.ClosedAt = &closed
					}
				})
				require.NoError(t, e.store.Opportunities().Create(ctx, o))
				if mine && o.Stage == crm.StageWon {
					d.deals = append(d.deals, o)
				}
			}
			if mine {
				d.customers[c.ID] = c
			}
			// Ledger entries of the customer.
			require.NoError(t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				ptx, ok := crm.As[pool.Tx](tx)
				require.True(t, ok)
				for range r.IntN(5) {
					en := &pool.Entry{ID: e.ids.NewID(), CustomerID: c.ID, At: at(),
						Op: []pool.Op{pool.OpClaim, pool.OpRelease, pool.OpRecycle, pool.OpAssign}[r.IntN(4)]}
					switch en.Op {
					case pool.OpClaim:
						en.FromPool, en.ToOwner = pick(d.pools), pick(d.owners)
					case pool.OpAssign:
						en.ToOwner = pick(d.owners)
					default:
						en.ToPool, en.FromOwner = pick(d.pools), pick(d.owners)
					}
					if err := ptx.PoolLedger().Append(ctx, en); err != nil {
						return err
					}
					if mine {
						d.entries = append(d.entries, en)
					}
				}
				return nil
			}))
		}
		for range nTickets {
			k := crmtest.Ticket(e.ids, func(k *crm.Ticket) {
				if mine {
					k.AssigneeID, k.DepartmentID = pick(d.owners), pick(d.depts)
				}
			})
			created := at()
			if r.IntN(3) > 0 {
				k.FirstResponseAt = later(created)
			}
			if r.IntN(3) > 0 {
				k.Status, k.ResolvedAt = crm.TicketResolved, later(created)
				if r.IntN(2) == 0 {
					k.Status, k.ClosedAt, k.Satisfaction = crm.TicketClosed, later(*k.ResolvedAt), r.IntN(6)
				}
			}
			if r.IntN(2) == 0 {
				k.SLATimerID = e.ids.NewID()
				if r.IntN(5) > 0 { // some name a timer that is not stored
					breached := r.IntN(3) == 0
					require.NoError(t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
						wtx, ok := crm.As[workflow.Tx](tx)
						require.True(t, ok)
						return wtx.Timers().CreateTimer(ctx, &workflow.Timer{ID: k.SLATimerID, Policy: "first_reply", Stopped: true,
							Breached: breached, Record: crm.Ref{Type: crm.TypeTicket, ID: k.ID}})
					}))
					if mine {
						d.breached[k.SLATimerID] = breached
					}
				}
			}
			create(created, func() error { return e.store.Tickets().Create(ctx, k) })
			if mine {
				d.tickets = append(d.tickets, k)
			}
		}
	}
	return d
}

// match is the test's own reading of a data scope.
func (d *kpiData) match(s *crm.DataScope, owner, dept, poolID crm.ID) bool {
	if s == nil || s.All {
		return true
	}
	if owner != crm.NilID && slices.Contains(s.OwnerIDs, owner) || poolID != crm.NilID && slices.Contains(s.PoolIDs, poolID) {
		return true
	}
	if dept == crm.NilID {
		return false
	}
	if slices.Contains(s.DepartmentIDs, dept) {
		return true
	}
	for x := dept; x != crm.NilID; x = d.parent[x] {
		if slices.Contains(s.DepartmentTrees, x) {
			return true
		}
	}
	return false
}

// expect counts the figures of p within s from what was stored.
func (d *kpiData) expect(p crm.Period, s *crm.DataScope) *kpi.Report {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	bucket := func(t time.Time) time.Time { return time.UnixMicro(p.Start(t).UnixMicro()).In(loc) }
	ms := func(a, b time.Time) int64 { return b.Sub(a).Milliseconds() }
	out := &kpi.Report{}

	type lk struct {
		b   int64
		src string
	}
	leads := map[lk]*kpi.LeadRow{}
	for _, l := range d.leads {
		if !p.Contains(l.CreatedAt) || !d.match(s, l.OwnerID, l.DepartmentID, crm.NilID) {
			continue
		}
		k := lk{bucket(l.CreatedAt).UnixMicro(), l.Source}
		row := leads[k]
		if row == nil {
			row = &kpi.LeadRow{Bucket: bucket(l.CreatedAt), Source: l.Source}
			leads[k] = row
		}
		row.Created++
		if l.Status == crm.LeadConverted {
			row.Converted++
		}
		var first *time.Time
		for _, a := range d.activities {
			if a.Subject.ID == l.ID && (first == nil || a.OccurredAt.Before(*first)) {
				first = &a.OccurredAt
			}
		}
		if first != nil {
			row.FollowedUp++
			row.FollowUpMillis += ms(l.CreatedAt, *first)
		}
	}
	for _, r := range leads {
		out.Leads = append(out.Leads, *r)
	}
	slices.SortFunc(out.Leads, func(a, b kpi.LeadRow) int { return cmp.Or(a.Bucket.Compare(b.Bucket), cmp.Compare(a.Source, b.Source)) })

	cust := map[int64]*kpi.CustomerRow{}
	crow := func(b time.Time) *kpi.CustomerRow {
		if cust[b.UnixMicro()] == nil {
			cust[b.UnixMicro()] = &kpi.CustomerRow{Bucket: b}
		}
		return cust[b.UnixMicro()]
	}
	for id, c := range d.customers {
		if !d.match(s, c.OwnerID, c.DepartmentID, c.PoolID) {
			continue
		}
		var times []time.Time
		for _, o := range d.deals {
			if o.CustomerID == id {
				times = append(times, *o.ClosedAt)
			}
		}
		if len(times) == 0 {
			continue
		}
		slices.SortFunc(times, time.Time.Compare)
		if first := times[0]; p.Contains(first) {
			crow(bucket(first)).New++
		}
		if last := times[len(times)-1]; c.Status == crm.CustomerLost && p.Contains(last) {
			crow(bucket(last)).Lost++
		}
		for _, b := range p.Buckets() {
			var active, before bool
			for _, at := range times {
				active = active || p.Contains(at) && p.Start(at).Equal(b)
				before = before || p.Start(at).Equal(kpi.Previous(&p, b))
			}
			bl := time.UnixMicro(b.UnixMicro()).In(loc)
			if active {
				crow(bl).Active++
				if before {
					crow(bl).Retained++
				}
			} else if before {
				crow(bl).Churned++
			}
		}
	}
	for _, r := range cust {
		out.Customers = append(out.Customers, *r)
	}
	slices.SortFunc(out.Customers, func(a, b kpi.CustomerRow) int { return a.Bucket.Compare(b.Bucket) })

	tix := map[int64]*kpi.TicketRow{}
	trow := func(at time.Time) *kpi.TicketRow {
		b := bucket(at)
		if tix[b.UnixMicro()] == nil {
			tix[b.UnixMicro()] = &kpi.TicketRow{Bucket: b}
		}
		return tix[b.UnixMicro()]
	}
	for _, k := range d.tickets {
		if !d.match(s, k.AssigneeID, k.DepartmentID, crm.NilID) {
			continue
		}
		if p.Contains(k.CreatedAt) {
			row := trow(k.CreatedAt)
			row.Created++
			if k.FirstResponseAt != nil {
				row.Responded++
				row.ResponseMillis += ms(k.CreatedAt, *k.FirstResponseAt)
			}
		}
		if k.ResolvedAt != nil && p.Contains(*k.ResolvedAt) {
			row := trow(*k.ResolvedAt)
			row.Resolved++
			row.ResolvedMillis += ms(k.CreatedAt, *k.ResolvedAt)
			if breached, ok := d.breached[k.SLATimerID]; ok {
				row.WithSLA++
				if !breached {
					row.SLAMet++
				}
			}
		}
		if k.ClosedAt != nil && k.Satisfaction > 0 && p.Contains(*k.ClosedAt) {
			row := trow(*k.ClosedAt)
			row.Rated++
			row.ScoreSum += int64(k.Satisfaction)
			if k.Satisfaction >= 4 {
				row.Satisfied++
			}
		}
	}
	for _, r := range tix {
		out.Tickets = append(out.Tickets, *r)
	}
	slices.SortFunc(out.Tickets, func(a, b kpi.TicketRow) int { return a.Bucket.Compare(b.Bucket) })

	type pk struct {
		b    int64
		pool crm.ID
	}
	pools := map[pk]*kpi.PoolRow{}
	for _, en := range d.entries {
		var pl, owner crm.ID
		switch en.Op {
		case pool.OpClaim:
			pl, owner = en.FromPool, en.ToOwner
		case pool.OpRelease, pool.OpRecycle:
			pl, owner = en.ToPool, en.FromOwner
		default:
			continue
		}
		if pl == crm.NilID || !p.Contains(en.At) || !d.match(s, owner, d.customers[en.CustomerID].DepartmentID, pl) {
			continue
		}
		k := pk{bucket(en.At).UnixMicro(), pl}
		if pools[k] == nil {
			pools[k] = &kpi.PoolRow{Bucket: bucket(en.At), PoolID: pl}
		}
		switch en.Op {
		case pool.OpClaim:
			pools[k].Claims++
		case pool.OpRelease:
			pools[k].Releases++
		default:
			pools[k].Recycles++
		}
	}
	for _, r := range pools {
		out.Pools = append(out.Pools, *r)
	}
	slices.SortFunc(out.Pools, func(a, b kpi.PoolRow) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), bytes.Compare(a.PoolID[:], b.PoolID[:]))
	})
	return out
}
