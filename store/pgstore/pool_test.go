package pgstore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/pgstore"
)

// poolBench is a migrated schema with a pool, an owner and a service.
type poolBench struct {
	ctx   context.Context
	clock *crmtest.Clock
	ids   *crmtest.IDs
	store *pgstore.Store
	svc   *pool.Service
	pool  *pool.Pool
	user  *crm.User
}

func newPoolBench(tb testing.TB, store *pgstore.Store, clock *crmtest.Clock, ids *crmtest.IDs) *poolBench {
	tb.Helper()
	ctx := context.Background()
	svc, err := pool.New(store, &pool.Config{Clock: clock, IDs: ids, SweepBatch: 500})
	require.NoError(tb, err)
	p := &pool.Pool{ID: ids.NewID(), Name: "bench", Members: pool.Members{All: true},
		Limits: []pool.Limit{{Kind: pool.DailyClaims, Max: 1 << 30}},
		Recycle: []pool.RecycleRule{{ID: "r", EffectiveFrom: clock.Now().Add(-time.Hour),
			Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 15}}}}}
	require.NoError(tb, svc.CreatePool(ctx, p))
	u := crmtest.User(ids)
	require.NoError(tb, store.Users().Create(ctx, u))
	return &poolBench{ctx: ctx, clock: clock, ids: ids, store: store, svc: svc, pool: p, user: u}
}

// load creates n customers with bulk SQL: pooled ones when owned is false,
// else owned by the bench user and due 15 days after since.
func (pb *poolBench) load(tb testing.TB, n int, owned bool, since time.Time) []crm.ID {
	tb.Helper()
	ids := make([]crm.ID, n)
	rows := make([][]any, n)
	hrows := make([][]any, n)
	now := crm.StorageTime(pb.clock.Now())
	since = crm.StorageTime(since)
	for i := range ids {
		ids[i] = pb.ids.NewID()
		var owner, poolID, ownedSince, due any
		poolID = pb.pool.ID
		if owned {
			owner, poolID, ownedSince, due = pb.user.ID, nil, since, since.Add(15*24*time.Hour)
		}
		rows[i] = []any{ids[i], "", int64(1), now, now, "company", "Customer", "potential", owner, poolID}
		var hpool any = pb.pool.ID
		hrows[i] = []any{ids[i], "", int64(1), now, now, hpool, owner, ownedSince, due, "no_follow_up", "r"}
	}
	schema := pb.store.Schema()
	_, err := testPool(tb).CopyFrom(pb.ctx, pgx.Identifier{schema, "crm_customers"},
		[]string{"id", "tenant_id", "version", "created_at", "updated_at", "kind", "name", "status", "owner_id", "pool_id"}, pgx.CopyFromRows(rows))
	require.NoError(tb, err)
	_, err = testPool(tb).CopyFrom(pb.ctx, pgx.Identifier{schema, "crm_pool_holdings"},
		[]string{"customer_id", "tenant_id", "version", "created_at", "updated_at", "pool_id", "owner_id", "owned_since", "due_at", "due_reason", "due_rule_id"}, pgx.CopyFromRows(hrows))
	require.NoError(tb, err)
	if owned {
		_, _, err = pb.counterAdd(tb, "pool/owned/"+pb.user.ID.String(), int64(n))
		require.NoError(tb, err)
	}
	// Fresh statistics, as autovacuum would gather them, so the planner
	// sees tables of the loaded size.
	for _, table := range []string{"crm_pool_holdings", "crm_customers"} {
		_, err = testPool(tb).Exec(pb.ctx, "ANALYZE "+pgx.Identifier{schema, table}.Sanitize())
		require.NoError(tb, err)
	}
	return ids
}

func (pb *poolBench) counterAdd(tb testing.TB, key string, n int64) (int64, bool, error) {
	var v int64
	var ok bool
	err := pb.store.InTx(pb.ctx, func(ctx context.Context, tx crm.Tx) error {
		var err error
		v, ok, err = tx.(pool.Tx).PoolCounters().Add(ctx, key, n, pool.NoMax)
		return err
	})
	return v, ok, err
}

// Two application instances (two connection pools) sweeping the same
// schema at once recycle each due customer exactly once.
func TestPoolSweepFromTwoConnectionPools(t *testing.T) {
	url := os.Getenv("CRMKIT_TEST_DATABASE_URL")
	testPool(t)
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	first := newStore(t, clock)
	pb := newPoolBench(t, first, clock, ids)
	const n = 300
	pb.load(t, n, true, clock.Now().Add(-20*24*time.Hour))

	other, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(other.Close)
	second, err := pgstore.New(other, &pgstore.Config{Schema: first.Schema(), Clock: clock})
	require.NoError(t, err)
	svc2, err := pool.New(second, &pool.Config{Clock: clock, IDs: ids, SweepBatch: 20})
	require.NoError(t, err)
	svc1, err := pool.New(first, &pool.Config{Clock: clock, IDs: ids, SweepBatch: 20})
	require.NoError(t, err)

	var wg sync.WaitGroup
	results := make([]pool.SweepResult, 4)
	for i, svc := range []*pool.Service{svc1, svc2, svc1, svc2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Sweep(context.Background(), clock.Now(), 10_000)
			if err != nil {
				t.Errorf("sweep %d: %v", i, err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		total += r.Recycled
	}
	require.Equal(t, n, total)
	var recycles, distinct int
	err = testPool(t).QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT subject_id) FROM "+pgx.Identifier{first.Schema(), "crm_events"}.Sanitize()+" WHERE ledger_op = 'recycle'").
		Scan(&recycles, &distinct)
	require.NoError(t, err)
	require.Equal(t, n, recycles)
	require.Equal(t, n, distinct, "no customer recycled twice")
}

// BenchmarkPoolClaim is one claim on PostgreSQL with every invariant kept
// (row lock, limit counters, customer and holding updates, ledger, event).
// Compare with BenchmarkPoolRawClaimUpdate, the floor.
func BenchmarkPoolClaim(b *testing.B) {
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	pb := newPoolBench(b, newStore(b, clock), clock, ids)
	cs := pb.load(b, b.N, false, time.Time{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: cs[i]}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolRawClaimUpdate is the floor a claim is measured against: a
// single-statement conditional UPDATE that takes an unowned customer, with
// no limits, ledger, events or idempotency.
func BenchmarkPoolRawClaimUpdate(b *testing.B) {
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	pb := newPoolBench(b, newStore(b, clock), clock, ids)
	cs := pb.load(b, b.N, false, time.Time{})
	sql := "UPDATE " + pgx.Identifier{pb.store.Schema(), "crm_customers"}.Sanitize() +
		" SET owner_id = $2, pool_id = NULL, version = version + 1 WHERE id = $1 AND owner_id IS NULL"
	db := testPool(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tag, err := db.Exec(pb.ctx, sql, cs[i], pb.user.ID)
		if err != nil || tag.RowsAffected() != 1 {
			b.Fatal(err, tag)
		}
	}
}

// BenchmarkPoolSweep100k recycles 100,000 due customers on PostgreSQL,
// with one sweep worker and with two (one batch per server core here).
// Run with -benchtime=1x; CRMKIT_POOL_SWEEP_N sets another count.
func BenchmarkPoolSweep100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("CRMKIT_POOL_SWEEP_N"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err)
		n = v
	}
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
				ids := crmtest.NewIDs()
				pb := newPoolBench(b, newStore(b, clock), clock, ids)
				pb.load(b, n, true, clock.Now().Add(-20*24*time.Hour))
				svc, err := pool.New(pb.store, &pool.Config{Clock: clock, IDs: ids, SweepBatch: 500, SweepWorkers: workers})
				require.NoError(b, err)
				b.StartTimer()
				res, err := svc.Sweep(pb.ctx, clock.Now(), n)
				b.StopTimer()
				require.NoError(b, err)
				require.Equal(b, n, res.Recycled)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recycled")
		})
	}
}

// The claim state is read by one statement with a part per record; each
// part is nil exactly when its record is missing, and a claim decided on
// it refuses what it must.
func TestPoolClaimStateReadsEachPartOrNil(t *testing.T) {
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	pb := newPoolBench(t, newStore(t, clock), clock, ids)
	c := pb.load(t, 1, false, time.Time{})[0]

	st, err := pb.store.PoolClaimState(pb.ctx, c, pb.user.ID)
	require.NoError(t, err)
	require.NotNil(t, st.Holding)
	require.Equal(t, c, st.Holding.CustomerID)
	require.NotNil(t, st.Customer)
	require.Equal(t, c, st.Customer.ID)
	require.NotNil(t, st.Actor)
	require.Equal(t, pb.user.Name, st.Actor.Name)
	require.NotNil(t, st.Pool)
	require.Equal(t, pb.pool.ID, st.Pool.ID)
	require.Equal(t, pb.pool.Recycle[0].ID, st.Pool.Recycle[0].ID)

	st, err = pb.store.PoolClaimState(pb.ctx, ids.NewID(), ids.NewID())
	require.NoError(t, err)
	require.Equal(t, &pool.ClaimState{}, st, "nothing exists")

	other := crmtest.Customer(ids)
	require.NoError(t, pb.store.Customers().Create(pb.ctx, other))
	st, err = pb.store.PoolClaimState(pb.ctx, other.ID, pb.user.ID)
	require.NoError(t, err)
	require.Nil(t, st.Holding, "not tracked by the pool package")
	require.Nil(t, st.Pool)
	require.NotNil(t, st.Customer)
	require.NotNil(t, st.Actor)

	_, err = pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: other.ID})
	require.ErrorIs(t, err, pool.ErrNotInPool)
	_, err = pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: ids.NewID(), CustomerID: c})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "an unknown actor")
	res, err := pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: c})
	require.NoError(t, err)
	require.Equal(t, pb.user.ID, res.Holding.OwnerID)
	// The one-write claim recorded its result: the same claim again is
	// its retry.
	again, err := pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: c})
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, res.Entry, again.Entry)
	require.Equal(t, res.Holding, again.Holding)
	colleague := crmtest.User(ids)
	require.NoError(t, pb.store.Users().Create(pb.ctx, colleague))
	_, err = pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: colleague.ID, CustomerID: c})
	require.ErrorIs(t, err, pool.ErrTaken)
}

// deadlockCounter is a pgx tracer counting statements PostgreSQL aborted
// with deadlock_detected (40P01), each of which InTx then retried.
type deadlockCounter struct{ n atomic.Int64 }

func (d *deadlockCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (d *deadlockCounter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	var pgErr *pgconn.PgError
	if errors.As(data.Err, &pgErr) && pgErr.Code == "40P01" {
		d.n.Add(1)
	}
}

// tracedStore returns a store over schema on a connection pool of its own
// whose statements d watches.
func tracedStore(t *testing.T, schema string, clock crm.Clock, d *deadlockCounter) *pgstore.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(os.Getenv("CRMKIT_TEST_DATABASE_URL"))
	require.NoError(t, err)
	cfg.MaxConns = 16
	cfg.ConnConfig.Tracer = d
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	s, err := pgstore.New(p, &pgstore.Config{Schema: schema, Clock: clock})
	require.NoError(t, err)
	return s
}

// Transfers moving customers between the same two users in opposite
// directions at once take both users' counters in one key order, so
// PostgreSQL never aborts one of them as a deadlock (each such abort used
// to stall for deadlock_timeout before InTx's retry).
func TestPoolOppositeTransfersNeverDeadlock(t *testing.T) {
	testPool(t)
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	var deadlocks deadlockCounter
	store := tracedStore(t, newStore(t, clock).Schema(), clock, &deadlocks)
	ctx := context.Background()
	svc, err := pool.New(store, &pool.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	admin, alice, bob := crmtest.User(ids), crmtest.User(ids), crmtest.User(ids)
	for _, u := range []*crm.User{admin, alice, bob} {
		require.NoError(t, store.Users().Create(ctx, u))
	}
	p := &pool.Pool{ID: ids.NewID(), Name: "transfers", Members: pool.Members{All: true}, Admins: []crm.ID{admin.ID}}
	require.NoError(t, svc.CreatePool(ctx, p))
	const goroutines, rounds = 16, 8
	customers := make([]crm.ID, goroutines)
	for i := range customers {
		c := crmtest.Customer(ids)
		require.NoError(t, store.Customers().Create(ctx, c))
		_, err := svc.Enter(ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: p.ID})
		require.NoError(t, err)
		_, err = svc.Claim(ctx, pool.ClaimRequest{Actor: []*crm.User{alice, bob}[i%2].ID, CustomerID: c.ID})
		require.NoError(t, err)
		customers[i] = c.ID
	}
	before := deadlocks.n.Load()
	var wg sync.WaitGroup
	for i, id := range customers {
		wg.Go(func() {
			// Customers of alice go to bob and back, bob's the other way.
			to := []*crm.User{bob, alice}
			if i%2 == 1 {
				to = []*crm.User{alice, bob}
			}
			for r := range rounds {
				if _, err := svc.Transfer(ctx, pool.AssignRequest{Actor: admin.ID, CustomerID: id, To: to[r%2].ID}); err != nil {
					t.Errorf("transfer %d of customer %d: %v", r, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, deadlocks.n.Load()-before, "deadlocks PostgreSQL detected (and InTx retried)")
	for _, u := range []*crm.User{alice, bob} {
		var owned int64
		require.NoError(t, store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
			owned, err = tx.(pool.Tx).PoolCounters().Get(ctx, "pool/owned/"+u.ID.String())
			return err
		}))
		require.EqualValues(t, goroutines/2, owned, "rounds are even, so everyone owns what they started with")
	}
}

// Claims whose context is cancelled at random moments, on both claim paths
// (one conditional write, and a unit of work): each is either stored and
// reported as stored, or not stored and reported with the context's error,
// or reported as crm.ErrOutcomeUnknown and then settled by retrying the
// same keyless claim. A claim stored but reported as a plain context
// error (its retry then refused as taken) is the defect this guards.
func TestPoolCancelledClaimsAreStoredOnlyWhenReported(t *testing.T) {
	clock := crmtest.NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	pb := newPoolBench(t, newStore(t, clock), clock, ids)
	users := []*crm.User{pb.user}
	for range 3 {
		u := crmtest.User(ids)
		require.NoError(t, pb.store.Users().Create(pb.ctx, u))
		users = append(users, u)
	}
	for _, inUnit := range []bool{false, true} {
		t.Run("InUnitOfWork="+strconv.FormatBool(inUnit), func(t *testing.T) {
			svc, err := pool.New(pb.store, &pool.Config{Clock: clock, IDs: ids, ClaimInUnitOfWork: inUnit})
			require.NoError(t, err)
			const n, workers = 240, 8
			customers := pb.load(t, n, false, time.Time{})
			var stored, cancelled, unknown atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						actor := users[i%len(users)].ID
						req := pool.ClaimRequest{Actor: actor, CustomerID: customers[i]}
						// Cancelled anywhere from before the first
						// statement to after the commit.
						ctx, cancel := context.WithTimeout(pb.ctx, time.Duration(i*3779%30000)*time.Microsecond)
						_, err := svc.Claim(ctx, req)
						cancel()
						h, herr := svc.Holding(pb.ctx, customers[i])
						if herr != nil {
							t.Errorf("customer %d: %v", i, herr)
							return
						}
						switch {
						case err == nil:
							stored.Add(1)
							if h.OwnerID != actor {
								t.Errorf("customer %d: claim reported stored, owner is %s", i, h.OwnerID)
							}
						case errors.Is(err, crm.ErrOutcomeUnknown):
							unknown.Add(1)
							if _, err := svc.Claim(pb.ctx, req); err != nil {
								t.Errorf("customer %d: retry after an unknown outcome: %v", i, err)
							}
						default:
							cancelled.Add(1)
							if !errors.Is(err, context.DeadlineExceeded) {
								t.Errorf("customer %d: %v", i, err)
							}
							if h.Owned() {
								t.Errorf("customer %d: claim stored but reported as %v", i, err)
							}
							// Not stored, so claiming again is a new claim.
							if _, err := svc.Claim(pb.ctx, req); err != nil {
								t.Errorf("customer %d: claim after a cancelled one: %v", i, err)
							}
						}
					}
				})
			}
			wg.Wait()
			t.Logf("stored %d, cancelled and not stored %d, outcome unknown %d", stored.Load(), cancelled.Load(), unknown.Load())
			require.Positive(t, cancelled.Load(), "some claims must be cancelled for the test to mean anything")
			require.Positive(t, stored.Load())
			for i, id := range customers {
				h, err := svc.Holding(pb.ctx, id)
				require.NoError(t, err)
				require.Equal(t, users[i%len(users)].ID, h.OwnerID)
			}
		})
	}
}
