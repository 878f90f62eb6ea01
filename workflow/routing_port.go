package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
	// when an item it held is closed or reassigned. ruleSet is a name a
	// [Router] checked ([MaxRuleSetNameLen], valid text); hosts call
	// [Router.ReleaseLoad], which passes its own.
	ReleaseLoad(ctx context.Context, ruleSet string, user crm.ID) error
}

// ReleaseLoad lowers user's open load in the router's rule set by one
// (never below zero) through store, when a record routed to them is closed
// or reassigned. It passes the rule set's own checked name, so no host
// string reaches the store's keys. A zero user is a [*crm.ValidationError]
// on "user_id".
func (r *Router) ReleaseLoad(ctx context.Context, store RoutingStore, user crm.ID) error {
	switch {
	case store == nil:
		return crm.Invalid("store", "is required")
	case user == crm.NilID:
		return crm.Invalid("user_id", "is required")
	}
	if err := store.ReleaseLoad(ctx, r.set.Name, user); err != nil {
		return fmt.Errorf("workflow: release load of %s: %w", user, err)
	}
	return nil
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
		// The day keys the daily counts: keep it "YYYY-MM-DD".
		if y := req.Now.In(r.loc).Year(); !req.Now.IsZero() && (y < 1 || y > 9999) {
			return Decision{}, crm.Invalid("now", "year %d is outside 1-9999", y)
		}
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

// RouteTx is what [Router.RouteTx] needs of a unit of work: the routing
// port and the outbox. [Tx] satisfies it.
type RouteTx interface {
	Routing() RoutingStore
	Events() crm.EventWriter
}

// RouteTx routes the record with ID record like [Router.Route] inside the
// unit of work tx and appends the decision's event ([Router.Event]) to the
// outbox, so the routing state, the event and whatever else the host
// writes in tx (the record's new owner) commit together or not at all.
func (r *Router) RouteTx(ctx context.Context, tx RouteTx, ids crm.IDGenerator, record crm.ID, req *Request) (Decision, error) {
	switch {
	case tx == nil || ids == nil:
		return Decision{}, crm.Invalid("tx", "a unit of work and an id generator are required")
	case record == crm.NilID:
		return Decision{}, crm.Invalid("record_id", "is required")
	}
	d, err := r.Route(ctx, tx.Routing(), req)
	if err != nil {
		return Decision{}, err
	}
	ev, err := r.Event(ids, record, &d, req.Now)
	if err != nil {
		return Decision{}, err
	}
	if err := tx.Events().Append(ctx, &ev); err != nil {
		return Decision{}, fmt.Errorf("workflow: route: append event: %w", err)
	}
	return d, nil
}

// EventRouted is the verb of routing events, written after the rule set's
// record type: a routed lead is [EventLeadRouted]; any record type's is
// [RoutedEventType]. The payload is [RoutedPayload].
const EventRouted = "routed"

// EventLeadRouted is the routing event of a lead ([Router.Event] of a
// rule set for leads, as crmkit's lead capture and conversion write it),
// with the lead as subject and the system as actor; payload [RoutedPayload].
const EventLeadRouted crm.EventType = "lead.routed"

// RoutedEventType returns the type of the routing event of a record type:
// "<record type>.routed".
func RoutedEventType(rt crm.RecordType) crm.EventType {
	return crm.EventType(string(rt) + "." + EventRouted)
}

// RoutedPayload is the payload of routing events ([RoutedEventType]): the rule
// set and rule that decided, the user or the queue chosen, and whether it
// was the fallback or the sticky owner.
type RoutedPayload struct {
	RuleSet  string `json:"rule_set"`
	Rule     string `json:"rule,omitempty"`
	UserID   crm.ID `json:"user_id,omitzero"`
	Queue    string `json:"queue,omitempty"`
	Fallback bool   `json:"fallback,omitempty"`
	Sticky   bool   `json:"sticky,omitempty"`
}

// Event returns the outbox event of decision d for the record with ID
// record, made at at: type "<record type>.routed" (the rule set's record
// type), subject the record, actor the system, and a payload with the rule
// set, the rule, the user or queue, and whether it was a fallback or the
// sticky owner.
func (r *Router) Event(ids crm.IDGenerator, record crm.ID, d *Decision, at time.Time) (crm.Event, error) {
	switch {
	case ids == nil:
		return crm.Event{}, crm.Invalid("ids", "is required")
	case record == crm.NilID:
		return crm.Event{}, crm.Invalid("record_id", "is required")
	case d == nil || (d.UserID == crm.NilID) == (d.Queue == ""):
		return crm.Event{}, crm.Invalid("decision", "must name exactly one of a user and a queue")
	case at.IsZero():
		return crm.Event{}, crm.Invalid("at", "is required")
	}
	typ := RoutedEventType(r.set.RecordType)
	payload, err := json.Marshal(RoutedPayload{RuleSet: r.set.Name, Rule: d.Rule, UserID: d.UserID, Queue: d.Queue, Fallback: d.Fallback, Sticky: d.Sticky})
	if err != nil {
		return crm.Event{}, fmt.Errorf("workflow: encode %s payload: %w", typ, err)
	}
	e := crm.Event{ID: ids.NewID(), Type: typ, Subject: crm.Ref{Type: r.set.RecordType, ID: record}, OccurredAt: at, Payload: payload}
	return e, e.Validate()
}
