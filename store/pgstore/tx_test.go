package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/pgstore"
)

var errRollback = errors.New("roll back, please")

func event(ids crm.IDGenerator, subject crm.ID) *crm.Event {
	return &crm.Event{ID: ids.NewID(), Type: crm.EventCustomerCreated, Subject: crm.Ref{Type: crm.TypeCustomer, ID: subject}, OccurredAt: at}
}

func requireNoCustomer(t *testing.T, s *pgstore.Store, id crm.ID) {
	t.Helper()
	_, err := s.Customers().Get(context.Background(), id)
	require.ErrorIs(t, err, crm.ErrNotFound)
}

func requireNoEvents(t *testing.T, s *pgstore.Store) {
	t.Helper()
	pending, err := s.Outbox().Pending(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()

	t.Run("CommitsEveryWriteAndEvent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		c := crmtest.Customer(ids)
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Customers().Create(ctx, c); err != nil {
				return err
			}
			c.Level = "A"
			if err := tx.Customers().Update(ctx, c); err != nil {
				return err
			}
			return tx.Events().Append(ctx, event(ids, c.ID))
		})
		require.NoError(t, err)
		got, err := s.Customers().Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		pending, err := s.Outbox().Pending(ctx, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
	})

	t.Run("RollsBackWhenFnFails", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		c := crmtest.Customer(ids)
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Customers().Create(ctx, c); err != nil {
				return err
			}
			if err := tx.Events().Append(ctx, event(ids, c.ID)); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		requireNoCustomer(t, s, c.ID)
		requireNoEvents(t, s)
	})

	t.Run("RollsBackAndRepanicsWhenFnPanics", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		c := crmtest.Customer(ids)
		require.PanicsWithValue(t, "boom", func() {
			_ = s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				if err := tx.Customers().Create(ctx, c); err != nil {
					return err
				}
				panic("boom")
			})
		})
		requireNoCustomer(t, s, c.ID)
	})

	t.Run("RollsBackWhenTheContextEndsBeforeCommit", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		c := crmtest.Customer(ids)
		cctx, cancel := context.WithCancel(ctx)
		err := s.InTx(cctx, func(ctx context.Context, tx crm.Tx) error {
			if err := tx.Customers().Create(ctx, c); err != nil {
				return err
			}
			cancel()
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		requireNoCustomer(t, s, c.ID)
	})

	t.Run("RefusesNesting", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		c := crmtest.Customer(ids)
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			require.ErrorIs(t, s.InTx(ctx, func(context.Context, crm.Tx) error { return nil }), crm.ErrNestedTx)
			require.ErrorIs(t, s.Customers().Create(ctx, c), crm.ErrNestedTx, "the autocommit view would escape the unit of work")
			_, err := s.Outbox().Pending(ctx, 1)
			require.ErrorIs(t, err, crm.ErrFailedPrecondition)
			return tx.Customers().Create(ctx, c)
		})
		require.NoError(t, err)
	})

	t.Run("SurvivesExpectedRefusalsInsideTheUnit", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		u := crmtest.User(ids)
		require.NoError(t, s.Users().Create(ctx, u))
		c := crmtest.Customer(ids)
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			require.ErrorIs(t, tx.Users().Create(ctx, crmtest.User(ids, func(x *crm.User) { x.Email = u.Email })), crm.ErrAlreadyExists)
			require.ErrorIs(t, tx.Users().Create(ctx, u), crm.ErrAlreadyExists)
			other := crmtest.User(ids)
			require.NoError(t, tx.Users().Create(ctx, other))
			other.Email = u.Email
			require.ErrorIs(t, tx.Users().Update(ctx, other), crm.ErrAlreadyExists)
			stale := *u
			stale.Version = 7
			require.ErrorIs(t, tx.Users().Update(ctx, &stale), crm.ErrConflict)
			_, err := tx.Customers().Get(ctx, c.ID)
			require.ErrorIs(t, err, crm.ErrNotFound)
			bad := event(ids, c.ID)
			bad.Type = "Customer Created"
			require.ErrorIs(t, tx.Events().Append(ctx, event(ids, c.ID), bad), crm.ErrInvalidArgument)
			e := event(ids, c.ID)
			require.NoError(t, tx.Events().Append(ctx, e))
			require.ErrorIs(t, tx.Events().Append(ctx, e), crm.ErrAlreadyExists)
			return tx.Customers().Create(ctx, c)
		})
		require.NoError(t, err, "no refusal aborted the transaction")
		_, err = s.Customers().Get(ctx, c.ID)
		require.NoError(t, err)
	})

	t.Run("RetriesADeadlockAndSucceeds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		a, b := crmtest.Customer(ids), crmtest.Customer(ids)
		require.NoError(t, s.Customers().Create(ctx, a))
		require.NoError(t, s.Customers().Create(ctx, b))
		bump := func(ctx context.Context, tx crm.Tx, id crm.ID) error {
			c, err := tx.Customers().Get(ctx, id)
			if err != nil {
				return err
			}
			c.Level += "+"
			return tx.Customers().Update(ctx, c)
		}
		// Both units lock their first customer, meet, then each wants the
		// other's: PostgreSQL aborts one with a deadlock. The loser's retry
		// waits until the winner has finished, so it reads fresh versions.
		var arrived atomic.Int32
		met := make(chan struct{})
		done := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
		var attempts [2]atomic.Int32
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, order := range [2][2]crm.ID{{a.ID, b.ID}, {b.ID, a.ID}} {
			wg.Go(func() {
				defer close(done[i])
				errs[i] = s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
					if attempts[i].Add(1) > 1 {
						<-done[1-i]
					}
					if err := bump(ctx, tx, order[0]); err != nil {
						return err
					}
					if attempts[i].Load() == 1 {
						if arrived.Add(1) == 2 {
							close(met)
						}
						<-met
					}
					return bump(ctx, tx, order[1])
				})
			})
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.Equal(t, int32(3), attempts[0].Load()+attempts[1].Load(), "exactly one unit was retried once")
		for _, id := range []crm.ID{a.ID, b.ID} {
			c, err := s.Customers().Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, int64(3), c.Version, "both units' bumps are stored")
		}
	})

	t.Run("ReportsALostServerAsUnavailableAndStoresNothing", func(t *testing.T) {
		t.Parallel()
		for _, atCommit := range []bool{false, true} {
			s := newStore(t, nil)
			c := crmtest.Customer(ids)
			err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				if err := tx.Customers().Create(ctx, c); err != nil {
					return err
				}
				terminateIdleInTx(t, s.Schema())
				if atCommit {
					return nil
				}
				_, err := tx.Customers().Get(ctx, c.ID)
				return err
			})
			require.ErrorIs(t, err, crm.ErrUnavailable, "at commit: %v", atCommit)
			requireNoCustomer(t, s, c.ID)
		}
	})
}

// terminateIdleInTx ends, from another connection, the backend that is idle
// in a transaction whose last statement touched schema, and waits until it
// is gone.
func terminateIdleInTx(t *testing.T, schema string) {
	t.Helper()
	var n int
	err := testPool(t).QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
		FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND state = 'idle in transaction' AND strpos(query, $1) > 0`,
		`"`+schema+`"`).Scan(&n)
	require.NoError(t, err)
	require.Equal(t, 1, n, "one backend terminated")
}

func TestWithTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()

	for _, commit := range []bool{true, false} {
		name := "RollsBackWithTheHost"
		if commit {
			name = "CommitsWithTheHost"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, nil)
			pool := testPool(t)
			c := crmtest.Customer(ids)
			tx, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			ctx := crm.WithTenant(ctx, "acme")
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()

			view := s.WithTx(tx)
			require.NoError(t, view.Customers().Create(ctx, c))
			require.NoError(t, view.Events().Append(ctx, event(ids, c.ID)))
			_, err = tx.Exec(ctx, "CREATE TEMP TABLE host_work (id int) ON COMMIT DROP")
			require.NoError(t, err, "the host's own statements share the transaction")
			got, err := view.Customers().Get(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
			_, err = s.Customers().Get(ctx, c.ID)
			require.ErrorIs(t, err, crm.ErrNotFound, "invisible outside the host's transaction until it commits")

			if commit {
				require.NoError(t, tx.Commit(ctx))
				got, err = s.Customers().Get(ctx, c.ID)
				require.NoError(t, err)
				require.Equal(t, c, got)
				pending, err := s.Outbox().Pending(ctx, 10)
				require.NoError(t, err)
				require.Len(t, pending, 1)
				return
			}
			require.NoError(t, tx.Rollback(ctx))
			_, err = s.Customers().Get(ctx, c.ID)
			require.ErrorIs(t, err, crm.ErrNotFound)
			requireNoEvents(t, s)
		})
	}

	t.Run("WritesDepartmentsWithoutATransactionOfItsOwn", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		tx, err := testPool(t).Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		root := crmtest.Department(ids, "HQ", crm.NilID)
		child := crmtest.Department(ids, "East", root.ID)
		require.NoError(t, s.WithTx(tx).Departments().Create(ctx, root))
		require.NoError(t, s.WithTx(tx).Departments().Create(ctx, child))
		require.ErrorIs(t, s.WithTx(tx).Departments().Delete(ctx, root.ID, root.Version), crm.ErrFailedPrecondition)
		require.NoError(t, tx.Commit(ctx))
		_, err = s.Departments().Get(ctx, child.ID)
		require.NoError(t, err)
	})
}

func TestCancelledContexts(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	ids := crmtest.NewIDs()
	ctx := context.Background()
	c := crmtest.Customer(ids)
	require.NoError(t, s.Customers().Create(ctx, c))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	dctx, cancelD := context.WithDeadline(ctx, time.Unix(0, 0))
	defer cancelD()

	for _, tc := range []struct {
		ctx  context.Context
		want error
	}{{cctx, context.Canceled}, {dctx, context.DeadlineExceeded}} {
		_, err := s.Customers().Get(tc.ctx, c.ID)
		require.ErrorIs(t, err, tc.want)
		require.ErrorIs(t, s.Customers().Create(tc.ctx, crmtest.Customer(ids)), tc.want)
		require.ErrorIs(t, s.Customers().Update(tc.ctx, c), tc.want)
		require.ErrorIs(t, s.Customers().Delete(tc.ctx, c.ID, c.Version), tc.want)
		_, err = s.Customers().List(tc.ctx, crm.CustomerFilter{}, crm.PageRequest{})
		require.ErrorIs(t, err, tc.want)
		require.ErrorIs(t, s.Events().Append(tc.ctx, event(ids, c.ID)), tc.want)
		_, err = s.Outbox().Pending(tc.ctx, 1)
		require.ErrorIs(t, err, tc.want)
		require.ErrorIs(t, s.Outbox().Ack(tc.ctx, c.ID), tc.want)
		require.ErrorIs(t, s.InTx(tc.ctx, func(context.Context, crm.Tx) error { return nil }), tc.want)
	}
	got, err := s.Customers().Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got, "nothing changed")
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	t.Parallel()
	testPool(t) // only where PostgreSQL tests run at all
	pool, err := pgxpoolNew("postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	require.NoError(t, err)
	defer pool.Close()
	s, err := pgstore.New(pool, nil)
	require.NoError(t, err)
	_, err = s.Customers().Get(context.Background(), crm.ID{1})
	require.ErrorIs(t, err, crm.ErrUnavailable)
	require.ErrorIs(t, s.InTx(context.Background(), func(context.Context, crm.Tx) error { return nil }), crm.ErrUnavailable)
}

func pgxpoolNew(url string) (*pgxpool.Pool, error) { return pgxpool.New(context.Background(), url) }
