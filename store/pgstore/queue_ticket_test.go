package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/pgstore"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// loadTickets fills the store's tickets with n tickets of assignees
// assignees spread over depts departments (assignee k in department
// k % depts), due at scattered seconds after queueBase, one in five
// without an SLA due time (resolved), and analyzes the table. It returns
// one assignee and one department.
func loadTickets(tb testing.TB, s *pgstore.Store, n, assignees, depts int) (assignee, dept crm.ID) {
	tb.Helper()
	return loadQueue(tb, s, "crm_tickets", "INSERT INTO {table} (id, tenant_id, version, created_at, updated_at, subject, priority, status,"+
		" assignee_id, department_id, resolved_at, sla_due_at)"+
		" SELECT md5('k' || i)::uuid, '', 1, now(), now(), 'Cannot log in', 'normal', CASE WHEN i % 5 = 0 THEN 'resolved' ELSE 'open' END,"+
		" md5('o' || (i % $2))::uuid, md5('d' || (i % $2 % $3))::uuid, CASE WHEN i % 5 = 0 THEN now() END,"+
		" CASE WHEN i % 5 <> 0 THEN $4::timestamptz + ((i::bigint * 7919) % 1000000) * interval '1 second' END"+
		" FROM generate_series(1, $1) AS i", n, assignees, depts)
}

// TestTicketsBySLAPlansUseTheQueueIndexes shows that a page of one
// assignee's and of one department's tickets by SLA due time, bounded or
// not, is an index scan on the queue's index, never a scan of the table.
func TestTicketsBySLAPlansUseTheQueueIndexes(t *testing.T) {
	t.Parallel()
	s := newStore(t, crmtest.NewClock(queueBase))
	assignee, dept := loadTickets(t, s, 100_000, 200, 5)
	ctx := context.Background()
	after := &crm.QueueKey{DueAt: queueBase.Add(time.Hour), ID: crm.NilID}
	for name, tc := range map[string]struct {
		scope *crm.DataScope
		index string
	}{
		"assignee":        {&crm.DataScope{OwnerIDs: []crm.ID{assignee}}, "crm_tickets_assignee_sla_idx"},
		"department":      {&crm.DataScope{DepartmentIDs: []crm.ID{dept}}, "crm_tickets_department_sla_idx"},
		"department tree": {&crm.DataScope{DepartmentTrees: []crm.ID{dept}}, "crm_tickets_department_sla_idx"},
	} {
		for _, before := range []time.Time{{}, queueBase.Add(30 * 24 * time.Hour)} {
			for _, from := range []*crm.QueueKey{nil, after} {
				sql, args, ok := pgstore.TicketsBySLASQL(s, "", ticket.SLAQuery{Scope: tc.scope, Before: before}, 51, from)
				require.True(t, ok)
				requireIndexPlan(t, sql, args, tc.index, fmt.Sprintf("%s (before %v, after %v)", name, before, from), "crm_tickets")
			}
		}
	}
	svc, err := ticket.New(s, &ticket.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(t, err)
	page, err := svc.BySLA(ctx, ticket.SLARequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{dept}}})
	require.NoError(t, err)
	require.Len(t, page.Items, crm.DefaultPageLimit)
	for i, tk := range page.Items {
		require.Equal(t, dept, tk.DepartmentID)
		require.NotNil(t, tk.SLADueAt)
		require.Equal(t, crm.TicketOpen, tk.Status)
		if i > 0 {
			require.False(t, tk.SLADueAt.Before(*page.Items[i-1].SLADueAt))
		}
	}
}

// BenchmarkTicketsBySLAPage reads a page of 50 of one assignee's and of
// one department's tickets by SLA due time over 1,000,000 tickets (1,000
// assignees, 10 departments, one in five resolved), without a bound,
// through ticket.Service.BySLA (one unit of work).
func BenchmarkTicketsBySLAPage(b *testing.B) {
	s := newStore(b, crmtest.NewClock(queueBase))
	assignee, dept := loadTickets(b, s, 1_000_000, 1000, 10)
	svc, err := ticket.New(s, &ticket.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(b, err)
	benchPages(b, map[string]*crm.DataScope{"Assignee": {OwnerIDs: []crm.ID{assignee}}, "Department": {DepartmentIDs: []crm.ID{dept}}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.BySLA(context.Background(), ticket.SLARequest{Scope: scope, Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// TestTicketSLAQueueMigrationBackfills stores tickets through the ticket
// service, takes the schema back to before migration 0021 and up again:
// a ticket whose timer runs gets the timer's due time back, a breached
// one the start of its timer's run, and paused, stopped and timerless
// ones none.
func TestTicketSLAQueueMigrationBackfills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(queueBase)
	s := newStore(t, clock)
	ids := crmtest.NewIDs()
	ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "resolution", "target": "4h"}]}`), nil)
	require.NoError(t, err)
	svc, err := ticket.New(s, &ticket.Config{Clock: clock, IDs: ids, SLA: map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: ps[0]}})
	require.NoError(t, err)
	raise := func(edits ...func(*crm.Ticket)) *crm.Ticket {
		t.Helper()
		tk, err := svc.Create(ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(ids, edits...)})
		require.NoError(t, err)
		return tk
	}
	move := func(id crm.ID, to ...crm.TicketStatus) {
		t.Helper()
		for _, st := range to {
			_, err := svc.Transition(ctx, ticket.TransitionRequest{TicketID: id, To: st})
			require.NoError(t, err)
		}
	}
	breached := raise()
	clock.Advance(time.Hour)
	pending, resolved, closed, timerless := raise(), raise(), raise(), raise(func(t *crm.Ticket) { t.Priority = crm.PriorityLow })
	move(pending.ID, crm.TicketOpen, crm.TicketPending)
	move(resolved.ID, crm.TicketOpen, crm.TicketResolved)
	move(closed.ID, crm.TicketOpen, crm.TicketResolved, crm.TicketClosed)
	clock.Advance(3 * time.Hour)
	_, err = svc.Tick(ctx, clock.Now(), 100)
	require.NoError(t, err)
	clock.Advance(time.Hour)
	resumed := raise() // created, then paused and resumed: due with the time left
	move(resumed.ID, crm.TicketOpen, crm.TicketPending)
	clock.Advance(time.Hour)
	move(resumed.ID, crm.TicketOpen)
	before := map[crm.ID]*crm.Ticket{}
	for _, tk := range []*crm.Ticket{breached, pending, resolved, closed, timerless, resumed} {
		got, err := s.Tickets().Get(ctx, tk.ID)
		require.NoError(t, err)
		before[tk.ID] = got
	}
	require.Equal(t, queueBase.Add(4*time.Hour), *before[breached.ID].SLADueAt, "the service keeps the missed deadline")
	require.Equal(t, queueBase.Add(10*time.Hour), *before[resumed.ID].SLADueAt)

	require.NoError(t, pgstore.MigrateDown(ctx, testPool(t), s.Schema(), 20))
	require.NoError(t, pgstore.Migrate(ctx, testPool(t), s.Schema()))

	for id, was := range before {
		got, err := s.Tickets().Get(ctx, id)
		require.NoError(t, err)
		switch id {
		case breached.ID:
			require.Equal(t, queueBase, *got.SLADueAt, "a breached timer keeps no due time: the start of its run")
		case resumed.ID:
			require.Equal(t, was.SLADueAt, got.SLADueAt)
		default:
			require.Nil(t, got.SLADueAt, "ticket %s (%s)", id, got.Status)
		}
	}
	page, err := svc.BySLA(ctx, ticket.SLARequest{Scope: &crm.DataScope{All: true}})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, breached.ID, page.Items[0].ID)
	require.Equal(t, resumed.ID, page.Items[1].ID)
}
