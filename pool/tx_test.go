package pool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// txStep is one mutating operation, in its plain form when tx is nil and
// in its Tx form otherwise.
type txStep struct {
	name string
	run  func(f *fixture, tx crm.Tx, c *crm.Customer) error
}

// txSteps walk one customer through every mutating operation.
func txSteps(other *pool.Pool) []txStep {
	return []txStep{
		{"Claim", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID, IdempotencyKey: "claim-1"}
			if tx == nil {
				_, err := f.svc.Claim(f.ctx, req)
				return err
			}
			_, err := f.svc.ClaimTx(f.ctx, tx, req)
			return err
		}},
		{"Lock", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.LockRequest{Actor: f.alice.ID, CustomerID: c.ID}
			if tx == nil {
				_, err := f.svc.Lock(f.ctx, req)
				return err
			}
			_, err := f.svc.LockTx(f.ctx, tx, req)
			return err
		}},
		{"Unlock", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.LockRequest{Actor: f.alice.ID, CustomerID: c.ID}
			if tx == nil {
				_, err := f.svc.Unlock(f.ctx, req)
				return err
			}
			_, err := f.svc.UnlockTx(f.ctx, tx, req)
			return err
		}},
		{"Transfer", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.AssignRequest{Actor: f.manager.ID, CustomerID: c.ID, To: f.bob.ID}
			if tx == nil {
				_, err := f.svc.Transfer(f.ctx, req)
				return err
			}
			_, err := f.svc.TransferTx(f.ctx, tx, req)
			return err
		}},
		{"Recompute", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			if tx == nil {
				_, err := f.svc.Recompute(f.ctx, c.ID)
				return err
			}
			_, err := f.svc.RecomputeTx(f.ctx, tx, c.ID)
			return err
		}},
		{"Release", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.ReleaseRequest{Actor: f.bob.ID, CustomerID: c.ID, Reason: "no_budget"}
			if tx == nil {
				_, err := f.svc.Release(f.ctx, req)
				return err
			}
			_, err := f.svc.ReleaseTx(f.ctx, tx, req)
			return err
		}},
		{"CreatePool", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			p := other.Clone()
			if tx == nil {
				return f.svc.CreatePool(f.ctx, p)
			}
			return f.svc.CreatePoolTx(f.ctx, tx, p)
		}},
		{"UpdatePool", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			p := other.Clone()
			p.Version, p.Admins = 1, []crm.ID{f.admin.ID}
			if tx == nil {
				return f.svc.UpdatePool(f.ctx, p)
			}
			return f.svc.UpdatePoolTx(f.ctx, tx, p)
		}},
		{"Move", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.MoveRequest{Actor: f.admin.ID, CustomerID: c.ID, PoolID: other.ID}
			if tx == nil {
				_, err := f.svc.Move(f.ctx, req)
				return err
			}
			_, err := f.svc.MoveTx(f.ctx, tx, req)
			return err
		}},
		{"Assign", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.AssignRequest{Actor: f.admin.ID, CustomerID: c.ID, To: f.carol.ID}
			if tx == nil {
				_, err := f.svc.Assign(f.ctx, req)
				return err
			}
			_, err := f.svc.AssignTx(f.ctx, tx, req)
			return err
		}},
		{"Create", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			req := pool.CreateRequest{Actor: f.bob.ID, Customer: crmtest.Customer(f.ids, func(n *crm.Customer) { n.Name = "Created" })}
			if tx == nil {
				_, err := f.svc.Create(f.ctx, req)
				return err
			}
			_, err := f.svc.CreateTx(f.ctx, tx, req)
			return err
		}},
		{"Enter", func(f *fixture, tx crm.Tx, c *crm.Customer) error {
			fresh := crmtest.Customer(f.ids, func(n *crm.Customer) { n.Name = "Entered" })
			req := pool.EnterRequest{CustomerID: fresh.ID, PoolID: f.pool.ID}
			if tx == nil {
				if err := f.store.Customers().Create(f.ctx, fresh); err != nil {
					return err
				}
				_, err := f.svc.Enter(f.ctx, req)
				return err
			}
			// Inside a memstore unit of work only its tx may be used.
			if err := tx.Customers().Create(f.ctx, fresh); err != nil {
				return err
			}
			_, err := f.svc.EnterTx(f.ctx, tx, req)
			return err
		}},
	}
}

// state is everything a fixture's store holds that pool operations write.
type state struct {
	Customers []*crm.Customer
	Holdings  []*pool.Holding
	Ledger    []*pool.Entry
	Events    []crm.Event
	Counters  map[string]int64
	Pools     []*pool.Pool
}

func (f *fixture) state() state {
	f.t.Helper()
	var st state
	page, err := f.store.Customers().List(f.ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(f.t, err)
	st.Customers = page.Items
	for _, c := range st.Customers {
		h, err := f.svc.Holding(f.ctx, c.ID)
		if !errors.Is(err, crm.ErrNotFound) {
			require.NoError(f.t, err)
			st.Holdings = append(st.Holdings, h)
		}
	}
	st.Ledger = f.ledger(crm.NilID)
	st.Events, err = f.store.Outbox().Pending(f.ctx, 1000)
	require.NoError(f.t, err)
	st.Counters = map[string]int64{}
	require.NoError(f.t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
		for _, u := range []*crm.User{f.alice, f.bob, f.carol} {
			for _, k := range []string{"pool/owned/", "pool/owned_open/", "pool/locked/"} {
				v, err := tx.(pool.Tx).PoolCounters().Get(ctx, k+u.ID.String())
				if err != nil {
					return err
				}
				st.Counters[k+u.ID.String()] = v
			}
		}
		st.Pools, err = tx.(pool.Tx).Pools().List(ctx, crm.NilID, 100)
		return err
	}))
	return st
}

func TestTxForms(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*fixture, *crm.Customer, *pool.Pool) {
		f := newFixture(t, nil)
		c := f.pooled()
		other := &pool.Pool{ID: f.ids.NewID(), Name: "West", Admins: []crm.ID{f.admin.ID}, Members: pool.Members{All: true}}
		return f, c, other
	}
	t.Run("CommittedKeepExactlyWhatThePlainFormsKeep", func(t *testing.T) {
		t.Parallel()
		plain, pc, pOther := setup(t)
		joined, jc, jOther := setup(t)
		for _, step := range txSteps(pOther) {
			require.NoError(t, step.run(plain, nil, pc), "plain %s", step.name)
		}
		for _, step := range txSteps(jOther) {
			err := joined.store.InTx(joined.ctx, func(ctx context.Context, tx crm.Tx) error {
				return step.run(joined, tx, jc)
			})
			require.NoError(t, err, "%sTx", step.name)
		}
		require.Equal(t, plain.state(), joined.state())
	})
	t.Run("AFailedUnitOfWorkKeepsNothingOfAnyTxForm", func(t *testing.T) {
		t.Parallel()
		f, c, other := setup(t)
		boom := errors.New("boom")
		for _, step := range txSteps(other) {
			before := f.state()
			err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
				if err := step.run(f, tx, c); err != nil {
					return err
				}
				return boom
			})
			require.ErrorIs(t, err, boom, "%sTx succeeded inside the unit of work", step.name)
			require.Equal(t, before, f.state(), "%sTx left something behind", step.name)
			// Move on to the next step's starting point.
			require.NoError(t, step.run(f, nil, c), "plain %s", step.name)
		}
	})
	t.Run("SeveralOperationsShareOneUnitOfWork", func(t *testing.T) {
		t.Parallel()
		f, c, _ := setup(t)
		err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
			if _, err := f.svc.ClaimTx(ctx, tx, pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID}); err != nil {
				return err
			}
			_, err := f.svc.LockTx(ctx, tx, pool.LockRequest{Actor: f.alice.ID, CustomerID: c.ID})
			return err
		})
		require.NoError(t, err)
		h := f.holding(c.ID)
		require.Equal(t, f.alice.ID, h.OwnerID)
		require.True(t, h.Locked)
	})
	t.Run("IdempotencyKeysWorkAcrossUnitsOfWork", func(t *testing.T) {
		t.Parallel()
		f, c, _ := setup(t)
		req := pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID, IdempotencyKey: "k"}
		var first, again *pool.Result
		require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) (err error) {
			first, err = f.svc.ClaimTx(ctx, tx, req)
			return err
		}))
		require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) (err error) {
			again, err = f.svc.ClaimTx(ctx, tx, req)
			return err
		}))
		require.False(t, first.Replayed)
		require.True(t, again.Replayed)
		require.Equal(t, first.Entry.ID, again.Entry.ID)
		_, err := f.svc.Claim(f.ctx, req)
		require.NoError(t, err, "the plain form replays a key of the Tx form")
		require.Len(t, f.ledger(c.ID), 2, "enter and one claim")
		bob := req
		bob.Actor = f.bob.ID
		require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
			_, err := f.svc.ClaimTx(ctx, tx, bob)
			require.ErrorIs(t, err, pool.ErrKeyReused)
			return nil
		}))
	})
	t.Run("ReturnsErrUnsupportedForATxWithoutPoolPorts", func(t *testing.T) {
		t.Parallel()
		f, c, _ := setup(t)
		bare := bareStore{f.store}
		require.NoError(t, bare.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
			_, err := f.svc.ClaimTx(ctx, tx, pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID})
			require.ErrorIs(t, err, crm.ErrUnsupported)
			_, err = f.svc.MoveUserTx(ctx, tx, pool.MoveUserRequest{UserID: f.alice.ID})
			require.ErrorIs(t, err, crm.ErrUnsupported)
			_, err = f.svc.SettleMergeTx(ctx, tx, pool.MergeOwnershipRequest{SurvivorID: c.ID, LoserIDs: []crm.ID{f.ids.NewID()}})
			require.ErrorIs(t, err, crm.ErrUnsupported)
			return nil
		}))
		_, err := f.svc.ClaimTx(f.ctx, nil, pool.ClaimRequest{Actor: f.alice.ID, CustomerID: c.ID})
		require.ErrorIs(t, err, crm.ErrUnsupported, "a nil tx")
		require.Equal(t, crm.NilID, f.holding(c.ID).OwnerID)
	})
}

// indexingDup is a duplicate checker that also keeps match keys, failing
// when fail is set.
type indexingDup struct {
	phoneDup
	indexed *[]crm.ID
	fail    error
}

func (d indexingDup) IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error {
	if d.fail != nil {
		return d.fail
	}
	if _, err := tx.Customers().Get(ctx, c.ID); err != nil {
		return err // the customer must be stored already
	}
	*d.indexed = append(*d.indexed, c.ID)
	return nil
}

func TestCustomerIndexer(t *testing.T) {
	t.Parallel()
	t.Run("CreateAndEnterIndexTheCustomerTheyStore", func(t *testing.T) {
		t.Parallel()
		var indexed []crm.ID
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) { cfg.Duplicates = indexingDup{indexed: &indexed} })
		c := f.pooled()
		created := crmtest.Customer(f.ids)
		_, err := f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: created})
		require.NoError(t, err)
		_, err = f.claim(f.alice, c)
		require.NoError(t, err)
		require.Equal(t, []crm.ID{c.ID, created.ID}, indexed, "claims index nothing")
	})
	t.Run("AnIndexingErrorFailsTheOperationAndKeepsNothing", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("index down")
		var indexed []crm.ID
		f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) {
			cfg.Duplicates = indexingDup{indexed: &indexed, fail: boom}
		})
		c := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, c))
		_, err := f.svc.Enter(f.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: f.pool.ID})
		require.ErrorIs(t, err, boom)
		_, err = f.svc.Holding(f.ctx, c.ID)
		require.ErrorIs(t, err, crm.ErrNotFound)
		created := crmtest.Customer(f.ids)
		_, err = f.svc.Create(f.ctx, pool.CreateRequest{Actor: f.alice.ID, Customer: created})
		require.ErrorIs(t, err, boom)
		_, err = f.store.Customers().Get(f.ctx, created.ID)
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.Empty(t, f.ledger(crm.NilID))
	})
}

// markMerged marks c merged into survivor, as a dedupe merge does.
func (f *fixture) markMerged(c *crm.Customer, survivor crm.ID) {
	f.t.Helper()
	got := f.customer(c.ID)
	if got.Fields == nil {
		got.Fields = crm.Fields{}
	}
	got.Fields[crm.MergedIntoField] = crm.String(survivor.String())
	require.NoError(f.t, f.store.Customers().Update(f.ctx, got))
}

func TestMergedCustomersAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(_ *pool.Pool, cfg *pool.Config) { cfg.Clock = crmtest.NewClock(crmtest.Epoch()) })
	survivor := f.pooled()
	pooled, owned := f.pooled(), f.pooled()
	_, err := f.claim(f.alice, owned)
	require.NoError(t, err)
	fresh := crmtest.Customer(f.ids)
	require.NoError(t, f.store.Customers().Create(f.ctx, fresh))
	for _, c := range []*crm.Customer{pooled, owned, fresh} {
		f.markMerged(c, survivor.ID)
	}
	ops := map[string]func() error{
		"Claim": func() error { _, err := f.claim(f.bob, pooled); return err },
		"Assign": func() error {
			_, err := f.svc.Assign(f.ctx, pool.AssignRequest{Actor: f.admin.ID, CustomerID: pooled.ID, To: f.bob.ID})
			return err
		},
		"Release": func() error {
			_, err := f.svc.Release(f.ctx, pool.ReleaseRequest{Actor: f.alice.ID, CustomerID: owned.ID, Reason: "x"})
			return err
		},
		"Transfer": func() error {
			_, err := f.svc.Transfer(f.ctx, pool.AssignRequest{Actor: f.admin.ID, CustomerID: owned.ID, To: f.bob.ID})
			return err
		},
		"Lock": func() error {
			_, err := f.svc.Lock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: owned.ID})
			return err
		},
		"Unlock": func() error {
			_, err := f.svc.Unlock(f.ctx, pool.LockRequest{Actor: f.alice.ID, CustomerID: owned.ID})
			return err
		},
		"Move": func() error {
			_, err := f.svc.Move(f.ctx, pool.MoveRequest{Actor: f.admin.ID, CustomerID: pooled.ID, PoolID: f.ids.NewID()})
			return err
		},
		"Enter": func() error {
			_, err := f.svc.Enter(f.ctx, pool.EnterRequest{CustomerID: fresh.ID, PoolID: f.pool.ID})
			return err
		},
	}
	for name, op := range ops {
		err := op()
		require.ErrorIs(t, err, pool.ErrMerged, name)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition, name)
		require.Contains(t, err.Error(), survivor.ID.String(), name)
	}
	require.Equal(t, f.alice.ID, f.holding(owned.ID).OwnerID)
	require.Len(t, f.ledger(pooled.ID), 1)
	f.clock.Advance(time.Hour)
}

// TestUnsupportedStoreTxForms checks the Tx forms against a store whose
// units of work have no pool ports at all.
func TestUnsupportedStoreTxForms(t *testing.T) {
	t.Parallel()
	store := bareStore{memstore.New(nil)}
	svc, err := pool.New(store, nil)
	require.NoError(t, err)
	err = store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		return svc.CreatePoolTx(ctx, tx, &pool.Pool{ID: crmtest.SequentialID(1), Name: "P", Members: pool.Members{All: true}})
	})
	require.ErrorIs(t, err, crm.ErrUnsupported)
}
