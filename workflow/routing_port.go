package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// RoutingStore is the storage port for routing state: the round-robin
// cursor of each rule and each member's open load and daily routing count.
// Many application instances share it, so fairness and limits hold across
// all of them. Implementations are safe for concurrent use; every method
// returns the context's error (wrapped) when ctx ends, with nothing written.
type RoutingStore interface {
	// LoadRouting fills st with the stored state of rule set ruleSet: the
	// cursor of every rule of st ([State.Rules]) and, for every member
	// ([State.Members]), the open load and the count of records routed to
	// them on day ("2006-01-02", see [Router.Day]). Entries never stored
	// are zero. It reads; it never creates rows.
	LoadRouting(ctx context.Context, ruleSet, day string, st *State) error
	// CommitRouting records one decision atomically, all or nothing:
	//   - when c.CursorMoved, the cursor of (c.RuleSet, c.Rule) becomes
	//     c.Cursor only if its stored version still equals
	//     c.PrevCursor.Version (a missing cursor has version 0): a
	//     compare-and-swap, e.g. UPDATE ... WHERE version = $prev, or an
	//     INSERT when $prev is 0 that clashes with a concurrent insert;
	//   - the open load of c.UserID grows by one only if it is below
	//     c.Capacity (0 = no limit), and the count for (c.UserID, c.Day)
	//     grows by one only if it is below c.DailyQuota (0 = no limit).
	// When any check fails it returns an error matching [crm.ErrConflict]
	// and writes nothing; the caller reloads and decides again.
	// Adapters run it in the caller's unit of work when one is active.
	CommitRouting(ctx context.Context, c RoutingCommit) error
	// ReleaseLoad lowers the open load of user by one (never below zero),
	// when an item it held is closed or reassigned.
	ReleaseLoad(ctx context.Context, ruleSet string, user crm.ID) error
}

// RoutingCommit is one decision to persist; see [RoutingStore.CommitRouting].
type RoutingCommit struct {
	RuleSet string
	Day     string
	Decision
	// Capacity and DailyQuota are the chosen member's limits, enforced by
	// the conditional update.
	Capacity, DailyQuota int
}

// Rules returns the names of the rules whose cursors a state holds, in
// rule-set order.
func (s *State) Rules() []string {
	out := make([]string, len(s.router.rules))
	for i := range s.router.rules {
		out[i] = s.router.rules[i].name
	}
	return out
}

// Members returns the user IDs of the members whose load a state holds.
func (s *State) Members() []crm.ID {
	out := make([]crm.ID, len(s.router.members))
	for i := range s.router.members {
		out[i] = s.router.members[i].UserID
	}
	return out
}

// maxRouteAttempts bounds retries when other instances keep winning the
// compare-and-swap.
const maxRouteAttempts = 8

// Route loads the state from store, decides, and commits the decision,
// deciding again when another instance changed the state in between. Hosts
// call it inside the unit of work that also assigns the record, so the
// assignment and the state change commit together. A decision for a queue
// commits nothing. After repeated conflicts it returns an error matching
// [crm.ErrConflict].
func (r *Router) Route(ctx context.Context, store RoutingStore, req *Request) (Decision, error) {
	if store == nil {
		return Decision{}, crm.Invalid("store", "is required")
	}
	day := ""
	if req != nil {
		day = r.Day(req.Now)
	}
	for attempt := 0; attempt < maxRouteAttempts; attempt++ {
		st := r.NewState()
		if err := r.check(st, req); err != nil {
			return Decision{}, err
		}
		if err := store.LoadRouting(ctx, r.set.Name, day, st); err != nil {
			return Decision{}, fmt.Errorf("workflow: route: load state: %w", err)
		}
		d := r.decide(st, req, nil)
		if d.UserID == crm.NilID {
			return d, nil
		}
		m := &r.members[r.byUser[d.UserID]]
		err := store.CommitRouting(ctx, RoutingCommit{RuleSet: r.set.Name, Day: day, Decision: d, Capacity: m.Capacity, DailyQuota: m.DailyQuota})
		if errors.Is(err, crm.ErrConflict) {
			continue
		}
		if err != nil {
			return Decision{}, fmt.Errorf("workflow: route: commit: %w", err)
		}
		return d, nil
	}
	return Decision{}, fmt.Errorf("workflow: route: state changed %d times in a row: %w", maxRouteAttempts, crm.ErrConflict)
}
