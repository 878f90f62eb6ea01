package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/kpi"
	"github.com/crmkit/crmkit/pool"
)

// This file computes the figures of package kpi ([kpi.Store]) by one
// pass over each table the figure reads, bucketing times with
// crm.Period.Start as pgstore buckets them with date_trunc.

var _ kpi.Store = tx{}

// kpiRead locks the store for reading and returns the tenant and a scope
// matcher that remembers the department trees it walked.
func (t tx) kpiRead(ctx context.Context) (func(), string, func(s *crm.DataScope, owner, dept, pool crm.ID) bool, error) {
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return nil, "", nil, err
	}
	tenant := crm.TenantFrom(ctx)
	walk := t.s.inTree(tenant)
	seen := make(map[[2]crm.ID]bool)
	inTree := func(root, dept crm.ID) bool {
		k := [2]crm.ID{root, dept}
		v, ok := seen[k]
		if !ok {
			v = walk(root, dept)
			seen[k] = v
		}
		return v
	}
	match := func(s *crm.DataScope, owner, dept, pool crm.ID) bool { return s.Match(owner, dept, pool, inTree) }
	return unlock, tenant, match, nil
}

// millis is the whole milliseconds from a to b, truncated toward zero.
func millis(a, b time.Time) int64 { return b.Sub(a).Milliseconds() }

type leadKPIKey struct {
	bucket time.Time
	source string
}

// KPILeads implements [kpi.Store].
func (t tx) KPILeads(ctx context.Context, q kpi.Query) ([]kpi.LeadRow, error) {
	unlock, tenant, match, err := t.kpiRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("memstore: kpi leads: %w", err)
	}
	defer unlock()
	p := &q.Period
	rows := make(map[leadKPIKey]*kpi.LeadRow)
	counted := make(map[crm.ID]*crm.Lead)
	for _, l := range t.s.leads.rows {
		if l.TenantID != tenant || !p.Contains(l.CreatedAt) || !match(q.Scope.Leads, l.OwnerID, l.DepartmentID, crm.NilID) {
			continue
		}
		counted[l.ID] = l
		k := leadKPIKey{p.Start(l.CreatedAt), l.Source}
		r := rows[k]
		if r == nil {
			r = &kpi.LeadRow{Bucket: k.bucket, Source: k.source}
			rows[k] = r
		}
		r.Created++
		if l.Status == crm.LeadConverted {
			r.Converted++
		}
	}
	first := make(map[crm.ID]time.Time)
	for _, a := range t.s.activities.rows {
		if a.TenantID != tenant || a.Subject.Type != crm.TypeLead || counted[a.Subject.ID] == nil {
			continue
		}
		if f, ok := first[a.Subject.ID]; !ok || a.OccurredAt.Before(f) {
			first[a.Subject.ID] = a.OccurredAt
		}
	}
	for id, at := range first {
		l := counted[id]
		r := rows[leadKPIKey{p.Start(l.CreatedAt), l.Source}]
		r.FollowedUp++
		r.FollowUpMillis += millis(l.CreatedAt, at)
	}
	out := make([]kpi.LeadRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	return out, ctx.Err()
}

// customerDeals are one customer's won deals as the customer figures
// need them.
type customerDeals struct {
	first, last time.Time
	// buckets holds the bucket starts (Unix microseconds) with a deal:
	// true when one of them is within the period.
	buckets map[int64]bool
}

// KPICustomers implements [kpi.Store].
func (t tx) KPICustomers(ctx context.Context, q kpi.Query) ([]kpi.CustomerRow, error) {
	unlock, tenant, match, err := t.kpiRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("memstore: kpi customers: %w", err)
	}
	defer unlock()
	p := &q.Period
	deals := make(map[crm.ID]*customerDeals)
	for _, o := range t.s.opportunities.rows {
		if o.TenantID != tenant || o.Stage != crm.StageWon || o.ClosedAt == nil {
			continue
		}
		c := t.s.customers.rows[o.CustomerID]
		if c == nil || c.TenantID != tenant || !match(q.Scope.Customers, c.OwnerID, c.DepartmentID, c.PoolID) {
			continue
		}
		at := *o.ClosedAt
		d := deals[c.ID]
		if d == nil {
			d = &customerDeals{first: at, last: at, buckets: make(map[int64]bool)}
			deals[c.ID] = d
		}
		if at.Before(d.first) {
			d.first = at
		}
		if at.After(d.last) {
			d.last = at
		}
		if at.Before(p.To) {
			b := p.Start(at).UnixMicro()
			d.buckets[b] = d.buckets[b] || p.Contains(at)
		}
	}
	rows := make(map[int64]*kpi.CustomerRow)
	row := func(b time.Time) *kpi.CustomerRow {
		r := rows[b.UnixMicro()]
		if r == nil {
			r = &kpi.CustomerRow{Bucket: b}
			rows[b.UnixMicro()] = r
		}
		return r
	}
	buckets := p.Buckets()
	for id, d := range deals {
		if p.Contains(d.first) {
			row(p.Start(d.first)).New++
		}
		if c := t.s.customers.rows[id]; c.Status == crm.CustomerLost && p.Contains(d.last) {
			row(p.Start(d.last)).Lost++
		}
		for _, b := range buckets {
			active := d.buckets[b.UnixMicro()]
			_, before := d.buckets[kpi.Previous(p, b).UnixMicro()]
			switch {
			case active && before:
				r := row(b)
				r.Active++
				r.Retained++
			case active:
				row(b).Active++
			case before:
				row(b).Churned++
			}
		}
	}
	out := make([]kpi.CustomerRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	return out, ctx.Err()
}

// KPITickets implements [kpi.Store].
func (t tx) KPITickets(ctx context.Context, q kpi.Query) ([]kpi.TicketRow, error) {
	unlock, tenant, match, err := t.kpiRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("memstore: kpi tickets: %w", err)
	}
	defer unlock()
	p := &q.Period
	timers := t.workflowState().timers
	rows := make(map[int64]*kpi.TicketRow)
	row := func(at time.Time) *kpi.TicketRow {
		b := p.Start(at)
		r := rows[b.UnixMicro()]
		if r == nil {
			r = &kpi.TicketRow{Bucket: b}
			rows[b.UnixMicro()] = r
		}
		return r
	}
	for _, k := range t.s.tickets.rows {
		if k.TenantID != tenant || !match(q.Scope.Tickets, k.AssigneeID, k.DepartmentID, crm.NilID) {
			continue
		}
		if p.Contains(k.CreatedAt) {
			r := row(k.CreatedAt)
			r.Created++
			if k.FirstResponseAt != nil {
				r.Responded++
				r.ResponseMillis += millis(k.CreatedAt, *k.FirstResponseAt)
			}
		}
		if k.ResolvedAt != nil && p.Contains(*k.ResolvedAt) {
			r := row(*k.ResolvedAt)
			r.Resolved++
			r.ResolvedMillis += millis(k.CreatedAt, *k.ResolvedAt)
			if tm := timers[k.SLATimerID]; k.SLATimerID != crm.NilID && tm != nil && tm.TenantID == tenant {
				r.WithSLA++
				if !tm.Breached {
					r.SLAMet++
				}
			}
		}
		if k.ClosedAt != nil && k.Satisfaction > 0 && p.Contains(*k.ClosedAt) {
			r := row(*k.ClosedAt)
			r.Rated++
			r.ScoreSum += int64(k.Satisfaction)
			if k.Satisfaction >= kpi.SatisfiedScore {
				r.Satisfied++
			}
		}
	}
	out := make([]kpi.TicketRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	return out, ctx.Err()
}

type poolKPIKey struct {
	bucket int64
	pool   crm.ID
}

// KPIPools implements [kpi.Store].
func (t tx) KPIPools(ctx context.Context, q kpi.Query) ([]kpi.PoolRow, error) {
	unlock, tenant, match, err := t.kpiRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("memstore: kpi pools: %w", err)
	}
	defer unlock()
	p := &q.Period
	rows := make(map[poolKPIKey]*kpi.PoolRow)
	for _, e := range t.poolState().ledger {
		if e.TenantID != tenant || !p.Contains(e.At) {
			continue
		}
		var poolID, owner crm.ID
		switch e.Op {
		case pool.OpClaim:
			poolID, owner = e.FromPool, e.ToOwner
		case pool.OpRelease, pool.OpRecycle:
			poolID, owner = e.ToPool, e.FromOwner
		default:
			continue
		}
		if poolID == crm.NilID {
			continue
		}
		dept := crm.NilID
		if c := t.s.customers.rows[e.CustomerID]; c != nil && c.TenantID == tenant {
			dept = c.DepartmentID
		}
		if !match(q.Scope.Customers, owner, dept, poolID) {
			continue
		}
		b := p.Start(e.At)
		k := poolKPIKey{b.UnixMicro(), poolID}
		r := rows[k]
		if r == nil {
			r = &kpi.PoolRow{Bucket: b, PoolID: poolID}
			rows[k] = r
		}
		switch e.Op {
		case pool.OpClaim:
			r.Claims++
		case pool.OpRelease:
			r.Releases++
		default:
			r.Recycles++
		}
	}
	out := make([]kpi.PoolRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	return out, ctx.Err()
}
