package crmkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
)

// CreateCustomerRequest asks to create a customer.
type CreateCustomerRequest struct {
	// Customer is the new customer. Required. An ID of crm.NilID gets one
	// from the configured generator. OwnerID, PoolID and DepartmentID are
	// set by the CRM: ownership changes only through the pools.
	Customer *crm.Customer
	// Actor is the user creating the customer; crm.NilID for the system
	// (an import), which no permission policy is asked about.
	Actor crm.ID
	// Own makes Actor the owner, through the pool's rules: owned-customer
	// limits, the recycling pool chosen by entry rules, protection, the
	// ledger, and the pool's collision mode. Without it the customer is
	// created unowned; enter it into a pool with Pools.EnterTx.
	Own bool
	// Policy overrides [Config.EntryPolicy] for this entry point (an
	// import may warn where a web form blocks). Defaults to nil.
	Policy *dedupe.Policy
	// IdempotencyKey makes a retried owned create return the first
	// result (see pool.CreateRequest). Optional.
	IdempotencyKey string
}

// CustomerResult is a stored customer and the duplicates it was let
// through with.
type CustomerResult struct {
	// Customer is the stored customer, a copy the caller owns.
	Customer *crm.Customer
	// Candidates are the stored customers it may duplicate, best first,
	// that the entry policy warned about (unowned creates).
	Candidates []dedupe.Candidate
	// Pool is the pool's result of an owned create, nil otherwise.
	Pool *pool.Result
}

// CreateCustomer creates a customer in one unit of work; see
// [CRM.CreateCustomerTx].
func (c *CRM) CreateCustomer(ctx context.Context, req CreateCustomerRequest) (*CustomerResult, error) {
	out, err := inUnit(ctx, c.store, req, c.CreateCustomerTx)
	if err != nil {
		return nil, err
	}
	*req.Customer = *out.Customer.Clone()
	return out, nil
}

// CreateCustomerTx creates a customer inside the caller's unit of work,
// checked for duplicates against the stored match keys, with its keys and
// its customer.created event. A duplicate is refused with an error matching
// [crm.ErrAlreadyExists]: a [*dedupe.BlockedError] (unowned), a
// [*pool.CollisionError] (owned), or a [*dedupe.KeyTakenError] when a
// concurrent entry of the same customer committed first. With
// [Config.Permissions] the actor needs the create grant on the customer.
// On error the caller must roll back (returning the error from InTx does
// that); req.Customer is not modified.
func (c *CRM) CreateCustomerTx(ctx context.Context, tx crm.Tx, req CreateCustomerRequest) (*CustomerResult, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "create")
	if req.Customer == nil {
		return nil, fmt.Errorf("crmkit: create customer: %w", crm.Invalid("customer", "is required"))
	}
	if req.Own && req.Actor == crm.NilID {
		return nil, fmt.Errorf("crmkit: create customer: %w", crm.Invalid("actor", "is required to own the customer"))
	}
	cust := req.Customer.Clone()
	if cust.ID == crm.NilID {
		cust.ID = c.cfg.IDs.NewID()
	}
	actor, err := c.creator(ctx, tx, req.Actor)
	if err != nil {
		return nil, fmt.Errorf("crmkit: create customer: %w", err)
	}
	if err := c.stampCreated(ctx, tx, cust, actor, req.Own); err != nil {
		return nil, fmt.Errorf("crmkit: create customer: %w", err)
	}
	if req.Own {
		cust.OwnerID = crm.NilID
		res, err := c.Pools.CreateTx(ctx, tx, pool.CreateRequest{Actor: req.Actor, Customer: cust, IdempotencyKey: req.IdempotencyKey})
		if err != nil {
			return nil, err
		}
		stored, err := tx.Customers().Get(ctx, cust.ID)
		if err != nil {
			return nil, fmt.Errorf("crmkit: create customer %s: %w", cust.ID, err)
		}
		return &CustomerResult{Customer: stored, Pool: res}, nil
	}
	policy := c.seams.policy
	if req.Policy != nil {
		policy = *req.Policy
	}
	res, err := c.Dedupe.EnterTx(ctx, tx, dedupe.EntryRequest{Customer: cust, Policy: policy, ActorID: req.Actor})
	var be *dedupe.BlockedError
	if errors.As(err, &be) && req.Actor != crm.NilID {
		// Nothing was written: the unit of work can still read.
		return nil, c.maskBlocked(ctx, tx, req.Actor, be)
	}
	if err != nil {
		return nil, err
	}
	out := &CustomerResult{Customer: res.Customer}
	if res.Action == dedupe.Warn {
		if out.Candidates, err = c.maskCandidates(ctx, tx, req.Actor, res.Candidates); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// creator returns the user creating customers, nil for the system
// (crm.NilID); an unknown user is a validation error naming "actor".
func (c *CRM) creator(ctx context.Context, tx crm.Tx, id crm.ID) (*crm.User, error) {
	if id == crm.NilID {
		return nil, nil
	}
	u, err := tx.Users().Get(ctx, id)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, crm.Invalid("actor", "unknown user %s", id)
	}
	return u, err
}

// stampCreated makes cust a customer actor creates: unowned and outside
// any pool (or owned by actor, with own, for the pools to settle), in the
// actor's department, with the create grant checked under
// [Config.Permissions]. A nil actor is the system.
func (c *CRM) stampCreated(ctx context.Context, tx crm.Tx, cust *crm.Customer, actor *crm.User, own bool) error {
	cust.OwnerID, cust.PoolID = crm.NilID, crm.NilID
	if actor == nil {
		return nil
	}
	cust.CreatedBy, cust.DepartmentID = actor.ID, actor.DepartmentID
	if own {
		cust.OwnerID = actor.ID
	}
	if c.cfg.Permissions == nil {
		return nil
	}
	r := permission.CustomerResource(cust, actor.DepartmentID)
	return c.seams.authorize(ctx, tx, actor, permission.ActionCreate, &r)
}

// enterCustomersTx is [CRM.CreateCustomerTx] without Own for many
// customers at once ([dedupe.Service.EnterManyTx]): each is stamped and
// checked as CreateCustomerTx would, and a blocked one's outcome is masked
// for the actor as CreateCustomerTx masks its error. The customers are not
// modified. pending and decided are [dedupe.EntryManyRequest]'s.
func (c *CRM) enterCustomersTx(ctx context.Context, tx crm.Tx, custs []*crm.Customer, actorID crm.ID, policy dedupe.Policy, pending []*crm.Customer, decided func([]*crm.Customer)) ([]dedupe.EntryOutcome, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, actorID, "create")
	actor, err := c.creator(ctx, tx, actorID)
	if err != nil {
		return nil, err
	}
	in := make([]*crm.Customer, len(custs))
	for i, cust := range custs {
		in[i] = cust.Clone()
		if in[i].ID == crm.NilID {
			in[i].ID = c.cfg.IDs.NewID()
		}
		if err := c.stampCreated(ctx, tx, in[i], actor, false); err != nil {
			return nil, err
		}
	}
	out, err := c.Dedupe.EnterManyTx(ctx, tx, dedupe.EntryManyRequest{Customers: in, Policy: policy, ActorID: actorID, Pending: pending, Decided: decided})
	if err != nil || actor == nil {
		return out, err
	}
	for i, o := range out {
		if o.Blocked != nil {
			masked := c.maskBlocked(ctx, tx, actorID, o.Blocked)
			var be *dedupe.BlockedError
			if !errors.As(masked, &be) {
				return nil, masked
			}
			out[i].Blocked = be
			continue
		}
		if o.Entered.Action == dedupe.Warn {
			if out[i].Entered.Candidates, err = c.maskCandidates(ctx, tx, actorID, o.Entered.Candidates); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// maskBlocked returns be with the existing customer and the candidates as
// actor may see them: owner, pool and department only where the pools let
// actor see the owner ([pool.ActionSeeOwner]), hidden fields masked.
func (c *CRM) maskBlocked(ctx context.Context, tx crm.Tx, actor crm.ID, be *dedupe.BlockedError) error {
	out := *be
	var err error
	if out.Candidates, err = c.maskCandidates(ctx, tx, actor, be.Candidates); err != nil {
		return err
	}
	if out.Best, err = c.maskCandidate(ctx, tx, actor, be.Best); err != nil {
		return err
	}
	if out.Existing, err = c.Pools.ViewTx(ctx, tx, actor, be.Existing.ID); err != nil {
		return err
	}
	out.Existing.OwnerID, out.Existing.PoolID = out.Best.OwnerID, out.Best.PoolID
	if out.Existing.OwnerID == crm.NilID {
		out.Existing.DepartmentID = crm.NilID
	}
	return &out
}

// maskCandidates returns cands with each owner and pool as actor may see
// them (all of them for the system, crm.NilID).
func (c *CRM) maskCandidates(ctx context.Context, tx crm.Tx, actor crm.ID, cands []dedupe.Candidate) ([]dedupe.Candidate, error) {
	if actor == crm.NilID || len(cands) == 0 {
		return cands, nil
	}
	out := make([]dedupe.Candidate, len(cands))
	for i, cd := range cands {
		m, err := c.maskCandidate(ctx, tx, actor, cd)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

func (c *CRM) maskCandidate(ctx context.Context, tx crm.Tx, actor crm.ID, cd dedupe.Candidate) (dedupe.Candidate, error) {
	if cd.CustomerID == crm.NilID {
		return cd, nil
	}
	st, err := c.Pools.StatusTx(ctx, tx, actor, cd.CustomerID)
	if err != nil {
		return cd, err
	}
	cd.OwnerID, cd.PoolID = st.OwnerID, st.PoolID
	return cd, nil
}

// UpdateCustomerRequest asks to change a customer's attributes.
type UpdateCustomerRequest struct {
	// Customer carries the new values and the Version they were read at.
	// Required. Ownership (OwnerID, PoolID, DepartmentID) must be as
	// stored: it changes only through the pools.
	Customer *crm.Customer
	// Actor is the user editing; crm.NilID for the system.
	Actor crm.ID
}

// UpdateCustomer changes a customer in one unit of work; see
// [CRM.UpdateCustomerTx].
func (c *CRM) UpdateCustomer(ctx context.Context, req UpdateCustomerRequest) (*crm.Customer, error) {
	out, err := inUnit(ctx, c.store, req, c.UpdateCustomerTx)
	if err != nil {
		return nil, err
	}
	*req.Customer = *out.Clone()
	return out, nil
}

// UpdateCustomerTx stores a changed customer inside the caller's unit of
// work if req.Customer.Version is current (else [crm.ErrConflict]),
// replaces its match keys, and records the changed fields with their
// customer.updated event. It refuses:
// a merged customer ([pool.ErrMerged]); a change of OwnerID, PoolID or
// DepartmentID ([*crm.ValidationError] naming the field: use the pools);
// with [Config.Permissions], an actor without the edit grant on the stored
// customer; and new values whose strong key another customer holds
// ([*dedupe.KeyTakenError], matching [crm.ErrAlreadyExists]: merge the
// two). On error the caller must roll back; req.Customer is not modified.
func (c *CRM) UpdateCustomerTx(ctx context.Context, tx crm.Tx, req UpdateCustomerRequest) (*crm.Customer, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "update")
	if req.Customer == nil || req.Customer.ID == crm.NilID {
		return nil, fmt.Errorf("crmkit: update customer: %w", crm.Invalid("customer.id", "is required"))
	}
	fail := func(err error) (*crm.Customer, error) {
		return nil, fmt.Errorf("crmkit: update customer %s: %w", req.Customer.ID, err)
	}
	stored, err := tx.Customers().Get(ctx, req.Customer.ID)
	if err != nil {
		return fail(err)
	}
	if _, merged := stored.MergedInto(); merged {
		return fail(pool.ErrMerged)
	}
	next := req.Customer.Clone()
	for _, f := range []struct {
		name       string
		was, isNow crm.ID
	}{{"owner_id", stored.OwnerID, next.OwnerID}, {"pool_id", stored.PoolID, next.PoolID}, {"department_id", stored.DepartmentID, next.DepartmentID}} {
		if f.was != f.isNow {
			return fail(crm.Invalid(f.name, "changes only through the pools (claim, release, transfer, move user)"))
		}
	}
	if _, merged := next.MergedInto(); merged {
		return fail(crm.Invalid("fields."+crm.MergedIntoField, "is set only by a merge"))
	}
	if c.cfg.Permissions != nil && req.Actor != crm.NilID {
		if err := c.seams.authorizeRecord(ctx, tx, req.Actor, permission.ActionEdit, stored); err != nil {
			return fail(err)
		}
	}
	if err := tx.Customers().Update(ctx, next); err != nil {
		return fail(err)
	}
	if err := c.Dedupe.IndexCustomerTx(ctx, tx, next); err != nil {
		return fail(err)
	}
	return next.Clone(), nil
}
