package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/workflow"
)

// RunRemind checks the adapter's reminder port ([remind.Tx]) through
// [remind.Sweeper]: four concurrent sweeps fire each reminder exactly
// once, a moved time fires again, done, cancelled and deleted tasks never
// fire, tenants stay apart, and a rolled-back batch fires nothing.
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
