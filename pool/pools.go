package pool

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// CreatePool validates and stores a new pool. Managing pool definitions is
// an administrative task; the host decides who may do it.
func (s *Service) CreatePool(ctx context.Context, p *Pool) error {
	return s.createPool(ctx, nil, p)
}

// CreatePoolTx is [Service.CreatePool] inside tx, a unit of work the caller
// holds; see [Service.ClaimTx].
func (s *Service) CreatePoolTx(ctx context.Context, tx crm.Tx, p *Pool) error {
	return s.createPool(ctx, joined(tx), p)
}

func (s *Service) createPool(ctx context.Context, t crm.Tx, p *Pool) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("pool: create pool: %w", err)
	}
	return s.exec(ctx, t, "create pool "+p.ID.String(), func(ctx context.Context, u *unit) error {
		return u.tx.Pools().Create(ctx, p)
	})
}

// UpdatePool validates and stores a changed pool if p.Version is current
// ([crm.ErrConflict] otherwise). Stored due times keep their old values
// until the next operation, [Service.Recompute] or sweep touches each
// customer; a sweep never recycles a customer its current rule does not
// find due.
func (s *Service) UpdatePool(ctx context.Context, p *Pool) error {
	return s.updatePool(ctx, nil, p)
}

// UpdatePoolTx is [Service.UpdatePool] inside tx, a unit of work the caller
// holds; see [Service.ClaimTx].
func (s *Service) UpdatePoolTx(ctx context.Context, tx crm.Tx, p *Pool) error {
	return s.updatePool(ctx, joined(tx), p)
}

func (s *Service) updatePool(ctx context.Context, t crm.Tx, p *Pool) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("pool: update pool: %w", err)
	}
	return s.exec(ctx, t, "update pool "+p.ID.String(), func(ctx context.Context, u *unit) error {
		return u.tx.Pools().Update(ctx, p)
	})
}

// GetPool returns a pool, or an error matching [crm.ErrNotFound].
func (s *Service) GetPool(ctx context.Context, id crm.ID) (*Pool, error) {
	var out *Pool
	err := s.run(ctx, "get pool "+id.String(), func(ctx context.Context, u *unit) (err error) {
		out, err = u.tx.Pools().Get(ctx, id)
		return err
	})
	return out, err
}

// Holding returns the pool state of a customer (its due time, cooldowns,
// lock), or an error matching [crm.ErrNotFound].
func (s *Service) Holding(ctx context.Context, customerID crm.ID) (*Holding, error) {
	var out *Holding
	err := s.run(ctx, "get holding "+customerID.String(), func(ctx context.Context, u *unit) (err error) {
		out, err = u.tx.PoolHoldings().Get(ctx, customerID)
		return err
	})
	return out, err
}

// Ledger returns up to limit ledger entries after afterSeq, in Seq order;
// customerID NilID lists every customer's.
func (s *Service) Ledger(ctx context.Context, customerID crm.ID, afterSeq int64, limit int) ([]*Entry, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, fmt.Errorf("pool: ledger: %w", crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit))
	}
	var out []*Entry
	err := s.run(ctx, "ledger", func(ctx context.Context, u *unit) (err error) {
		out, err = u.tx.PoolLedger().List(ctx, customerID, afterSeq, limit)
		return err
	})
	return out, err
}

// Placement is where the ledger says a customer is.
type Placement struct {
	OwnerID crm.ID
	PoolID  crm.ID
	Locked  bool
}

// Replay folds ledger entries, in Seq order, into each customer's current
// placement. Replaying the whole ledger gives every customer's owner.
// [OpMerge] and [OpUnmerge] entries set the pool outright (NilID: none),
// and an OpUnmerge entry restores a lock when its Reason is
// [UnmergeLockedReason].
func Replay(entries []*Entry, into map[crm.ID]Placement) {
	for _, e := range entries {
		pl := into[e.CustomerID]
		pl.OwnerID = e.ToOwner
		if e.ToPool != crm.NilID || e.Op == OpMerge || e.Op == OpUnmerge {
			pl.PoolID = e.ToPool
		}
		switch e.Op {
		case OpLock:
			pl.Locked = true
		case OpUnlock, OpRelease, OpRecycle, OpTransfer, OpMerge:
			pl.Locked = false
		case OpUnmerge:
			pl.Locked = e.Reason == UnmergeLockedReason
		}
		into[e.CustomerID] = pl
	}
}

// PruneRequests removes up to limit (1 to [crm.MaxPageLimit]) stored
// idempotency records of the context tenant created before before, in one
// unit of work, and returns how many it removed. A retry carrying a pruned
// key is decided afresh, so keep records for longer than any client
// retries (a day is ample). Hosts call it from their scheduler, as they
// call [Service.Sweep], until it returns fewer than limit. A store whose
// request port lacks [RequestPruner] is [crm.ErrUnsupported].
func (s *Service) PruneRequests(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return 0, fmt.Errorf("pool: prune requests: %w", crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit))
	}
	var n int
	err := s.run(ctx, "prune requests", func(ctx context.Context, u *unit) error {
		p, ok := u.tx.PoolRequests().(RequestPruner)
		if !ok {
			return fmt.Errorf("the request store %T cannot prune: %w", u.tx.PoolRequests(), crm.ErrUnsupported)
		}
		var err error
		n, err = p.Prune(ctx, crm.StorageTime(before), limit)
		return err
	})
	return n, err
}
