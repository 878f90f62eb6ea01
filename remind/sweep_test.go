package remind_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var all crm.ValidationErrors
	if errors.As(err, &all) {
		require.Contains(t, all.Fields(), field, "%v", err)
		return
	}
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, field, ve.Field)
}

func TestNewRefusesABadConfigNamingTheField(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	for _, tc := range []struct {
		name  string
		cfg   remind.Config
		field string
	}{
		{"NegativeWaiting", remind.Config{ApprovalWaiting: -time.Hour}, "approval_waiting"},
		{"BatchTooLarge", remind.Config{Batch: remind.MaxBatch + 1}, "batch"},
		{"NegativeBatch", remind.Config{Batch: -1}, "batch"},
		{"UnknownKind", remind.Config{Kinds: []remind.Kind{remind.KindTaskOverdue, "pool.unknown"}}, "kinds[1]"},
		{"RepeatedKind", remind.Config{Kinds: []remind.Kind{remind.KindTaskOverdue, remind.KindTaskOverdue}}, "kinds[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := remind.New(store, &tc.cfg)
			requireField(t, err, tc.field)
		})
	}
	_, err := remind.New(nil, nil)
	requireField(t, err, "store")
}

func TestSweepRefusesBadArgumentsNamingTheField(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	s, err := remind.New(store, nil)
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	_, err = s.Sweep(ctx, now, 0)
	requireField(t, err, "limit")
	_, err = s.Sweep(ctx, time.Time{}, 1)
	requireField(t, err, "now")
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := s.FireTx(ctx, tx, "pool.unknown", now, 1)
		requireField(t, err, "kind")
		_, err = s.FireTx(ctx, tx, remind.KindTaskOverdue, now, remind.MaxBatch+1)
		requireField(t, err, "limit")
		_, err = s.FireTx(ctx, nil, remind.KindTaskOverdue, now, 1)
		requireField(t, err, "tx")
		return nil
	})
	require.NoError(t, err)
	requireField(t, remind.TaskQuery{Kind: remind.KindApprovalWaiting, Now: now, Limit: 1}.Validate(), "kind")
	requireField(t, remind.NoticeQuery{Now: now, Until: now, Limit: 1}.Validate(), "pool_id")
	requireField(t, remind.NoticeQuery{PoolID: crm.ID{1}, Now: now, Until: now.Add(-time.Second), Limit: 1}.Validate(), "until")
	requireField(t, remind.NoticeQuery{PoolID: crm.ID{1}, Now: now, Until: now, Limit: remind.MaxBatch + 1}.Validate(), "limit")
	bad := remind.Firing{Kind: remind.KindTaskReminder, At: now, EventID: crm.ID{1}, FiredAt: now}
	requireField(t, bad.Validate(), "subject.id")
}

// plainTx is a unit of work without reminder ports.
type plainTx struct{ crm.Tx }

func TestTxOfReportsUnsupportedWithoutReminderPorts(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	err := store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		_, err := remind.TxOf(plainTx{})
		require.ErrorIs(t, err, crm.ErrUnsupported)
		return nil
	})
	require.NoError(t, err)
}

func TestWaitingListsUndecidedApproversOfStepsStartedByTheTime(t *testing.T) {
	t.Parallel()
	ids := crmtest.NewIDs()
	start := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	a, b, c := ids.NewID(), ids.NewID(), ids.NewID()
	in := &workflow.Instance{
		ID: ids.NewID(), Status: workflow.ApprovalPending, Record: crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()},
		Steps: []workflow.StepState{
			{Name: "manager", Status: workflow.StepActive, StartedAt: start,
				Tasks: []workflow.Task{{Approver: a}, {Approver: b, Decision: workflow.Approved}}},
			{Name: "finance", Status: workflow.StepActive, StartedAt: start.Add(2 * time.Hour), Tasks: []workflow.Task{{Approver: c}}},
			{Name: "legal", Status: workflow.StepWaiting},
		},
	}
	got := remind.Waiting(in, start.Add(time.Hour))
	require.Len(t, got, 1)
	require.Equal(t, remind.Due{
		Kind: remind.KindApprovalWaiting, Subject: crm.Ref{Type: workflow.RecordTypeApproval, ID: in.ID}, About: in.Record,
		RecipientID: a, At: crm.StorageTime(start), Part: "manager/" + a.String(), Step: "manager",
	}, got[0])
	require.Len(t, remind.Waiting(in, start.Add(3*time.Hour)), 2)
	in.Status = workflow.ApprovalApproved
	require.Empty(t, remind.Waiting(in, start.Add(3*time.Hour)), "a finished request waits on nobody")
}

func TestSweepStopsAtTheLimitAndGoesOnNextTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	at := clock.Now()
	for range 10 {
		require.NoError(t, store.Tasks().Create(ctx, crmtest.Task(ids, crm.Ref{Type: crm.TypeLead, ID: ids.NewID()}, ids.NewID(),
			func(t *crm.Task) { t.RemindAt, t.DueAt = &at, at.Add(time.Hour) })))
	}
	s, err := remind.New(store, &remind.Config{Clock: clock, IDs: ids, Batch: 3})
	require.NoError(t, err)
	res, err := s.Sweep(ctx, at, 4)
	require.NoError(t, err)
	require.Equal(t, 4, res.Total())
	res, err = s.Sweep(ctx, at, 100)
	require.NoError(t, err)
	require.Equal(t, map[remind.Kind]int{remind.KindTaskReminder: 6}, res.Fired)
}
