package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/pgstore"
	"github.com/crmkit/crmkit/workflow"
)

// The tests of this file drive the composition root (crmkit.New) inside a
// pgx.Tx the host began itself and wrapped with Store.WithTx: crmkit's
// writes across domains and the host's own rows commit or roll back
// together, and crmkit's row locks are the host transaction's.

// crmWorld is a CRM over a fresh schema: a root department with an
// administrator, a sales department of four reps, a round-robin router
// over the first two (rule "east" of rule set "inbound"), a public pool
// and a host table of the schema, host_orders.
type crmWorld struct {
	tb     testing.TB
	ctx    context.Context
	clock  *crmtest.Clock
	ids    *crmtest.IDs
	store  *pgstore.Store
	crm    *crmkit.CRM
	router *workflow.Router
	pool   *pool.Pool
	sales  *crm.Department
	reps   []*crm.User
	orders string // the sanitized name of the host's table
}

const crmWorldRules = `{
  "name": "inbound", "record_type": "lead", "fallback_queue": "unassigned", "time_zone": "Asia/Shanghai",
  "rules": [{"name": "east", "when": {"field": "region", "in": ["cn-east"]}, "target": {"team": "%s"}, "strategy": "round_robin"}]
}`

// newCRMWorld builds a world; cfg, when set, edits the CRM's configuration
// before New. Two worlds built alike get the same IDs for the same setup.
func newCRMWorld(tb testing.TB, edit func(cfg *crmkit.Config)) *crmWorld {
	tb.Helper()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	w := &crmWorld{tb: tb, ctx: context.Background(), clock: clock, ids: crmtest.NewIDs()}
	w.store = newStore(tb, clock)
	root := crmtest.Department(w.ids, "Huateng", crm.NilID)
	require.NoError(tb, w.store.Departments().Create(w.ctx, root))
	w.sales = crmtest.Department(w.ids, "Sales", root.ID)
	require.NoError(tb, w.store.Departments().Create(w.ctx, w.sales))
	admin := w.user(root, "admin")
	for range 4 {
		w.reps = append(w.reps, w.user(w.sales, "sales_rep"))
	}
	team := crmtest.Team(w.ids, "East", []crm.ID{w.reps[0].ID, w.reps[1].ID})
	require.NoError(tb, w.store.Teams().Create(w.ctx, team))
	schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(tb, err)
	rules, err := workflow.ParseRuleSet(fmt.Appendf(nil, crmWorldRules, team.ID))
	require.NoError(tb, err)
	members := []workflow.Member{workflow.MemberFromUser(w.reps[0]), workflow.MemberFromUser(w.reps[1])}
	w.router, err = workflow.NewRouter(schema, rules, members, []workflow.Team{workflow.TeamFromCRM(team)})
	require.NoError(tb, err)
	cfg := &crmkit.Config{Clock: clock, IDs: w.ids, Router: w.router}
	if edit != nil {
		edit(cfg)
	}
	w.crm, err = crmkit.New(w.store, cfg)
	require.NoError(tb, err)
	w.pool = &pool.Pool{ID: w.ids.NewID(), Name: "Public", Members: pool.Members{All: true}, Admins: []crm.ID{admin.ID}}
	require.NoError(tb, w.crm.Pools.CreatePool(w.ctx, w.pool))
	w.orders = pgx.Identifier{w.store.Schema(), "host_orders"}.Sanitize()
	_, err = testPool(tb).Exec(w.ctx, "CREATE TABLE "+w.orders+" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id uuid NOT NULL, note text NOT NULL)")
	require.NoError(tb, err)
	return w
}

func (w *crmWorld) user(dept *crm.Department, roles ...string) *crm.User {
	w.tb.Helper()
	u := crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID, u.Roles, u.Regions = dept.ID, roles, []string{"cn-east"} })
	require.NoError(w.tb, w.store.Users().Create(w.ctx, u))
	return u
}

// pooled creates a company customer through the CRM (so its match keys
// are stored) and enters it into the public pool.
func (w *crmWorld) pooled(name, phone string) *crm.Customer {
	w.tb.Helper()
	c := crmtest.Customer(w.ids, func(c *crm.Customer) {
		c.Kind, c.Name, c.Phone, c.OwnerID, c.PoolID, c.DepartmentID = crm.CustomerCompany, name, phone, crm.NilID, crm.NilID, crm.NilID
	})
	_, err := w.crm.CreateCustomer(w.ctx, crmkit.CreateCustomerRequest{Customer: c})
	require.NoError(w.tb, err)
	_, err = w.crm.Pools.Enter(w.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: w.pool.ID})
	require.NoError(w.tb, err)
	return c
}

// lead stores a lead of company in cn-east that nobody owns yet, so its
// conversion is routed.
func (w *crmWorld) lead(company, phone string) *crm.Lead {
	w.tb.Helper()
	l := crmtest.Lead(w.ids, func(l *crm.Lead) {
		l.Company, l.Name, l.Phone, l.Region, l.OwnerID, l.DepartmentID = company, "王芳", phone, "cn-east", crm.NilID, w.sales.ID
	})
	require.NoError(w.tb, w.store.Leads().Create(w.ctx, l))
	return l
}

// pending returns the unacknowledged events in Seq order.
func (w *crmWorld) pending() []crm.Event {
	w.tb.Helper()
	got, err := w.store.Outbox().Pending(w.ctx, crm.MaxPageLimit)
	require.NoError(w.tb, err)
	require.Less(w.tb, len(got), crm.MaxPageLimit, "more events than one page")
	return got
}

// cursor returns the stored round-robin cursor of the rule "east".
func (w *crmWorld) cursor() workflow.Cursor {
	w.tb.Helper()
	st := w.router.NewState()
	err := w.store.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		wt, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return wt.Routing().LoadRouting(ctx, w.router.RuleSet().Name, w.router.Day(w.clock.Now()), st)
	})
	require.NoError(w.tb, err)
	return st.Cursor("east")
}

// customersNamed returns the stored customers named name.
func (w *crmWorld) customersNamed(name string) []*crm.Customer {
	w.tb.Helper()
	var out []*crm.Customer
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := w.store.Customers().List(w.ctx, crm.CustomerFilter{}, page)
		require.NoError(w.tb, err)
		for _, c := range got.Items {
			if c.Name == name {
				out = append(out, c)
			}
		}
		if got.NextCursor == "" {
			return out
		}
		page.Cursor = got.NextCursor
	}
}

// hasKeys reports whether customer id has stored match keys.
func (w *crmWorld) hasKeys(id crm.ID) bool {
	w.tb.Helper()
	found := false
	err := w.store.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
		dt, err := dedupe.TxOf(tx)
		if err != nil {
			return err
		}
		_, err = dt.DedupeKeys().Get(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	require.NoError(w.tb, err)
	return found
}

// hostOrders counts the host's own rows.
func (w *crmWorld) hostOrders() int {
	w.tb.Helper()
	var n int
	require.NoError(w.tb, testPool(w.tb).QueryRow(w.ctx, "SELECT count(*) FROM "+w.orders).Scan(&n))
	return n
}

// crmOutcome is what a claim of the pooled customer and a conversion of
// the lead leave behind, in terms two worlds built alike can compare.
type crmOutcome struct {
	PooledOwner     crm.ID
	PooledPool      crm.ID
	LedgerOps       []pool.Op
	LeadStatus      crm.LeadStatus
	Converted       int // customers named as the lead's company
	ConvertedOwner  crm.ID
	ConvertedDept   crm.ID
	ConvertedKeys   bool
	Cursor          workflow.Cursor
	NewEventTypes   []crm.EventType
	NewEventActors  []crm.ID
	NewEventSubject []crm.RecordType
}

func (w *crmWorld) outcome(pooled crm.ID, l *crm.Lead, eventsBefore int) crmOutcome {
	w.tb.Helper()
	var o crmOutcome
	c, err := w.store.Customers().Get(w.ctx, pooled)
	require.NoError(w.tb, err)
	o.PooledOwner, o.PooledPool = c.OwnerID, c.PoolID
	ledger, err := w.crm.Pools.Ledger(w.ctx, pooled, 0, 100)
	require.NoError(w.tb, err)
	for _, e := range ledger {
		o.LedgerOps = append(o.LedgerOps, e.Op)
	}
	got, err := w.store.Leads().Get(w.ctx, l.ID)
	require.NoError(w.tb, err)
	o.LeadStatus = got.Status
	converted := w.customersNamed(l.Company)
	o.Converted = len(converted)
	if len(converted) == 1 {
		o.ConvertedOwner, o.ConvertedDept = converted[0].OwnerID, converted[0].DepartmentID
		o.ConvertedKeys = w.hasKeys(converted[0].ID)
	}
	o.Cursor = w.cursor()
	for _, e := range w.pending()[eventsBefore:] {
		o.NewEventTypes = append(o.NewEventTypes, e.Type)
		o.NewEventActors = append(o.NewEventActors, e.ActorID)
		o.NewEventSubject = append(o.NewEventSubject, e.Subject.Type)
	}
	return o
}

const (
	pooledName, pooledPhone = "杭州云帆网络有限公司", "0571-88881234"
	leadCompany, leadPhone  = "南京东升物流有限公司", "025-66661234"
)

func TestCRMInHostTransaction(t *testing.T) {
	t.Parallel()

	// A plain run, each call its own unit of work, is the reference for
	// what the host's committed transaction must leave.
	plain := newCRMWorld(t, nil)
	plainPooled, plainLead := plain.pooled(pooledName, pooledPhone), plain.lead(leadCompany, leadPhone)
	plainBefore := len(plain.pending())
	_, err := plain.crm.Pools.Claim(plain.ctx, pool.ClaimRequest{Actor: plain.reps[3].ID, CustomerID: plainPooled.ID})
	require.NoError(t, err)
	_, err = plain.crm.Leads.Convert(plain.ctx, lead.ConvertRequest{LeadID: plainLead.ID, Actor: plain.reps[2].ID})
	require.NoError(t, err)
	want := plain.outcome(plainPooled.ID, plainLead, plainBefore)
	require.Equal(t, plain.reps[3].ID, want.PooledOwner)
	require.Contains(t, []crm.ID{plain.reps[0].ID, plain.reps[1].ID}, want.ConvertedOwner, "routed to the east team")
	require.True(t, want.ConvertedKeys)
	require.Equal(t, []crm.EventType{ // the router names its event after the record type: lead.routed
		pool.EventClaimed, "lead.routed", pool.EventAcquired, crm.EventContactCreated, lead.EventLeadConverted,
	}, want.NewEventTypes)

	w := newCRMWorld(t, nil)
	pooled, l := w.pooled(pooledName, pooledPhone), w.lead(leadCompany, leadPhone)
	eventsBefore := w.pending()
	before := w.outcome(pooled.ID, l, len(eventsBefore))
	require.Equal(t, crm.NilID, before.PooledOwner)
	require.Equal(t, 0, before.Converted)
	require.NotEqual(t, before.Cursor, want.Cursor, "the conversion writes routing state")

	// hostWork is the host's transaction: an order row of its own, a claim
	// and a routed conversion, all in the host's pgx.Tx.
	hostWork := func(t *testing.T, tx pgx.Tx) {
		t.Helper()
		_, err := tx.Exec(w.ctx, "INSERT INTO "+w.orders+" (customer_id, note) VALUES ($1, 'first order')", pooled.ID)
		require.NoError(t, err)
		view := w.store.WithTx(tx)
		res, err := w.crm.Pools.ClaimTx(w.ctx, view, pool.ClaimRequest{Actor: w.reps[3].ID, CustomerID: pooled.ID})
		require.NoError(t, err)
		require.Equal(t, w.reps[3].ID, res.Holding.OwnerID)
		conv, err := w.crm.Leads.ConvertTx(w.ctx, view, lead.ConvertRequest{LeadID: l.ID, Actor: w.reps[2].ID})
		require.NoError(t, err)
		require.False(t, conv.Attached)
	}

	// The subtests run in order on one world: the rollback first, then the
	// same work committed.
	t.Run("RollbackKeepsNothingOfCrmkitNorOfTheHost", func(t *testing.T) {
		tx, err := testPool(t).Begin(w.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(w.ctx) }()
		hostWork(t, tx)
		require.NoError(t, tx.Rollback(w.ctx))

		require.Equal(t, before, w.outcome(pooled.ID, l, len(eventsBefore)),
			"owner, ledger, lead, converted customer, routing cursor and events as before")
		require.Equal(t, eventsBefore, w.pending(), "no event of the rolled-back work")
		require.Equal(t, 0, w.hostOrders(), "the host's row")
	})

	t.Run("CommitKeepsExactlyWhatThePlainCallsKeep", func(t *testing.T) {
		tx, err := testPool(t).Begin(w.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(w.ctx) }()
		hostWork(t, tx)
		require.NoError(t, tx.Commit(w.ctx))

		// Both worlds were built alike, so users and the routing rotation
		// have the same IDs and positions.
		require.Equal(t, want, w.outcome(pooled.ID, l, len(eventsBefore)))
		require.Equal(t, 1, w.hostOrders(), "the host's row")
	})
}

func TestCRMClaimInHostTransactionHoldsTheRowLock(t *testing.T) {
	t.Parallel()
	w := newCRMWorld(t, nil)
	pooled := w.pooled(pooledName, pooledPhone)

	tx, err := testPool(t).Begin(w.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(w.ctx) }()
	var hostPID int32
	require.NoError(t, tx.QueryRow(w.ctx, "SELECT pg_backend_pid()").Scan(&hostPID))
	_, err = w.crm.Pools.ClaimTx(w.ctx, w.store.WithTx(tx), pool.ClaimRequest{Actor: w.reps[0].ID, CustomerID: pooled.ID})
	require.NoError(t, err)

	// A colleague's plain claim of the same customer, from another
	// connection.
	done := make(chan error, 1)
	go func() {
		_, err := w.crm.Pools.Claim(w.ctx, pool.ClaimRequest{Actor: w.reps[1].ID, CustomerID: pooled.ID})
		done <- err
	}()

	// The server says when the colleague's claim waits for a lock the
	// host's transaction holds; until then poll, failing if the claim
	// finishes first (it did not wait).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		require.NoError(t, testPool(t).QueryRow(w.ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`, hostPID).Scan(&waiting))
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the second claim finished (err %v) while the host's transaction held the claim", err)
		default:
		}
		require.True(t, time.Now().Before(deadline), "the second claim never waited for the host's lock")
		time.Sleep(5 * time.Millisecond) // poll interval, not a timing assertion
	}

	require.NoError(t, tx.Commit(w.ctx))
	err = <-done
	require.ErrorIs(t, err, pool.ErrTaken, "the waiting claim sees the host's committed claim")
	got, err := w.store.Customers().Get(w.ctx, pooled.ID)
	require.NoError(t, err)
	require.Equal(t, w.reps[0].ID, got.OwnerID)
}
