package pool

import (
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Facts are what recycling rules look at for one owned customer.
type Facts struct {
	Level           string
	Dealt           bool
	Locked          bool
	OpenOpportunity bool
	// OwnedSince is when the current owner got the customer; every
	// condition counts from it at the earliest.
	OwnedSince      time.Time
	LastFollowUp    time.Time
	LastDeal        time.Time
	LastOpportunity time.Time
	ProtectedUntil  time.Time
}

// FactsOf gathers the facts of a customer and its holding.
func FactsOf(c *crm.Customer, h *Holding) Facts {
	f := Facts{
		Level: c.Level, Dealt: c.Status == crm.CustomerDealt, Locked: h.Locked,
		OpenOpportunity: h.OpenOpportunity, OwnedSince: h.OwnedSince,
		LastOpportunity: h.LastOpportunityAt, ProtectedUntil: h.ProtectedUntil,
	}
	if c.LastFollowUpAt != nil {
		f.LastFollowUp = *c.LastFollowUpAt
	}
	if c.LastDealAt != nil {
		f.LastDeal = *c.LastDealAt
	}
	return f
}

// Due returns when a customer with facts f falls due under the pool's rule
// versions, the deciding condition and the rule version; a zero time means
// never (no rule, locked, or excluded). It is pure and allocation-free.
//
// Versions apply in EffectiveFrom order: the due time under a version is
// never before the version takes effect, and a due time that would fall
// after the next version takes effect is decided by that next version.
func (p *Pool) Due(f Facts) (time.Time, ConditionKind, *RecycleRule) {
	if f.Locked {
		return time.Time{}, "", nil
	}
	for i := range p.Recycle {
		r := &p.Recycle[i]
		last := i == len(p.Recycle)-1
		due, why := r.due(f)
		if due.IsZero() {
			if last {
				return time.Time{}, "", nil
			}
			continue
		}
		if due.Before(r.EffectiveFrom) {
			due = r.EffectiveFrom
		}
		if last || due.Before(p.Recycle[i+1].EffectiveFrom) {
			return due, why, r
		}
	}
	return time.Time{}, "", nil
}

// due applies one rule version, ignoring when it takes effect.
func (r *RecycleRule) due(f Facts) (time.Time, ConditionKind) {
	if (r.Exclude.Dealt && f.Dealt) || (r.Exclude.OpenOpportunity && f.OpenOpportunity) {
		return time.Time{}, ""
	}
	var best time.Time
	var why ConditionKind
	all := r.Combine == All
	for _, c := range r.Conditions {
		d := c.due(f)
		if d.IsZero() {
			if all {
				return time.Time{}, ""
			}
			continue
		}
		if best.IsZero() || (all && d.After(best)) || (!all && d.Before(best)) {
			best, why = d, c.Kind
		}
	}
	return best, why
}

func (c *Condition) due(f Facts) time.Time {
	var since time.Time
	switch c.Kind {
	case ProtectionExpired:
		return f.ProtectedUntil
	case NoFollowUp:
		since = f.LastFollowUp
	case NoDeal:
		since = f.LastDeal
	case NoOpportunity:
		since = f.LastOpportunity
	default:
		return time.Time{}
	}
	if f.OwnedSince.After(since) {
		since = f.OwnedSince
	}
	if since.IsZero() {
		return time.Time{}
	}
	days := c.Days
	if d, ok := c.LevelDays[f.Level]; ok {
		days = d
	}
	return since.Add(time.Duration(days) * 24 * time.Hour)
}
