package pool_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// claimSpy is memstore counting the one-write claims it stores, so a test
// knows which claim path the Service took.
type claimSpy struct {
	*memstore.Store
	writes atomic.Int64
}

func (s *claimSpy) PoolClaim(ctx context.Context, w *pool.ClaimWrite) (pool.ClaimOutcome, error) {
	s.writes.Add(1)
	return s.Store.PoolClaim(ctx, w)
}

var _ pool.ClaimStore = (*claimSpy)(nil)

// TestClaimPaths runs the same claims through both paths of Claim: one
// conditional write ([pool.ClaimStore], memstore's) and a unit of work
// (Config.ClaimInUnitOfWork), and requires the same outcomes, the same
// stored state and the same invariants under concurrency.
func TestClaimPaths(t *testing.T) {
	for _, inUnit := range []bool{false, true} {
		t.Run("InUnitOfWork="+strconv.FormatBool(inUnit), func(t *testing.T) {
			t.Parallel()
			newSpy := func(t *testing.T, edit func(*pool.Pool, *pool.Config)) (*fixture, *claimSpy) {
				spy := &claimSpy{}
				f := newFixture(t, edit)
				spy.Store = f.store
				svc, err := pool.New(spy, &pool.Config{Clock: f.clock, IDs: f.ids, ClaimInUnitOfWork: inUnit})
				require.NoError(t, err)
				f.svc = svc
				return f, spy
			}
			wantWrites := func(t *testing.T, spy *claimSpy, n int64) {
				t.Helper()
				if inUnit {
					n = 0
				}
				require.Equal(t, n, spy.writes.Load(), "claims through pool.ClaimStore")
			}
			t.Run("StoresOwnerPlacementLedgerAndEvent", func(t *testing.T) {
				f, spy := newSpy(t, nil)
				c := f.pooled()
				res, err := f.claim(f.alice, c)
				require.NoError(t, err)
				wantWrites(t, spy, 1)
				got := f.customer(c.ID)
				require.Equal(t, f.alice.ID, got.OwnerID)
				require.Equal(t, f.dept.ID, got.DepartmentID, "the customer follows its owner's department")
				require.Equal(t, crm.NilID, got.PoolID)
				h := f.holding(c.ID)
				require.Equal(t, res.Holding.Version, h.Version)
				require.Equal(t, f.alice.ID, h.OwnerID)
				require.False(t, h.DueAt.IsZero(), "the claim schedules the recycle")
				es := f.ledger(c.ID)
				require.Equal(t, pool.OpClaim, es[len(es)-1].Op)
				require.Equal(t, res.Entry.Seq, es[len(es)-1].Seq)
				evs, err := f.store.Outbox().Pending(f.ctx, crm.MaxPageLimit)
				require.NoError(t, err)
				last := evs[len(evs)-1]
				require.Equal(t, pool.EventClaimed, last.Type)
				require.Contains(t, string(last.Payload), `"seq":`+strconv.FormatInt(res.Entry.Seq, 10))
			})
			t.Run("RefusesATakenCustomerAndALimitAlike", func(t *testing.T) {
				f, spy := newSpy(t, func(p *pool.Pool, _ *pool.Config) {
					p.Limits = []pool.Limit{{Kind: pool.DailyClaims, Max: 1}}
				})
				a, b := f.pooled(), f.pooled()
				_, err := f.claim(f.alice, a)
				require.NoError(t, err)
				_, err = f.claim(f.bob, a)
				require.ErrorIs(t, err, pool.ErrTaken)
				_, err = f.claim(f.alice, b)
				var le *crm.LimitError
				require.ErrorAs(t, err, &le)
				require.Equal(t, string(pool.DailyClaims), le.Limit)
				require.Equal(t, crm.NilID, f.customer(b.ID).OwnerID)
				wantWrites(t, spy, 2)
			})
			t.Run("SixteenSimultaneousClaimsOfOneCustomerHaveOneWinner", func(t *testing.T) {
				f, _ := newSpy(t, nil)
				c := f.pooled()
				users := make([]*crm.User, 16)
				for i := range users {
					users[i] = f.user(f.dept.ID)
				}
				var won atomic.Int32
				var wg sync.WaitGroup
				for _, u := range users {
					wg.Go(func() {
						_, err := f.claim(u, c)
						switch {
						case err == nil:
							won.Add(1)
						case !errors.Is(err, pool.ErrTaken):
							t.Errorf("claim by %s: %v", u.ID, err)
						}
					})
				}
				wg.Wait()
				require.Equal(t, int32(1), won.Load())
				var claims int
				for _, e := range f.ledger(c.ID) {
					if e.Op == pool.OpClaim {
						claims++
					}
				}
				require.Equal(t, 1, claims)
			})
			t.Run("SimultaneousClaimsStopAtTheDailyLimit", func(t *testing.T) {
				f, _ := newSpy(t, func(p *pool.Pool, _ *pool.Config) {
					p.Limits = []pool.Limit{{Kind: pool.DailyClaims, Max: 3}}
				})
				cs := make([]*crm.Customer, 10)
				for i := range cs {
					cs[i] = f.pooled()
				}
				var won atomic.Int32
				var wg sync.WaitGroup
				for _, c := range cs {
					wg.Go(func() {
						_, err := f.claim(f.alice, c)
						var le *crm.LimitError
						switch {
						case err == nil:
							won.Add(1)
						case !errors.As(err, &le):
							t.Errorf("claim of %s: %v", c.ID, err)
						}
					})
				}
				wg.Wait()
				require.Equal(t, int32(3), won.Load())
				var owned int
				for _, c := range cs {
					if f.holding(c.ID).OwnerID == f.alice.ID {
						owned++
					}
				}
				require.Equal(t, 3, owned)
			})
		})
	}
}
