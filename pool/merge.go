package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Event types of merge settlements, written with their ledger entries.
const (
	// EventOwnershipMerged: [Service.SettleMergeTx] settled a survivor's
	// ownership; payload [OwnershipMergedPayload].
	EventOwnershipMerged crm.EventType = "customer.ownership_merged"
	// EventOwnershipUnmerged: [Service.UndoMergeTx] restored a customer's
	// ownership; payload [OwnershipUnmergedPayload].
	EventOwnershipUnmerged crm.EventType = "customer.ownership_unmerged"
)

// UnmergeLockedReason is the Reason of an [OpUnmerge] ledger entry that
// restores a locked customer, so that [Replay] gives the lock back.
const UnmergeLockedReason = "locked"

// maxMergeLosers bounds [MergeOwnershipRequest.LoserIDs].
const maxMergeLosers = 100

// MergeOwnershipRequest asks to settle ownership after customers merged.
type MergeOwnershipRequest struct {
	// SurvivorID is the customer the others were merged into.
	SurvivorID crm.ID
	// LoserIDs are the merged customers, each already marked merged into
	// SurvivorID ([crm.MergedIntoField]). Their order decides which owner
	// the survivor inherits. At most 100.
	LoserIDs []crm.ID
	// Actor is who merged, recorded in the ledger; NilID for the system.
	Actor crm.ID
}

// MergeOwnership is what [Service.SettleMergeTx] changed: plain JSON data,
// enough for [Service.UndoMergeTx] to restore it. A merge keeps it with
// its own record (dedupe's CustomerMerge.Ownership).
type MergeOwnership struct {
	SurvivorID crm.ID   `json:"survivor_id"`
	LoserIDs   []crm.ID `json:"loser_ids"`
	// OwnerID is the survivor's owner after the settlement, NilID when it
	// has none.
	OwnerID crm.ID `json:"owner_id,omitzero"`
	// OwnerFrom is the loser whose owner the survivor inherited, NilID
	// when it kept its own owner or stayed unowned.
	OwnerFrom crm.ID `json:"owner_from,omitzero"`
	// Changes lists every customer whose holding or ownership fields the
	// settlement changed, with what they were before.
	Changes []MergeChange `json:"changes,omitempty"`
	// Entries are copies of the ledger entries the settlement wrote, in
	// order (one [OpMerge] entry per changed holding).
	Entries []Entry `json:"entries,omitempty"`
	// At is when the settlement ran.
	At time.Time `json:"at"`
}

// MergeChange is one customer's part of a [MergeOwnership].
type MergeChange struct {
	CustomerID crm.ID `json:"customer_id"`
	// Before is a copy of the customer's holding before the settlement,
	// nil when the settlement did not change it or the customer had none.
	Before *Holding `json:"before,omitempty"`
	// HoldingVersion is the holding's Version right after the settlement,
	// 0 when the settlement left the holding alone. Undo refuses a holding
	// whose Version moved on since. A positive HoldingVersion with a nil
	// Before is a holding the settlement created (the survivor's).
	HoldingVersion int64 `json:"holding_version,omitempty"`
	// OwnerID, PoolID and DepartmentID are the customer's fields as the
	// settlement found them.
	OwnerID      crm.ID `json:"owner_id,omitzero"`
	PoolID       crm.ID `json:"pool_id,omitzero"`
	DepartmentID crm.ID `json:"department_id,omitzero"`
}

func (r *MergeOwnershipRequest) validate() error {
	var v crm.Problems
	required(&v, "survivor_id", r.SurvivorID)
	switch {
	case len(r.LoserIDs) == 0:
		v.Add("loser_ids", "is required")
	case len(r.LoserIDs) > maxMergeLosers:
		v.Add("loser_ids", "has more than %d customers", maxMergeLosers)
	}
	for i, id := range r.LoserIDs {
		switch {
		case id == crm.NilID:
			v.Add(fmt.Sprintf("loser_ids[%d]", i), "is required")
		case id == r.SurvivorID:
			v.Add(fmt.Sprintf("loser_ids[%d]", i), "is the survivor")
		case slices.Contains(r.LoserIDs[:i], id):
			v.Add(fmt.Sprintf("loser_ids[%d]", i), "repeats customer %s", id)
		}
	}
	return v.Err()
}

// SettleMergeTx settles ownership after customers merged, inside tx, the
// merge's unit of work. The caller (the root package crmkit, for a dedupe
// merge) has already updated the customers: the survivor carries the
// golden values, each loser is marked merged into it. SettleMergeTx reads
// them fresh from tx and applies one rule:
//
//   - an owned survivor keeps its owner;
//   - otherwise it takes the owner of the first owned loser in LoserIDs
//     order, with that owner's current department, and leaves its pool
//     (its holding keeps the pool as the one whose rules recycle it, or
//     takes the loser's when it had none); the owned-customer counters
//     move with it, without a limit check, since the owner held as many
//     customers before;
//   - otherwise it stays where it is (in its pool, or nowhere).
//
// Every loser's holding is released: no owner, no pool (so nobody can
// claim it), its owner's counters decremented, its customer's OwnerID,
// PoolID and DepartmentID cleared. Each changed holding gets an [OpMerge]
// ledger entry, which is an [EventOwnershipMerged] event (the survivor's
// only when its owner changes). The survivor's ownership fields are set from
// its holding, replacing any a merge copied from a loser. Customers
// without a holding (never in a pool) are left as they are, except that a
// survivor inheriting an owner gets a holding. No cascade applies: the
// merge itself moves related records.
//
// It refuses a survivor that is itself merged ([ErrMerged]) and a loser
// not marked merged into the survivor ([crm.ErrFailedPrecondition]), and
// returns an error matching [crm.ErrUnsupported] when tx lacks the pool
// ports. On error the caller must roll back the unit of work.
func (s *Service) SettleMergeTx(ctx context.Context, tx crm.Tx, req MergeOwnershipRequest) (*MergeOwnership, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, string(OpMerge))
	name := "settle merge into " + req.SurvivorID.String()
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("pool: %s: %w", name, err)
	}
	var out *MergeOwnership
	err := s.exec(ctx, joined(tx), name, func(ctx context.Context, u *unit) error {
		m, err := u.settleMerge(ctx, req)
		out = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockHoldings locks the holdings of ids in ID order, so that two
// settlements sharing customers never wait on each other in a cycle; a
// customer without a holding maps to nil.
func (u *unit) lockHoldings(ctx context.Context, ids []crm.ID) (map[crm.ID]*Holding, error) {
	order := slices.Clone(ids)
	slices.SortFunc(order, compareID)
	out := make(map[crm.ID]*Holding, len(ids))
	for _, id := range order {
		h, err := u.tx.PoolHoldings().Get(ctx, id)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			out[id] = nil
		case err != nil:
			return nil, err
		default:
			out[id] = h
		}
	}
	return out, nil
}

// ownerOf reads the user id for an ownership change; an unknown user keeps
// its ID and the department dept.
func (u *unit) ownerOf(ctx context.Context, id, dept crm.ID) (*crm.User, error) {
	usr, err := u.tx.Users().Get(ctx, id)
	if errors.Is(err, crm.ErrNotFound) {
		return &crm.User{Meta: crm.Meta{ID: id}, DepartmentID: dept}, nil
	}
	return usr, err
}

// optionalPool reads a pool, nil when id is NilID or the pool is gone.
func (u *unit) optionalPool(ctx context.Context, id crm.ID) (*Pool, error) {
	if id == crm.NilID {
		return nil, nil
	}
	p, err := u.tx.Pools().Get(ctx, id)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// ownership returns c's ownership fields as a change's before state.
func ownership(c *crm.Customer) MergeChange {
	return MergeChange{CustomerID: c.ID, OwnerID: c.OwnerID, PoolID: c.PoolID, DepartmentID: c.DepartmentID}
}

func (mc *MergeChange) customerChanged(c *crm.Customer) bool {
	return mc.OwnerID != c.OwnerID || mc.PoolID != c.PoolID || mc.DepartmentID != c.DepartmentID
}

func (u *unit) settleMerge(ctx context.Context, req MergeOwnershipRequest) (*MergeOwnership, error) {
	ids := append([]crm.ID{req.SurvivorID}, req.LoserIDs...)
	holdings, err := u.lockHoldings(ctx, ids)
	if err != nil {
		return nil, err
	}
	customers := make(map[crm.ID]*crm.Customer, len(ids))
	for _, id := range ids {
		c, err := u.customer(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("customer %s: %w", id, err)
		}
		customers[id] = c
	}
	if err := notMerged(customers[req.SurvivorID]); err != nil {
		return nil, fmt.Errorf("survivor: %w", err)
	}
	for _, id := range req.LoserIDs {
		if into, merged := customers[id].MergedInto(); !merged || into != req.SurvivorID {
			return nil, fmt.Errorf("%w: customer %s is not marked merged into %s", crm.ErrFailedPrecondition, id, req.SurvivorID)
		}
	}
	m := &MergeOwnership{SurvivorID: req.SurvivorID, LoserIDs: slices.Clone(req.LoserIDs), At: u.now}
	var heir *Holding // the first owned loser's holding, as it was
	// Every owner's counters change at the end, in one key order.
	var changes []counterChange
	for _, id := range req.LoserIDs {
		h, c := holdings[id], customers[id]
		if h == nil {
			continue // never in a pool: nothing to settle
		}
		mc, before := ownership(c), *h
		if h.Owned() {
			if heir == nil {
				heir = &before
			}
			changes = released(changes, releaseOwner(h, c, nil))
		}
		h.PoolID = crm.NilID
		c.OwnerID, c.PoolID, c.DepartmentID = crm.NilID, crm.NilID, crm.NilID
		if before.Owned() || before.PoolID != crm.NilID {
			if err := u.tx.PoolHoldings().Update(ctx, h); err != nil {
				return nil, err
			}
			mc.Before, mc.HoldingVersion = &before, h.Version
			e := &Entry{CustomerID: id, Op: OpMerge, FromOwner: before.OwnerID, FromPool: before.PoolID, ActorID: req.Actor}
			if err := u.record(ctx, e); err != nil {
				return nil, err
			}
			m.Entries = append(m.Entries, *e)
		}
		if mc.customerChanged(c) {
			if err := u.tx.Customers().Update(ctx, c); err != nil {
				return nil, err
			}
		}
		if mc.Before != nil || mc.customerChanged(c) {
			m.Changes = append(m.Changes, mc)
		}
	}
	mc, err := u.settleSurvivor(ctx, m, holdings[req.SurvivorID], customers[req.SurvivorID], heir, req.Actor, &changes)
	if err != nil {
		return nil, err
	}
	if mc != nil {
		m.Changes = append(m.Changes, *mc)
	}
	if err := u.apply(ctx, changes); err != nil {
		return nil, err
	}
	return m, nil
}

// settleSurvivor gives the survivor heir's owner when it has none, and
// sets its ownership fields from its holding. It returns the survivor's
// change, nil when nothing changed, and appends the counter changes it
// needs to changes.
func (u *unit) settleSurvivor(ctx context.Context, m *MergeOwnership, h *Holding, c *crm.Customer, heir *Holding, actor crm.ID, changes *[]counterChange) (*MergeChange, error) {
	mc := ownership(c)
	owned := h != nil && h.Owned() || h == nil && c.OwnerID != crm.NilID
	switch {
	case owned:
		m.OwnerID = c.OwnerID
		if h != nil {
			m.OwnerID = h.OwnerID
		}
	case heir != nil:
		owner, err := u.ownerOf(ctx, heir.OwnerID, heir.OwnerDepartmentID)
		if err != nil {
			return nil, err
		}
		isNew := h == nil
		var before *Holding
		if isNew {
			h = &Holding{CustomerID: c.ID}
		} else {
			b := *h
			before = &b
		}
		from := crm.NilID
		if h.Pooled() {
			from = h.PoolID
		}
		if h.PoolID == crm.NilID {
			h.PoolID = heir.PoolID
		}
		p, err := u.optionalPool(ctx, h.PoolID)
		if err != nil {
			return nil, err
		}
		// The owner held the loser, counted; the survivor takes its place.
		var buf [2]limitCheck
		for _, ck := range u.s.ownedChecks(buf[:0], owner, c) {
			*changes = append(*changes, counterChange{key: ck.Key, delta: 1, max: NoMax})
		}
		assignOwner(h, c, owner, p, u.now)
		schedule(h, c, p)
		if isNew {
			err = u.tx.PoolHoldings().Create(ctx, h)
		} else {
			err = u.tx.PoolHoldings().Update(ctx, h)
		}
		if err != nil {
			return nil, err
		}
		mc.Before, mc.HoldingVersion = before, h.Version
		m.OwnerID, m.OwnerFrom = owner.ID, heir.CustomerID
		e := &Entry{CustomerID: c.ID, Op: OpMerge, FromPool: from, ToOwner: owner.ID, ToPool: h.PoolID, ActorID: actor}
		if err := u.record(ctx, e); err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, *e)
	}
	if h != nil {
		c.OwnerID, c.PoolID, c.DepartmentID = h.OwnerID, crm.NilID, h.OwnerDepartmentID
		if h.Pooled() {
			c.PoolID = h.PoolID
		}
	}
	if !mc.customerChanged(c) && mc.HoldingVersion == 0 {
		return nil, nil
	}
	if mc.customerChanged(c) {
		if err := u.tx.Customers().Update(ctx, c); err != nil {
			return nil, err
		}
	}
	return &mc, nil
}

// UndoMergeTx restores what [Service.SettleMergeTx] changed, inside tx,
// the unit of work undoing the merge: every changed holding as it was
// (a holding the settlement created is left unowned and in no pool, which
// is how a customer without one stands), the owners' counters, and the
// customers' OwnerID, PoolID and DepartmentID as the settlement found
// them, with an [OpUnmerge] ledger entry (an [EventOwnershipUnmerged]
// event) per restored holding. Restored owners count again without a limit
// check. It refuses with an error matching [crm.ErrConflict] when any of
// the holdings changed since the settlement, and returns an error
// matching [crm.ErrUnsupported] when tx lacks the pool ports. On error the
// caller must roll back the unit of work.
func (s *Service) UndoMergeTx(ctx context.Context, tx crm.Tx, m *MergeOwnership, actor crm.ID) error {
	ctx = crm.DefaultActor(ctx, actor, string(OpUnmerge))
	if m == nil || m.SurvivorID == crm.NilID {
		return fmt.Errorf("pool: undo merge: %w", crm.Invalid("merge_ownership", "is not a settlement returned by SettleMergeTx"))
	}
	return s.exec(ctx, joined(tx), "undo merge into "+m.SurvivorID.String(), func(ctx context.Context, u *unit) error {
		return u.undoMerge(ctx, m, actor)
	})
}

func (u *unit) undoMerge(ctx context.Context, m *MergeOwnership, actor crm.ID) error {
	ids := make([]crm.ID, 0, len(m.Changes))
	for i, mc := range m.Changes {
		if mc.CustomerID == crm.NilID || slices.Contains(ids, mc.CustomerID) || mc.Before != nil && (mc.Before.CustomerID != mc.CustomerID || mc.HoldingVersion == 0) {
			return crm.Invalid(fmt.Sprintf("merge_ownership.changes[%d]", i), "is not a change written by SettleMergeTx")
		}
		ids = append(ids, mc.CustomerID)
	}
	holdings, err := u.lockHoldings(ctx, ids)
	if err != nil {
		return err
	}
	for _, mc := range m.Changes {
		if mc.HoldingVersion == 0 {
			continue
		}
		h := holdings[mc.CustomerID]
		if h == nil || h.Version != mc.HoldingVersion {
			return fmt.Errorf("holding of customer %s changed since the merge: %w", mc.CustomerID, crm.ErrConflict)
		}
	}
	// Count the restored owners first, then uncount the settled ones, so
	// no counter passes below zero on the way; apply keeps that order per
	// counter and takes the counters in key order.
	var changes []counterChange
	for _, mc := range m.Changes {
		if mc.Before != nil && mc.Before.Owned() {
			changes = countHolding(changes, mc.Before, 1)
		}
	}
	for _, mc := range m.Changes {
		if h := holdings[mc.CustomerID]; mc.HoldingVersion != 0 && h.Owned() {
			changes = countHolding(changes, h, -1)
		}
	}
	if err := u.apply(ctx, changes); err != nil {
		return err
	}
	for _, mc := range m.Changes {
		if mc.HoldingVersion != 0 {
			cur := holdings[mc.CustomerID]
			restored := Holding{CustomerID: mc.CustomerID, CreatedAt: cur.CreatedAt}
			if mc.Before != nil {
				restored = *mc.Before
			}
			restored.Version, restored.TenantID = cur.Version, cur.TenantID
			if err := u.tx.PoolHoldings().Update(ctx, &restored); err != nil {
				return err
			}
			e := &Entry{CustomerID: mc.CustomerID, Op: OpUnmerge, FromOwner: cur.OwnerID, ToOwner: restored.OwnerID, FromPool: cur.PoolID, ToPool: restored.PoolID, ActorID: actor}
			if restored.Locked {
				e.Reason = UnmergeLockedReason
			}
			if err := u.record(ctx, e); err != nil {
				return err
			}
		}
		c, err := u.customer(ctx, mc.CustomerID)
		if err != nil {
			return fmt.Errorf("customer %s: %w", mc.CustomerID, err)
		}
		if mc.customerChanged(c) {
			c.OwnerID, c.PoolID, c.DepartmentID = mc.OwnerID, mc.PoolID, mc.DepartmentID
			if err := u.tx.Customers().Update(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// countHolding appends to changes sign for each counter that h's owner has
// for h.
func countHolding(changes []counterChange, h *Holding, sign int64) []counterChange {
	changes = append(changes, counterChange{key: ownedKey(h.OwnerID), delta: sign, max: NoMax})
	if !h.Dealt {
		changes = append(changes, counterChange{key: ownedOpenKey(h.OwnerID), delta: sign, max: NoMax})
	}
	if h.Locked {
		changes = append(changes, counterChange{key: lockedKey(h.OwnerID), delta: sign, max: NoMax})
	}
	return changes
}
