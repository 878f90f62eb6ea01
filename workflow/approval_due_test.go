package workflow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
	"github.com/crmkit/crmkit/workflow/calendar"
)

func TestInstanceNextDueAt(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	shanghai := time.FixedZone("CST", 8*3600)
	step := func(status workflow.StepStatus, due time.Time, timedOut bool) workflow.StepState {
		return workflow.StepState{Name: "s", Status: status, DueAt: due, TimedOut: timedOut}
	}
	tests := []struct {
		name   string
		status workflow.ApprovalStatus
		steps  []workflow.StepState
		want   time.Time
	}{
		{"APendingRequestIsDueWithItsActiveStep", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at, false)}, at},
		{"TheEarliestOfParallelStepsCounts", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at.Add(time.Hour), false), step(workflow.StepActive, at, false)}, at},
		{"AFiredTimeoutNoLongerCounts", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at, true), step(workflow.StepActive, at.Add(time.Hour), false)}, at.Add(time.Hour)},
		{"WaitingAndDecidedStepsDoNotCount", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepWaiting, at, false), step(workflow.StepApproved, at, false)}, time.Time{}},
		{"AStepWithoutTimeoutIsNeverDue", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, time.Time{}, false)}, time.Time{}},
		{"AFinishedRequestIsNeverDue", workflow.ApprovalApproved,
			[]workflow.StepState{step(workflow.StepActive, at, false)}, time.Time{}},
		{"NanosecondsRoundUpToTheNextMicrosecond", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at.Add(time.Nanosecond), false)}, at.Add(time.Microsecond)},
		{"AnyZoneComesBackInUTC", workflow.ApprovalPending,
			[]workflow.StepState{step(workflow.StepActive, at.In(shanghai), false)}, at},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &workflow.Instance{Status: tc.status, Steps: tc.steps}
			got := in.NextDueAt()
			require.True(t, tc.want.Equal(got), "want %s, got %s", tc.want, got)
			if !got.IsZero() {
				require.Equal(t, time.UTC, got.Location())
			}
		})
	}
}

// dueFixture is a two-stage chain: the manager's step approves itself
// after 1 hour without an answer, then the director's escalates to the
// manager after 2 hours.
type dueFixture struct {
	clock             *crmtest.Clock
	ids               *crmtest.IDs
	org               *workflow.Org
	def               *workflow.Definition
	schema            *cond.Schema
	store             *memstore.Store
	rep, boss, direct crm.ID
}

func newDueFixture(t *testing.T) *dueFixture {
	t.Helper()
	f := &dueFixture{rep: uid(1), boss: uid(2), direct: uid(3),
		clock: crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)), ids: crmtest.NewIDs()}
	var err error
	f.org, err = workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: f.rep}, Name: "Li Wei", Active: true},
		{Meta: crm.Meta{ID: f.boss}, Name: "Liu Yang", Roles: []string{"manager"}, Active: true},
		{Meta: crm.Meta{ID: f.direct}, Name: "Chen Jie", Roles: []string{"director"}, Active: true},
	}, nil, nil)
	require.NoError(t, err)
	f.schema, err = cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	require.NoError(t, err)
	f.def, err = workflow.ParseDefinition(f.schema, f.org, []byte(`{"key": "discount", "version": 1, "record_type": "opportunity",
		"steps": [
			{"name": "manager", "approvers": [{"role": "manager"}], "timeout": "1h", "on_timeout": {"action": "approve"}},
			{"name": "director", "approvers": [{"role": "director"}], "timeout": "2h",
			 "on_timeout": {"action": "escalate", "to": {"role": "manager"}}}]}`))
	require.NoError(t, err)
	f.store = memstore.New(&memstore.Config{Clock: f.clock})
	return f
}

func (f *dueFixture) approvals(t *testing.T, cfg *workflow.ApprovalsConfig) *workflow.Approvals {
	t.Helper()
	c := workflow.ApprovalsConfig{}
	if cfg != nil {
		c = *cfg
	}
	c.IDs, c.Clock = f.ids, f.clock
	a, err := workflow.NewApprovals(f.org, &c)
	require.NoError(t, err)
	return a
}

func (f *dueFixture) inTx(ctx context.Context, fn func(ctx context.Context, w workflow.Tx) error) error {
	return f.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := workflow.TxOf(tx)
		if err != nil {
			return err
		}
		return fn(ctx, w)
	})
}

// submit stores n requests, one per opportunity.
func (f *dueFixture) submit(t *testing.T, a *workflow.Approvals, n int) []*workflow.Instance {
	t.Helper()
	out := make([]*workflow.Instance, n)
	require.NoError(t, f.inTx(context.Background(), func(ctx context.Context, w workflow.Tx) error {
		for i := range out {
			var err error
			ref := crm.Ref{Type: crm.TypeOpportunity, ID: f.ids.NewID()}
			if out[i], err = a.SubmitTx(ctx, w, f.def, f.schema.NewRecord(), ref, f.rep); err != nil {
				return err
			}
		}
		return nil
	}))
	return out
}

func (f *dueFixture) tickDue(t *testing.T, a *workflow.Approvals, now time.Time, limit int) workflow.ApprovalTickResult {
	t.Helper()
	var res workflow.ApprovalTickResult
	require.NoError(t, f.inTx(context.Background(), func(ctx context.Context, w workflow.Tx) error {
		var err error
		res, err = a.TickDue(ctx, w, now, limit)
		return err
	}))
	return res
}

func eventTypes(evs []crm.Event) []crm.EventType {
	out := make([]crm.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestApprovalsTickDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("BadInputNamesTheField", func(t *testing.T) {
		t.Parallel()
		f := newDueFixture(t)
		a := f.approvals(t, nil)
		now := f.clock.Now()
		_, err := a.TickDue(ctx, nil, now, 10)
		requireField(t, err, "tx")
		err = f.inTx(ctx, func(ctx context.Context, w workflow.Tx) error {
			for _, tc := range []struct {
				field string
				now   time.Time
				limit int
			}{
				{"now", time.Time{}, 10},
				{"limit", now, 0},
				{"limit", now, -1},
				{"limit", now, workflow.MaxTickLimit + 1},
			} {
				_, err := a.TickDue(ctx, w, tc.now, tc.limit)
				requireField(t, err, tc.field)
			}
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("APortWithoutDeadlinesIsUnsupported", func(t *testing.T) {
		t.Parallel()
		f := newDueFixture(t)
		err := f.inTx(ctx, func(ctx context.Context, w workflow.Tx) error {
			_, err := f.approvals(t, nil).TickDue(ctx, plainApprovalTx{w}, f.clock.Now(), 10)
			return err
		})
		require.ErrorIs(t, err, crm.ErrUnsupported)
	})
	t.Run("TimeoutsFireInBatchesUntilNothingIsDue", func(t *testing.T) {
		t.Parallel()
		f := newDueFixture(t)
		a := f.approvals(t, nil)
		reqs := f.submit(t, a, 5)
		start := f.clock.Now()

		res := f.tickDue(t, a, start.Add(59*time.Minute), 10)
		require.Zero(t, res.Claimed, "nothing is due before its time")

		at := start.Add(time.Hour)
		res = f.tickDue(t, a, at, 2)
		require.Equal(t, 2, res.Claimed)
		require.True(t, res.More(2), "a full batch that stored something asks for more")
		require.Equal(t, []crm.ID{reqs[0].ID, reqs[1].ID}, []crm.ID{res.Saved[0].ID, res.Saved[1].ID}, "earliest first, then by ID")
		require.Equal(t, []crm.EventType{workflow.EventApprovalStepApproved, workflow.EventApprovalStepApproved}, eventTypes(res.Events))
		for res.More(2) {
			res = f.tickDue(t, a, at, 2)
		}
		require.Equal(t, 1, res.Claimed, "five requests in batches of two")

		// Each request now waits on the director, due two hours later.
		for _, r := range reqs {
			var got *workflow.Instance
			require.NoError(t, f.inTx(ctx, func(ctx context.Context, w workflow.Tx) error {
				var err error
				got, err = w.ApprovalInstances().GetInstance(ctx, r.ID)
				return err
			}))
			require.Equal(t, int64(2), got.Version)
			require.Equal(t, []crm.ID{f.direct}, got.PendingApprovers())
			require.True(t, at.Add(2*time.Hour).Equal(got.NextDueAt()))
		}
		require.Zero(t, f.tickDue(t, a, at.Add(time.Hour), 10).Claimed)
		res = f.tickDue(t, a, at.Add(2*time.Hour), 10)
		require.Equal(t, 5, res.Claimed)
		require.Len(t, res.Events, 5)
		require.Equal(t, workflow.EventApprovalEscalated, res.Events[0].Type)
		require.Equal(t, []crm.ID{f.direct, f.boss}, res.Saved[0].PendingApprovers(), "the manager is asked as well")
		require.Zero(t, f.tickDue(t, a, at.Add(2*time.Hour), 10).Claimed, "a second tick fires nothing")

		pending, err := f.store.Outbox().Pending(ctx, 100)
		require.NoError(t, err)
		require.Len(t, pending, 5+5+5, "submissions, automatic approvals, escalations")
	})
	t.Run("ARequestThatCannotBeTickedIsReportedAndTheRestStored", func(t *testing.T) {
		t.Parallel()
		f := newDueFixture(t)
		reqs := f.submit(t, f.approvals(t, nil), 2)
		// Submitted without a calendar; ticked by an engine whose calendar
		// has no working time, so the director's due time cannot be placed.
		var mondays []string
		for d := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2028; d = d.AddDate(0, 0, 7) {
			mondays = append(mondays, d.Format("2006-01-02"))
		}
		closed, err := calendar.New(&calendar.Spec{Name: "closed", TimeZone: "UTC",
			Week: map[string][]calendar.Span{"monday": {{Start: "09:00", End: "18:00"}}}, Holidays: mondays})
		require.NoError(t, err)
		broken := f.approvals(t, &workflow.ApprovalsConfig{Calendar: closed})
		healthy := f.approvals(t, nil)
		at := f.clock.Now().Add(time.Hour)
		// The first request gets a step without timeout: ticking it needs
		// no calendar.
		require.NoError(t, f.inTx(ctx, func(ctx context.Context, w workflow.Tx) error {
			in, err := w.ApprovalInstances().GetInstance(ctx, reqs[0].ID)
			if err != nil {
				return err
			}
			in.Steps[1].Timeout = 0
			return w.ApprovalInstances().UpdateInstance(ctx, in)
		}))

		res := f.tickDue(t, broken, at, 10)
		require.Equal(t, 2, res.Claimed)
		require.Len(t, res.Saved, 1)
		require.Equal(t, reqs[0].ID, res.Saved[0].ID)
		require.Len(t, res.Failed, 1)
		require.Equal(t, reqs[1].ID, res.Failed[0].ID)
		require.ErrorIs(t, res.Failed[0].Err, calendar.ErrNoWorkingTime)
		require.False(t, f.tickDue(t, broken, at, 1).More(1), "a batch of failures does not ask for more")

		res = f.tickDue(t, healthy, at, 10)
		require.Equal(t, 1, res.Claimed, "the failed request stayed due")
		require.Empty(t, res.Failed)
	})
}

// plainApprovalTx hides the deadline port of a unit of work, as an
// adapter that predates it would.
type plainApprovalTx struct{ w workflow.Tx }

func (p plainApprovalTx) ApprovalInstances() workflow.ApprovalInstances {
	return struct{ workflow.ApprovalInstances }{p.w.ApprovalInstances()}
}

func (p plainApprovalTx) Events() crm.EventWriter { return p.w.Events() }

// requireField checks that err is a validation error naming field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field, fmt.Sprint(err))
}
