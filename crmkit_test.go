package crmkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// sharedOnly is a store whose units of work offer only the shared
// repositories, as a host's first adapter might.
type sharedOnly struct{ crm.Store }

func (s sharedOnly) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(ctx, struct{ crm.Tx }{tx}) })
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("WiresEveryDomainWithANilConfig", func(t *testing.T) {
		c, err := crmkit.New(memstore.New(nil), nil)
		require.NoError(t, err)
		require.NotNil(t, c.Pools)
		require.NotNil(t, c.Leads)
		require.NotNil(t, c.Dedupe)
		require.Nil(t, c.Approvals, "no approval engine configured")
		require.Nil(t, c.Router)
	})
	t.Run("RefusesANilStoreNamingIt", func(t *testing.T) {
		_, err := crmkit.New(nil, nil)
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "store", ve.Field)
	})
	t.Run("NamesTheFirstMissingPort", func(t *testing.T) {
		_, err := crmkit.New(sharedOnly{memstore.New(nil)}, nil)
		require.ErrorIs(t, err, crm.ErrUnsupported)
		require.ErrorContains(t, err, "pool.Tx")
	})
	t.Run("RefusesAMatcherForOtherFields", func(t *testing.T) {
		mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: []dedupe.Field{{Name: "name", Kind: dedupe.KindName}}})
		require.NoError(t, err)
		_, err = crmkit.New(memstore.New(nil), &crmkit.Config{Matcher: mt})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.ErrorContains(t, err, "matcher")
	})
	t.Run("RefusesABadPoolConfigNamingTheField", func(t *testing.T) {
		cfg := &crmkit.Config{}
		cfg.Pool.SweepWorkers = -1
		_, err := crmkit.New(memstore.New(nil), cfg)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.ErrorContains(t, err, "sweep_workers")
	})
}

func TestRouteLeadWithoutARouterIsAPreconditionError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(nil)
	c, err := crmkit.New(store, nil)
	require.NoError(t, err)
	l := crmtest.Lead(crmtest.NewIDs())
	require.NoError(t, store.Leads().Create(ctx, l))
	_, err = c.RouteLead(ctx, crmkit.RouteLeadRequest{LeadID: l.ID})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition)
}

func TestLeadRecordFillsTheSchemasLeadFields(t *testing.T) {
	t.Parallel()
	schema, err := cond.NewSchema(
		cond.Field{Name: "region", Kind: cond.KindString},
		cond.Field{Name: "company_size", Kind: cond.KindNumber},
		cond.Field{Name: "tags", Kind: cond.KindStrings},
		cond.Field{Name: "campaign", Kind: cond.KindString},
		cond.Field{Name: "industry", Kind: cond.KindNumber}, // wrong kind: left unset
	)
	require.NoError(t, err)
	l := &crm.Lead{Region: "cn-east", CompanySize: 250, Tags: []string{"expo"}, Industry: "logistics",
		Fields: crm.Fields{"campaign": crm.String("spring-2026"), "region": crm.String("custom")}}
	rec, err := crmkit.LeadRecord(schema, l)
	require.NoError(t, err)
	for _, f := range []string{"region", "company_size", "tags", "campaign"} {
		require.True(t, rec.Has(f), "field %s unset", f)
	}
	require.False(t, rec.Has("industry"))
	east, err := cond.Parse(schema, []byte(`{"field":"region","equals":"cn-east"}`))
	require.NoError(t, err)
	require.True(t, east.Match(rec), "a custom field named region overrode the lead's region")
}

func TestHandoffAsksThePolicyAndStoresTheStage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := crmtest.NewIDs()
	store := memstore.New(nil)
	dept := crmtest.Department(ids, "Service", crm.NilID)
	require.NoError(t, store.Departments().Create(ctx, dept))
	agent := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"agent"} })
	other := crmtest.User(ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"agent"} })
	for _, u := range []*crm.User{agent, other} {
		require.NoError(t, store.Users().Create(ctx, u))
	}
	ticket := crmtest.Ticket(ids, func(tk *crm.Ticket) { tk.AssigneeID, tk.DepartmentID = agent.ID, dept.ID })
	require.NoError(t, store.Tickets().Create(ctx, ticket))
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "ticket", "fields": ["subject"]}],
	  "roles": [{"name": "agent", "rules": [{"id": "agent.own_tickets", "record_type": "ticket", "actions": ["view", "edit"], "scope": "own"}]}]
	}`), []*crm.Department{dept}, nil)
	require.NoError(t, err)
	c, err := crmkit.New(store, &crmkit.Config{IDs: ids, Permissions: policy})
	require.NoError(t, err)
	schema, err := cond.NewSchema(cond.Field{Name: "priority", Kind: cond.KindString})
	require.NoError(t, err)
	m, err := workflow.ParseMachine(schema, nil, []byte(`{"name": "ticket_flow", "record_type": "ticket", "initial": "open",
		"stages": ["open", "escalated"], "transitions": [{"from": "open", "to": "escalated"}]}`))
	require.NoError(t, err)
	req := func(actor crm.ID) crmkit.HandoffRequest {
		return crmkit.HandoffRequest{Machine: m, Record: crm.Ref{Type: crm.TypeTicket, ID: ticket.ID},
			Move: workflow.Move{Record: schema.NewRecord(), To: "escalated", Actor: actor}}
	}
	_, err = c.Handoff(ctx, req(other.ID))
	require.ErrorIs(t, err, crm.ErrPermissionDenied, "someone else's ticket")
	out, err := c.Handoff(ctx, req(agent.ID))
	require.NoError(t, err)
	require.Equal(t, "escalated", out.Stage)

	firings, err := c.TickSLA(ctx, time.Time{}, 100)
	require.NoError(t, err)
	require.Empty(t, firings, "no timers started")
}
