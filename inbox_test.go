package crmkit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/workflow"
)

// inboxWorld is the work queues' organisation with approvals: a CRM with
// no permissions submits and decides, one with the queue world's policy
// reads.
type inboxWorld struct {
	*queueWorld
	org    *workflow.Org
	engine *workflow.Approvals
	schema *cond.Schema
	plain  *crmkit.CRM
}

func newInboxWorld(t *testing.T) *inboxWorld {
	t.Helper()
	w := &inboxWorld{queueWorld: newQueueWorld(t)}
	var users []crm.User
	for _, u := range []*crm.User{w.manager, w.rep, w.east1, w.svc1, w.picky} {
		users = append(users, *u)
	}
	var err error
	w.org, err = workflow.NewOrg(users, nil, nil)
	require.NoError(t, err)
	w.engine, err = workflow.NewApprovals(w.org, &workflow.ApprovalsConfig{Clock: w.clock, IDs: w.ids})
	require.NoError(t, err)
	w.schema, err = cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	require.NoError(t, err)
	w.plain = w.inboxCRM(t, nil)
	return w
}

func (w *inboxWorld) inboxCRM(t *testing.T, perms permission.Authorizer) *crmkit.CRM {
	t.Helper()
	c, err := crmkit.New(w.store, &crmkit.Config{Clock: w.clock, IDs: w.ids, Permissions: perms, Approvals: w.engine})
	require.NoError(t, err)
	return c
}

// ask stores a customer owned by owner with status st and asks for a
// discount on it, by submitter, of all of approvers; the clock then moves
// on an hour.
func (w *inboxWorld) ask(t *testing.T, owner *crm.User, st crm.CustomerStatus, submitter *crm.User, approvers ...*crm.User) crm.ID {
	t.Helper()
	c := crmtest.Customer(w.ids, func(c *crm.Customer) { c.OwnerID, c.DepartmentID, c.Status = owner.ID, owner.DepartmentID, st })
	require.NoError(t, w.store.Customers().Create(w.ctx, c))
	spec := `{"key": "discount", "version": 1, "record_type": "customer", "steps": [{"name": "review", "rule": "all", "approvers": [`
	for i, a := range approvers {
		if i > 0 {
			spec += ", "
		}
		spec += fmt.Sprintf(`{"user": %q}`, a.ID)
	}
	def, err := workflow.ParseDefinition(w.schema, w.org, []byte(spec+`]}]}`))
	require.NoError(t, err)
	in, err := w.plain.Approvals.Submit(w.ctx, workflow.SubmitRequest{Definition: def, Record: w.schema.NewRecord(),
		Ref: crm.Ref{Type: crm.TypeCustomer, ID: c.ID}, Submitter: submitter.ID})
	require.NoError(t, err)
	w.clock.Advance(time.Hour)
	return in.ID
}

// inbox reads every page of req, limit at a time, and returns the request
// IDs in order.
func inboxIDs(t *testing.T, c *crmkit.CRM, req crmkit.InboxRequest, limit int) []crm.ID {
	t.Helper()
	out := []crm.ID{}
	req.Page = crm.PageRequest{Limit: limit}
	for range 50 {
		p, err := c.Inbox(context.Background(), req)
		require.NoError(t, err)
		for _, it := range p.Items {
			out = append(out, it.Instance.ID)
		}
		if p.NextCursor == "" {
			return out
		}
		req.Page.Cursor = p.NextCursor
	}
	t.Fatal("the inbox never ended")
	return nil
}

func TestInboxListsMineAndTheManagedTeamsWithoutPermissions(t *testing.T) {
	t.Parallel()
	w := newInboxWorld(t)
	r1 := w.ask(t, w.rep, crm.CustomerPotential, w.svc1, w.rep)
	r2 := w.ask(t, w.east1, crm.CustomerPotential, w.rep, w.east1)
	r3 := w.ask(t, w.svc1, crm.CustomerPotential, w.rep, w.svc1)
	r4 := w.ask(t, w.svc1, crm.CustomerPotential, w.svc1, w.rep, w.east1)
	r5 := w.ask(t, w.picky, crm.CustomerDealt, w.rep, w.picky)
	r6 := w.ask(t, w.picky, crm.CustomerPotential, w.rep, w.picky)
	c := w.plain
	require.Equal(t, []crm.ID{r1, r4}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.rep.ID}, 1))
	require.Equal(t, []crm.ID{r2, r4}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.east1.ID}, 10))
	require.Equal(t, []crm.ID{r3}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.svc1.ID}, 10))
	// The manager's team: Sales and East below it, not Service.
	team := crmkit.InboxRequest{Viewer: w.manager.ID, Team: true}
	require.Equal(t, []crm.ID{r1, r2, r4, r5, r6}, inboxIDs(t, c, team, 2))
	p, err := c.Inbox(w.ctx, team)
	require.NoError(t, err)
	require.Equal(t, []crm.ID{w.rep.ID, w.east1.ID}, p.Items[2].Approvers, "a request waiting on two of the team is listed once, naming both")
	require.Empty(t, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.manager.ID}, 10), "nothing waits on the manager")
	require.Empty(t, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.rep.ID, Team: true}, 10), "a manager of nothing has an empty team")

	// A decision takes a request out of the decider's inbox and the team's.
	_, err = c.Approvals.Approve(w.ctx, workflow.DecisionRequest{InstanceID: r1, Actor: w.rep.ID})
	require.NoError(t, err)
	require.Equal(t, []crm.ID{r4}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.rep.ID}, 10))
	require.Equal(t, []crm.ID{r2, r4, r5, r6}, inboxIDs(t, c, team, 3))
}

func TestInboxKeepsTheViewerWithinThePolicysScope(t *testing.T) {
	t.Parallel()
	w := newInboxWorld(t)
	r1 := w.ask(t, w.rep, crm.CustomerPotential, w.svc1, w.rep)
	r2 := w.ask(t, w.east1, crm.CustomerPotential, w.rep, w.east1)
	r3 := w.ask(t, w.svc1, crm.CustomerPotential, w.rep, w.svc1)
	r4 := w.ask(t, w.svc1, crm.CustomerPotential, w.svc1, w.rep, w.east1)
	r5 := w.ask(t, w.picky, crm.CustomerDealt, w.rep, w.picky)
	r6 := w.ask(t, w.picky, crm.CustomerPotential, w.rep, w.picky)
	c := w.inboxCRM(t, w.policy(t))
	// A rep views their own customers: r4 is on Service's.
	require.Equal(t, []crm.ID{r1}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.rep.ID}, 10))
	require.Equal(t, []crm.ID{r3}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.svc1.ID}, 10))
	// The picky viewer sees only dealt customers.
	require.Equal(t, []crm.ID{r5}, inboxIDs(t, c, crmkit.InboxRequest{Viewer: w.picky.ID}, 10))
	// The lead views the Sales tree: the team's r4 is on Service's
	// customer. The page that held it is short, and the inbox goes on.
	team := crmkit.InboxRequest{Viewer: w.manager.ID, Team: true}
	got := inboxIDs(t, c, team, 2)
	require.Equal(t, []crm.ID{r1, r2, r5, r6}, got)
	require.NotContains(t, got, r4)
	team.Page = crm.PageRequest{Limit: 2}
	first, err := c.Inbox(w.ctx, team)
	require.NoError(t, err)
	team.Page.Cursor = first.NextCursor
	second, err := c.Inbox(w.ctx, team)
	require.NoError(t, err)
	require.Len(t, second.Items, 1)
	require.Equal(t, r5, second.Items[0].Instance.ID)
	require.NotEmpty(t, second.NextCursor)
}

func TestInboxRefusesBadInput(t *testing.T) {
	t.Parallel()
	w := newInboxWorld(t)
	for _, c := range []*crmkit.CRM{w.plain, w.inboxCRM(t, w.policy(t))} {
		for field, req := range map[string]crmkit.InboxRequest{
			"viewer":      {},
			"page.cursor": {Viewer: w.rep.ID, Page: crm.PageRequest{Cursor: crm.CursorAfter(w.rep.ID)}},
			"page.limit":  {Viewer: w.rep.ID, Team: true, Page: crm.PageRequest{Limit: -1}},
		} {
			_, err := c.Inbox(w.ctx, req)
			requireFieldIn(t, err, field)
		}
	}
	_, err := w.inboxCRM(t, w.policy(t)).Inbox(w.ctx, crmkit.InboxRequest{Viewer: w.ids.NewID()})
	requireFieldIn(t, err, "viewer")
	_, err = w.crm(t, nil).Inbox(w.ctx, crmkit.InboxRequest{Viewer: w.rep.ID})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition, "without approvals")

	// A team too big for one inbox page is refused, not cut.
	for range workflow.MaxInboxApprovers {
		u := crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID = w.east.ID })
		require.NoError(t, w.store.Users().Create(w.ctx, u))
	}
	_, err = w.plain.Inbox(w.ctx, crmkit.InboxRequest{Viewer: w.manager.ID, Team: true})
	require.ErrorIs(t, err, crm.ErrLimitExceeded)
	var le *crm.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, int64(workflow.MaxInboxApprovers), le.Max)
}
