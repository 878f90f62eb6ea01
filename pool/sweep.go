package pool

import (
	"context"
	"encoding/json"
	"fmt"
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
// cascade. It works in units of work of [Config.SweepBatch] customers and
// re-checks every candidate against its current facts before recycling it.
//
// Sweep is idempotent and safe to run from many goroutines or application
// instances at once: each batch locks its candidates and skips those another
// sweep holds, and a recycled customer is no longer due, so every due
// customer is recycled exactly once. A failed batch is rolled back whole;
// batches already committed stay. Hosts call Sweep from their scheduler;
// the package starts no timers.
func (s *Service) Sweep(ctx context.Context, now time.Time, limit int) (SweepResult, error) {
	var res SweepResult
	if limit < 1 {
		return res, fmt.Errorf("pool: sweep: %w", crm.Invalid("limit", "must be at least 1, got %d", limit))
	}
	now = crm.StorageTime(now)
	for res.Recycled < limit {
		batch := min(s.cfg.SweepBatch, limit-res.Recycled)
		var got, recycled, rescheduled int
		err := s.run(ctx, "sweep", func(ctx context.Context, u *unit) error {
			u.now = now
			got, recycled, rescheduled = 0, 0, 0
			hs, err := u.tx.PoolHoldings().Due(ctx, now, batch)
			if err != nil {
				return err
			}
			got = len(hs)
			sw := sweeper{u: u, pools: map[crm.ID]*Pool{}, rules: map[*RecycleRule]json.RawMessage{}}
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
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Recycled += recycled
		res.Rescheduled += rescheduled
		if got < batch {
			break
		}
	}
	return res, nil
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

// sweeper caches pools and rule snapshots within one batch.
type sweeper struct {
	u     *unit
	pools map[crm.ID]*Pool
	rules map[*RecycleRule]json.RawMessage
}

// recycle re-checks h against the current facts and recycles it (unless
// dryRun). It returns nil when h is not due after all (and reschedules it).
func (sw *sweeper) recycle(ctx context.Context, h *Holding, dryRun bool) (*Decision, error) {
	u := sw.u
	p, ok := sw.pools[h.PoolID]
	if !ok {
		var err error
		if p, err = u.pool(ctx, h.PoolID, "pool_id"); err != nil {
			return nil, err
		}
		sw.pools[h.PoolID] = p
	}
	c, err := u.customer(ctx, h.CustomerID)
	if err != nil {
		return nil, err
	}
	var rule *RecycleRule
	var due time.Time
	var why ConditionKind
	if p != nil && h.Owned() {
		due, why, rule = p.Due(FactsOf(c, h))
	}
	if rule == nil || due.After(u.now) {
		if !dryRun {
			h.DueAt, h.DueReason, h.DueRuleID = time.Time{}, "", ""
			if rule != nil {
				h.DueAt, h.DueReason, h.DueRuleID = due, why, rule.ID
			}
			if err := u.tx.PoolHoldings().Update(ctx, h); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	d := &Decision{CustomerID: c.ID, OwnerID: h.OwnerID, PoolID: p.ID, DueAt: due, Reason: why, RuleID: rule.ID}
	if dryRun {
		return d, nil
	}
	snap, ok := sw.rules[rule]
	if !ok {
		if snap, err = json.Marshal(rule); err != nil {
			return nil, err
		}
		sw.rules[rule] = snap
	}
	prev := h.OwnerID
	if err := u.dropOwner(ctx, h, c); err != nil {
		return nil, err
	}
	u.toPool(h, c, p, prev)
	e := &Entry{CustomerID: c.ID, Op: OpRecycle, FromOwner: prev, FromPool: p.ID, ToPool: p.ID, Reason: string(why), RuleID: rule.ID, Rule: snap}
	if _, err := u.finish(ctx, h, c, p, e, false, &u.s.cfg.Cascade.OnRelease, prev); err != nil {
		return nil, err
	}
	return d, nil
}
