package crmkit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// ticketCRM returns the world's CRM whose normal tickets run a 4-hour SLA
// timer.
func (w *queueWorld) ticketCRM(t *testing.T, perms permission.Authorizer) *crmkit.CRM {
	t.Helper()
	ps, err := workflow.ParseSLAPolicies([]byte(`{"policies": [{"name": "resolution", "target": "4h"}]}`), nil)
	require.NoError(t, err)
	c, err := crmkit.New(w.store, &crmkit.Config{Clock: w.clock, IDs: w.ids, Permissions: perms,
		Ticket: ticket.Config{SLA: map[crm.TicketPriority]*workflow.SLAPolicy{crm.PriorityNormal: ps[0]}}})
	require.NoError(t, err)
	return c
}

// ticketPolicy lets reps view their own tickets, leads their department
// tree's, and the picky role only its own new ones.
func (w *queueWorld) ticketPolicy(t *testing.T) *permission.Policy {
	t.Helper()
	p, err := permission.Load([]byte(`{
	  "record_types": [{"name": "ticket", "fields": ["subject"]}],
	  "roles": [
	    {"name": "rep", "rules": [{"id": "rep.own", "record_type": "ticket", "actions": ["view"], "scope": "own"}]},
	    {"name": "lead", "rules": [{"id": "lead.tree", "record_type": "ticket", "actions": ["view"], "scope": "department_tree"}]},
	    {"name": "picky", "rules": [{"id": "picky.new", "record_type": "ticket", "actions": ["view"], "scope": "own",
	      "when": {"field": "status", "in": ["new"]}}]}]
	}`), []*crm.Department{w.sales, w.east, w.svc}, nil)
	require.NoError(t, err)
	return p
}

// raise creates a ticket assigned to u in u's department through c, a
// minute after the previous one, so tickets are due in the order raised.
func (w *queueWorld) raise(t *testing.T, c *crmkit.CRM, u *crm.User) *crm.Ticket {
	t.Helper()
	w.clock.Advance(time.Minute)
	tk, err := c.Tickets.Create(w.ctx, ticket.CreateRequest{Ticket: crmtest.Ticket(w.ids, func(tk *crm.Ticket) {
		tk.AssigneeID, tk.DepartmentID = u.ID, u.DepartmentID
	})})
	require.NoError(t, err)
	return tk
}

func slaIDs(t *testing.T, c *crmkit.CRM, req crmkit.TicketsBySLARequest) []crm.ID {
	t.Helper()
	p, err := c.TicketsBySLA(context.Background(), req)
	require.NoError(t, err)
	out := []crm.ID{}
	for _, tk := range p.Items {
		require.NotNil(t, tk.SLADueAt)
		out = append(out, tk.ID)
	}
	return out
}

func TestTicketsBySLAListsMineAndTheManagedTeamWithoutPermissions(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.ticketCRM(t, nil)
	r1, e1, s1, m1 := w.raise(t, c, w.rep), w.raise(t, c, w.east1), w.raise(t, c, w.svc1), w.raise(t, c, w.manager)
	r2 := w.raise(t, c, w.rep)
	require.Equal(t, []crm.ID{r1.ID, r2.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID}))
	require.Equal(t, []crm.ID{r1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID, Before: *r1.SLADueAt}))
	require.Equal(t, []crm.ID{s1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.svc1.ID}))
	require.Equal(t, []crm.ID{r1.ID, e1.ID, m1.ID, r2.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.manager.ID, Team: true}))
	require.Empty(t, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID, Team: true}), "a rep manages nobody")

	// Pending and resolved tickets leave the queue; resuming brings one
	// back, due later.
	for _, to := range []crm.TicketStatus{crm.TicketOpen, crm.TicketPending} {
		_, err := c.Tickets.Transition(w.ctx, ticket.TransitionRequest{TicketID: r1.ID, To: to, Actor: w.rep.ID})
		require.NoError(t, err)
	}
	require.Equal(t, []crm.ID{r2.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID}))
	w.clock.Advance(time.Hour)
	_, err := c.Tickets.Transition(w.ctx, ticket.TransitionRequest{TicketID: r1.ID, To: crm.TicketOpen, Actor: w.rep.ID})
	require.NoError(t, err)
	require.Equal(t, []crm.ID{r2.ID, r1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID}))
	_, err = c.Tickets.Transition(w.ctx, ticket.TransitionRequest{TicketID: r2.ID, To: crm.TicketOpen, Actor: w.rep.ID})
	require.NoError(t, err)
	_, err = c.Tickets.Transition(w.ctx, ticket.TransitionRequest{TicketID: r2.ID, To: crm.TicketResolved, Actor: w.rep.ID})
	require.NoError(t, err)
	require.Equal(t, []crm.ID{r1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID}))
}

func TestTicketsBySLAKeepsTheViewerWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	c := w.ticketCRM(t, w.ticketPolicy(t))
	r1, e1, s1, m1 := w.raise(t, c, w.rep), w.raise(t, c, w.east1), w.raise(t, c, w.svc1), w.raise(t, c, w.manager)
	fresh, opened := w.raise(t, c, w.picky), w.raise(t, c, w.picky)
	_, err := c.Tickets.Transition(w.ctx, ticket.TransitionRequest{TicketID: opened.ID, To: crm.TicketOpen, Actor: w.picky.ID})
	require.NoError(t, err)

	// A rep's team is what the rep may view: the rep's own.
	require.Equal(t, []crm.ID{r1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID, Team: true}))
	require.Equal(t, []crm.ID{s1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.svc1.ID}))
	// A lead's team is the department tree the policy grants.
	require.Equal(t, []crm.ID{r1.ID, e1.ID, m1.ID, fresh.ID, opened.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.manager.ID, Team: true}))
	require.Equal(t, []crm.ID{m1.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.manager.ID}))
	// A scope wider than the policy (a status condition) is checked ticket
	// by ticket: the picky viewer sees only its new ticket, and a page of
	// one may come back empty with a cursor to go on.
	require.Equal(t, []crm.ID{fresh.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.picky.ID}))
	require.Equal(t, []crm.ID{fresh.ID}, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.picky.ID, Team: true}))
	p, err := c.TicketsBySLA(w.ctx, crmkit.TicketsBySLARequest{Viewer: w.picky.ID, Page: crm.PageRequest{Limit: 1}})
	require.NoError(t, err)
	require.Equal(t, fresh.ID, p.Items[0].ID)
	p, err = c.TicketsBySLA(w.ctx, crmkit.TicketsBySLARequest{Viewer: w.picky.ID, Page: crm.PageRequest{Limit: 1, Cursor: p.NextCursor}})
	require.NoError(t, err)
	require.Empty(t, p.Items, "the open ticket is dropped")

	// A policy without tickets lets nobody view one.
	c = w.ticketCRM(t, w.policy(t))
	require.Empty(t, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.rep.ID}))
	require.Empty(t, slaIDs(t, c, crmkit.TicketsBySLARequest{Viewer: w.manager.ID, Team: true}))
}

func TestTicketsBySLARefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	for _, c := range []*crmkit.CRM{w.ticketCRM(t, nil), w.ticketCRM(t, w.ticketPolicy(t))} {
		w.raise(t, c, w.rep)
		w.raise(t, c, w.rep)
		first, err := c.TicketsBySLA(w.ctx, crmkit.TicketsBySLARequest{Viewer: w.rep.ID, Page: crm.PageRequest{Limit: 1}})
		require.NoError(t, err)
		require.NotEmpty(t, first.NextCursor)
		_, key, _ := strings.Cut(first.NextCursor, ".")
		for field, req := range map[string]crmkit.TicketsBySLARequest{
			"viewer":      {},
			"page.cursor": {Viewer: w.rep.ID, Page: crm.PageRequest{Cursor: "tdu." + key}},
			"page.limit":  {Viewer: w.rep.ID, Page: crm.PageRequest{Limit: crm.MaxPageLimit + 1}},
		} {
			_, err := c.TicketsBySLA(w.ctx, req)
			requireFieldIn(t, err, field)
			require.ErrorContains(t, err, field)
		}
	}
	_, err := w.ticketCRM(t, w.ticketPolicy(t)).TicketsBySLA(w.ctx, crmkit.TicketsBySLARequest{Viewer: w.ids.NewID()})
	requireFieldIn(t, err, "viewer")
}
