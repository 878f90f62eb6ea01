package pgstore_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/pgstore"
	"github.com/crmkit/crmkit/workflow"
)

// BenchmarkTick100000DueTimers fires 100,000 due SLA timers with Tick in
// units of work of workflow.MaxTickLimit timers each, events included. The
// timers are inserted with one set-based statement outside the timed part.
// Run it with -benchtime=1x: one operation is the whole 100,000.
func BenchmarkTick100000DueTimers(b *testing.B) {
	const timers = 100_000
	ctx := context.Background()
	s := newStore(b, nil)
	pool := testPool(b)
	table := pgx.Identifier{s.Schema(), "crm_sla_timers"}.Sanitize()
	ids := crmtest.NewIDs()
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	now := start.Add(48 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if _, err := pool.Exec(ctx, "TRUNCATE "+table); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+table+" (id, version, record_type, record_id, policy, running_since, due_at)"+
			" SELECT gen_random_uuid(), 1, 'ticket', gen_random_uuid(), 'first_response', $1, $1::timestamptz + (i || ' seconds')::interval"+
			" FROM generate_series(1, $2) AS i", start, timers); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		fired := 0
		for {
			var n int
			err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
				w, err := workflow.TxOf(tx)
				if err != nil {
					return err
				}
				fs, err := workflow.Tick(ctx, w, ids, now, workflow.MaxTickLimit)
				n = len(fs)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
			fired += n
		}
		if fired != timers {
			b.Fatalf("fired %d of %d timers", fired, timers)
		}
	}
}

// inWorkflow runs fn in a unit of work of s with its workflow ports.
func inWorkflow(ctx context.Context, s crm.Store, fn func(ctx context.Context, w workflow.Tx) error) error {
	return s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return fn(ctx, w)
	})
}

// remindingApprovals returns an approval engine for requests built by
// dueApproval: they only remind, so no approver needs to exist.
func remindingApprovals(tb testing.TB, ids crm.IDGenerator, clock crm.Clock) *workflow.Approvals {
	tb.Helper()
	org, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(tb, err)
	a, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	require.NoError(tb, err)
	return a
}

// dueApproval returns a pending request whose one step reminds its
// approver at due.
func dueApproval(ids crm.IDGenerator, submitted, due time.Time) *workflow.Instance {
	return &workflow.Instance{
		ID: ids.NewID(), Definition: "quote_discount", DefinitionVersion: 1,
		Record: crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}, Submitter: ids.NewID(),
		Status: workflow.ApprovalPending, SubmittedAt: submitted,
		Steps: []workflow.StepState{{Name: "sales_manager", Rule: workflow.RuleAny, OnReject: workflow.RejectToSubmitter,
			Approvers: []crm.ID{ids.NewID()}, Status: workflow.StepActive, StartedAt: submitted,
			Timeout: workflow.Duration(due.Sub(submitted)), OnTimeout: workflow.TimeoutRemind, DueAt: due}},
	}
}

// createApprovals stores the requests in one unit of work.
func createApprovals(tb testing.TB, s crm.Store, ins ...*workflow.Instance) {
	tb.Helper()
	require.NoError(tb, inWorkflow(context.Background(), s, func(ctx context.Context, w workflow.Tx) error {
		for _, in := range ins {
			if err := w.ApprovalInstances().CreateInstance(ctx, in); err != nil {
				return err
			}
		}
		return nil
	}))
}

// ownPool opens a connection pool of its own, closed when the test ends,
// standing in for another application instance.
func ownPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	testPool(tb) // skips without a database
	cfg, err := pgxpool.ParseConfig(os.Getenv(urlEnv))
	require.NoError(tb, err)
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

// TestApprovalTickDueFromTwoInstances runs TickDue from two stores over
// separate connection pools, two goroutines each, as two application
// instances of a host would: every step timeout fires exactly once.
func TestApprovalTickDueFromTwoInstances(t *testing.T) {
	t.Parallel()
	const requests = 200
	ctx := context.Background()
	base := newStore(t, nil)
	ids := crmtest.NewIDs()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	start := clock.Now()
	ins := make([]*workflow.Instance, requests)
	for i := range ins {
		ins[i] = dueApproval(ids, start, start.Add(time.Hour))
	}
	createApprovals(t, base, ins...)
	stores := make([]*pgstore.Store, 2)
	for i := range stores {
		var err error
		stores[i], err = pgstore.New(ownPool(t), &pgstore.Config{Schema: base.Schema(), Clock: clock})
		require.NoError(t, err)
	}
	approvals := remindingApprovals(t, ids, clock)
	now := start.Add(2 * time.Hour)

	var mu sync.Mutex
	fired := map[crm.ID]int{}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var res workflow.ApprovalTickResult
				err := inWorkflow(ctx, stores[g%2], func(ctx context.Context, w workflow.Tx) error {
					var err error
					res, err = approvals.TickDue(ctx, w, now, 9)
					return err
				})
				if err != nil || res.Claimed == 0 {
					errs[g] = err
					return
				}
				mu.Lock()
				for _, e := range res.Events {
					fired[e.Subject.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, fired, requests, "every request reminded")
	for id, n := range fired {
		require.Equal(t, 1, n, "approval %s reminded %d times", id, n)
	}
	events, err := base.Outbox().Pending(ctx, 1000)
	require.NoError(t, err)
	require.Len(t, events, requests, "one stored event per timeout")
	var left []*workflow.Instance
	require.NoError(t, inWorkflow(ctx, base, func(ctx context.Context, w workflow.Tx) error {
		left, err = w.ApprovalInstances().(workflow.ApprovalDeadlines).DueInstances(ctx, now, 100)
		return err
	}))
	require.Empty(t, left)
}

// TestWorkflowDeadlinesMigrationBackfills stores requests, takes the schema
// back to before migration 0005 and up again: the backfill lists exactly
// the due requests, and a value the cast rounded down heals on first tick.
func TestWorkflowDeadlinesMigrationBackfills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	ids := crmtest.NewIDs()
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	now := start.Add(4 * time.Hour)
	early := dueApproval(ids, start, start.Add(time.Hour))
	late := dueApproval(ids, start, start.Add(2*time.Hour))
	notYet := dueApproval(ids, start, start.Add(5*time.Hour))
	finished := dueApproval(ids, start, start.Add(time.Hour))
	finished.Status, finished.FinishedAt = workflow.ApprovalApproved, start
	fired := dueApproval(ids, start, start.Add(time.Hour))
	fired.Steps[0].TimedOut = true
	waiting := dueApproval(ids, start, start.Add(time.Hour))
	waiting.Steps[0].Status = workflow.StepWaiting
	// Due 0.4 µs after now: the backfill's cast rounds it down to now.
	rounded := dueApproval(ids, start, now.Add(400*time.Nanosecond))
	createApprovals(t, s, late, early, notYet, finished, fired, waiting, rounded)

	require.NoError(t, pgstore.MigrateDown(ctx, testPool(t), s.Schema(), 4))
	require.NoError(t, pgstore.Migrate(ctx, testPool(t), s.Schema()))

	due := func() []crm.ID {
		var out []crm.ID
		require.NoError(t, inWorkflow(ctx, s, func(ctx context.Context, w workflow.Tx) error {
			got, err := w.ApprovalInstances().(workflow.ApprovalDeadlines).DueInstances(ctx, now, 100)
			for _, in := range got {
				out = append(out, in.ID)
			}
			return err
		}))
		return out
	}
	require.Equal(t, []crm.ID{early.ID, late.ID, rounded.ID}, due())
	var res workflow.ApprovalTickResult
	require.NoError(t, inWorkflow(ctx, s, func(ctx context.Context, w workflow.Tx) error {
		var err error
		res, err = remindingApprovals(t, ids, crmtest.NewClock(now)).TickDue(ctx, w, now, 100)
		return err
	}))
	require.Equal(t, 3, res.Claimed)
	require.Len(t, res.Events, 2, "the request not due yet fires nothing")
	require.Empty(t, due(), "and leaves the list once stored")
}

// BenchmarkTickDue10000DueApprovals fires the step timeouts of 10,000 due
// approval requests with TickDue in units of work of 1,000 requests each,
// events included. The requests are stored outside the timed part. Run it
// with -benchtime=1x: one operation is the whole 10,000.
func BenchmarkTickDue10000DueApprovals(b *testing.B) {
	const requests, batch = 10_000, 1_000
	ctx := context.Background()
	s := newStore(b, nil)
	pool := testPool(b)
	table := pgx.Identifier{s.Schema(), "crm_approval_instances"}.Sanitize()
	ids := crmtest.NewIDs()
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	now := start.Add(48 * time.Hour)
	approvals := remindingApprovals(b, ids, crmtest.NewClock(now))
	ins := make([]*workflow.Instance, requests)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if _, err := pool.Exec(ctx, "TRUNCATE "+table); err != nil {
			b.Fatal(err)
		}
		for i := range ins {
			ins[i] = dueApproval(ids, start, start.Add(time.Duration(i+1)*time.Second))
		}
		createApprovals(b, s, ins...)
		b.StartTimer()
		fired := 0
		for {
			var res workflow.ApprovalTickResult
			err := inWorkflow(ctx, s, func(ctx context.Context, w workflow.Tx) error {
				var err error
				res, err = approvals.TickDue(ctx, w, now, batch)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			fired += len(res.Events)
			if !res.More(batch) {
				break
			}
		}
		if fired != requests {
			b.Fatalf("fired %d of %d timeouts", fired, requests)
		}
	}
}
