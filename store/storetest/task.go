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
	"github.com/crmkit/crmkit/task"
)

// runTaskService checks package task's rules that rest on the adapter:
// version-conditional completion, and, when units of work have the
// optional task.CalendarLocker, overlap refusals under concurrency.
func runTaskService(t *testing.T, h Harness) {
	setup := func(t *testing.T, e *env, policy task.OverlapPolicy) (*task.Service, *crm.User, crm.Ref) {
		t.Helper()
		svc, err := task.New(e.store, &task.Config{Clock: e.clock, IDs: e.ids, OverlapPolicy: policy})
		require.NoError(t, err)
		agent := crmtest.User(e.ids)
		require.NoError(t, e.store.Users().Create(e.ctx, agent))
		cust := crmtest.Customer(e.ids)
		require.NoError(t, e.store.Customers().Create(e.ctx, cust))
		return svc, agent, crm.Ref{Type: crm.TypeCustomer, ID: cust.ID}
	}
	test(t, h, "ConcurrentCompletionsOfOneRecurringTaskHaveOneWinnerAndOneNextOccurrence", func(t *testing.T, e *env) {
		svc, agent, subject := setup(t, e, task.OverlapWarn)
		res, err := svc.Create(e.ctx, task.CreateRequest{Task: &crm.Task{
			Title: "Daily call", AssigneeID: agent.ID, Subject: subject, DueAt: e.clock.Now().Add(time.Hour),
			Recurrence: &crm.Recurrence{Every: 1, Unit: crm.EveryDay},
		}})
		require.NoError(t, err)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = svc.Complete(e.ctx, task.CompleteRequest{TaskID: res.Task.ID, Actor: agent.ID})
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				require.True(t, errors.Is(err, task.ErrNotOpen) || errors.Is(err, crm.ErrConflict), "%v", err)
			}
		}
		require.Equal(t, 1, wins)
		page, err := e.store.Tasks().List(e.ctx, crm.TaskFilter{Subject: &subject}, crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, page.Items, 2, "the task and one next occurrence")
	})
	test(t, h, "ConcurrentOverlappingBookingsUnderRefuseStoreOne", func(t *testing.T, e *env) {
		var locks bool
		require.NoError(t, e.store.InTx(e.ctx, func(_ context.Context, tx crm.Tx) error {
			_, locks = crm.As[task.CalendarLocker](tx)
			return nil
		}))
		if !locks {
			t.Skip("units of work have no task.CalendarLocker: concurrent bookings are not serialised")
		}
		svc, agent, subject := setup(t, e, task.OverlapRefuse)
		start := e.clock.Now().Add(24 * time.Hour)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s, end := start.Add(time.Duration(i)*time.Minute), start.Add(time.Hour)
				_, errs[i] = svc.Create(e.ctx, task.CreateRequest{Task: &crm.Task{
					Kind: crm.TaskAppointment, Title: "Visit", AssigneeID: agent.ID, Subject: subject, StartAt: &s, EndAt: &end,
				}})
			})
		}
		wg.Wait()
		stored := 0
		for _, err := range errs {
			if err == nil {
				stored++
			} else {
				require.ErrorIs(t, err, task.ErrOverlap)
			}
		}
		require.Equal(t, 1, stored)
		page, err := e.store.Tasks().List(e.ctx, crm.TaskFilter{AssigneeIDs: []crm.ID{agent.ID}}, crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
	})
}
