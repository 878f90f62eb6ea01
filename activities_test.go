package crmkit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/task"
)

// failingStore fails one kind of write inside its units of work, once
// *fail names it.
type failingStore struct {
	crm.Store
	fail *string // "customer", "holding", or "" for none
}

func (s *failingStore) Unwrap() crm.Store { return s.Store }

func (s *failingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		ptx, _ := tx.(pool.Tx)
		return fn(ctx, &failingTx{Tx: ptx, fail: *s.fail})
	})
}

var errInjected = errors.New("injected failure")

// failingTx is the pool ports of a unit of work with one write failing.
type failingTx struct {
	pool.Tx
	fail string
}

func (t *failingTx) Unwrap() crm.Tx { return t.Tx }

func (t *failingTx) Customers() crm.CustomerRepository {
	if t.fail == "customer" {
		return failingCustomers{t.Tx.Customers()}
	}
	return t.Tx.Customers()
}

func (t *failingTx) PoolHoldings() pool.Holdings {
	if t.fail == "holding" {
		return failingHoldings{t.Tx.PoolHoldings()}
	}
	return t.Tx.PoolHoldings()
}

type failingCustomers struct{ crm.CustomerRepository }

func (failingCustomers) Update(context.Context, *crm.Customer) error { return errInjected }

type failingHoldings struct{ pool.Holdings }

func (failingHoldings) Update(context.Context, *pool.Holding) error { return errInjected }

type activityWorld struct {
	ctx   context.Context
	clock *crmtest.Clock
	ids   *crmtest.IDs
	store *memstore.Store
	crm   *crmkit.CRM
	rep   *crm.User
	cust  *crm.Customer
	cont  *crm.Contact
	pool  *pool.Pool
}

// newActivityWorld stores a sales rep owning a customer (with a contact)
// of a pool that recycles after 30 days without a follow-up. wrap, when
// set, wraps the store the CRM runs on; perm, when set, makes the
// permission policy over the department tree.
func newActivityWorld(t *testing.T, perm func([]*crm.Department) permission.Authorizer, wrap func(crm.Store) crm.Store) *activityWorld {
	t.Helper()
	w := &activityWorld{ctx: context.Background(), clock: crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)), ids: crmtest.NewIDs()}
	w.store = memstore.New(&memstore.Config{Clock: w.clock})
	dept := crmtest.Department(w.ids, "Sales", crm.NilID)
	require.NoError(t, w.store.Departments().Create(w.ctx, dept))
	w.rep = crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"rep"} })
	require.NoError(t, w.store.Users().Create(w.ctx, w.rep))
	cfg := &crmkit.Config{Clock: w.clock, IDs: w.ids}
	if perm != nil {
		cfg.Permissions = perm([]*crm.Department{dept})
	}
	var under crm.Store = w.store
	if wrap != nil {
		under = wrap(w.store)
	}
	c, err := crmkit.New(under, cfg)
	require.NoError(t, err)
	w.crm = c
	w.pool = &pool.Pool{ID: w.ids.NewID(), Name: "Public", Members: pool.Members{All: true}, Recycle: []pool.RecycleRule{{
		ID: "v1", EffectiveFrom: w.clock.Now().Add(-time.Hour), Conditions: []pool.Condition{{Kind: pool.NoFollowUp, Days: 30}},
	}}}
	require.NoError(t, c.Pools.CreatePool(w.ctx, w.pool))
	// Entered by hand and claimed, the customer is recycled by the pool's
	// rule.
	res, err := c.CreateCustomer(w.ctx, crmkit.CreateCustomerRequest{Customer: crmtest.Customer(w.ids)})
	require.NoError(t, err)
	_, err = c.Pools.Enter(w.ctx, pool.EnterRequest{CustomerID: res.Customer.ID, PoolID: w.pool.ID})
	require.NoError(t, err)
	_, err = c.Pools.Claim(w.ctx, pool.ClaimRequest{CustomerID: res.Customer.ID, Actor: w.rep.ID})
	require.NoError(t, err)
	w.cust, err = w.store.Customers().Get(w.ctx, res.Customer.ID)
	require.NoError(t, err)
	w.cont = crmtest.Contact(w.ids, w.cust.ID)
	require.NoError(t, w.store.Contacts().Create(w.ctx, w.cont))
	return w
}

func (w *activityWorld) task(t *testing.T) *crm.Task {
	t.Helper()
	res, err := w.crm.Tasks.Create(w.ctx, task.CreateRequest{Actor: w.rep.ID, Task: &crm.Task{
		Title: "Call back", AssigneeID: w.rep.ID, Subject: crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID},
		DueAt: w.clock.Now().Add(24 * time.Hour),
	}})
	require.NoError(t, err)
	return res.Task
}

func (w *activityWorld) call(subject crm.Ref) *crm.Activity {
	return &crm.Activity{Kind: crm.ActivityCall, Subject: subject, Note: "talked about the renewal"}
}

func (w *activityWorld) holding(t *testing.T) pool.Holding {
	t.Helper()
	h, err := w.crm.Pools.Holding(w.ctx, w.cust.ID)
	require.NoError(t, err)
	return *h
}

func TestRecordActivity(t *testing.T) {
	t.Parallel()
	t.Run("SetsTheLastFollowUpRecomputesTheHoldingAndCompletesTheTask", func(t *testing.T) {
		t.Parallel()
		w := newActivityWorld(t, nil, nil)
		tk := w.task(t)
		before := w.holding(t)
		w.clock.Advance(10 * 24 * time.Hour)
		res, err := w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{
			Activity: w.call(crm.Ref{Type: crm.TypeContact, ID: w.cont.ID}), Actor: w.rep.ID, TaskID: tk.ID,
		})
		require.NoError(t, err)
		now := crm.StorageTime(w.clock.Now())
		require.Equal(t, now, res.Activity.OccurredAt)
		require.Equal(t, w.rep.ID, res.Activity.ActorID)
		require.Equal(t, now, *res.Customer.LastFollowUpAt, "the contact's customer")
		require.Equal(t, now.AddDate(0, 0, 30), res.Holding.DueAt)
		require.True(t, res.Holding.DueAt.After(before.DueAt), "the recycle due time moved on")
		require.Equal(t, crm.TaskDone, res.Task.Task.Status)
		require.Equal(t, res.Activity.ID, res.Task.Task.CompletedBy)

		stored, err := w.store.Customers().Get(w.ctx, w.cust.ID)
		require.NoError(t, err)
		require.Equal(t, now, *stored.LastFollowUpAt)
		require.Equal(t, res.Holding.DueAt, w.holding(t).DueAt)
		gotTask, err := w.store.Tasks().Get(w.ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, crm.TaskDone, gotTask.Status)
	})
	t.Run("AnOlderActivityDoesNotMoveTheLastFollowUpBack", func(t *testing.T) {
		t.Parallel()
		w := newActivityWorld(t, nil, nil)
		ref := crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}
		_, err := w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: w.call(ref), Actor: w.rep.ID})
		require.NoError(t, err)
		old := w.call(ref)
		old.OccurredAt = w.clock.Now().Add(-48 * time.Hour)
		res, err := w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: old, Actor: w.rep.ID})
		require.NoError(t, err)
		require.Equal(t, crm.StorageTime(w.clock.Now()), *res.Customer.LastFollowUpAt)
	})
	t.Run("ALeadHasNoCustomer", func(t *testing.T) {
		t.Parallel()
		w := newActivityWorld(t, nil, nil)
		l := crmtest.Lead(w.ids)
		require.NoError(t, w.store.Leads().Create(w.ctx, l))
		res, err := w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeLead, ID: l.ID}), Actor: w.rep.ID})
		require.NoError(t, err)
		require.Nil(t, res.Customer)
		require.Nil(t, res.Holding)
	})
	t.Run("RecordsTheChangesAsTheActivitysOperation", func(t *testing.T) {
		t.Parallel()
		w := newActivityWorld(t, nil, nil)
		_, err := w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}), Actor: w.rep.ID})
		require.NoError(t, err)
		page, err := w.crm.History.ForRecord(w.ctx, w.crm.Store(), w.rep.ID, crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}, crm.PageRequest{})
		require.NoError(t, err)
		require.NotEmpty(t, page.Items)
		require.Equal(t, "last_follow_up_at", page.Items[0].Field)
		require.Equal(t, "record_activity", page.Items[0].Operation)
		require.Equal(t, w.rep.ID, page.Items[0].ActorID)
	})
}

func TestRecordActivityKeepsNothingWhenAnyStepFails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		wrap string // the write that fails: "customer", "holding", or "" for none
		req  func(w *activityWorld, tk *crm.Task) crmkit.RecordActivityRequest
		want func(t *testing.T, err error)
	}{
		{"AnInvalidActivity", "", func(w *activityWorld, tk *crm.Task) crmkit.RecordActivityRequest {
			a := w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID})
			a.Kind = "fax"
			return crmkit.RecordActivityRequest{Activity: a, Actor: w.rep.ID, TaskID: tk.ID}
		}, func(t *testing.T, err error) { requireFieldIn(t, err, "activity.kind") }},
		{"AnUnknownSubject", "", func(w *activityWorld, tk *crm.Task) crmkit.RecordActivityRequest {
			return crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeOpportunity, ID: w.ids.NewID()}), Actor: w.rep.ID, TaskID: tk.ID}
		}, func(t *testing.T, err error) { requireFieldIn(t, err, "activity.subject.id") }},
		{"TheCustomerUpdateFails", "customer", func(w *activityWorld, tk *crm.Task) crmkit.RecordActivityRequest {
			return crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}), Actor: w.rep.ID, TaskID: tk.ID}
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, errInjected) }},
		{"TheHoldingRecomputeFails", "holding", func(w *activityWorld, tk *crm.Task) crmkit.RecordActivityRequest {
			return crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}), Actor: w.rep.ID, TaskID: tk.ID}
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, errInjected) }},
		{"TheTaskIsNotOpen", "", func(w *activityWorld, tk *crm.Task) crmkit.RecordActivityRequest {
			_, err := w.crm.Tasks.Cancel(w.ctx, task.CancelRequest{TaskID: tk.ID})
			if err != nil {
				panic(err)
			}
			return crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}), Actor: w.rep.ID, TaskID: tk.ID}
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, task.ErrNotOpen) }},
		{"TheTaskIsUnknown", "", func(w *activityWorld, _ *crm.Task) crmkit.RecordActivityRequest {
			return crmkit.RecordActivityRequest{Activity: w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}), Actor: w.rep.ID, TaskID: w.ids.NewID()}
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, crm.ErrNotFound) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			failing := ""
			w := newActivityWorld(t, nil, func(s crm.Store) crm.Store { return &failingStore{Store: s, fail: &failing} })
			tk := w.task(t)
			w.clock.Advance(5 * 24 * time.Hour)
			holding := w.holding(t)
			task0, err := w.store.Tasks().Get(w.ctx, tk.ID)
			require.NoError(t, err)
			outbox, err := w.store.Outbox().Pending(w.ctx, crm.MaxPageLimit)
			require.NoError(t, err)

			req := c.req(w, tk)
			if c.name == "TheTaskIsNotOpen" {
				task0, err = w.store.Tasks().Get(w.ctx, tk.ID)
				require.NoError(t, err)
				outbox, err = w.store.Outbox().Pending(w.ctx, crm.MaxPageLimit)
				require.NoError(t, err)
			}
			activity := req.Activity.Clone()
			failing = c.wrap
			_, err = w.crm.RecordActivity(w.ctx, req)
			failing = ""
			c.want(t, err)

			require.Equal(t, activity, req.Activity, "the request's activity was modified")
			acts, err := w.store.Activities().List(w.ctx, crm.ActivityFilter{}, crm.PageRequest{})
			require.NoError(t, err)
			require.Empty(t, acts.Items, "an activity was kept")
			cust, err := w.store.Customers().Get(w.ctx, w.cust.ID)
			require.NoError(t, err)
			require.Equal(t, w.cust, cust, "the customer changed")
			require.Equal(t, holding, w.holding(t), "the holding changed")
			gotTask, err := w.store.Tasks().Get(w.ctx, tk.ID)
			require.NoError(t, err)
			require.Equal(t, task0, gotTask, "the task changed")
			after, err := w.store.Outbox().Pending(w.ctx, crm.MaxPageLimit)
			require.NoError(t, err)
			require.Len(t, after, len(outbox), "events were kept")
		})
	}
}

func TestRecordActivityAsksForTheEditGrantOnTheCustomer(t *testing.T) {
	t.Parallel()
	// Reps may edit only the customers they own.
	w := newActivityWorld(t, func(depts []*crm.Department) permission.Authorizer {
		policy, err := permission.Load([]byte(`{
		  "record_types": [{"name": "customer", "fields": ["name"]}],
		  "roles": [{"name": "rep", "rules": [
		    {"id": "rep.create", "record_type": "customer", "actions": ["create", "claim"], "scope": "all"},
		    {"id": "rep.own", "record_type": "customer", "actions": ["view", "edit"], "scope": "own"}]}]
		}`), depts, nil)
		require.NoError(t, err)
		return policy
	}, nil)
	other := crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID, u.Roles = w.rep.DepartmentID, []string{"rep"} })
	require.NoError(t, w.store.Users().Create(w.ctx, other))
	ref := crm.Ref{Type: crm.TypeContact, ID: w.cont.ID}
	_, err := w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: w.call(ref), Actor: other.ID})
	require.ErrorIs(t, err, crm.ErrPermissionDenied)
	acts, err := w.store.Activities().List(w.ctx, crm.ActivityFilter{}, crm.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, acts.Items)
	_, err = w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: w.call(ref), Actor: w.rep.ID})
	require.NoError(t, err)
}

func TestConcurrentActivitiesAnsweringOneTaskCompleteItOnce(t *testing.T) {
	t.Parallel()
	w := newActivityWorld(t, nil, nil)
	tk := w.task(t)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w.clock.Advance(time.Minute)
			_, errs[i] = w.crm.RecordActivity(w.ctx, crmkit.RecordActivityRequest{
				Activity: w.call(crm.Ref{Type: crm.TypeCustomer, ID: w.cust.ID}), Actor: w.rep.ID, TaskID: tk.ID,
			})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		require.True(t, errors.Is(err, task.ErrNotOpen) || errors.Is(err, crm.ErrConflict), "%v", err)
	}
	require.Equal(t, 1, wins)
	acts, err := w.store.Activities().List(w.ctx, crm.ActivityFilter{}, crm.PageRequest{})
	require.NoError(t, err)
	require.Len(t, acts.Items, 1, "only the winner's activity is kept")
	got, err := w.store.Tasks().Get(w.ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, acts.Items[0].ID, got.CompletedBy)
	cust, err := w.store.Customers().Get(w.ctx, w.cust.ID)
	require.NoError(t, err)
	require.Equal(t, acts.Items[0].OccurredAt, *cust.LastFollowUpAt)
}

func requireFieldIn(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var all crm.ValidationErrors
	if errors.As(err, &all) {
		require.Contains(t, all.Fields(), field, "%v", err)
		return
	}
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field)
}
