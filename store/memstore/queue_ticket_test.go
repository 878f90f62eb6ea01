package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/ticket"
)

// TestTicketsBySLAIndexUndoesWithTheUnitOfWork moves a ticket in the
// queue, and takes one off it, in units of work that fail: the queue is
// as before, as the tickets are.
func TestTicketsBySLAIndexUndoesWithTheUnitOfWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()
	s := memstore.New(nil)
	agent := ids.NewID()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var tks []*crm.Ticket
	for i := range 3 {
		due := base.Add(time.Duration(i) * time.Hour)
		tk := crmtest.Ticket(ids, func(t *crm.Ticket) { t.AssigneeID, t.SLADueAt = agent, &due })
		require.NoError(t, s.Tickets().Create(ctx, tk))
		tks = append(tks, tk)
	}
	svc, err := ticket.New(s, nil)
	require.NoError(t, err)
	queue := func() []crm.ID {
		p, err := svc.BySLA(ctx, ticket.SLARequest{Actor: agent})
		require.NoError(t, err)
		out := []crm.ID{}
		for _, tk := range p.Items {
			out = append(out, tk.ID)
		}
		return out
	}
	want := []crm.ID{tks[0].ID, tks[1].ID, tks[2].ID}
	require.Equal(t, want, queue())
	failed := errors.New("fail")
	for name, edit := range map[string]func(*crm.Ticket){
		"later":          func(t *crm.Ticket) { at := base.Add(time.Minute + 5*time.Hour); t.SLADueAt = &at },
		"stopped":        func(t *crm.Ticket) { t.SLADueAt = nil },
		"someone else's": func(t *crm.Ticket) { t.AssigneeID = ids.NewID() },
	} {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			got, err := tx.Tickets().Get(ctx, tks[0].ID)
			if err != nil {
				return err
			}
			edit(got)
			if err := tx.Tickets().Update(ctx, got); err != nil {
				return err
			}
			if err := tx.Tickets().Delete(ctx, tks[1].ID, tks[1].Version); err != nil {
				return err
			}
			return failed
		})
		require.ErrorIs(t, err, failed, name)
		require.Equal(t, want, queue(), name)
	}
}

// BenchmarkTicketsBySLAPage reads a page of 50 of one assignee's and of
// one department's tickets by SLA due time over 1,000,000 tickets (1,000
// assignees, 10 departments, one in five without a running timer),
// without a bound, through ticket.Service.BySLA (one unit of work).
func BenchmarkTicketsBySLAPage(b *testing.B) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(base)
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	assignees, depts := make([]crm.ID, 1000), make([]crm.ID, 10)
	for i := range assignees {
		assignees[i] = ids.NewID()
	}
	for i := range depts {
		depts[i] = ids.NewID()
	}
	const n = 1_000_000
	for start := 0; start < n; start += 100_000 {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			for i := start; i < start+100_000; i++ {
				tk := crmtest.Ticket(ids, func(t *crm.Ticket) {
					t.AssigneeID, t.DepartmentID = assignees[i%len(assignees)], depts[i%len(assignees)%len(depts)]
					if i%5 == 0 {
						t.Status, t.ResolvedAt = crm.TicketResolved, &base
						return
					}
					due := base.Add(time.Duration(i*7919%1_000_000) * time.Second)
					t.Status, t.SLADueAt = crm.TicketOpen, &due
				})
				if err := tx.Tickets().Create(ctx, tk); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	svc, err := ticket.New(s, &ticket.Config{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		scope *crm.DataScope
	}{
		{"Assignee", &crm.DataScope{OwnerIDs: assignees[1:2]}},
		{"Department", &crm.DataScope{DepartmentIDs: depts[1:2]}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := ticket.SLARequest{Scope: bc.scope, Page: crm.PageRequest{Limit: 50}}
			for b.Loop() {
				p, err := svc.BySLA(ctx, req)
				if err != nil || len(p.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(p.Items), err)
				}
			}
		})
	}
}
