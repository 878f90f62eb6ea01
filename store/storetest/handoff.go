package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// handoffMachine is a three-stage lead machine: new -> sales -> won.
func handoffMachine(t *testing.T) (*workflow.Machine, *cond.Schema) {
	t.Helper()
	s, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)
	m, err := workflow.ParseMachine(s, nil, []byte(`{"name": "lead_pipeline", "record_type": "lead", "initial": "new",
		"stages": ["new", "sales", "won"],
		"transitions": [{"from": "new", "to": "sales"}, {"from": "sales", "to": "won"}]}`))
	require.NoError(t, err)
	return m, s
}

func (e *env) getHandoff(ctx context.Context, machine string, record crm.Ref) (*workflow.HandoffState, error) {
	var out *workflow.HandoffState
	err := inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		var err error
		out, err = w.Handoffs().GetHandoff(ctx, machine, record)
		return err
	})
	return out, err
}

func (e *env) putHandoff(ctx context.Context, st *workflow.HandoffState) error {
	return inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
		return w.Handoffs().PutHandoff(ctx, st)
	})
}

func runWorkflowHandoffs(t *testing.T, h Harness) {
	test(t, h, "StatesAreStoredByCompareAndSwap", func(t *testing.T, e *env) {
		rec := crm.Ref{Type: crm.TypeLead, ID: e.ids.NewID()}
		at := e.tick()
		st := &workflow.HandoffState{Machine: "lead_pipeline", Record: rec, Stage: "sales",
			History: []workflow.Handoff{{From: "new", To: "sales", Actor: e.ids.NewID(), Department: e.ids.NewID(), At: at, Note: "qualified"}}}
		require.NoError(t, e.putHandoff(e.ctx, st))
		require.EqualValues(t, 1, st.Version)
		require.Equal(t, e.now(), st.UpdatedAt)

		got, err := e.getHandoff(e.ctx, "lead_pipeline", rec)
		require.NoError(t, err)
		require.Equal(t, st, got, "the state round-trips whole")
		got.History[0].Note = "changed by the caller"
		again, err := e.getHandoff(e.ctx, "lead_pipeline", rec)
		require.NoError(t, err)
		require.Equal(t, "qualified", again.History[0].Note, "the store keeps its own copy")

		fresh := &workflow.HandoffState{Machine: "lead_pipeline", Record: rec, Stage: "new"}
		require.ErrorIs(t, e.putHandoff(e.ctx, fresh), crm.ErrAlreadyExists)

		next := st.Clone()
		next.Stage = "won"
		next.History = append(next.History, workflow.Handoff{From: "sales", To: "won", Actor: e.ids.NewID(), At: e.tick()})
		require.NoError(t, e.putHandoff(e.ctx, next))
		require.EqualValues(t, 2, next.Version)
		stale := st.Clone()
		stale.Stage = "new"
		require.ErrorIs(t, e.putHandoff(e.ctx, stale), crm.ErrConflict, "a stale version is refused")
		got, err = e.getHandoff(e.ctx, "lead_pipeline", rec)
		require.NoError(t, err)
		require.Equal(t, "won", got.Stage)
		require.Len(t, got.History, 2)

		_, err = e.getHandoff(e.ctx, "other_machine", rec)
		require.ErrorIs(t, err, crm.ErrNotFound, "states are per machine")
		_, err = e.getHandoff(e.ctxA, "lead_pipeline", rec)
		require.ErrorIs(t, err, crm.ErrNotFound, "and per tenant")
		missing := &workflow.HandoffState{Machine: "lead_pipeline", Record: crm.Ref{Type: crm.TypeLead, ID: e.ids.NewID()}, Stage: "sales", Version: 3}
		require.ErrorIs(t, e.putHandoff(e.ctx, missing), crm.ErrNotFound)
	})
	test(t, h, "BadStatesAreRefusedNamingTheField", func(t *testing.T, e *env) {
		rec := crm.Ref{Type: crm.TypeLead, ID: e.ids.NewID()}
		for field, st := range map[string]*workflow.HandoffState{
			"machine":    {Record: rec, Stage: "new"},
			"stage":      {Machine: "m", Record: rec},
			"record.id":  {Machine: "m", Record: crm.Ref{Type: crm.TypeLead}, Stage: "new"},
			"version":    {Machine: "m", Record: rec, Stage: "new", Version: -1},
			"history[0]": {Machine: "m", Record: rec, Stage: "new", History: []workflow.Handoff{{From: "a"}}},
		} {
			err := e.putHandoff(e.ctx, st)
			requireInvalid(t, err, field)
		}
		require.ErrorIs(t, e.putHandoff(e.ctx, nil), crm.ErrInvalidArgument)
		_, err := e.getHandoff(e.ctx, "m", rec)
		require.ErrorIs(t, err, crm.ErrNotFound, "nothing was stored")
	})
	test(t, h, "MoveTxStoresStageHistoryAndEventTogether", func(t *testing.T, e *env) {
		m, s := handoffMachine(t)
		id, actor := e.ids.NewID(), e.ids.NewID()
		move := func(ctx context.Context, to string, fail bool) error {
			return inWorkflow(ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
				if _, err := m.MoveTx(ctx, w, e.ids, id, &workflow.Move{Record: s.NewRecord(), To: to, Actor: actor, At: e.tick()}); err != nil {
					return err
				}
				if fail {
					return errRollback
				}
				return nil
			})
		}
		require.ErrorIs(t, move(e.ctx, "sales", true), errRollback)
		_, err := e.getHandoff(e.ctx, "lead_pipeline", crm.Ref{Type: crm.TypeLead, ID: id})
		require.ErrorIs(t, err, crm.ErrNotFound, "a failed unit of work keeps no state")
		require.NoError(t, move(e.ctx, "sales", false))
		require.ErrorIs(t, move(e.ctx, "sales", false), crm.ErrFailedPrecondition, "the stored stage is where the next move starts")
		require.NoError(t, move(e.ctx, "won", false))
		got, err := e.getHandoff(e.ctx, "lead_pipeline", crm.Ref{Type: crm.TypeLead, ID: id})
		require.NoError(t, err)
		require.Equal(t, "won", got.Stage)
		require.Len(t, got.History, 2)
		require.Equal(t, []string{"new", "sales"}, []string{got.History[0].From, got.History[1].From})
		pending, err := e.store.Outbox().Pending(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, pending, 2, "one event per stored move, none for the rolled-back one")
		for _, ev := range pending {
			require.Equal(t, workflow.EventLeadHandedOff, ev.Type)
			require.Equal(t, id, ev.Subject.ID)
		}
	})
	test(t, h, "ConcurrentMovesOfOneRecordStoreOne", func(t *testing.T, e *env) {
		m, s := handoffMachine(t)
		id := e.ids.NewID()
		at := e.tick()
		const n = 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  int
			errs []error
		)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := inWorkflow(e.ctx, e.store, func(ctx context.Context, w workflow.Tx) error {
					_, err := m.MoveTx(ctx, w, e.ids, id, &workflow.Move{Record: s.NewRecord(), To: "sales", Actor: e.ids.NewID(), At: at.Add(time.Duration(i))})
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won++
					return
				}
				errs = append(errs, err)
			}()
		}
		wg.Wait()
		require.Equal(t, 1, won, "exactly one move from new to sales is stored")
		for _, err := range errs {
			ok := errors.Is(err, crm.ErrAlreadyExists) || errors.Is(err, crm.ErrConflict) || errors.Is(err, crm.ErrFailedPrecondition)
			require.True(t, ok, "a losing move fails cleanly: %v", err)
		}
		got, err := e.getHandoff(e.ctx, "lead_pipeline", crm.Ref{Type: crm.TypeLead, ID: id})
		require.NoError(t, err)
		require.Len(t, got.History, 1)
		pending, err := e.store.Outbox().Pending(e.ctx, 20)
		require.NoError(t, err)
		require.Len(t, pending, 1, "one event, from the stored move")
	})
}
