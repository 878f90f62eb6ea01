package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
	"github.com/stretchr/testify/require"
)

// runLimits checks that text no stored record could hold is refused in the
// domain, with a *crm.ValidationError naming the field, before an adapter
// sends it anywhere: a database would otherwise answer with an error of its
// own (PostgreSQL refuses NUL and invalid UTF-8 with SQLSTATE 22021) where
// the in-memory adapter answers with an empty page. And text at the limits
// still finds its record on every adapter. Unless [Features] opts out of
// workflow, routing names at their documented maximum key stored state on
// every adapter, and longer ones never reach it.
func runLimits(t *testing.T, h Harness) {
	badText := []struct{ name, text string }{
		{"NUL", "cn-north\x00"},
		{"InvalidUTF8", "cn-\xffnorth"},
		{"LoneSurrogate", "\xed\xa0\x80"},
		{"SixtyFiveCharacters", strings.Repeat("区", 65)},
	}
	for _, bad := range badText {
		test(t, h, "ListRefusesFilterTextWith"+bad.name, func(t *testing.T, e *env) {
			ctx := e.ctxA
			// A record of each listed type exists, so an adapter that
			// skipped validation would have rows to compare against.
			require.NoError(t, e.store.Customers().Create(ctx, &crm.Customer{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Acme", Region: "cn-north"}))
			require.NoError(t, e.store.Leads().Create(ctx, &crm.Lead{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Li", Company: "Acme", Source: "web"}))
			s := bad.text
			checks := []struct {
				field string
				list  func(context.Context) error
			}{
				{"regions[2]", listErr(e.store.Customers(), crm.CustomerFilter{Regions: []string{"cn-north", "cn-south", s}})},
				{"levels[0]", listErr(e.store.Customers(), crm.CustomerFilter{Levels: []string{s}})},
				{"industries[1]", listErr(e.store.Customers(), crm.CustomerFilter{Industries: []string{"retail", s}})},
				{"statuses[0]", listErr(e.store.Customers(), crm.CustomerFilter{Statuses: []crm.CustomerStatus{crm.CustomerStatus(s)}})},
				{"sources[0]", listErr(e.store.Leads(), crm.LeadFilter{Sources: []string{s}})},
				{"statuses[1]", listErr(e.store.Leads(), crm.LeadFilter{Statuses: []crm.LeadStatus{crm.LeadNew, crm.LeadStatus(s)}})},
				{"stages[0]", listErr(e.store.Opportunities(), crm.OpportunityFilter{Stages: []crm.OpportunityStage{crm.OpportunityStage(s)}})},
				{"kinds[0]", listErr(e.store.Activities(), crm.ActivityFilter{Kinds: []crm.ActivityKind{crm.ActivityKind(s)}})},
				{"subject.type", listErr(e.store.Activities(), crm.ActivityFilter{Subject: &crm.Ref{Type: crm.RecordType(s), ID: e.ids.NewID()}})},
				{"statuses[0]", listErr(e.store.Tickets(), crm.TicketFilter{Statuses: []crm.TicketStatus{crm.TicketStatus(s)}})},
				{"role", listErr(e.store.Users(), crm.UserFilter{Role: s})},
			}
			for _, c := range checks {
				requireInvalid(t, c.list(ctx), c.field)
			}
		})
	}
	test(t, h, "ListFindsRecordsByFilterTextAtTheLimit", func(t *testing.T, e *env) {
		ctx := e.ctxA
		atLimit := strings.Repeat("区", 64) // 64 characters, 192 bytes
		c := &crm.Customer{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Acme", Region: atLimit, Level: atLimit, Industry: atLimit}
		require.NoError(t, e.store.Customers().Create(ctx, c))
		require.NoError(t, e.store.Customers().Create(ctx, &crm.Customer{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Other", Region: "cn-north"}))
		page, err := e.store.Customers().List(ctx, crm.CustomerFilter{Regions: []string{atLimit}, Levels: []string{atLimit}, Industries: []string{atLimit}}, crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, c.ID, page.Items[0].ID)

		l := &crm.Lead{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Li", Company: "Acme", Source: atLimit}
		require.NoError(t, e.store.Leads().Create(ctx, l))
		leads, err := e.store.Leads().List(ctx, crm.LeadFilter{Sources: []string{atLimit}}, crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, leads.Items, 1)
		require.Equal(t, l.ID, leads.Items[0].ID)
	})
	if h.Features.Workflow {
		runRoutingLimits(t, h)
	}
}

func runRoutingLimits(t *testing.T, h Harness) {
	// 64 characters of four bytes each: the longest rule-set name in bytes.
	longest := strings.Repeat("\U00020000", workflow.MaxRuleSetNameLen)
	newRouter := func(e *env, name string) (*workflow.Router, []crm.ID, error) {
		schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
		if err != nil {
			return nil, nil, err
		}
		users := []crm.ID{e.ids.NewID(), e.ids.NewID()}
		team := e.ids.NewID()
		set := &workflow.RuleSet{Name: name, RecordType: crm.TypeLead, Version: 1, FallbackQueue: strings.Repeat("\U00020000", workflow.MaxQueueLen),
			Rules: []workflow.Rule{{Name: strings.Repeat("r", workflow.MaxRuleNameLen), Target: workflow.Target{Team: team}}}}
		members := []workflow.Member{{UserID: users[0], Active: true}, {UserID: users[1], Active: true}}
		r, err := workflow.NewRouter(schema, set, members, []workflow.Team{{ID: team, Members: users}})
		return r, users, err
	}
	test(t, h, "RouteTxKeysStateByRoutingNamesAtTheirLimit", func(t *testing.T, e *env) {
		r, users, err := newRouter(e, longest)
		require.NoError(t, err)
		for i := range 3 { // the first move inserts the cursor, the next ones update it
			req := &workflow.Request{Record: r.Schema().NewRecord(), Now: e.now()}
			var d workflow.Decision
			mustWorkflow(t, e.ctxA, e.store, func(ctx context.Context, w workflow.Tx) error {
				d, err = r.RouteTx(ctx, w, e.ids, e.ids.NewID(), req)
				return err
			})
			require.Equal(t, users[i%2], d.UserID, "routing %d", i)
		}
		st := r.NewState()
		mustWorkflow(t, e.ctxA, e.store, func(ctx context.Context, w workflow.Tx) error {
			return w.Routing().LoadRouting(ctx, longest, r.Day(e.now()), st)
		})
		require.Equal(t, workflow.Cursor{Last: users[0], Version: 3}, st.Cursor(strings.Repeat("r", workflow.MaxRuleNameLen)))
		open, today := st.Load(users[0])
		require.Equal(t, 2, open)
		require.Equal(t, 2, today)
	})
	test(t, h, "NewRouterRefusesARuleSetNameOf3000Characters", func(t *testing.T, e *env) {
		_, _, err := newRouter(e, strings.Repeat("x", 3000))
		requireInvalid(t, err, "name")
	})
}

// listErr returns a call of repo.List with f that reports only the error.
func listErr[T any, F any](repo crm.Repository[T, F], f F) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := repo.List(ctx, f, crm.PageRequest{})
		return err
	}
}
