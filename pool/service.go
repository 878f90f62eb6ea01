package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// CascadeAction says what happens to a customer's related records when its
// owner changes.
type CascadeAction string

// Cascade actions.
const (
	// CascadeKeep leaves related records with whoever owns them.
	CascadeKeep CascadeAction = "keep"
	// CascadeFollow gives related records the customer's new owner (none
	// when the customer goes back to a pool). For opportunities only open
	// ones follow; for follow-up plans it clears plans of the previous
	// owner still in the future.
	CascadeFollow CascadeAction = "follow"
)

// CascadeRule lists what happens to each kind of related record.
type CascadeRule struct {
	// Contacts: keep or follow. Defaults to keep.
	Contacts CascadeAction `json:"contacts,omitempty"`
	// OpenOpportunities: keep or follow. Defaults to keep.
	OpenOpportunities CascadeAction `json:"open_opportunities,omitempty"`
	// FollowUpPlans: keep, or follow to clear the previous owner's planned
	// next follow-ups (Activity.NextFollowUpAt in the future). Defaults to
	// keep.
	FollowUpPlans CascadeAction `json:"follow_up_plans,omitempty"`
}

// Cascade is the cascade policy: OnRelease applies when a customer returns
// to a pool (release, recycle), OnClaim when it gets a new owner (claim,
// assign, transfer).
type Cascade struct {
	OnRelease CascadeRule `json:"on_release"`
	OnClaim   CascadeRule `json:"on_claim"`
}

// CollisionMode says what a collision does at one entry point.
type CollisionMode string

// Collision modes.
const (
	// CollisionBlock refuses the operation with a [*CollisionError].
	CollisionBlock CollisionMode = "block"
	// CollisionWarn lets the operation proceed and lists the collisions in
	// [Result.Warnings].
	CollisionWarn CollisionMode = "warn"
	// CollisionOff skips the check.
	CollisionOff CollisionMode = "off"
)

// DuplicateChecker finds stored customers that may be the same as c. It
// runs inside the operation's unit of work and must not return c's own ID.
// Implementations must be safe for concurrent use. The pool package
// imports no other domain: the root package crmkit provides the
// implementation backed by the dedupe package's match keys and wires it
// into [Config.Duplicates]; a host may supply its own.
type DuplicateChecker interface {
	Duplicates(ctx context.Context, tx crm.Tx, c *crm.Customer) ([]crm.ID, error)
}

// CustomerIndexer keeps the match keys of customers the pool writes, so
// the [DuplicateChecker] finds them. When [Config.Duplicates] also
// implements CustomerIndexer (found by type assertion), [Service.Create]
// calls IndexCustomer after storing the new customer and [Service.Enter]
// after the customer entered a pool, in the same unit of work (tx); an
// error fails the operation and nothing of it is kept. c is the stored
// customer; the indexer must not keep it. Implementations must be safe for
// concurrent use.
type CustomerIndexer interface {
	IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error
}

// index hands c to the configured [CustomerIndexer], if any.
func (u *unit) index(ctx context.Context, c *crm.Customer) error {
	ix, ok := u.s.cfg.Duplicates.(CustomerIndexer)
	if !ok {
		return nil
	}
	if err := ix.IndexCustomer(ctx, u.tx, c); err != nil {
		return fmt.Errorf("index customer %s: %w", c.ID, err)
	}
	return nil
}

// maxSweepWorkers bounds [Config.SweepWorkers]: far more than any
// database server has cores to give one sweep.
const maxSweepWorkers = 64

// Config configures a [Service]. Nil means defaults.
type Config struct {
	// Clock tells the time. Defaults to crm.SystemClock.
	Clock crm.Clock
	// IDs makes ledger entry (and so event) IDs. Defaults to crm.UUIDv7 on Clock.
	IDs crm.IDGenerator
	// Authorizer decides permissions. Defaults to DefaultAuthorizer{}.
	Authorizer Authorizer
	// Duplicates finds colliding customers. Defaults to nil: no collision
	// checks.
	Duplicates DuplicateChecker
	// Limits are the service-wide owned_customers and locked_customers
	// limits (see [Limit] for how they resolve). Defaults to none.
	Limits []Limit
	// Cascade is the cascade policy. Defaults to keep for everything.
	Cascade Cascade
	// CollisionOnCreate is the collision mode of [Service.Create].
	// Defaults to CollisionBlock.
	CollisionOnCreate CollisionMode
	// CollisionOnClaim is the collision mode of [Service.Claim] and
	// [Service.Assign]. Defaults to CollisionBlock.
	CollisionOnClaim CollisionMode
	// SweepBatch is how many customers one unit of work of
	// [Service.Sweep] recycles. Defaults to 500.
	SweepBatch int
	// SweepWorkers is how many batches one [Service.Sweep] call runs at
	// once, each in its own unit of work on its own connection. Batches
	// never share a customer (each skips what another holds), so more
	// workers only divide the work; on PostgreSQL they use as many server
	// cores. A store that serialises units of work (memstore) gains
	// nothing from more than one. At most 64. Defaults to 1.
	SweepWorkers int
	// ClaimInUnitOfWork makes every claim run in a unit of work, even when
	// the store can store one in a single conditional write
	// ([ClaimStore]). Set it when the Authorizer must read inside the
	// claim's transaction. Defaults to false.
	ClaimInUnitOfWork bool
}

func (c *Config) validate() error {
	var v crm.Problems
	validateLimits(&v, "limits", c.Limits, false)
	for _, m := range []struct {
		f string
		m CollisionMode
	}{{"collision_on_create", c.CollisionOnCreate}, {"collision_on_claim", c.CollisionOnClaim}} {
		if m.m != CollisionBlock && m.m != CollisionWarn && m.m != CollisionOff {
			v.Add(m.f, "must be block, warn or off, got %q", trunc(string(m.m)))
		}
	}
	for _, r := range []struct {
		f string
		r CascadeRule
	}{{"cascade.on_release", c.Cascade.OnRelease}, {"cascade.on_claim", c.Cascade.OnClaim}} {
		for _, a := range []struct {
			f string
			a CascadeAction
		}{{"contacts", r.r.Contacts}, {"open_opportunities", r.r.OpenOpportunities}, {"follow_up_plans", r.r.FollowUpPlans}} {
			if a.a != CascadeKeep && a.a != CascadeFollow {
				v.Add(r.f+"."+a.f, "must be keep or follow, got %q", trunc(string(a.a)))
			}
		}
	}
	if c.SweepBatch < 1 || c.SweepBatch > crm.MaxPageLimit {
		v.Add("sweep_batch", "must be between 1 and %d, got %d", crm.MaxPageLimit, c.SweepBatch)
	}
	if c.SweepWorkers < 1 || c.SweepWorkers > maxSweepWorkers {
		v.Add("sweep_workers", "must be between 1 and %d, got %d", maxSweepWorkers, c.SweepWorkers)
	}
	return v.Err()
}

func (c *Config) withDefaults() Config {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.Clock == nil {
		out.Clock = crm.SystemClock{}
	}
	if out.IDs == nil {
		out.IDs = crm.UUIDv7{Clock: out.Clock}
	}
	if out.Authorizer == nil {
		out.Authorizer = DefaultAuthorizer{}
	}
	for _, r := range []*CascadeRule{&out.Cascade.OnRelease, &out.Cascade.OnClaim} {
		for _, a := range []*CascadeAction{&r.Contacts, &r.OpenOpportunities, &r.FollowUpPlans} {
			if *a == "" {
				*a = CascadeKeep
			}
		}
	}
	if out.CollisionOnCreate == "" {
		out.CollisionOnCreate = CollisionBlock
	}
	if out.CollisionOnClaim == "" {
		out.CollisionOnClaim = CollisionBlock
	}
	if out.SweepBatch == 0 {
		out.SweepBatch = 500
	}
	if out.SweepWorkers == 0 {
		out.SweepWorkers = 1
	}
	return out
}

// Service runs pool operations against a store whose units of work
// implement [Tx]. Every operation is one unit of work: its checks, counter
// updates, ledger entry (its event) and other events commit together or
// not at all. It is safe
// for concurrent use and starts no goroutine that outlives a call.
type Service struct {
	store   crm.Store
	cfg     Config
	entries entryCache
}

// New returns a Service over store. A nil cfg means defaults.
func New(store crm.Store, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("pool: new: %w", crm.Invalid("store", "is required"))
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("pool: new: %w", err)
	}
	return &Service{store: store, cfg: c}, nil
}

// Result is the outcome of an ownership operation.
type Result struct {
	// Entry is the ledger entry the operation wrote.
	Entry Entry `json:"entry"`
	// Holding is the customer's state after the operation.
	Holding Holding `json:"holding"`
	// Warnings lists collisions let through in [CollisionWarn] mode.
	Warnings []Standing `json:"warnings,omitempty"`
	// Replayed is true when the result was stored by an earlier request with
	// the same idempotency key and nothing was done this time.
	Replayed bool `json:"-"`
}

// unit is one operation's unit of work.
type unit struct {
	s   *Service
	tx  Tx
	now time.Time
}

// nilTx stands for a nil tx handed to a Tx form, so that the form fails
// with [crm.ErrUnsupported] instead of starting a unit of work of its own.
type nilTx struct{ crm.Tx }

// joined returns the caller's unit of work t for exec, never nil.
func joined(t crm.Tx) crm.Tx {
	if t == nil {
		return nilTx{}
	}
	return t
}

// run executes fn in a unit of work of its own.
func (s *Service) run(ctx context.Context, name string, fn func(ctx context.Context, u *unit) error) error {
	return s.exec(ctx, nil, name, fn)
}

// exec executes fn inside t, the caller's unit of work, or in a unit of
// work of its own when t is nil. Every mutating operation goes through
// here, so its plain form and its Tx form share one code path.
func (s *Service) exec(ctx context.Context, t crm.Tx, name string, fn func(ctx context.Context, u *unit) error) error {
	var err error
	if t == nil {
		err = s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error { return s.within(ctx, t, fn) })
	} else {
		err = s.within(ctx, t, fn)
	}
	if err != nil {
		return fmt.Errorf("pool: %s: %w", name, err)
	}
	return nil
}

// within runs fn with t's pool ports.
func (s *Service) within(ctx context.Context, t crm.Tx, fn func(ctx context.Context, u *unit) error) error {
	tx, err := portsOf(t)
	if err != nil {
		return err
	}
	return fn(ctx, &unit{s: s, tx: tx, now: crm.StorageTime(s.cfg.Clock.Now())})
}

// portsOf returns t's pool ports, or an error matching [crm.ErrUnsupported].
func portsOf(t crm.Tx) (Tx, error) {
	if _, ok := t.(nilTx); ok {
		return nil, fmt.Errorf("tx is nil: %w", crm.ErrUnsupported)
	}
	if tx, ok := t.(Tx); ok {
		return tx, nil
	}
	tx, ok := crm.As[Tx](t)
	if !ok {
		return nil, fmt.Errorf("storage adapter %T has no pool ports: %w", t, crm.ErrUnsupported)
	}
	return joinedTx{Tx: t, ports: tx}, nil
}

// joinedTx is a wrapped unit of work seen as a pool [Tx]: the shared
// records through the wrapper, so a recording wrapper (package history)
// sees every write, and the pool ports of the adapter inside it.
type joinedTx struct {
	crm.Tx
	ports Tx
}

// Pools implements [Tx].
func (j joinedTx) Pools() Pools { return j.ports.Pools() }

// PoolHoldings implements [Tx].
func (j joinedTx) PoolHoldings() Holdings { return j.ports.PoolHoldings() }

// PoolLedger implements [Tx].
func (j joinedTx) PoolLedger() Ledger { return j.ports.PoolLedger() }

// PoolCounters implements [Tx].
func (j joinedTx) PoolCounters() Counters { return j.ports.PoolCounters() }

// PoolRequests implements [Tx].
func (j joinedTx) PoolRequests() Requests { return j.ports.PoolRequests() }

// Unwrap implements [crm.TxWrapper].
func (j joinedTx) Unwrap() crm.Tx { return j.Tx }

// request is what every ownership operation shares.
type request struct {
	op       Op
	actor    crm.ID
	customer crm.ID
	key      string
}

func (r *request) validate(v *crm.Problems, system bool) {
	if r.actor == crm.NilID && !system {
		v.Add("actor", "is required")
	}
	if r.customer == crm.NilID {
		v.Add("customer_id", "is required")
	}
	idempotencyKey(v, r.key)
}

// MaxIdempotencyKeyLen is the longest idempotency key an operation accepts,
// in bytes.
const MaxIdempotencyKeyLen = 200

// ReservedKeyPrefix starts the idempotency keys the package records itself
// (see [Service.Claim]); a caller's key may not start with it.
const ReservedKeyPrefix = "crmkit:"

// idempotencyKey checks a caller's idempotency key: at most
// [MaxIdempotencyKeyLen] bytes of valid UTF-8 without control characters
// (PostgreSQL refuses NUL and invalid UTF-8 in text, and a key is part of a
// unique index), and not in the package's reserved namespace. Every
// adapter then gets the same answer: a [*crm.ValidationError] on
// "idempotency_key".
func idempotencyKey(v *crm.Problems, key string) {
	switch {
	case key == "":
	case len(key) > MaxIdempotencyKeyLen:
		v.Add("idempotency_key", "is longer than %d bytes", MaxIdempotencyKeyLen)
	case !utf8.ValidString(key):
		v.Add("idempotency_key", "is not valid UTF-8")
	case strings.ContainsFunc(key, unicode.IsControl):
		v.Add("idempotency_key", "contains a control character")
	case strings.HasPrefix(key, ReservedKeyPrefix):
		v.Add("idempotency_key", "starts with the reserved prefix %q", ReservedKeyPrefix)
	}
}

// operate runs one ownership operation inside t (nil: a unit of work of
// its own; see exec): it locks the customer's holding, answers a repeated
// idempotency key with the stored result, reads the customer (refusing a
// merged one with [ErrMerged]; Create has none yet and gets nil), else runs
// fn and stores its result under the key.
func (s *Service) operate(ctx context.Context, t crm.Tx, r request, extra func(*crm.Problems), fn func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error)) (*Result, error) {
	var v crm.Problems
	r.validate(&v, r.op == OpEnter)
	if extra != nil {
		extra(&v)
	}
	name := fmt.Sprintf("%s %s", r.op, r.customer)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("pool: %s: %w", name, err)
	}
	var res *Result
	err := s.exec(ctx, t, name, func(ctx context.Context, u *unit) error {
		res = nil
		h, err := u.tx.PoolHoldings().Get(ctx, r.customer)
		if err != nil && !errors.Is(err, crm.ErrNotFound) {
			return err
		}
		// The holding is locked now, so a concurrent first attempt with the
		// same key has committed (and is visible) or not started.
		if r.key != "" {
			got, err := u.replay(ctx, r)
			if err != nil || got != nil {
				res = got
				return err
			}
		} else if r.op == OpClaim && h != nil && h.OwnerID == r.actor {
			// A claim without a key by the owner: a retry if the owner's
			// claim is the holding's latest change (see claimKey).
			got, err := u.replay(ctx, request{op: r.op, actor: r.actor, customer: r.customer, key: claimKey(r.customer, h.Version-1)})
			if err != nil && !errors.Is(err, ErrKeyReused) {
				return err
			}
			if got != nil {
				got.Holding = *h
				res = got
				return nil
			}
		}
		key := r.key
		if key == "" && r.op == OpClaim && h != nil {
			key = claimKey(r.customer, h.Version)
		}
		tracked := h != nil || r.op == OpEnter || r.op == OpCreate
		var c *crm.Customer
		if r.op != OpCreate {
			c, err = u.customer(ctx, r.customer)
			switch {
			case errors.Is(err, crm.ErrNotFound) && !tracked:
				return ErrNotInPool
			case err != nil:
				return err
			}
			if err := notMerged(c); err != nil {
				return err
			}
		}
		if !tracked {
			return ErrNotInPool
		}
		out, err := fn(ctx, u, h, c)
		if err != nil {
			return err
		}
		if key != "" {
			b, err := json.Marshal(out)
			if err != nil {
				return err
			}
			if err := u.tx.PoolRequests().Put(ctx, &Request{Key: key, Op: r.op, CustomerID: r.customer, ActorID: r.actor, Result: b}); err != nil {
				return err
			}
		}
		res = out
		return nil
	})
	return res, err
}

// claimKey is the idempotency key recorded by a claim that carries none of
// its own, so that a claim retried after an unknown outcome
// ([crm.ErrOutcomeUnknown]) returns the first result instead of [ErrTaken]:
// the customer and the holding Version the claim decided on, under
// [ReservedKeyPrefix]. Only one claim can succeed from a given Version, and
// it leaves the holding at the next one (every store increments Version by
// one per update). So the owner's keyless claim of a holding at Version v
// looks for the key of v-1: found, the owner's claim is the holding's
// latest change and the call is its retry; not found (anything changed
// the holding since, or the owner got it another way), the claim is
// decided afresh and refused with ErrTaken. A claim after a release is
// never confused with an earlier one: the customer is pooled again and
// the holding's Version has moved on.
func claimKey(customer crm.ID, version int64) string {
	return ReservedKeyPrefix + "claim:" + customer.String() + ":" + strconv.FormatInt(version, 10)
}

// notMerged refuses a customer merged into another with [ErrMerged].
func notMerged(c *crm.Customer) error {
	into, merged := c.MergedInto()
	switch {
	case !merged:
		return nil
	case into == crm.NilID:
		return ErrMerged
	}
	return fmt.Errorf("%w (survivor %s)", ErrMerged, into)
}

func (u *unit) replay(ctx context.Context, r request) (*Result, error) {
	rec, err := u.tx.PoolRequests().Get(ctx, r.key)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Op != r.op || rec.CustomerID != r.customer || rec.ActorID != r.actor {
		return nil, ErrKeyReused
	}
	var res Result
	if err := json.Unmarshal(rec.Result, &res); err != nil {
		return nil, fmt.Errorf("decode stored result of key %q: %w", trunc(r.key), err)
	}
	res.Replayed = true
	return &res, nil
}

// actor loads an active user.
func (u *unit) actor(ctx context.Context, id crm.ID, field string) (*crm.User, error) {
	usr, err := u.tx.Users().Get(ctx, id)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, crm.Invalid(field, "unknown user %s", id)
	}
	if err != nil {
		return nil, err
	}
	if !usr.Active {
		return nil, fmt.Errorf("user %s is inactive: %w", id, crm.ErrPermissionDenied)
	}
	return usr, nil
}

func (u *unit) pool(ctx context.Context, id crm.ID, field string) (*Pool, error) {
	if id == crm.NilID {
		return nil, nil
	}
	p, err := u.tx.Pools().Get(ctx, id)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, crm.Invalid(field, "unknown pool %s", id)
	}
	return p, err
}

func (u *unit) authorize(ctx context.Context, a *Access) error {
	return u.s.cfg.Authorizer.Authorize(ctx, u.tx, a)
}

// counter keys
func ownedKey(user crm.ID) string     { return "pool/owned/" + user.String() }
func ownedOpenKey(user crm.ID) string { return "pool/owned_open/" + user.String() }
func lockedKey(user crm.ID) string    { return "pool/locked/" + user.String() }
func claimsKey(p *Pool, user crm.ID, at time.Time) string {
	return "pool/claims/" + p.ID.String() + "/" + user.String() + "/" + at.In(p.Location()).Format(time.DateOnly)
}

// strictest returns the smallest Max among ls and whether there is one.
func strictest(ls []*Limit, keep func(*Limit) bool) (int64, bool) {
	max, found := int64(NoMax), false
	for _, l := range ls {
		if keep(l) && int64(l.Max) < max {
			max, found = int64(l.Max), true
		}
	}
	return max, found
}

// add bumps a counter within max, turning a refusal into a *crm.LimitError.
func (u *unit) add(ctx context.Context, key string, delta, max int64, limit string) error {
	cur, ok, err := u.tx.PoolCounters().Add(ctx, key, delta, max)
	if err != nil {
		return err
	}
	if !ok {
		return &crm.LimitError{Limit: limit, Max: max, Current: cur}
	}
	return nil
}

// counterChange is one change a unit of work makes to a counter: delta
// within max ([NoMax]: never refused); limit names what a refusal exceeds.
type counterChange struct {
	key        string
	delta, max int64
	limit      LimitKind
}

// apply makes every counter change of one operation, in key order.
//
// [Counters.Add] locks its counter until the unit of work ends, so the
// order of the calls is the order the unit of work takes those locks.
// Every operation takes its counters through here, in one global order,
// so no two units of work ever wait on each other's counters in a cycle:
// a transfer from A to B and one from B to A both lock A's counters
// first. The sort is stable, so changes to one key keep their order (an
// increment listed before a decrement never passes below zero on the way).
func (u *unit) apply(ctx context.Context, changes []counterChange) error {
	slices.SortStableFunc(changes, func(a, b counterChange) int { return strings.Compare(a.key, b.key) })
	for _, c := range changes {
		if err := u.add(ctx, c.key, c.delta, c.max, string(c.limit)); err != nil {
			return err
		}
	}
	return nil
}

// released turns the counter changes that uncount a previous owner into
// counter changes.
func released(changes []counterChange, deltas []counterDelta) []counterChange {
	for _, d := range deltas {
		changes = append(changes, counterChange{key: d.key, delta: d.delta, max: NoMax})
	}
	return changes
}

// counted turns limit checks into counter changes of one each.
func counted(changes []counterChange, checks []limitCheck) []counterChange {
	for _, ck := range checks {
		changes = append(changes, counterChange{key: ck.Key, delta: 1, max: ck.Max, limit: ck.limit})
	}
	return changes
}

// limitCheck is one counter an operation adds one to, within the limit it
// enforces.
type limitCheck struct {
	CounterCheck
	limit LimitKind
}

// ownedChecks appends the owned-customer counters that taking c counts
// against usr's limits.
func (s *Service) ownedChecks(checks []limitCheck, usr *crm.User, c *crm.Customer) []limitCheck {
	ls := resolveLimits(s.cfg.Limits, OwnedCustomers, usr)
	all, _ := strictest(ls, func(l *Limit) bool { return l.CountDealt })
	checks = append(checks, limitCheck{CounterCheck{ownedKey(usr.ID), all}, OwnedCustomers})
	if c.Status != crm.CustomerDealt {
		open, _ := strictest(ls, func(l *Limit) bool { return !l.CountDealt })
		checks = append(checks, limitCheck{CounterCheck{ownedOpenKey(usr.ID), open}, OwnedCustomers})
	}
	return checks
}

// claimChecks returns the counters a claim of c by usr from p adds one to:
// the daily claims (every claim counts, and releases never uncount, so
// claim-release loops cannot get around the limit), then the owned
// customers. The order is the counters' key order, so units of work lock
// them in one order.
func (s *Service) claimChecks(p *Pool, usr *crm.User, c *crm.Customer, now time.Time) []limitCheck {
	daily, _ := strictest(resolveLimits(p.Limits, DailyClaims, usr), func(*Limit) bool { return true })
	checks := make([]limitCheck, 1, 3)
	checks[0] = limitCheck{CounterCheck{claimsKey(p, usr.ID, now), daily}, DailyClaims}
	return s.ownedChecks(checks, usr, c)
}

// addAll adds one to each counter within its max, in key order.
func (u *unit) addAll(ctx context.Context, checks []limitCheck) error {
	var buf [3]counterChange
	return u.apply(ctx, counted(buf[:0], checks))
}

// assignOwner makes usr the owner of h and c from now, starting p's
// protection period.
func assignOwner(h *Holding, c *crm.Customer, usr *crm.User, p *Pool, now time.Time) {
	h.OwnerID, h.OwnerDepartmentID, h.Dealt, h.OwnedSince = usr.ID, usr.DepartmentID, c.Status == crm.CustomerDealt, now
	h.ProtectedUntil = time.Time{}
	if p != nil && p.ProtectionDays > 0 {
		h.ProtectedUntil = now.Add(time.Duration(p.ProtectionDays) * 24 * time.Hour)
	}
	c.OwnerID, c.DepartmentID, c.PoolID = usr.ID, usr.DepartmentID, crm.NilID
}

// takeOwner counts c against usr's owned-customer limits and makes usr the
// owner of h and c. also are the operation's other counter changes (a
// transfer's uncounting of the previous owner), made with these in one
// key order.
func (u *unit) takeOwner(ctx context.Context, h *Holding, c *crm.Customer, usr *crm.User, p *Pool, also []counterChange) error {
	var buf [2]limitCheck
	if err := u.apply(ctx, counted(also, u.s.ownedChecks(buf[:0], usr, c))); err != nil {
		return err
	}
	assignOwner(h, c, usr, p, u.now)
	return nil
}

// counterDelta is one change to a counter.
type counterDelta struct {
	key   string
	delta int64
}

// releaseOwner leaves h and c unowned and appends the counter changes that
// uncount the previous owner.
func releaseOwner(h *Holding, c *crm.Customer, deltas []counterDelta) []counterDelta {
	owner := h.OwnerID
	deltas = append(deltas, counterDelta{ownedKey(owner), -1})
	if !h.Dealt {
		deltas = append(deltas, counterDelta{ownedOpenKey(owner), -1})
	}
	if h.Locked {
		deltas = append(deltas, counterDelta{lockedKey(owner), -1})
	}
	unown(h, c)
	return deltas
}

// unown leaves h and c unowned; the caller uncounts the previous owner.
func unown(h *Holding, c *crm.Customer) {
	h.Locked = false
	h.OwnerID, h.OwnerDepartmentID, h.OwnedSince, h.ProtectedUntil = crm.NilID, crm.NilID, time.Time{}, time.Time{}
	h.DueAt, h.DueReason, h.DueRuleID = time.Time{}, "", ""
	c.OwnerID, c.DepartmentID = crm.NilID, crm.NilID
}

// dropOwner uncounts the owner and leaves h and c unowned.
func (u *unit) dropOwner(ctx context.Context, h *Holding, c *crm.Customer) error {
	var buf [3]counterDelta
	var changes [3]counterChange
	return u.apply(ctx, released(changes[:0], releaseOwner(h, c, buf[:0])))
}

// toPool puts an unowned h and c into pool p.
func (u *unit) toPool(h *Holding, c *crm.Customer, p *Pool, previousOwner crm.ID) {
	h.PoolID, h.EnteredAt = p.ID, u.now
	c.PoolID = p.ID
	if previousOwner != crm.NilID {
		h.PreviousOwnerID = previousOwner
		h.PreviousOwnerUntil = u.now.Add(time.Duration(p.PreviousOwnerCooldownDays) * 24 * time.Hour)
	}
}

// schedule recomputes h's due time under p.
func schedule(h *Holding, c *crm.Customer, p *Pool) {
	h.DueAt, h.DueReason, h.DueRuleID = time.Time{}, "", ""
	if p == nil || !h.Owned() {
		return
	}
	due, why, rule := p.Due(FactsOf(c, h))
	if rule != nil {
		h.DueAt, h.DueReason, h.DueRuleID = due, why, rule.ID
	}
}

// save writes the holding (creating it when new) and the customer.
func (u *unit) save(ctx context.Context, h *Holding, c *crm.Customer, isNew bool) error {
	if isNew {
		if err := u.tx.PoolHoldings().Create(ctx, h); err != nil {
			return err
		}
	} else if err := u.tx.PoolHoldings().Update(ctx, h); err != nil {
		return err
	}
	return u.tx.Customers().Update(ctx, c)
}

// record appends the ledger entry, which the store keeps as its event too.
func (u *unit) record(ctx context.Context, e *Entry) error {
	e.ID, e.At = u.s.cfg.IDs.NewID(), u.now
	return u.tx.PoolLedger().Append(ctx, e)
}

func (u *unit) customer(ctx context.Context, id crm.ID) (*crm.Customer, error) {
	return u.tx.Customers().Get(ctx, id)
}

// finish schedules, saves, cascades and records one operation.
func (u *unit) finish(ctx context.Context, h *Holding, c *crm.Customer, p *Pool, e *Entry, isNew bool, cascade *CascadeRule, prevOwner crm.ID) (*Result, error) {
	schedule(h, c, p)
	if err := u.save(ctx, h, c, isNew); err != nil {
		return nil, err
	}
	if cascade != nil {
		if err := u.cascade(ctx, c.ID, prevOwner, c.OwnerID, cascade); err != nil {
			return nil, err
		}
	}
	if err := u.record(ctx, e); err != nil {
		return nil, err
	}
	return &Result{Entry: *e, Holding: *h}, nil
}

// ClaimRequest asks to claim a pooled customer for Actor.
type ClaimRequest struct {
	Actor      crm.ID
	CustomerID crm.ID
	// IdempotencyKey, when set, makes a retried claim return the first
	// result instead of claiming again. A claim without one records a key
	// of its own (see [Service.Claim]).
	IdempotencyKey string
}

// Claim makes the actor the owner of a customer sitting in a pool (领取).
// It refuses, with nothing changed: a customer not in a pool
// ([ErrNotInPool]) or already owned ([ErrTaken]); a non-member
// ([crm.ErrPermissionDenied]); a claim during a cooldown
// ([*CooldownError]); a claim beyond the daily or owned-customer limits
// ([*crm.LimitError]); and a collision in block mode ([*CollisionError]).
//
// When the store implements [ClaimStore] (pgstore) and the claim carries
// no idempotency key, consults no duplicate checker and cascades nothing
// ([Config.ClaimInUnitOfWork] unset), Claim reads the state without locks,
// decides, and stores the decision with one conditional write that holds
// only if nothing it decided on changed; otherwise it decides again. The
// [Authorizer] then reads through the store's own repositories. The
// invariants are the same either way.
//
// # Outcome and retries
//
// A claim whose context ends is either stored (Claim returns its result)
// or not (Claim returns the context's error); stores wait for the answer
// of a commit they sent. Only when that answer is lost (a broken
// connection) does Claim return an error matching [crm.ErrOutcomeUnknown]:
// the claim may have been stored. Retry the same request then. Every claim
// records its result under an idempotency key (the caller's, or one of its
// own made from the customer and the holding version it decided on), so
// the retry returns the first result with [Result.Replayed] set if the
// claim was stored and nothing changed the customer since, and claims
// afresh if it was not. The same actor claiming a customer they already
// own by that very claim gets the same replay; after any later change
// (a lock, a release, a transfer) the claim is decided anew.
func (s *Service) Claim(ctx context.Context, req ClaimRequest) (*Result, error) {
	if cs, ok := crm.AsStore[ClaimStore](s.store); ok && s.oneWriteClaims() && req.IdempotencyKey == "" {
		if res, err, decided := s.claimOneWrite(ctx, cs, req); decided {
			return res, err
		}
	}
	return s.claim(ctx, nil, req)
}

// ClaimTx is [Service.Claim] inside tx, a unit of work the caller holds
// (from [crm.Store.InTx], or a host transaction such as pgstore's
// Store.WithTx); it never takes the one-write path of [ClaimStore], and
// nothing it wrote is kept unless the caller commits. It returns an error
// matching [crm.ErrUnsupported] when tx lacks the pool ports ([Tx]).
func (s *Service) ClaimTx(ctx context.Context, tx crm.Tx, req ClaimRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpClaim))
	return s.claim(ctx, joined(tx), req)
}

func (s *Service) claim(ctx context.Context, t crm.Tx, req ClaimRequest) (*Result, error) {
	r := request{op: OpClaim, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, nil, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		if err := claimable(h); err != nil {
			return nil, err
		}
		usr, err := u.actor(ctx, req.Actor, "actor")
		if err != nil {
			return nil, err
		}
		p, err := u.pool(ctx, h.PoolID, "pool_id")
		if err != nil {
			return nil, err
		}
		if err := s.mayClaim(ctx, u.tx, u.now, h, usr, p, c); err != nil {
			return nil, err
		}
		warnings, err := u.collisions(ctx, usr, c, u.s.cfg.CollisionOnClaim)
		if err != nil {
			return nil, err
		}
		if err := u.addAll(ctx, s.claimChecks(p, usr, c, u.now)); err != nil {
			return nil, err
		}
		assignOwner(h, c, usr, p, u.now)
		e := &Entry{CustomerID: c.ID, Op: OpClaim, ToOwner: usr.ID, FromPool: p.ID, ActorID: usr.ID, IdempotencyKey: req.IdempotencyKey}
		res, err := u.finish(ctx, h, c, p, e, false, &u.s.cfg.Cascade.OnClaim, crm.NilID)
		if res != nil {
			res.Warnings = warnings
		}
		return res, err
	})
}

// claimable refuses a holding that is not in a pool or already owned.
func claimable(h *Holding) error {
	if h.Owned() {
		return ErrTaken
	}
	if !h.Pooled() {
		return ErrNotInPool
	}
	return nil
}

// mayClaim checks permission and cooldowns of a claim of h by usr from p.
func (s *Service) mayClaim(ctx context.Context, tx crm.Tx, now time.Time, h *Holding, usr *crm.User, p *Pool, c *crm.Customer) error {
	if err := s.cfg.Authorizer.Authorize(ctx, tx, &Access{Action: ActionClaim, Actor: usr, Pool: p, Holding: h, Customer: c}); err != nil {
		return err
	}
	if p.NewEntryCooldownHours > 0 {
		if until := h.EnteredAt.Add(time.Duration(p.NewEntryCooldownHours) * time.Hour); now.Before(until) {
			return &CooldownError{Kind: CooldownNewEntry, Until: until}
		}
	}
	if h.PreviousOwnerID == usr.ID && now.Before(h.PreviousOwnerUntil) {
		return &CooldownError{Kind: CooldownPreviousOwner, Until: h.PreviousOwnerUntil}
	}
	return nil
}

// oneWriteClaims reports whether claims without an idempotency key may go
// through [ClaimStore]: nothing the claim does needs a unit of work.
func (s *Service) oneWriteClaims() bool {
	return !s.cfg.ClaimInUnitOfWork && keepsAll(&s.cfg.Cascade.OnClaim) &&
		(s.cfg.Duplicates == nil || s.cfg.CollisionOnClaim == CollisionOff)
}

// oneWriteAttempts bounds how often a claim decides again because the state
// changed under it before it falls back to a unit of work.
const oneWriteAttempts = 3

// claimOneWrite is Claim through [ClaimStore]. decided is false when the
// state kept changing, and the caller claims in a unit of work instead.
func (s *Service) claimOneWrite(ctx context.Context, cs ClaimStore, req ClaimRequest) (res *Result, err error, decided bool) {
	name := "claim " + req.CustomerID.String()
	fail := func(err error) (*Result, error, bool) { return nil, fmt.Errorf("pool: %s: %w", name, err), true }
	var v crm.Problems
	(&request{op: OpClaim, actor: req.Actor, customer: req.CustomerID}).validate(&v, false)
	if err := v.Err(); err != nil {
		return fail(err)
	}
	for range oneWriteAttempts {
		now := crm.StorageTime(s.cfg.Clock.Now())
		st, err := cs.PoolClaimState(ctx, req.CustomerID, req.Actor)
		if err != nil {
			return fail(err)
		}
		h, usr, p, c := st.Holding, st.Actor, st.Pool, st.Customer
		switch {
		case h == nil:
			return fail(ErrNotInPool)
		case h.OwnerID == req.Actor && req.Actor != crm.NilID:
			// Perhaps the retry of a claim that was stored: a unit of
			// work looks up its record.
			return nil, nil, false
		case c != nil && notMerged(c) != nil:
			return fail(notMerged(c))
		case claimable(h) != nil:
			return fail(claimable(h))
		case usr == nil:
			return fail(crm.Invalid("actor", "unknown user %s", req.Actor))
		case !usr.Active:
			return fail(fmt.Errorf("user %s is inactive: %w", usr.ID, crm.ErrPermissionDenied))
		case p == nil:
			return fail(crm.Invalid("pool_id", "unknown pool %s", h.PoolID))
		case c == nil:
			return fail(fmt.Errorf("customer %s: %w", req.CustomerID, crm.ErrNotFound))
		}
		if err := s.mayClaim(ctx, s.store, now, h, usr, p, c); err != nil {
			return fail(err)
		}
		checks := s.claimChecks(p, usr, c, now)
		customerVersion := c.Version
		assignOwner(h, c, usr, p, now)
		schedule(h, c, p)
		e := &Entry{ID: s.cfg.IDs.NewID(), TenantID: crm.TenantFrom(ctx), At: now, CustomerID: c.ID, Op: OpClaim, ToOwner: usr.ID, FromPool: p.ID, ActorID: usr.ID}
		head, tail, err := claimResultParts(e)
		if err != nil {
			return fail(err)
		}
		w := &ClaimWrite{
			Request:     &Request{Key: claimKey(c.ID, h.Version), Op: OpClaim, CustomerID: c.ID, ActorID: usr.ID},
			RequestHead: head, RequestTail: tail, Holding: h, CustomerVersion: customerVersion, Customer: PlacementOf(c), Counters: make([]CounterCheck, len(checks)), Entry: e}
		for i, ck := range checks {
			w.Counters[i] = ck.CounterCheck
		}
		out, err := cs.PoolClaim(ctx, w)
		switch {
		case errors.Is(err, crm.ErrConflict):
			continue // a deadlock or serialisation failure: decide again
		case err != nil:
			return fail(err)
		case out.Stored:
			return &Result{Entry: *e, Holding: *h}, nil, true
		case out.Refused >= 0 && out.Refused < len(checks):
			ck := checks[out.Refused]
			return fail(&crm.LimitError{Limit: string(ck.limit), Max: ck.Max, Current: out.Current})
		case out.OwnerID != crm.NilID:
			return fail(ErrTaken)
		}
	}
	return nil, nil, false
}

// claimResultParts encodes the [Result] a one-write claim records under
// its idempotency key, split where the entry's Seq goes (the store assigns
// it). The holding is left out: a replay takes the current one, which is
// the one the claim stored (see claimKey).
func claimResultParts(e *Entry) (head, tail []byte, err error) {
	c := *e
	c.Seq = 0
	b, err := json.Marshal(Result{Entry: c})
	if err != nil {
		return nil, nil, err
	}
	// The entry's first field after id and tenant_id; a quote inside a
	// string is escaped, so the first match is the field itself.
	const seq = `"seq":0`
	i := bytes.Index(b, []byte(seq))
	if i < 0 {
		return nil, nil, fmt.Errorf("encode claim result: no seq in %s", b)
	}
	return b[: i+len(seq)-1 : i+len(seq)-1], b[i+len(seq):], nil
}

// ReleaseRequest asks to give a customer back to a pool (放弃).
type ReleaseRequest struct {
	Actor      crm.ID
	CustomerID crm.ID
	// Reason is the host's reason code, required (e.g. "no_budget").
	Reason string
	// PoolID is the pool to release into. Defaults to the customer's pool.
	PoolID         crm.ID
	IdempotencyKey string
}

// Release returns an owned customer to its pool. Only the owner or a pool
// admin may release ([crm.ErrPermissionDenied] otherwise); a locked customer
// must be unlocked first ([ErrLocked]). The previous-owner cooldown starts.
func (s *Service) Release(ctx context.Context, req ReleaseRequest) (*Result, error) {
	return s.release(ctx, nil, req)
}

// ReleaseTx is [Service.Release] inside tx, a unit of work the caller
// holds; see [Service.ClaimTx].
func (s *Service) ReleaseTx(ctx context.Context, tx crm.Tx, req ReleaseRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpRelease))
	return s.release(ctx, joined(tx), req)
}

func (s *Service) release(ctx context.Context, t crm.Tx, req ReleaseRequest) (*Result, error) {
	r := request{op: OpRelease, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, func(v *crm.Problems) { reasonCode(v, req.Reason, true) }, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		return u.giveBack(ctx, h, c, req.Actor, req.PoolID, OpRelease, req.Reason, req.IdempotencyKey)
	})
}

func reasonCode(v *crm.Problems, reason string, required bool) {
	switch {
	case reason == "" && required:
		v.Add("reason", "is required")
	case len(reason) > 64 || !utf8.ValidString(reason) || strings.ContainsFunc(reason, unicode.IsControl):
		v.Add("reason", "must be at most 64 bytes of UTF-8 without control characters")
	}
}

// giveBack is Release.
func (u *unit) giveBack(ctx context.Context, h *Holding, c *crm.Customer, actorID, poolID crm.ID, op Op, reason, key string) (*Result, error) {
	if !h.Owned() {
		return nil, ErrNotOwned
	}
	usr, err := u.actor(ctx, actorID, "actor")
	if err != nil {
		return nil, err
	}
	home, err := u.pool(ctx, h.PoolID, "pool_id")
	if err != nil {
		return nil, err
	}
	dest := home
	if poolID != crm.NilID && poolID != h.PoolID {
		if dest, err = u.pool(ctx, poolID, "pool_id"); err != nil {
			return nil, err
		}
	}
	if dest == nil {
		return nil, crm.Invalid("pool_id", "the customer has no pool; name one")
	}
	if err := u.authorize(ctx, &Access{Action: ActionRelease, Actor: usr, Pool: home, Target: dest, Holding: h, Customer: c}); err != nil {
		return nil, err
	}
	if h.Locked {
		return nil, ErrLocked
	}
	prev, from := h.OwnerID, h.PoolID
	if err := u.dropOwner(ctx, h, c); err != nil {
		return nil, err
	}
	u.toPool(h, c, dest, prev)
	e := &Entry{CustomerID: c.ID, Op: op, FromOwner: prev, FromPool: from, ToPool: dest.ID, Reason: reason, ActorID: usr.ID, IdempotencyKey: key}
	return u.finish(ctx, h, c, dest, e, false, &u.s.cfg.Cascade.OnRelease, prev)
}

// AssignRequest asks to give a pooled customer to a user (分配), or, for
// [Service.Transfer], an owned customer to another user.
type AssignRequest struct {
	Actor          crm.ID
	CustomerID     crm.ID
	To             crm.ID
	IdempotencyKey string
}

// Assign gives a pooled customer to a user, on behalf of a pool admin or a
// manager of the user. The assignee's owned-customer limits apply; claim
// cooldowns and daily claim limits do not, since an admin decided.
func (s *Service) Assign(ctx context.Context, req AssignRequest) (*Result, error) {
	return s.assign(ctx, nil, req)
}

// AssignTx is [Service.Assign] inside tx, a unit of work the caller holds;
// see [Service.ClaimTx].
func (s *Service) AssignTx(ctx context.Context, tx crm.Tx, req AssignRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpAssign))
	return s.assign(ctx, joined(tx), req)
}

func (s *Service) assign(ctx context.Context, t crm.Tx, req AssignRequest) (*Result, error) {
	r := request{op: OpAssign, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, func(v *crm.Problems) { required(v, "to", req.To) }, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		if h.Owned() {
			return nil, ErrTaken
		}
		if !h.Pooled() {
			return nil, ErrNotInPool
		}
		usr, to, p, err := u.load(ctx, h, req.Actor, req.To)
		if err != nil {
			return nil, err
		}
		if err := u.authorize(ctx, &Access{Action: ActionAssign, Actor: usr, Pool: p, Holding: h, Customer: c, Assignee: to}); err != nil {
			return nil, err
		}
		warnings, err := u.collisions(ctx, to, c, u.s.cfg.CollisionOnClaim)
		if err != nil {
			return nil, err
		}
		if err := u.takeOwner(ctx, h, c, to, p, nil); err != nil {
			return nil, err
		}
		e := &Entry{CustomerID: c.ID, Op: OpAssign, ToOwner: to.ID, FromPool: p.ID, ActorID: usr.ID, IdempotencyKey: req.IdempotencyKey}
		res, err := u.finish(ctx, h, c, p, e, false, &u.s.cfg.Cascade.OnClaim, crm.NilID)
		if res != nil {
			res.Warnings = warnings
		}
		return res, err
	})
}

func required(v *crm.Problems, field string, id crm.ID) {
	if id == crm.NilID {
		v.Add(field, "is required")
	}
}

// load reads the actor, the other user and the holding's pool.
func (u *unit) load(ctx context.Context, h *Holding, actor, other crm.ID) (*crm.User, *crm.User, *Pool, error) {
	usr, err := u.actor(ctx, actor, "actor")
	if err != nil {
		return nil, nil, nil, err
	}
	var to *crm.User
	if other != crm.NilID {
		if to, err = u.actor(ctx, other, "to"); err != nil {
			return nil, nil, nil, err
		}
	}
	p, err := u.pool(ctx, h.PoolID, "pool_id")
	return usr, to, p, err
}

// Transfer gives an owned customer to another user, on behalf of a pool
// admin or a manager of the current owner. The new owner's limits apply; a
// locked customer must be unlocked first.
func (s *Service) Transfer(ctx context.Context, req AssignRequest) (*Result, error) {
	return s.transfer(ctx, nil, req)
}

// TransferTx is [Service.Transfer] inside tx, a unit of work the caller
// holds; see [Service.ClaimTx].
func (s *Service) TransferTx(ctx context.Context, tx crm.Tx, req AssignRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpTransfer))
	return s.transfer(ctx, joined(tx), req)
}

func (s *Service) transfer(ctx context.Context, t crm.Tx, req AssignRequest) (*Result, error) {
	r := request{op: OpTransfer, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, func(v *crm.Problems) { required(v, "to", req.To) }, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		if !h.Owned() {
			return nil, ErrNotOwned
		}
		if h.OwnerID == req.To {
			return nil, fmt.Errorf("%w: user %s already owns the customer", crm.ErrFailedPrecondition, req.To)
		}
		usr, to, p, err := u.load(ctx, h, req.Actor, req.To)
		if err != nil {
			return nil, err
		}
		if err := u.authorize(ctx, &Access{Action: ActionTransfer, Actor: usr, Pool: p, Holding: h, Customer: c, Assignee: to}); err != nil {
			return nil, err
		}
		if h.Locked {
			return nil, ErrLocked
		}
		prev := h.OwnerID
		// One key order for both owners' counters: transfers between
		// two users in opposite directions never deadlock.
		var buf [3]counterDelta
		var changes [5]counterChange
		if err := u.takeOwner(ctx, h, c, to, p, released(changes[:0], releaseOwner(h, c, buf[:0]))); err != nil {
			return nil, err
		}
		e := &Entry{CustomerID: c.ID, Op: OpTransfer, FromOwner: prev, ToOwner: to.ID, FromPool: h.PoolID, ToPool: h.PoolID, ActorID: usr.ID, IdempotencyKey: req.IdempotencyKey}
		return u.finish(ctx, h, c, p, e, false, &u.s.cfg.Cascade.OnClaim, prev)
	})
}

// LockRequest asks to lock or unlock an owned customer.
type LockRequest struct {
	Actor          crm.ID
	CustomerID     crm.ID
	IdempotencyKey string
}

// Lock protects an owned customer from recycling until unlocked, within the
// owner's locked_customers limit.
func (s *Service) Lock(ctx context.Context, req LockRequest) (*Result, error) {
	return s.lock(ctx, nil, req, true)
}

// LockTx is [Service.Lock] inside tx, a unit of work the caller holds; see
// [Service.ClaimTx].
func (s *Service) LockTx(ctx context.Context, tx crm.Tx, req LockRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpLock))
	return s.lock(ctx, joined(tx), req, true)
}

// Unlock ends a lock; the customer's due time is recomputed.
func (s *Service) Unlock(ctx context.Context, req LockRequest) (*Result, error) {
	return s.lock(ctx, nil, req, false)
}

// UnlockTx is [Service.Unlock] inside tx, a unit of work the caller holds;
// see [Service.ClaimTx].
func (s *Service) UnlockTx(ctx context.Context, tx crm.Tx, req LockRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpUnlock))
	return s.lock(ctx, joined(tx), req, false)
}

func (s *Service) lock(ctx context.Context, t crm.Tx, req LockRequest, lock bool) (*Result, error) {
	op, action := OpLock, ActionLock
	if !lock {
		op, action = OpUnlock, ActionUnlock
	}
	r := request{op: op, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, nil, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		if !h.Owned() {
			return nil, ErrNotOwned
		}
		usr, _, p, err := u.load(ctx, h, req.Actor, crm.NilID)
		if err != nil {
			return nil, err
		}
		if err := u.authorize(ctx, &Access{Action: action, Actor: usr, Pool: p, Holding: h, Customer: c}); err != nil {
			return nil, err
		}
		if h.Locked == lock {
			return nil, fmt.Errorf("%w: customer is already %sed", crm.ErrFailedPrecondition, op)
		}
		if lock {
			owner := &crm.User{Meta: crm.Meta{ID: h.OwnerID}}
			if o, err := u.tx.Users().Get(ctx, h.OwnerID); err == nil {
				owner = o
			}
			max, _ := strictest(resolveLimits(u.s.cfg.Limits, LockedCustomers, owner), func(*Limit) bool { return true })
			if err := u.add(ctx, lockedKey(h.OwnerID), 1, max, string(LockedCustomers)); err != nil {
				return nil, err
			}
		} else if _, _, err := u.tx.PoolCounters().Add(ctx, lockedKey(h.OwnerID), -1, NoMax); err != nil {
			return nil, err
		}
		h.Locked = lock
		e := &Entry{CustomerID: c.ID, Op: op, FromOwner: h.OwnerID, ToOwner: h.OwnerID, FromPool: h.PoolID, ToPool: h.PoolID, ActorID: usr.ID, IdempotencyKey: req.IdempotencyKey}
		return u.finish(ctx, h, c, p, e, false, nil, h.OwnerID)
	})
}

// MoveRequest asks to move a customer to another pool.
type MoveRequest struct {
	Actor          crm.ID
	CustomerID     crm.ID
	PoolID         crm.ID
	IdempotencyKey string
}

// Move moves a customer to another pool: a pooled customer changes pools
// (and its new-entry cooldown restarts), an owned one changes the pool
// whose rules recycle it.
func (s *Service) Move(ctx context.Context, req MoveRequest) (*Result, error) {
	return s.move(ctx, nil, req)
}

// MoveTx is [Service.Move] inside tx, a unit of work the caller holds; see
// [Service.ClaimTx].
func (s *Service) MoveTx(ctx context.Context, tx crm.Tx, req MoveRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpMove))
	return s.move(ctx, joined(tx), req)
}

func (s *Service) move(ctx context.Context, t crm.Tx, req MoveRequest) (*Result, error) {
	r := request{op: OpMove, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, func(v *crm.Problems) { required(v, "pool_id", req.PoolID) }, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		usr, _, from, err := u.load(ctx, h, req.Actor, crm.NilID)
		if err != nil {
			return nil, err
		}
		to, err := u.pool(ctx, req.PoolID, "pool_id")
		if err != nil {
			return nil, err
		}
		if h.PoolID == to.ID {
			return nil, fmt.Errorf("%w: customer is already in pool %s", crm.ErrFailedPrecondition, to.ID)
		}
		if err := u.authorize(ctx, &Access{Action: ActionMove, Actor: usr, Pool: from, Target: to, Holding: h, Customer: c}); err != nil {
			return nil, err
		}
		e := &Entry{CustomerID: c.ID, Op: OpMove, FromOwner: h.OwnerID, ToOwner: h.OwnerID, FromPool: h.PoolID, ToPool: to.ID, ActorID: usr.ID, IdempotencyKey: req.IdempotencyKey}
		h.PoolID = to.ID
		if h.Pooled() {
			u.toPool(h, c, to, crm.NilID)
		}
		return u.finish(ctx, h, c, to, e, false, nil, h.OwnerID)
	})
}

// EnterRequest asks to put an unowned customer into a pool.
type EnterRequest struct {
	// Actor is the user putting the customer in, or NilID for the system
	// (an import, a host's rule), which is not permission-checked.
	Actor      crm.ID
	CustomerID crm.ID
	// PoolID is the pool to enter. NilID chooses by entry rules: among the
	// pools whose rule matches, the highest Priority wins, ties going to
	// the lowest pool ID.
	PoolID crm.ID
	// Reason is an optional reason code.
	Reason         string
	IdempotencyKey string
}

// Enter puts an unowned customer into a pool, by hand or by rule
// ([ErrNoMatchingPool] when no rule matches). An owned customer is refused
// with [ErrTaken]: release it instead.
func (s *Service) Enter(ctx context.Context, req EnterRequest) (*Result, error) {
	return s.enter(ctx, nil, req)
}

// EnterTx is [Service.Enter] inside tx, a unit of work the caller holds;
// see [Service.ClaimTx].
func (s *Service) EnterTx(ctx context.Context, tx crm.Tx, req EnterRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpEnter))
	return s.enter(ctx, joined(tx), req)
}

func (s *Service) enter(ctx context.Context, t crm.Tx, req EnterRequest) (*Result, error) {
	r := request{op: OpEnter, actor: req.Actor, customer: req.CustomerID, key: req.IdempotencyKey}
	return s.operate(ctx, t, r, func(v *crm.Problems) { reasonCode(v, req.Reason, false) }, func(ctx context.Context, u *unit, h *Holding, c *crm.Customer) (*Result, error) {
		isNew := h == nil
		if isNew {
			h = &Holding{CustomerID: c.ID}
		}
		if h.Owned() || c.OwnerID != crm.NilID {
			return nil, ErrTaken
		}
		from, err := u.pool(ctx, h.PoolID, "pool_id")
		if err != nil {
			return nil, err
		}
		to, err := u.pool(ctx, req.PoolID, "pool_id")
		if err != nil {
			return nil, err
		}
		if to == nil {
			if to, err = u.matchPool(ctx, c); err != nil {
				return nil, err
			}
			if to == nil {
				return nil, ErrNoMatchingPool
			}
		}
		if req.Actor != crm.NilID {
			usr, err := u.actor(ctx, req.Actor, "actor")
			if err != nil {
				return nil, err
			}
			if err := u.authorize(ctx, &Access{Action: ActionEnter, Actor: usr, Pool: from, Target: to, Holding: h, Customer: c}); err != nil {
				return nil, err
			}
		}
		e := &Entry{CustomerID: c.ID, Op: OpEnter, FromPool: h.PoolID, ToPool: to.ID, Reason: req.Reason, ActorID: req.Actor, IdempotencyKey: req.IdempotencyKey}
		u.toPool(h, c, to, crm.NilID)
		res, err := u.finish(ctx, h, c, to, e, isNew, nil, crm.NilID)
		if err != nil {
			return nil, err
		}
		return res, u.index(ctx, c)
	})
}

// matchPool returns the pool whose entry rule selects c with the highest
// priority (ties: lowest ID), or nil.
func (u *unit) matchPool(ctx context.Context, c *crm.Customer) (*Pool, error) {
	var best *Pool
	after := crm.NilID
	rec := cond.CustomerSchema().NewRecord()
	if err := cond.FillCustomer(rec, c); err != nil {
		return nil, err
	}
	for {
		ps, err := u.tx.Pools().List(ctx, after, crm.MaxPageLimit)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if pred := u.s.entries.predicate(p); pred == nil || !pred.Match(rec) {
				continue
			}
			if best == nil || p.Priority > best.Priority || (p.Priority == best.Priority && compareID(p.ID, best.ID) < 0) {
				best = p
			}
		}
		if len(ps) < crm.MaxPageLimit {
			return best, nil
		}
		after = ps[len(ps)-1].ID
	}
}

func compareID(a, b crm.ID) int { return strings.Compare(string(a[:]), string(b[:])) }

// CreateRequest asks to create a customer owned by Actor.
type CreateRequest struct {
	// Actor is the user creating the customer, recorded as its creator
	// and in the ledger.
	Actor crm.ID
	// Owner is the user who will own it. Defaults to Actor. A conversion
	// routed to a salesperson creates on their behalf: the owner's limits
	// and collisions apply, and the customer takes the owner's department.
	// Create does not ask the Authorizer whether Actor may create for
	// another user; the caller decided that (lead conversion asks its own
	// authorizer).
	Owner crm.ID
	// Customer is the new customer; its ID must be set. Create sets its
	// OwnerID and DepartmentID to the owner's and its PoolID to none.
	Customer       *crm.Customer
	IdempotencyKey string
}

// Create creates a customer owned by the actor (or by req.Owner on the
// actor's behalf), after checking for collisions (in the mode of
// [Config.CollisionOnCreate]) and the owner's owned-customer limits. The customer's pool for recycling is chosen by
// entry rules (none if no rule matches) and its protection period starts.
// On success req.Customer holds the stored customer.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Result, error) {
	return s.create(ctx, nil, req)
}

// CreateTx is [Service.Create] inside tx, a unit of work the caller holds;
// see [Service.ClaimTx]. req.Customer holds the stored customer on success
// even if the caller later rolls back.
func (s *Service) CreateTx(ctx context.Context, tx crm.Tx, req CreateRequest) (*Result, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpCreate))
	return s.create(ctx, joined(tx), req)
}

func (s *Service) create(ctx context.Context, t crm.Tx, req CreateRequest) (*Result, error) {
	if req.Customer == nil {
		return nil, fmt.Errorf("pool: create: %w", crm.Invalid("customer", "is required"))
	}
	id := req.Customer.ID
	r := request{op: OpCreate, actor: req.Actor, customer: id, key: req.IdempotencyKey}
	var stored *crm.Customer
	res, err := s.operate(ctx, t, r, nil, func(ctx context.Context, u *unit, h *Holding, _ *crm.Customer) (*Result, error) {
		if h != nil {
			return nil, fmt.Errorf("customer %s: %w", id, crm.ErrAlreadyExists)
		}
		usr, err := u.actor(ctx, req.Actor, "actor")
		if err != nil {
			return nil, err
		}
		owner := usr
		if req.Owner != crm.NilID && req.Owner != usr.ID {
			if owner, err = u.actor(ctx, req.Owner, "owner"); err != nil {
				return nil, err
			}
		}
		c := req.Customer.Clone()
		c.OwnerID, c.DepartmentID, c.PoolID, c.CreatedBy = crm.NilID, owner.DepartmentID, crm.NilID, usr.ID
		warnings, err := u.collisions(ctx, owner, c, u.s.cfg.CollisionOnCreate)
		if err != nil {
			return nil, err
		}
		home, err := u.matchPool(ctx, c)
		if err != nil {
			return nil, err
		}
		h = &Holding{CustomerID: c.ID}
		if home != nil {
			h.PoolID = home.ID
		}
		if err := u.takeOwner(ctx, h, c, owner, home, nil); err != nil {
			return nil, err
		}
		if err := u.tx.Customers().Create(ctx, c); err != nil {
			return nil, err
		}
		if err := u.index(ctx, c); err != nil {
			return nil, err
		}
		schedule(h, c, home)
		if err := u.tx.PoolHoldings().Create(ctx, h); err != nil {
			return nil, err
		}
		e := &Entry{CustomerID: c.ID, Op: OpCreate, ToOwner: owner.ID, ToPool: h.PoolID, ActorID: usr.ID, IdempotencyKey: req.IdempotencyKey}
		if err := u.record(ctx, e); err != nil {
			return nil, err
		}
		stored = c
		return &Result{Entry: *e, Holding: *h, Warnings: warnings}, nil
	})
	if err == nil && stored != nil {
		*req.Customer = *stored
	}
	return res, err
}

// Recompute refreshes a customer's recycling facts and due time. Hosts call
// it after recording a follow-up, a deal or an opportunity (the crm records
// change outside this package); it reads the customer's opportunities to
// learn the latest creation time and whether one is open, and adjusts the
// owner's counters when the customer became dealt or stopped being dealt.
// It returns the updated holding; [ErrNotInPool] if the customer is not
// tracked.
func (s *Service) Recompute(ctx context.Context, customerID crm.ID) (*Holding, error) {
	return s.recompute(ctx, nil, customerID)
}

// RecomputeTx is [Service.Recompute] inside tx, a unit of work the caller
// holds; see [Service.ClaimTx].
func (s *Service) RecomputeTx(ctx context.Context, tx crm.Tx, customerID crm.ID) (*Holding, error) {
	return s.recompute(ctx, joined(tx), customerID)
}

func (s *Service) recompute(ctx context.Context, t crm.Tx, customerID crm.ID) (*Holding, error) {
	var out *Holding
	err := s.exec(ctx, t, "recompute "+customerID.String(), func(ctx context.Context, u *unit) error {
		h, err := u.tx.PoolHoldings().Get(ctx, customerID)
		if errors.Is(err, crm.ErrNotFound) {
			return ErrNotInPool
		}
		if err != nil {
			return err
		}
		c, err := u.customer(ctx, customerID)
		if err != nil {
			return err
		}
		if err := u.refreshOpportunities(ctx, h); err != nil {
			return err
		}
		if dealt := c.Status == crm.CustomerDealt; h.Owned() && dealt != h.Dealt {
			delta := int64(-1)
			if !dealt {
				delta = 1
			}
			if _, _, err := u.tx.PoolCounters().Add(ctx, ownedOpenKey(h.OwnerID), delta, NoMax); err != nil {
				return err
			}
			h.Dealt = dealt
		}
		p, err := u.pool(ctx, h.PoolID, "pool_id")
		if err != nil {
			return err
		}
		schedule(h, c, p)
		if err := u.tx.PoolHoldings().Update(ctx, h); err != nil {
			return err
		}
		out = h
		return nil
	})
	return out, err
}

func (u *unit) refreshOpportunities(ctx context.Context, h *Holding) error {
	h.LastOpportunityAt, h.OpenOpportunity = time.Time{}, false
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := u.tx.Opportunities().List(ctx, crm.OpportunityFilter{CustomerIDs: []crm.ID{h.CustomerID}}, page)
		if err != nil {
			return err
		}
		for _, o := range got.Items {
			if o.CreatedAt.After(h.LastOpportunityAt) {
				h.LastOpportunityAt = o.CreatedAt
			}
			h.OpenOpportunity = h.OpenOpportunity || o.IsOpen()
		}
		if got.NextCursor == "" {
			return nil
		}
		page.Cursor = got.NextCursor
	}
}

// cascade applies rule to c's related records as c passes from prev to
// next (NilID: pooled).
func (u *unit) cascade(ctx context.Context, customerID, prev, next crm.ID, rule *CascadeRule) error {
	if rule.Contacts == CascadeFollow {
		page := crm.PageRequest{Limit: crm.MaxPageLimit}
		for {
			got, err := u.tx.Contacts().List(ctx, crm.ContactFilter{CustomerIDs: []crm.ID{customerID}}, page)
			if err != nil {
				return err
			}
			for _, ct := range got.Items {
				if ct.OwnerID != next {
					ct.OwnerID = next
					if err := u.tx.Contacts().Update(ctx, ct); err != nil {
						return err
					}
				}
			}
			if got.NextCursor == "" {
				break
			}
			page.Cursor = got.NextCursor
		}
	}
	if rule.OpenOpportunities == CascadeFollow {
		page := crm.PageRequest{Limit: crm.MaxPageLimit}
		for {
			got, err := u.tx.Opportunities().List(ctx, crm.OpportunityFilter{CustomerIDs: []crm.ID{customerID}}, page)
			if err != nil {
				return err
			}
			for _, o := range got.Items {
				if o.IsOpen() && o.OwnerID != next {
					o.OwnerID = next
					if err := u.tx.Opportunities().Update(ctx, o); err != nil {
						return err
					}
				}
			}
			if got.NextCursor == "" {
				break
			}
			page.Cursor = got.NextCursor
		}
	}
	if rule.FollowUpPlans == CascadeFollow && prev != crm.NilID {
		subject := crm.Ref{Type: crm.TypeCustomer, ID: customerID}
		page := crm.PageRequest{Limit: crm.MaxPageLimit}
		for {
			got, err := u.tx.Activities().List(ctx, crm.ActivityFilter{Subject: &subject, ActorIDs: []crm.ID{prev}}, page)
			if err != nil {
				return err
			}
			for _, a := range got.Items {
				if a.NextFollowUpAt != nil && a.NextFollowUpAt.After(u.now) {
					a.NextFollowUpAt = nil
					if err := u.tx.Activities().Update(ctx, a); err != nil {
						return err
					}
				}
			}
			if got.NextCursor == "" {
				break
			}
			page.Cursor = got.NextCursor
		}
	}
	return nil
}

// entryCache keeps the compiled entry rules of the pool versions it has
// seen, so choosing a customer's pool compiles each rule once.
type entryCache struct {
	mu    sync.Mutex
	preds map[entryKey]*cond.Predicate
}

type entryKey struct {
	tenant  string
	id      crm.ID
	version int64
}

// maxCachedEntries bounds the cache; past it the cache starts again.
const maxCachedEntries = 10000

// predicate returns p's compiled entry rule, or nil when p has none or it
// does not compile (Validate refuses such pools on every write).
func (c *entryCache) predicate(p *Pool) *cond.Predicate {
	if p.Entry == nil {
		return nil
	}
	k := entryKey{p.TenantID, p.ID, p.Version}
	c.mu.Lock()
	pred, ok := c.preds[k]
	c.mu.Unlock()
	if ok {
		return pred
	}
	pred, err := p.EntryPredicate()
	if err != nil {
		pred = nil
	}
	c.mu.Lock()
	if c.preds == nil || len(c.preds) >= maxCachedEntries {
		c.preds = make(map[entryKey]*cond.Predicate)
	}
	c.preds[k] = pred
	c.mu.Unlock()
	return pred
}
