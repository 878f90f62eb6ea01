package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// State is where a customer stands, seen from one actor.
type State string

// States.
const (
	// StateFree: nobody owns the customer and it is in no pool.
	StateFree State = "free"
	// StatePooled: the customer sits in a pool, claimable by its members.
	StatePooled State = "pooled"
	// StateYours: the actor owns the customer.
	StateYours State = "yours"
	// StateTaken: someone else owns the customer (撞单 if the actor chases
	// it too).
	StateTaken State = "taken"
)

// Standing answers "is this customer free, in a pool, or protected by a
// colleague?" for one actor. OwnerID, PoolID and PoolName are filled only as
// far as the actor may see them: the owner when the [Authorizer] allows
// [ActionSeeOwner], the pool when the actor is a member or admin of it.
type Standing struct {
	CustomerID crm.ID `json:"customer_id"`
	State      State  `json:"state"`
	OwnerID    crm.ID `json:"owner_id,omitzero"`
	PoolID     crm.ID `json:"pool_id,omitzero"`
	PoolName   string `json:"pool_name,omitempty"`
	// DueAt is when the customer falls back into its pool (owner and those
	// who may see the owner only).
	DueAt time.Time `json:"due_at,omitzero"`
	// ClaimableFrom is, for a pooled customer, when the actor may claim it
	// (zero: now).
	ClaimableFrom time.Time `json:"claimable_from,omitzero"`
}

// String describes the standing without naming anything hidden.
func (s Standing) String() string {
	switch {
	case s.State == StateTaken && s.OwnerID != crm.NilID:
		return fmt.Sprintf("customer %s (owned by user %s)", s.CustomerID, s.OwnerID)
	case s.State == StateTaken:
		return fmt.Sprintf("customer %s (owned by a colleague)", s.CustomerID)
	case s.State == StatePooled && s.PoolName != "":
		return fmt.Sprintf("customer %s (in pool %q)", s.CustomerID, s.PoolName)
	case s.State == StatePooled:
		return fmt.Sprintf("customer %s (in a pool)", s.CustomerID)
	}
	return fmt.Sprintf("customer %s (%s)", s.CustomerID, s.State)
}

// Status tells actor where a customer stands.
func (s *Service) Status(ctx context.Context, actor, customerID crm.ID) (*Standing, error) {
	return s.status(ctx, nil, actor, customerID)
}

// StatusTx is [Service.Status] inside tx, a unit of work the caller holds;
// a duplicate check reports what it found through it, so an actor learns
// an owner only as far as [ActionSeeOwner] allows.
func (s *Service) StatusTx(ctx context.Context, tx crm.Tx, actor, customerID crm.ID) (*Standing, error) {
	return s.status(ctx, joined(tx), actor, customerID)
}

func (s *Service) status(ctx context.Context, t crm.Tx, actor, customerID crm.ID) (*Standing, error) {
	var out *Standing
	err := s.exec(ctx, t, "status "+customerID.String(), func(ctx context.Context, u *unit) error {
		usr, err := u.actor(ctx, actor, "actor")
		if err != nil {
			return err
		}
		out, err = u.standing(ctx, usr, customerID)
		return err
	})
	return out, err
}

// CheckCollision lists the stored customers that the duplicate checker
// finds for candidate, each as it stands for actor (free, pooled, yours or
// taken by a colleague); an empty list means no match (or no checker
// configured). Hosts call it while a user types a
// new customer in.
func (s *Service) CheckCollision(ctx context.Context, actor crm.ID, candidate *crm.Customer) ([]Standing, error) {
	if candidate == nil {
		return nil, fmt.Errorf("pool: check collision: %w", crm.Invalid("candidate", "is required"))
	}
	var out []Standing
	err := s.run(ctx, "check collision", func(ctx context.Context, u *unit) error {
		usr, err := u.actor(ctx, actor, "actor")
		if err != nil {
			return err
		}
		out, err = u.matches(ctx, usr, candidate)
		return err
	})
	return out, err
}

func (u *unit) standing(ctx context.Context, usr *crm.User, customerID crm.ID) (*Standing, error) {
	st := &Standing{CustomerID: customerID, State: StateFree}
	h, err := u.tx.PoolHoldings().Get(ctx, customerID)
	if errors.Is(err, crm.ErrNotFound) {
		c, err := u.customer(ctx, customerID)
		if err != nil {
			return nil, err
		}
		// Customers the pool package never saw may still have an owner.
		if c.OwnerID != crm.NilID {
			h = &Holding{CustomerID: c.ID, OwnerID: c.OwnerID}
		} else {
			return st, nil
		}
	} else if err != nil {
		return nil, err
	}
	p, err := u.pool(ctx, h.PoolID, "pool_id")
	if err != nil {
		return nil, err
	}
	if p != nil && (isAdmin(p, usr) || isMember(ctx, u.tx, &p.Members, usr)) {
		st.PoolID, st.PoolName = p.ID, p.Name
	}
	switch {
	case h.OwnerID == usr.ID:
		st.State, st.OwnerID, st.DueAt = StateYours, usr.ID, h.DueAt
	case h.Owned():
		st.State = StateTaken
		err := u.authorize(ctx, &Access{Action: ActionSeeOwner, Actor: usr, Pool: p, Holding: h})
		switch {
		case err == nil:
			st.OwnerID, st.DueAt = h.OwnerID, h.DueAt
		case !errors.Is(err, crm.ErrPermissionDenied):
			return nil, err
		}
	case h.Pooled():
		st.State = StatePooled
		if p != nil && p.NewEntryCooldownHours > 0 {
			if until := h.EnteredAt.Add(time.Duration(p.NewEntryCooldownHours) * time.Hour); u.now.Before(until) {
				st.ClaimableFrom = until
			}
		}
		if h.PreviousOwnerID == usr.ID && u.now.Before(h.PreviousOwnerUntil) && h.PreviousOwnerUntil.After(st.ClaimableFrom) {
			st.ClaimableFrom = h.PreviousOwnerUntil
		}
	}
	return st, nil
}

// matches asks the duplicate checker about c and returns how each match
// stands for usr.
func (u *unit) matches(ctx context.Context, usr *crm.User, c *crm.Customer) ([]Standing, error) {
	if u.s.cfg.Duplicates == nil {
		return nil, nil
	}
	ids, err := u.s.cfg.Duplicates.Duplicates(ctx, u.tx, c)
	if err != nil {
		return nil, fmt.Errorf("duplicate check: %w", err)
	}
	var out []Standing
	for _, id := range ids {
		if id == c.ID {
			continue
		}
		st, err := u.standing(ctx, usr, id)
		if errors.Is(err, crm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *st)
	}
	return out, nil
}

// collisions returns the matches of c that someone other than usr owns. In
// block mode a non-empty answer is a [*CollisionError].
func (u *unit) collisions(ctx context.Context, usr *crm.User, c *crm.Customer, mode CollisionMode) ([]Standing, error) {
	if mode == CollisionOff {
		return nil, nil
	}
	all, err := u.matches(ctx, usr, c)
	if err != nil {
		return nil, err
	}
	var out []Standing
	for _, st := range all {
		if st.State == StateTaken {
			out = append(out, st)
		}
	}
	if len(out) > 0 && mode == CollisionBlock {
		return nil, &CollisionError{Collisions: out}
	}
	return out, nil
}

// View returns the customer as actor may see it: the owner and those who may
// see the owner ([ActionSeeOwner]) get every field; everyone else gets the
// customer's pool's hidden fields masked ([Pool.Mask]), so a phone number
// stays hidden until the customer is claimed.
func (s *Service) View(ctx context.Context, actor, customerID crm.ID) (*crm.Customer, error) {
	return s.view(ctx, nil, actor, customerID)
}

// ViewTx is [Service.View] inside tx, a unit of work the caller holds.
func (s *Service) ViewTx(ctx context.Context, tx crm.Tx, actor, customerID crm.ID) (*crm.Customer, error) {
	return s.view(ctx, joined(tx), actor, customerID)
}

func (s *Service) view(ctx context.Context, t crm.Tx, actor, customerID crm.ID) (*crm.Customer, error) {
	var out *crm.Customer
	err := s.exec(ctx, t, "view "+customerID.String(), func(ctx context.Context, u *unit) error {
		usr, err := u.actor(ctx, actor, "actor")
		if err != nil {
			return err
		}
		c, err := u.customer(ctx, customerID)
		if err != nil {
			return err
		}
		out = c
		h, err := u.tx.PoolHoldings().Get(ctx, customerID)
		if errors.Is(err, crm.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := u.pool(ctx, h.PoolID, "pool_id")
		if err != nil || p == nil || len(p.HiddenFields) == 0 || h.OwnerID == usr.ID {
			return err
		}
		if h.Owned() {
			err := u.authorize(ctx, &Access{Action: ActionSeeOwner, Actor: usr, Pool: p, Holding: h, Customer: c})
			if err == nil {
				return nil
			}
			if !errors.Is(err, crm.ErrPermissionDenied) {
				return err
			}
		}
		out = p.Mask(c)
		return nil
	})
	return out, err
}
