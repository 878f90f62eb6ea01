package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
)

// routingWriter is an owner router that writes through the conversion's tx,
// as a round-robin router moving its cursor does: it updates the routed
// user and appends an event of its own.
type routingWriter struct {
	owner crm.ID
	e     *env
}

func (r routingWriter) RouteOwner(ctx context.Context, tx crm.Tx, l *crm.Lead) (crm.ID, error) {
	u, err := tx.Users().Get(ctx, r.owner)
	if err != nil {
		return crm.NilID, err
	}
	u.Capacity++
	if err := tx.Users().Update(ctx, u); err != nil {
		return crm.NilID, err
	}
	ev, err := crm.NewEvent(r.e.ids, r.e.clock, "workflow.routed", crm.Ref{Type: crm.TypeLead, ID: l.ID}, crm.NilID, nil)
	if err != nil {
		return crm.NilID, err
	}
	return r.owner, tx.Events().Append(ctx, &ev)
}

// companyKeyIndexer finds no duplicates and keeps one strong key per
// company name through the conversion's tx. The only unique key of the
// shared ports is a user's email, so the key is stored as a user: a second
// customer of the same company clashes with crm.ErrAlreadyExists in the
// adapter, however the units of work interleave.
type companyKeyIndexer struct{ ids crm.IDGenerator }

func (companyKeyIndexer) FindCustomer(context.Context, crm.Tx, *crm.Lead) (lead.DuplicateMatch, bool, error) {
	return lead.DuplicateMatch{}, false, nil
}

func (x companyKeyIndexer) IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error {
	slug := strings.ToLower(strings.Join(strings.Fields(c.Name), "-"))
	return tx.Users().Create(ctx, &crm.User{Meta: crm.Meta{ID: x.ids.NewID()}, Name: "company key", Email: slug + "@index.invalid"})
}

// leadService returns a lead service over e's store with its clock and IDs.
func (e *env) leadService(t *testing.T, cfg lead.Config) *lead.Service {
	t.Helper()
	cfg.Clock, cfg.IDs = e.clock, e.ids
	svc, err := lead.New(e.store, &cfg)
	require.NoError(t, err)
	return svc
}

func (e *env) allCustomers(t *testing.T) []*crm.Customer {
	t.Helper()
	p, err := e.store.Customers().List(e.ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return p.Items
}

func (e *env) pendingEvents(t *testing.T) []crm.Event {
	t.Helper()
	evs, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	return evs
}

// runLeadConversion drives lead.Service.Convert on the adapter: its seams
// write through the conversion's unit of work, so a conversion that fails
// after routing keeps none of the router's writes, and a strong key kept by
// the indexer lets only one of many concurrent conversions of one company
// create a customer.
func runLeadConversion(t *testing.T, h Harness) {
	test(t, h, "AFailedConversionAfterRoutingLeavesNoCustomerAndNoEvent", func(t *testing.T, e *env) {
		owner := crmtest.User(e.ids)
		require.NoError(t, e.store.Users().Create(e.ctx, owner))
		l := crmtest.Lead(e.ids)
		require.NoError(t, e.store.Leads().Create(e.ctx, l))
		svc := e.leadService(t, lead.Config{Router: routingWriter{owner: owner.ID, e: e}})

		_, err := svc.Convert(e.ctx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{Probability: 150}})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.Empty(t, e.allCustomers(t))
		require.Empty(t, e.pendingEvents(t), "not even the router's event")
		got, err := e.store.Users().Get(e.ctx, owner.ID)
		require.NoError(t, err)
		require.Equal(t, owner.Version, got.Version, "the router's update is rolled back")
		stored, err := e.store.Leads().Get(e.ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, l.Version, stored.Version)
		require.Equal(t, crm.LeadNew, stored.Status)

		// The same conversion with a valid opportunity keeps everything.
		conv, err := svc.Convert(e.ctx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{Probability: 40}})
		require.NoError(t, err)
		require.Equal(t, owner.ID, conv.Customer.OwnerID)
		got, err = e.store.Users().Get(e.ctx, owner.ID)
		require.NoError(t, err)
		require.Equal(t, owner.Version+1, got.Version)
		var types []crm.EventType
		for _, ev := range e.pendingEvents(t) {
			types = append(types, ev.Type)
		}
		// The domain events; the change events of the records come from a
		// recording unit of work (the CRM group).
		require.Equal(t, []crm.EventType{"workflow.routed", "lead.converted"}, types)
	})

	test(t, h, "OneOfManyConcurrentConversionsOfOneCompanyCreatesTheCustomer", func(t *testing.T, e *env) {
		const workers = 16
		leads := []*crm.Lead{crmtest.Lead(e.ids), crmtest.Lead(e.ids, func(l *crm.Lead) { l.Name = "Zhao Lei" })}
		for _, l := range leads {
			require.NoError(t, e.store.Leads().Create(e.ctx, l))
		}
		svc := e.leadService(t, lead.Config{Duplicates: companyKeyIndexer{ids: e.ids}})
		errs := make([]error, workers)
		poolParallel(workers, func(i int) {
			_, errs[i] = svc.Convert(e.ctx, lead.ConvertRequest{LeadID: leads[i%2].ID, OnDuplicate: lead.DuplicateCreate})
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, crm.ErrAlreadyExists), errors.Is(err, crm.ErrFailedPrecondition), errors.Is(err, crm.ErrConflict):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		require.Equal(t, 1, ok, "one conversion succeeds")
		custs := e.allCustomers(t)
		require.Len(t, custs, 1)
		converted := 0
		for _, l := range leads {
			stored, err := e.store.Leads().Get(e.ctx, l.ID)
			require.NoError(t, err)
			if stored.Status == crm.LeadConverted {
				converted++
				require.Equal(t, custs[0].ID, stored.ConvertedCustomerID)
			}
		}
		require.Equal(t, 1, converted)
		conversions := 0
		for _, ev := range e.pendingEvents(t) {
			if ev.Type == lead.EventLeadConverted {
				conversions++
			}
		}
		require.Equal(t, 1, conversions)
	})
}
