package lead_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

type fixture struct {
	ctx   context.Context
	store *memstore.Store
	ids   *crmtest.IDs
	clock *crmtest.Clock
	svc   *lead.Service
}

func newFixture(t *testing.T, cfg *lead.Config) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), ids: crmtest.NewIDs(), clock: crmtest.NewClock(t0)}
	f.store = memstore.New(&memstore.Config{Clock: f.clock})
	c := lead.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Clock, c.IDs = f.clock, f.ids
	svc, err := lead.New(f.store, &c)
	require.NoError(t, err)
	f.svc = svc
	return f
}

func (f *fixture) lead(t *testing.T, edits ...func(*crm.Lead)) *crm.Lead {
	t.Helper()
	l := crmtest.Lead(f.ids, edits...)
	require.NoError(t, f.store.Leads().Create(f.ctx, l))
	return l
}

func (f *fixture) events(t *testing.T) []crm.Event {
	t.Helper()
	evs, err := f.store.Outbox().Pending(f.ctx, 100)
	require.NoError(t, err)
	return evs
}

func eventTypes(evs []crm.Event) []crm.EventType {
	out := make([]crm.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestTransition(t *testing.T) {
	t.Parallel()
	actor := crmtest.SequentialID(9999)

	t.Run("MovesTheLeadAndRecordsHistoryAndAnEvent", func(t *testing.T) {
		f := newFixture(t, nil)
		l := f.lead(t)
		got, h, err := f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadContacted, Actor: actor, Version: l.Version})
		require.NoError(t, err)
		require.Equal(t, crm.LeadContacted, got.Status)
		require.NotEqual(t, crm.NilID, h.ID)
		require.Equal(t, lead.HistoryEntry{ID: h.ID, LeadID: l.ID, From: crm.LeadNew, To: crm.LeadContacted, Actor: actor, At: t0}, *h)
		evs := f.events(t)
		require.Equal(t, []crm.EventType{"lead.contacted"}, eventTypes(evs))
		var payload lead.HistoryEntry
		require.NoError(t, json.Unmarshal(evs[0].Payload, &payload))
		require.Equal(t, *h, payload)
		require.Equal(t, actor, evs[0].ActorID)
		hist, err := f.svc.History(f.ctx, l.ID, crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, hist.Items, 1)
		require.Equal(t, *h, *hist.Items[0])
	})

	t.Run("DisqualifiesWithAReasonAndReopens", func(t *testing.T) {
		f := newFixture(t, nil)
		l := f.lead(t)
		got, _, err := f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadDisqualified, Reason: "student, no budget"})
		require.NoError(t, err)
		require.Equal(t, "student, no budget", got.DisqualifyReason)
		got, _, err = f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadNew, Reason: "got funding"})
		require.NoError(t, err)
		require.Empty(t, got.DisqualifyReason)
		require.Equal(t, []crm.EventType{"lead.disqualified", "lead.reopened"}, eventTypes(f.events(t)))
	})

	cases := []struct {
		name   string
		edit   func(*crm.Lead)
		to     crm.LeadStatus
		reason string
		is     error
		field  string
	}{
		{"RefusesSalesQualifiedWithoutPhoneOrEmail", func(l *crm.Lead) { l.Email = "" }, crm.LeadSQL, "", crm.ErrFailedPrecondition, ""},
		{"RefusesDisqualifyingWithoutAReason", nil, crm.LeadDisqualified, " ", crm.ErrInvalidArgument, "reason"},
		{"RefusesAnUnknownStatus", nil, "hot", "", crm.ErrInvalidArgument, "to"},
		{"RefusesAMoveTheLifecycleLacks", func(l *crm.Lead) { l.Status, l.DisqualifyReason = crm.LeadDisqualified, "spam" }, crm.LeadMQL, "", crm.ErrFailedPrecondition, ""},
		{"RefusesMovingAConvertedLead", func(l *crm.Lead) { l.Status, l.ConvertedCustomerID = crm.LeadConverted, crmtest.SequentialID(777) }, crm.LeadContacted, "", crm.ErrFailedPrecondition, ""},
		{"RefusesConvertingThroughTransition", nil, crm.LeadConverted, "", crm.ErrInvalidArgument, "to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			var edits []func(*crm.Lead)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			l := f.lead(t, edits...)
			_, _, err := f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: l.ID, To: tc.to, Reason: tc.reason})
			require.ErrorIs(t, err, tc.is)
			require.Contains(t, err.Error(), "lead: ")
			if tc.field != "" {
				var ve *crm.ValidationError
				require.True(t, errors.As(err, &ve))
				require.Equal(t, tc.field, ve.Field)
			}
			stored, err := f.store.Leads().Get(f.ctx, l.ID)
			require.NoError(t, err)
			require.Equal(t, l.Version, stored.Version, "nothing stored")
			require.Empty(t, f.events(t))
		})
	}

	t.Run("RefusesAStaleVersion", func(t *testing.T) {
		f := newFixture(t, nil)
		l := f.lead(t)
		_, _, err := f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadContacted, Version: l.Version + 1})
		require.ErrorIs(t, err, crm.ErrConflict)
	})

	t.Run("ReportsAMissingLead", func(t *testing.T) {
		f := newFixture(t, nil)
		_, _, err := f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: crmtest.SequentialID(424242), To: crm.LeadContacted})
		require.ErrorIs(t, err, crm.ErrNotFound)
	})
}

type stubDuplicates struct {
	match lead.DuplicateMatch
	found bool
}

func (s stubDuplicates) FindCustomer(context.Context, crm.Tx, *crm.Lead) (lead.DuplicateMatch, bool, error) {
	return s.match, s.found, nil
}

type stubRouter struct{ owner crm.ID }

func (s stubRouter) RouteOwner(context.Context, crm.Tx, *crm.Lead) (crm.ID, error) {
	return s.owner, nil
}

func cny(t *testing.T, v int64) crm.Money {
	m, err := crm.NewMoney(decimal.NewFromInt(v), "CNY")
	require.NoError(t, err)
	return m
}

func TestConvert(t *testing.T) {
	t.Parallel()
	owner := crmtest.SequentialID(5000)

	t.Run("CreatesCustomerContactAndOpportunityAtomically", func(t *testing.T) {
		f := newFixture(t, &lead.Config{Router: stubRouter{owner: owner}})
		require.NoError(t, f.store.Users().Create(f.ctx, crmtest.User(f.ids, func(u *crm.User) { u.ID = owner })))
		l := f.lead(t, func(l *crm.Lead) { l.Phone = "+86 21 5555 0101"; l.Status = crm.LeadSQL })
		conv, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{Name: "ERP rollout", Amount: cny(t, 250000)}})
		require.NoError(t, err)
		require.False(t, conv.Attached)
		require.Equal(t, "Huateng Technology", conv.Customer.Name)
		require.Equal(t, owner, conv.Customer.OwnerID)
		require.Equal(t, []string{"+86 21 5555 0101"}, conv.Contact.Phones)
		require.True(t, conv.Opportunity.Amount.Equal(cny(t, 250000)))

		stored, err := f.store.Leads().Get(f.ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadConverted, stored.Status)
		require.Equal(t, conv.Customer.ID, stored.ConvertedCustomerID)
		require.Equal(t, conv.Contact.ID, stored.ConvertedContactID)
		require.Equal(t, conv.Opportunity.ID, stored.ConvertedOpportunityID)
		require.Equal(t, t0, *stored.ConvertedAt)
		_, err = f.store.Customers().Get(f.ctx, conv.Customer.ID)
		require.NoError(t, err)
		// The service writes its domain event; the records' change events
		// come from a recording unit of work (crmkit's conversion tests).
		require.Equal(t, []crm.EventType{"lead.converted"}, eventTypes(f.events(t)))
		hist, err := f.svc.History(f.ctx, l.ID, crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, hist.Items, 1)
		require.Equal(t, *conv.History, *hist.Items[0])
		require.Equal(t, crm.LeadSQL, conv.History.From)
		require.Equal(t, crm.LeadConverted, conv.History.To)

		t.Run("AndRefusesToConvertTwice", func(t *testing.T) {
			_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
			require.ErrorIs(t, err, crm.ErrFailedPrecondition)
			require.Len(t, f.events(t), 1)
		})
	})

	t.Run("RefusesADisqualifiedLead", func(t *testing.T) {
		f := newFixture(t, nil)
		l := f.lead(t, func(l *crm.Lead) { l.Status, l.DisqualifyReason = crm.LeadDisqualified, "competitor" })
		_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
		require.ErrorContains(t, err, "disqualified")
		page, err := f.store.Customers().List(f.ctx, crm.CustomerFilter{}, crm.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Items, "no customer is created for a refused conversion")
		require.Empty(t, f.events(t))
	})

	t.Run("StoresNothingWhenAPartIsInvalid", func(t *testing.T) {
		f := newFixture(t, nil)
		l := f.lead(t)
		_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{Probability: 150}})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		page, err := f.store.Customers().List(f.ctx, crm.CustomerFilter{}, crm.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		stored, err := f.store.Leads().Get(f.ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadNew, stored.Status)
		require.Empty(t, f.events(t))
	})

	t.Run("RefusesADuplicateUnlessToldWhatToDo", func(t *testing.T) {
		f := newFixture(t, nil)
		existing := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, existing))
		f2 := *f
		svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids, Duplicates: stubDuplicates{lead.DuplicateMatch{CustomerID: existing.ID, Score: 0.97, Reason: "same email domain and name"}, true}})
		require.NoError(t, err)
		f2.svc = svc
		l := f2.lead(t)

		_, err = f2.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		var de *lead.DuplicateError
		require.ErrorAs(t, err, &de)
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		require.Equal(t, existing.ID, de.Match.CustomerID)

		conv, err := f2.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, OnDuplicate: lead.DuplicateAttach})
		require.NoError(t, err)
		require.True(t, conv.Attached)
		require.Equal(t, existing.ID, conv.Customer.ID)
		require.Equal(t, existing.ID, conv.Contact.CustomerID)
		require.Equal(t, []crm.EventType{"lead.converted"}, eventTypes(f.events(t)))
	})

	t.Run("AttachesToAnExplicitCustomer", func(t *testing.T) {
		f := newFixture(t, nil)
		l := f.lead(t)
		_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, CustomerID: crmtest.SequentialID(31337)})
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.Empty(t, f.events(t))
	})
}

func TestNewLifecycleRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, js, field string }{
		{"UnknownStatus", `{"transitions":[{"from":"new","to":"hot"}]}`, "transitions[0].to"},
		{"SelfLoop", `{"transitions":[{"from":"new","to":"new"}]}`, "transitions[0].to"},
		{"LeavingConverted", `{"transitions":[{"from":"converted","to":"new"}]}`, "transitions[0].from"},
		{"UnknownGuard", `{"transitions":[{"from":"new","to":"contacted","guards":["vip"]}]}`, "transitions[0].guards[0]"},
		{"DisqualifyWithoutReason", `{"transitions":[{"from":"new","to":"disqualified"}]}`, "transitions[0].guards"},
		{"Repeat", `{"transitions":[{"from":"new","to":"contacted"},{"from":"new","to":"contacted"}]}`, "transitions[1]"},
		{"UnknownField", `{"transitions":[{"from":"new","to":"contacted","when":"x"}]}`, "transitions[0].when"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lead.ParseLifecycle([]byte(tc.js))
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.ErrorAs(t, err, &es)
			require.Contains(t, es.Fields(), tc.field)
		})
	}
	t.Run("AcceptsTheDefault", func(t *testing.T) {
		b, err := json.Marshal(lead.DefaultLifecycleSpec())
		require.NoError(t, err)
		lc, err := lead.ParseLifecycle(b)
		require.NoError(t, err)
		require.Equal(t, []crm.LeadStatus{crm.LeadContacted, crm.LeadMQL, crm.LeadSQL, crm.LeadDisqualified, crm.LeadConverted}, lc.Next(crm.LeadNew))
	})
}
