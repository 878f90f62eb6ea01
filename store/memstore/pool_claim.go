package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// This file implements the optional [pool.ClaimStore], so that memstore
// has every storage port pgstore has and the one-write claim path runs in
// the pool package's own tests. The store's single lock makes the write
// atomic: PoolClaim is one unit of work that compares the versions read,
// checks the counters and writes through the ordinary pool ports.

var _ pool.ClaimStore = (*Store)(nil)

// PoolClaimState implements [pool.ClaimStore]: the holding, the customer,
// the actor and the holding's pool, each read as committed, without a
// unit of work (so not one consistent snapshot, as on pgstore; PoolClaim
// checks what matters).
func (s *Store) PoolClaimState(ctx context.Context, customerID, actorID crm.ID) (*pool.ClaimState, error) {
	var out pool.ClaimState
	keep := func(err error) error {
		if errors.Is(err, crm.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("memstore: read claim state: %w", err)
		}
		return nil
	}
	t := tx{s: s}
	var err error
	if out.Holding, err = (holdingRepo{t}).Get(ctx, customerID); keep(err) != nil {
		return nil, keep(err)
	}
	if out.Holding != nil && out.Holding.PoolID != crm.NilID {
		if out.Pool, err = (poolRepo{t}).Get(ctx, out.Holding.PoolID); keep(err) != nil {
			return nil, keep(err)
		}
	}
	if out.Customer, err = s.Customers().Get(ctx, customerID); keep(err) != nil {
		return nil, keep(err)
	}
	if out.Actor, err = s.Users().Get(ctx, actorID); keep(err) != nil {
		return nil, keep(err)
	}
	return &out, nil
}

// errClaimRefused rolls back a PoolClaim unit of work whose conditions did
// not hold; PoolClaim reports it in the outcome, not as an error.
var errClaimRefused = errors.New("memstore: claim refused")

// PoolClaim implements [pool.ClaimStore] as one unit of work: it refuses,
// changing nothing, when the holding or the customer changed since they
// were read or a counter would pass its max; otherwise it writes w through
// the pool ports as the port documents. The caller's values are written
// back only when the claim is stored.
func (s *Store) PoolClaim(ctx context.Context, w *pool.ClaimWrite) (pool.ClaimOutcome, error) {
	out := pool.ClaimOutcome{Refused: -1}
	if err := w.Validate(ctx); err != nil {
		return out, err
	}
	h := *w.Holding
	e := *w.Entry
	var req pool.Request
	err := s.InTx(ctx, func(ctx context.Context, utx crm.Tx) error {
		t, ok := utx.(tx)
		if !ok {
			return fmt.Errorf("memstore: unit of work %T is not memstore's: %w", utx, crm.ErrUnsupported)
		}
		old, err := (holdingRepo{t}).Get(ctx, h.CustomerID)
		if err != nil && !errors.Is(err, crm.ErrNotFound) {
			return err
		}
		c, cerr := t.Customers().Get(ctx, h.CustomerID)
		if cerr != nil && !errors.Is(cerr, crm.ErrNotFound) {
			return cerr
		}
		if old == nil || old.Version != h.Version || c == nil || c.Version != w.CustomerVersion {
			if old != nil {
				out.OwnerID = old.OwnerID
			}
			return errClaimRefused
		}
		counters := counterRepo{t}
		for i, ck := range w.Counters {
			v, err := counters.Get(ctx, ck.Key)
			if err != nil {
				return err
			}
			if v >= ck.Max {
				out.Refused, out.Current = i, v
				return errClaimRefused
			}
		}
		if err := (holdingRepo{t}).Update(ctx, &h); err != nil {
			return err
		}
		w.Customer.Apply(c)
		if err := t.Customers().Update(ctx, c); err != nil {
			return err
		}
		// In key order, as every unit of work adds to counters.
		checks := slices.Clone(w.Counters)
		slices.SortFunc(checks, func(a, b pool.CounterCheck) int { return cmp.Compare(a.Key, b.Key) })
		for _, ck := range checks {
			if _, ok, err := counters.Add(ctx, ck.Key, 1, ck.Max); err != nil || !ok {
				return errors.Join(err, fmt.Errorf("memstore: claim customer %s: counter %q refused after its check", h.CustomerID, ck.Key))
			}
		}
		if err := (ledgerRepo{t}).Append(ctx, &e); err != nil {
			return err
		}
		if w.Request != nil {
			req = *w.Request
			req.Result = w.RequestResult(e.Seq)
			if err := (requestRepo{t}).Put(ctx, &req); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errClaimRefused):
		return out, nil
	case err != nil:
		return pool.ClaimOutcome{Refused: -1}, fmt.Errorf("memstore: claim customer %s: %w", h.CustomerID, err)
	}
	*w.Holding, *w.Entry = h, e
	if w.Request != nil {
		*w.Request = req
	}
	out.Stored = true
	return out, nil
}
