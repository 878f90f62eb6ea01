package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Decision is one customer a sweep recycles (or, in a plan, would recycle)
// and why.
type Decision struct {
	CustomerID crm.ID        `json:"customer_id"`
	OwnerID    crm.ID        `json:"owner_id"`
	PoolID     crm.ID        `json:"pool_id"`
	DueAt      time.Time     `json:"due_at"`
	Reason     ConditionKind `json:"reason"`
	RuleID     string        `json:"rule_id"`
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	// Recycled customers went back to their pools.
	Recycled int
	// Rescheduled customers were found due by their stored due time but not
	// by their current facts (a follow-up was recorded without
	// [Service.Recompute], or a rule changed), so only their due time was
	// updated.
	Rescheduled int
}

// Sweep recycles up to limit customers whose due time is at or before now:
// each goes back to its pool with a ledger entry naming the rule and
// condition (actor: system), a [EventRecycled] event and the OnRelease
// cascade. It works in units of work of [Config.SweepBatch] customers,
// [Config.SweepWorkers] of them at once, and re-checks every candidate
// against its current facts before recycling it.
//
// Sweep is idempotent and safe to run from many goroutines or application
// instances at once: each batch locks its candidates and skips those another
// sweep holds, and a recycled customer is no longer due, so every due
// customer is recycled exactly once. A failed batch is rolled back whole;
// batches already committed stay, and the result counts them alongside
// the error. Hosts call Sweep from their scheduler; the package starts no
// timers.
func (s *Service) Sweep(ctx context.Context, now time.Time, limit int) (SweepResult, error) {
	ctx = crm.DefaultActor(ctx, crm.NilID, string(OpRecycle))
	if limit < 1 {
		return SweepResult{}, fmt.Errorf("pool: sweep: %w", crm.Invalid("limit", "must be at least 1, got %d", limit))
	}
	now = crm.StorageTime(now)
	q := sweepQueue{left: limit}
	workers := min(s.cfg.SweepWorkers, (limit+s.cfg.SweepBatch-1)/s.cfg.SweepBatch)
	if workers <= 1 {
		return q.drain(ctx, s, now)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]SweepResult, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			results[i], errs[i] = q.drain(ctx, s, now)
			if errs[i] != nil {
				cancel() // the others stop after their current batch
			}
		})
	}
	wg.Wait()
	var res SweepResult
	for _, r := range results {
		res.Recycled += r.Recycled
		res.Rescheduled += r.Rescheduled
	}
	return res, firstFailure(errs)
}

// firstFailure is the error that stopped a sweep's workers: the first one
// that is not a cancellation (the others stopped because of it), else the
// first cancellation, else nil.
func firstFailure(errs []error) error {
	var canceled error
	for _, err := range errs {
		switch {
		case err == nil:
		case !errors.Is(err, context.Canceled):
			return err
		case canceled == nil:
			canceled = err
		}
	}
	return canceled
}

// sweepQueue shares one Sweep call's limit among its workers.
type sweepQueue struct {
	mu   sync.Mutex
	left int  // customers still to recycle
	done bool // a batch came back short: nothing more is due
}

// take reserves up to n of what is left; 0 means stop.
func (q *sweepQueue) take(n int) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return 0
	}
	n = min(n, q.left)
	q.left -= n
	return n
}

// settle returns what a batch of reserved customers did not recycle, and
// marks the queue done when the batch found fewer due than it asked for.
func (q *sweepQueue) settle(reserved, got, recycled int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.left += reserved - recycled
	if got < reserved {
		q.done = true
	}
}

// drain runs batches until the queue says stop.
func (q *sweepQueue) drain(ctx context.Context, s *Service, now time.Time) (SweepResult, error) {
	var res SweepResult
	for {
		batch := q.take(s.cfg.SweepBatch)
		if batch == 0 {
			return res, nil
		}
		got, recycled, rescheduled, err := s.sweepBatch(ctx, now, batch)
		if err != nil {
			q.settle(batch, 0, 0)
			return res, err
		}
		q.settle(batch, got, recycled)
		res.Recycled += recycled
		res.Rescheduled += rescheduled
	}
}

// sweepBatch recycles up to n due customers in one unit of work; got is
// how many due candidates it found.
func (s *Service) sweepBatch(ctx context.Context, now time.Time, n int) (got, recycled, rescheduled int, err error) {
	err = s.run(ctx, "sweep", func(ctx context.Context, u *unit) error {
		u.now = now
		got, recycled, rescheduled = 0, 0, 0
		hs, err := u.tx.PoolHoldings().Due(ctx, now, n)
		if err != nil {
			return err
		}
		got = len(hs)
		sw := sweeper{u: u, pools: map[crm.ID]*Pool{}, rules: map[*RecycleRule]json.RawMessage{}}
		if btx, ok := crm.As[BatchTx](u.tx); ok && keepsAll(&u.s.cfg.Cascade.OnRelease) {
			recycled, rescheduled, err = sw.batch(ctx, btx, hs)
			return err
		}
		for _, h := range hs {
			done, err := sw.recycle(ctx, h, false)
			if err != nil {
				return fmt.Errorf("customer %s: %w", h.CustomerID, err)
			}
			if done != nil {
				recycled++
			} else {
				rescheduled++
			}
		}
		// The batch's counters last and in key order, as in the
		// set-based path, so concurrent batches never deadlock on them.
		return u.apply(ctx, sw.changes)
	})
	if err != nil {
		return 0, 0, 0, err
	}
	return got, recycled, rescheduled, nil
}

// Plan is the dry run of [Sweep]: it lists up to limit (at most
// crm.MaxPageLimit) customers that a sweep at now would recycle, and why,
// changing nothing.
func (s *Service) Plan(ctx context.Context, now time.Time, limit int) ([]Decision, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, fmt.Errorf("pool: plan: %w", crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit))
	}
	now = crm.StorageTime(now)
	var out []Decision
	err := s.run(ctx, "plan", func(ctx context.Context, u *unit) error {
		u.now = now
		out = nil
		hs, err := u.tx.PoolHoldings().Due(ctx, now, limit)
		if err != nil {
			return err
		}
		sw := sweeper{u: u, pools: map[crm.ID]*Pool{}}
		for _, h := range hs {
			d, err := sw.recycle(ctx, h, true)
			if err != nil {
				return fmt.Errorf("customer %s: %w", h.CustomerID, err)
			}
			if d != nil {
				out = append(out, *d)
			}
		}
		return nil
	})
	return out, err
}

// sweeper caches pools and rule snapshots within one batch, and collects
// the batch's counter changes.
type sweeper struct {
	u       *unit
	pools   map[crm.ID]*Pool
	rules   map[*RecycleRule]json.RawMessage
	changes []counterChange
}

// keepsAll reports a cascade rule that touches no related record, which
// the set-based path requires.
func keepsAll(r *CascadeRule) bool {
	return r.Contacts == CascadeKeep && r.OpenOpportunities == CascadeKeep && r.FollowUpPlans == CascadeKeep
}

func (sw *sweeper) poolOf(ctx context.Context, id crm.ID) (*Pool, error) {
	if p, ok := sw.pools[id]; ok {
		return p, nil
	}
	p, err := sw.u.pool(ctx, id, "pool_id")
	if err != nil {
		return nil, err
	}
	sw.pools[id] = p
	return p, nil
}

func (sw *sweeper) snapshot(rule *RecycleRule) (json.RawMessage, error) {
	if snap, ok := sw.rules[rule]; ok {
		return snap, nil
	}
	snap, err := json.Marshal(rule)
	if err != nil {
		return nil, err
	}
	sw.rules[rule] = snap
	return snap, nil
}

// decide re-checks h against c's current facts under p. It returns the
// decision when h is due now, else nil after rescheduling h (unless
// dryRun).
func (sw *sweeper) decide(ctx context.Context, h *Holding, c *crm.Customer, p *Pool, dryRun bool) (*Decision, *RecycleRule, error) {
	u := sw.u
	var rule *RecycleRule
	var due time.Time
	var why ConditionKind
	if p != nil && c != nil && h.Owned() {
		due, why, rule = p.Due(FactsOf(c, h))
	}
	if rule != nil && !due.After(u.now) {
		return &Decision{CustomerID: h.CustomerID, OwnerID: h.OwnerID, PoolID: p.ID, DueAt: due, Reason: why, RuleID: rule.ID}, rule, nil
	}
	if !dryRun {
		h.DueAt, h.DueReason, h.DueRuleID = time.Time{}, "", ""
		if rule != nil {
			h.DueAt, h.DueReason, h.DueRuleID = due, why, rule.ID
		}
		if err := u.tx.PoolHoldings().Update(ctx, h); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, nil
}

// recycle re-checks h against the current facts and recycles it (unless
// dryRun). It returns nil when h is not due after all (and reschedules it).
func (sw *sweeper) recycle(ctx context.Context, h *Holding, dryRun bool) (*Decision, error) {
	u := sw.u
	p, err := sw.poolOf(ctx, h.PoolID)
	if err != nil {
		return nil, err
	}
	c, err := u.customer(ctx, h.CustomerID)
	if errors.Is(err, crm.ErrNotFound) {
		c = nil // a deleted customer is never recycled; its due time is cleared
	} else if err != nil {
		return nil, err
	}
	d, rule, err := sw.decide(ctx, h, c, p, dryRun)
	if d == nil || err != nil || dryRun {
		return d, err
	}
	snap, err := sw.snapshot(rule)
	if err != nil {
		return nil, err
	}
	prev := h.OwnerID
	sw.changes = released(sw.changes, releaseOwner(h, c, nil))
	u.toPool(h, c, p, prev)
	e := &Entry{CustomerID: c.ID, Op: OpRecycle, FromOwner: prev, FromPool: p.ID, ToPool: p.ID, Reason: string(d.Reason), RuleID: rule.ID, Rule: snap}
	if _, err := u.finish(ctx, h, c, p, e, false, &u.s.cfg.Cascade.OnRelease, prev); err != nil {
		return nil, err
	}
	return d, nil
}

// uncount is what a batch takes off one previous owner's counters.
type uncount struct{ owned, open, locked int64 }

// batch is recycle for a whole batch through the set-based port: one read
// of the customers, one write of holdings, customers and ledger entries,
// one update per touched counter and one append of the events. Entries,
// events and payloads live in a few slices per batch rather than a few
// allocations per customer.
func (sw *sweeper) batch(ctx context.Context, btx BatchTx, hs []*Holding) (recycled, rescheduled int, err error) {
	u := sw.u
	ids := make([]crm.ID, len(hs))
	for i, h := range hs {
		ids[i] = h.CustomerID
	}
	cs, err := btx.PoolCustomers(ctx, ids)
	if err != nil {
		return 0, 0, err
	}
	byID := make(map[crm.ID]*crm.Customer, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	rs := make([]Recycled, 0, len(hs))
	entries := make([]Entry, 0, len(hs))
	owners := map[crm.ID]*uncount{}
	for _, h := range hs {
		p, err := sw.poolOf(ctx, h.PoolID)
		if err != nil {
			return 0, 0, err
		}
		c := byID[h.CustomerID]
		d, rule, err := sw.decide(ctx, h, c, p, false)
		if err != nil {
			return 0, 0, err
		}
		if d == nil {
			rescheduled++
			continue
		}
		snap, err := sw.snapshot(rule)
		if err != nil {
			return 0, 0, err
		}
		prev, version := h.OwnerID, c.Version
		n := owners[prev]
		if n == nil {
			n = &uncount{}
			owners[prev] = n
		}
		n.owned++
		if !h.Dealt {
			n.open++
		}
		if h.Locked {
			n.locked++
		}
		unown(h, c)
		u.toPool(h, c, p, prev)
		schedule(h, c, p)
		entries = append(entries, Entry{ID: u.s.cfg.IDs.NewID(), At: u.now, CustomerID: c.ID, Op: OpRecycle, FromOwner: prev,
			FromPool: p.ID, ToPool: p.ID, Reason: string(d.Reason), RuleID: rule.ID, Rule: snap})
		rs = append(rs, Recycled{Holding: h, CustomerVersion: version, Customer: PlacementOf(c), Entry: &entries[len(entries)-1]})
	}
	if len(rs) == 0 {
		return 0, rescheduled, nil
	}
	// The entries are the recycles' events: the batch stores both.
	if err := btx.PoolRecycleBatch(ctx, rs); err != nil {
		return 0, 0, err
	}
	// Last, so the counter rows that concurrent batches of one owner share
	// stay locked for as short a time as possible; sorted, so concurrent
	// sweeps lock them in one order.
	deltas := make(map[string]int64, 2*len(owners))
	for owner, n := range owners {
		deltas[ownedKey(owner)] -= n.owned
		if n.open > 0 {
			deltas[ownedOpenKey(owner)] -= n.open
		}
		if n.locked > 0 {
			deltas[lockedKey(owner)] -= n.locked
		}
	}
	for _, k := range slices.Sorted(maps.Keys(deltas)) {
		if _, _, err := u.tx.PoolCounters().Add(ctx, k, deltas[k], NoMax); err != nil {
			return 0, 0, err
		}
	}
	return len(rs), rescheduled, nil
}
