package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/workflow"
)

// RunRemind checks the adapter's reminder port ([remind.Tx]) through
// [remind.Sweeper]: four concurrent sweeps fire each reminder exactly
// once, a moved time fires again, done, cancelled and deleted tasks never
// fire, tenants stay apart, and a rolled-back batch fires nothing; pool
// notices likewise fire once per due time, and only for owned, unlocked
// customers not yet due of pools that set a notice period.
func RunRemind(t *testing.T, h Harness) {
	test(t, h, "FourConcurrentSweepsFireEachReminderExactlyOnce", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		const tasks = 60
		for i := range tasks {
			f.task(t, e.ctx, func(k *crm.Task) {
				// Half share one remind time, as reminders set for 9:00 do.
				at := f.start.Add(-time.Duration(i%30) * time.Minute)
				k.RemindAt, k.DueAt = &at, at.Add(time.Duration(i%2)*48*time.Hour)
			})
		}
		waiting := f.waitingApproval(t, e.ctx, 2)
		now := f.start.Add(25 * time.Hour)
		const sweeps = 4
		results := make([]remind.Result, sweeps)
		errs := make([]error, sweeps)
		var wg sync.WaitGroup
		for i := range sweeps {
			s := f.sweeper(t, &remind.Config{Batch: 7})
			wg.Go(func() { results[i], errs[i] = s.Sweep(e.ctx, now, 1000) })
		}
		wg.Wait()
		fired := map[remind.Kind]int{}
		for i := range sweeps {
			require.NoError(t, errs[i])
			for k, n := range results[i].Fired {
				fired[k] += n
			}
		}
		// Every task's reminder; the overdue ones are the half due before now.
		want := map[remind.Kind]int{remind.KindTaskReminder: tasks, remind.KindTaskOverdue: tasks / 2, remind.KindApprovalWaiting: 2}
		require.Equal(t, want, fired)
		require.Equal(t, want, f.eventsByKind(t), "one event per reminder fired")
		firings, err := f.firings(e.ctx, waiting.ID)
		require.NoError(t, err)
		require.Len(t, firings, 2, "one per waiting approver")

		again, err := f.sweeper(t, nil).Sweep(e.ctx, now, 1000)
		require.NoError(t, err)
		require.Zero(t, again.Total(), "nothing fires twice")
	})
	test(t, h, "AMovedRemindOrDueTimeFiresAgain", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		at := f.start.Add(-time.Hour)
		k := f.task(t, e.ctx, func(k *crm.Task) { k.RemindAt, k.DueAt = &at, f.start.Add(time.Hour) })
		s := f.sweeper(t, nil)
		res, err := s.Sweep(e.ctx, f.start, 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindTaskReminder: 1}, res.Fired)

		got, err := e.store.Tasks().Get(e.ctx, k.ID)
		require.NoError(t, err)
		moved := f.start.Add(30 * time.Minute)
		got.RemindAt = &moved
		require.NoError(t, e.store.Tasks().Update(e.ctx, got))
		res, err = s.Sweep(e.ctx, f.start.Add(2*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindTaskReminder: 1, remind.KindTaskOverdue: 1}, res.Fired)

		got.DueAt = f.start.Add(3 * time.Hour)
		require.NoError(t, e.store.Tasks().Update(e.ctx, got))
		res, err = s.Sweep(e.ctx, f.start.Add(4*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindTaskOverdue: 1}, res.Fired, "the new due time is overdue again")

		firings, err := f.firings(e.ctx, k.ID)
		require.NoError(t, err)
		require.Len(t, firings, 4)
		for _, fr := range firings {
			require.Equal(t, f.agent.ID, fr.RecipientID)
			require.Equal(t, fr.FiredAt, fr.FiredAt.UTC())
		}
	})
	test(t, h, "AnApprovalStepStartedAgainWaitsAgainAndADecisionEndsTheWait", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		in := f.waitingApproval(t, e.ctx, 2)
		s := f.sweeper(t, &remind.Config{ApprovalWaiting: time.Hour})
		res, err := s.Sweep(e.ctx, f.start.Add(2*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindApprovalWaiting: 2}, res.Fired)

		// Sent back and started again: one approver decides at once.
		got, err := e.getInstance(e.ctx, in.ID)
		require.NoError(t, err)
		st := &got.Steps[0]
		st.StartedAt = f.start.Add(3 * time.Hour)
		st.Tasks[1].Decision, st.Tasks[1].DecidedAt = workflow.Approved, st.StartedAt
		require.NoError(t, e.updateInstance(e.ctx, got))
		res, err = s.Sweep(e.ctx, f.start.Add(3*time.Hour+30*time.Minute), 100)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "the new start has not waited long enough")
		res, err = s.Sweep(e.ctx, f.start.Add(5*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindApprovalWaiting: 1}, res.Fired, "only the approver still to decide")
		firings, err := f.firings(e.ctx, in.ID)
		require.NoError(t, err)
		require.Len(t, firings, 3)
		require.Equal(t, st.Tasks[0].Approver, firings[2].RecipientID)
	})
	test(t, h, "DoneCancelledAndDeletedTasksDoNotFire", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		at := f.start.Add(-time.Hour)
		past := func(k *crm.Task) { k.RemindAt, k.DueAt = &at, at }
		done := f.task(t, e.ctx, past)
		cancelled := f.task(t, e.ctx, past)
		deleted := f.task(t, e.ctx, past)
		open := f.task(t, e.ctx, past)
		for _, k := range []*crm.Task{done, cancelled} {
			got, err := e.store.Tasks().Get(e.ctx, k.ID)
			require.NoError(t, err)
			if k == done {
				completed := f.start
				got.Status, got.CompletedAt = crm.TaskDone, &completed
			} else {
				got.Status = crm.TaskCancelled
			}
			require.NoError(t, e.store.Tasks().Update(e.ctx, got))
		}
		require.NoError(t, e.store.Tasks().Delete(e.ctx, deleted.ID, deleted.Version))
		res, err := f.sweeper(t, nil).Sweep(e.ctx, f.start, 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindTaskReminder: 1, remind.KindTaskOverdue: 1}, res.Fired)
		for _, k := range []*crm.Task{done, cancelled, deleted} {
			firings, err := f.firings(e.ctx, k.ID)
			require.NoError(t, err)
			require.Empty(t, firings)
		}
		firings, err := f.firings(e.ctx, open.ID)
		require.NoError(t, err)
		require.Len(t, firings, 2)
	})
	test(t, h, "ASweepFiresOnlyItsTenantsReminders", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		at := f.start.Add(-time.Hour)
		k := f.task(t, e.ctxA, func(k *crm.Task) { k.RemindAt, k.DueAt = &at, f.start.Add(time.Hour) })
		f.waitingApproval(t, e.ctxA, 1)
		s := f.sweeper(t, nil)
		res, err := s.Sweep(e.ctxB, f.start.Add(25*time.Hour), 100)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "tenant b has nothing due")
		res, err = s.Sweep(e.ctxA, f.start.Add(25*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, 3, res.Total())
		firings, err := f.firings(e.ctxB, k.ID)
		require.NoError(t, err)
		require.Empty(t, firings, "another tenant's firings are invisible")
		firings, err = f.firings(e.ctxA, k.ID)
		require.NoError(t, err)
		require.Len(t, firings, 2)
		require.Equal(t, "a", firings[0].TenantID)
	})
	test(t, h, "ARolledBackBatchFiresNothing", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		at := f.start.Add(-time.Hour)
		k := f.task(t, e.ctx, func(k *crm.Task) { k.RemindAt, k.DueAt = &at, f.start.Add(time.Hour) })
		s := f.sweeper(t, nil)
		boom := errors.New("host failed after the batch")
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			n, err := s.FireTx(ctx, tx, remind.KindTaskReminder, f.start, 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			return boom
		})
		require.ErrorIs(t, err, boom)
		firings, err := f.firings(e.ctx, k.ID)
		require.NoError(t, err)
		require.Empty(t, firings)
		require.Empty(t, f.eventsByKind(t), "no event of the rolled-back batch")
		res, err := s.Sweep(e.ctx, f.start, 100)
		require.NoError(t, err)
		require.Equal(t, 1, res.Total(), "the reminder fires on the next sweep")
	})
	test(t, h, "FourConcurrentSweepsFireEachPoolNoticeExactlyOnce", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		week, day := f.noticePool(t, e.ctx, 7), f.noticePool(t, e.ctx, 1)
		owners := []crm.ID{e.ids.NewID(), e.ids.NewID(), e.ids.NewID()}
		want := map[crm.ID]crm.ID{} // customer -> owner
		for i := range 40 {
			// Many share one due time, as customers recycled by one rule do.
			due := f.start.Add(time.Duration(i%6)*24*time.Hour + time.Hour)
			hd := f.holding(t, e.ctx, week.ID, owners[i%3], due)
			want[hd.CustomerID] = hd.OwnerID
		}
		for i := range 10 {
			hd := f.holding(t, e.ctx, day.ID, owners[i%3], f.start.Add(time.Duration(i%2)*24*time.Hour+time.Minute))
			if i%2 == 0 {
				want[hd.CustomerID] = hd.OwnerID
			}
		}
		f.holding(t, e.ctx, week.ID, owners[0], f.start.Add(8*24*time.Hour)) // beyond the notice period
		const sweeps = 4
		results := make([]remind.Result, sweeps)
		errs := make([]error, sweeps)
		var wg sync.WaitGroup
		for i := range sweeps {
			s := f.sweeper(t, &remind.Config{Batch: 7})
			wg.Go(func() { results[i], errs[i] = s.Sweep(e.ctx, f.start, 1000) })
		}
		wg.Wait()
		fired := 0
		for i := range sweeps {
			require.NoError(t, errs[i])
			fired += results[i].Fired[remind.KindPoolNotice]
		}
		require.Equal(t, len(want), fired)
		require.Equal(t, map[remind.Kind]int{remind.KindPoolNotice: len(want)}, f.eventsByKind(t), "one event per notice")
		evs, err := e.store.Outbox().Pending(e.ctx, 1000)
		require.NoError(t, err)
		for _, ev := range evs {
			p, err := crm.DecodePayload[remind.FiredPayload](ev)
			require.NoError(t, err)
			require.Equal(t, crm.TypeCustomer, p.Subject.Type)
			require.Equal(t, want[p.Subject.ID], p.RecipientID, "to the customer's owner")
			days := map[crm.ID]int{week.ID: 7, day.ID: 1}[p.PoolID]
			require.Equal(t, days, p.NoticeDays, "N from the pool")
			require.False(t, p.At.After(f.start.AddDate(0, 0, days)))
		}
		again, err := f.sweeper(t, nil).Sweep(e.ctx, f.start, 1000)
		require.NoError(t, err)
		require.Zero(t, again.Total(), "nothing fires twice")
	})
	test(t, h, "AMovedDueTimeNoticesTheOwnerAgain", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		p := f.noticePool(t, e.ctx, 3)
		hd := f.holding(t, e.ctx, p.ID, f.agent.ID, f.start.Add(48*time.Hour))
		s := f.sweeper(t, &remind.Config{Kinds: []remind.Kind{remind.KindPoolNotice}})
		res, err := s.Sweep(e.ctx, f.start, 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindPoolNotice: 1}, res.Fired)
		res, err = s.Sweep(e.ctx, f.start.Add(time.Hour), 100)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "once per due time")

		// A follow-up moves the due time: the owner is told again.
		moved := f.start.Add(60 * time.Hour)
		f.editHolding(t, e.ctx, hd.CustomerID, func(h *pool.Holding) { h.DueAt = moved })
		res, err = s.Sweep(e.ctx, f.start.Add(2*time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindPoolNotice: 1}, res.Fired)
		firings, err := f.firings(e.ctx, hd.CustomerID)
		require.NoError(t, err)
		require.Len(t, firings, 2)
		require.Equal(t, []time.Time{f.start.Add(48 * time.Hour), moved}, []time.Time{firings[0].At, firings[1].At})
		for _, fr := range firings {
			require.Equal(t, remind.KindPoolNotice, fr.Kind)
			require.Equal(t, f.agent.ID, fr.RecipientID)
		}
	})
	test(t, h, "LockedPooledAndAlreadyDueCustomersAndPoolsWithoutNoticesGetNone", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		p, silent := f.noticePool(t, e.ctx, 5), f.noticePool(t, e.ctx, 0)
		soon := f.start.Add(24 * time.Hour)
		locked := f.holding(t, e.ctx, p.ID, f.agent.ID, soon)
		f.editHolding(t, e.ctx, locked.CustomerID, func(h *pool.Holding) { h.Locked = true })
		pooled := f.holding(t, e.ctx, p.ID, crm.NilID, soon)
		due := f.holding(t, e.ctx, p.ID, f.agent.ID, f.start.Add(-time.Hour))
		dueNow := f.holding(t, e.ctx, p.ID, f.agent.ID, f.start)
		never := f.holding(t, e.ctx, p.ID, f.agent.ID, time.Time{})
		unnoticed := f.holding(t, e.ctx, silent.ID, f.agent.ID, soon)
		noticed := f.holding(t, e.ctx, p.ID, f.agent.ID, soon)
		res, err := f.sweeper(t, nil).Sweep(e.ctx, f.start, 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindPoolNotice: 1}, res.Fired)
		for _, hd := range []*pool.Holding{locked, pooled, due, dueNow, never, unnoticed} {
			firings, err := f.firings(e.ctx, hd.CustomerID)
			require.NoError(t, err)
			require.Empty(t, firings)
		}
		firings, err := f.firings(e.ctx, noticed.CustomerID)
		require.NoError(t, err)
		require.Len(t, firings, 1)
	})
	test(t, h, "ASweepNoticesOnlyItsTenantsCustomers", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		p := f.noticePool(t, e.ctxA, 2)
		hd := f.holding(t, e.ctxA, p.ID, f.agent.ID, f.start.Add(time.Hour))
		s := f.sweeper(t, nil)
		res, err := s.Sweep(e.ctxB, f.start, 100)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "tenant b has no pools")
		res, err = s.Sweep(e.ctx, f.start, 100)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "nor has the default tenant")
		res, err = s.Sweep(e.ctxA, f.start, 100)
		require.NoError(t, err)
		require.Equal(t, map[remind.Kind]int{remind.KindPoolNotice: 1}, res.Fired)
		firings, err := f.firings(e.ctxB, hd.CustomerID)
		require.NoError(t, err)
		require.Empty(t, firings, "another tenant's firings are invisible")
		err = e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error {
			rt, err := remind.TxOf(tx)
			require.NoError(t, err)
			due, err := rt.Reminders().DueNotices(ctx, remind.NoticeQuery{PoolID: p.ID, Now: f.start, Until: f.start.Add(48 * time.Hour), Limit: 10})
			require.NoError(t, err)
			require.Empty(t, due, "another tenant's holdings are invisible")
			return nil
		})
		require.NoError(t, err)
	})
	test(t, h, "DueNoticesRefusesABadQueryNamingTheField", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			rt, err := remind.TxOf(tx)
			require.NoError(t, err)
			_, err = rt.Reminders().DueNotices(ctx, remind.NoticeQuery{PoolID: e.ids.NewID(), Now: f.start, Until: f.start.Add(-time.Hour), Limit: 10})
			return err
		})
		requireInvalid(t, err, "until")
	})
	test(t, h, "RecordRefusesAFiringWithoutSubjectNamingTheField", func(t *testing.T, e *env) {
		f := newRemindFixture(e)
		ok := remind.Firing{Kind: remind.KindTaskReminder, SubjectID: e.ids.NewID(), At: f.start, EventID: e.ids.NewID(), FiredAt: f.start}
		bad := ok
		bad.SubjectID = crm.NilID
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			rt, err := remind.TxOf(tx)
			require.NoError(t, err)
			_, err = rt.Reminders().Record(ctx, []remind.Firing{ok, bad})
			return err
		})
		requireInvalid(t, err, "firings[1].subject.id")
		firings, err := f.firings(e.ctx, ok.SubjectID)
		require.NoError(t, err)
		require.Empty(t, firings, "nothing stored")
		_, err = f.sweeper(t, nil).Sweep(e.ctx, f.start, 0)
		requireInvalid(t, err, "limit")
	})
}

type remindFixture struct {
	e       *env
	agent   *crm.User
	subject crm.Ref
	start   time.Time
}

func newRemindFixture(e *env) *remindFixture {
	return &remindFixture{e: e, agent: crmtest.User(e.ids), subject: crm.Ref{Type: crm.TypeCustomer, ID: e.ids.NewID()}, start: e.now()}
}

// task stores an open task assigned to the fixture's agent.
func (f *remindFixture) task(t *testing.T, ctx context.Context, edit func(*crm.Task)) *crm.Task {
	t.Helper()
	k := crmtest.Task(f.e.ids, f.subject, f.agent.ID, edit)
	require.NoError(t, f.e.store.Tasks().Create(ctx, k))
	return k
}

// waitingApproval stores a pending request whose one step started now and
// waits on approvers.
func (f *remindFixture) waitingApproval(t *testing.T, ctx context.Context, approvers int) *workflow.Instance {
	t.Helper()
	in := f.e.approvalInstance(f.e.opportunityRef(), f.e.ids.NewID())
	s := &in.Steps[0]
	s.Approvers = s.Approvers[:0]
	for range approvers {
		id := f.e.ids.NewID()
		s.Approvers = append(s.Approvers, id)
		s.Tasks = append(s.Tasks, workflow.Task{Approver: id})
	}
	require.NoError(t, f.e.createInstance(ctx, in))
	return in
}

// noticePool stores a pool of ctx's tenant whose notice period is days.
func (f *remindFixture) noticePool(t *testing.T, ctx context.Context, days int) *pool.Pool {
	t.Helper()
	p := &pool.Pool{ID: f.e.ids.NewID(), Name: "Notices", Members: pool.Members{All: true}, NoticeDays: days}
	require.NoError(t, f.inPoolTx(ctx, func(ctx context.Context, tx pool.Tx) error { return tx.Pools().Create(ctx, p) }))
	return p
}

// holding stores the holding of a new customer of poolID, owned by owner
// (NilID: sitting in the pool) and falling back at due.
func (f *remindFixture) holding(t *testing.T, ctx context.Context, poolID, owner crm.ID, due time.Time) *pool.Holding {
	t.Helper()
	hd := &pool.Holding{CustomerID: f.e.ids.NewID(), PoolID: poolID, OwnerID: owner, DueAt: due}
	require.NoError(t, f.inPoolTx(ctx, func(ctx context.Context, tx pool.Tx) error { return tx.PoolHoldings().Create(ctx, hd) }))
	return hd
}

// editHolding changes a stored holding of ctx's tenant.
func (f *remindFixture) editHolding(t *testing.T, ctx context.Context, customer crm.ID, edit func(*pool.Holding)) {
	t.Helper()
	require.NoError(t, f.inPoolTx(ctx, func(ctx context.Context, tx pool.Tx) error {
		hd, err := tx.PoolHoldings().Get(ctx, customer)
		if err != nil {
			return err
		}
		edit(hd)
		return tx.PoolHoldings().Update(ctx, hd)
	}))
}

func (f *remindFixture) inPoolTx(ctx context.Context, fn func(ctx context.Context, tx pool.Tx) error) error {
	return f.e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		ptx, ok := crm.As[pool.Tx](tx)
		if !ok {
			return fmt.Errorf("storetest: %T does not implement pool.Tx: %w", tx, crm.ErrUnsupported)
		}
		return fn(ctx, ptx)
	})
}

func (f *remindFixture) sweeper(t *testing.T, cfg *remind.Config) *remind.Sweeper {
	t.Helper()
	c := remind.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Clock, c.IDs = f.e.clock, f.e.ids
	s, err := remind.New(f.e.store, &c)
	require.NoError(t, err)
	return s
}

// firings returns the stored firings of subject, read in a unit of work
// of ctx's tenant.
func (f *remindFixture) firings(ctx context.Context, subject crm.ID) ([]remind.Firing, error) {
	var out []remind.Firing
	err := f.e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		rt, err := remind.TxOf(tx)
		if err != nil {
			return err
		}
		out, err = rt.Reminders().Firings(ctx, subject)
		return err
	})
	return out, err
}

// eventsByKind counts the unacknowledged reminder events by kind, leaving
// them for the suite's decode check.
func (f *remindFixture) eventsByKind(t *testing.T) map[remind.Kind]int {
	t.Helper()
	evs, err := f.e.store.Outbox().Pending(f.e.ctx, 1000)
	require.NoError(t, err)
	out := map[remind.Kind]int{}
	for _, ev := range evs {
		if ev.Type != remind.EventFired {
			continue
		}
		p, err := crm.DecodePayload[remind.FiredPayload](ev)
		require.NoError(t, err)
		require.Equal(t, ev.Subject, p.Subject)
		out[p.Kind]++
	}
	return out
}
