package lead_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
)

// writingRouter routes every lead to owner and, as a round-robin router
// moving its cursor does, writes through the conversion's tx: it updates
// the owner's user record and appends an event of its own.
type writingRouter struct {
	owner crm.ID
	ids   crm.IDGenerator
	clock crm.Clock
}

func (r writingRouter) RouteOwner(ctx context.Context, tx crm.Tx, l *crm.Lead) (crm.ID, error) {
	u, err := tx.Users().Get(ctx, r.owner)
	if err != nil {
		return crm.NilID, err
	}
	u.Capacity++ // stands for "one more item routed to this user"
	if err := tx.Users().Update(ctx, u); err != nil {
		return crm.NilID, err
	}
	ev, err := crm.NewEvent(r.ids, r.clock, "workflow.routed", crm.Ref{Type: crm.TypeLead, ID: l.ID}, crm.NilID, nil)
	if err != nil {
		return crm.NilID, err
	}
	return r.owner, tx.Events().Append(ctx, &ev)
}

// indexingChecker is a DuplicateChecker and CustomerIndexer stub that
// records what it was asked and checks it is handed a working tx.
type indexingChecker struct {
	match    lead.DuplicateMatch
	found    bool
	indexErr error

	mu      sync.Mutex
	checked int
	indexed []crm.ID
}

func (c *indexingChecker) FindCustomer(ctx context.Context, tx crm.Tx, l *crm.Lead) (lead.DuplicateMatch, bool, error) {
	if _, err := tx.Leads().Get(ctx, l.ID); err != nil {
		return lead.DuplicateMatch{}, false, fmt.Errorf("checker cannot read the lead through tx: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	return c.match, c.found, nil
}

func (c *indexingChecker) IndexCustomer(ctx context.Context, tx crm.Tx, cust *crm.Customer) error {
	// The customer was created in this unit of work before it is indexed.
	if _, err := tx.Customers().Get(ctx, cust.ID); err != nil {
		return fmt.Errorf("indexer cannot read the new customer through tx: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.indexed = append(c.indexed, cust.ID)
	return c.indexErr
}

func (c *indexingChecker) calls() (checked int, indexed []crm.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked, append([]crm.ID(nil), c.indexed...)
}

// recordingAuthorizer allows or refuses every access and records each.
type recordingAuthorizer struct {
	deny error

	mu    sync.Mutex
	asked []lead.Access
}

func (a *recordingAuthorizer) AuthorizeLead(ctx context.Context, tx crm.Tx, acc *lead.Access) error {
	if tx == nil || acc.Actor == nil || acc.Lead == nil {
		return errors.New("authorizer asked without tx, actor or lead")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, *acc)
	return a.deny
}

func (a *recordingAuthorizer) questions() []lead.Access {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]lead.Access(nil), a.asked...)
}

func (f *fixture) user(t *testing.T, edits ...func(*crm.User)) *crm.User {
	t.Helper()
	u := crmtest.User(f.ids, edits...)
	require.NoError(t, f.store.Users().Create(f.ctx, u))
	return u
}

func (f *fixture) customers(t *testing.T) []*crm.Customer {
	t.Helper()
	page, err := f.store.Customers().List(f.ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return page.Items
}

// requireUnconverted checks that l is stored as it was and has no history.
func (f *fixture) requireUnconverted(t *testing.T, l *crm.Lead) {
	t.Helper()
	stored, err := f.store.Leads().Get(f.ctx, l.ID)
	require.NoError(t, err)
	require.Equal(t, l.Version, stored.Version)
	require.Equal(t, l.Status, stored.Status)
	hist, err := f.svc.History(f.ctx, l.ID, crm.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, hist.Items)
}

func TestConvertRoutesInsideItsUnitOfWork(t *testing.T) {
	t.Parallel()
	clash := fmt.Errorf("strong key held by another customer: %w", crm.ErrAlreadyExists)
	cases := []struct {
		name     string
		req      func(l *crm.Lead) lead.ConvertRequest
		indexErr error
		is       error
	}{
		{"AnInvalidOpportunity", func(l *crm.Lead) lead.ConvertRequest {
			return lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{Probability: 150}}
		}, nil, crm.ErrInvalidArgument},
		{"AnIndexClash", func(l *crm.Lead) lead.ConvertRequest {
			return lead.ConvertRequest{LeadID: l.ID}
		}, clash, crm.ErrAlreadyExists},
		{"AnUnknownCustomerToAttachTo", func(l *crm.Lead) lead.ConvertRequest {
			return lead.ConvertRequest{LeadID: l.ID, CustomerID: crmtest.SequentialID(31337)}
		}, nil, crm.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run("KeepsNoRouterWriteAfter"+tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			owner := f.user(t)
			svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids,
				Router:     writingRouter{owner: owner.ID, ids: f.ids, clock: f.clock},
				Duplicates: &indexingChecker{indexErr: tc.indexErr}})
			require.NoError(t, err)
			l := f.lead(t)

			_, err = svc.Convert(f.ctx, tc.req(l))
			require.ErrorIs(t, err, tc.is)
			require.Contains(t, err.Error(), "lead: convert")
			require.Empty(t, f.customers(t))
			require.Empty(t, f.events(t), "not even the router's event")
			stored, err := f.store.Users().Get(f.ctx, owner.ID)
			require.NoError(t, err)
			require.Equal(t, owner.Version, stored.Version, "the router's update is rolled back")
			f.requireUnconverted(t, l)
		})
	}

	t.Run("KeepsTheRouterWriteWithTheConversion", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		owner := f.user(t)
		svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids, Router: writingRouter{owner: owner.ID, ids: f.ids, clock: f.clock}})
		require.NoError(t, err)
		l := f.lead(t)
		conv, err := svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		require.NoError(t, err)
		require.Equal(t, owner.ID, conv.Customer.OwnerID)
		require.Equal(t, []crm.EventType{"workflow.routed", "lead.converted"}, eventTypes(f.events(t)))
		stored, err := f.store.Users().Get(f.ctx, owner.ID)
		require.NoError(t, err)
		require.Equal(t, owner.Version+1, stored.Version)
	})
}

func TestConvertGivesTheRoutedOwnersDepartment(t *testing.T) {
	t.Parallel()
	leadDept, ownerDept := crmtest.SequentialID(7001), crmtest.SequentialID(7002)
	leadOwner := crmtest.SequentialID(7003)
	cases := []struct {
		name            string
		ownerInDept     bool
		route           bool // whether the router picks the stored user
		wantOwnerRouted bool
		wantDept        crm.ID
	}{
		{name: "TheRoutedOwnersDepartment", ownerInDept: true, route: true, wantOwnerRouted: true, wantDept: ownerDept},
		{name: "TheLeadsDepartmentWhenTheRoutedOwnerHasNone", route: true, wantOwnerRouted: true, wantDept: leadDept},
		{name: "TheLeadsDepartmentWhenTheRouterKeepsTheLeadsOwner", ownerInDept: true, wantDept: leadDept},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			u := f.user(t, func(u *crm.User) {
				if tc.ownerInDept {
					u.DepartmentID = ownerDept
				}
			})
			routed := crm.NilID
			if tc.route {
				routed = u.ID
			}
			svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids, Router: stubRouter{owner: routed}})
			require.NoError(t, err)
			l := f.lead(t, func(l *crm.Lead) { l.DepartmentID, l.OwnerID = leadDept, leadOwner })
			conv, err := svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{}})
			require.NoError(t, err)
			wantOwner := leadOwner
			if tc.wantOwnerRouted {
				wantOwner = u.ID
			}
			require.Equal(t, wantOwner, conv.Customer.OwnerID)
			require.Equal(t, wantOwner, conv.Contact.OwnerID)
			require.Equal(t, wantOwner, conv.Opportunity.OwnerID)
			require.Equal(t, tc.wantDept, conv.Customer.DepartmentID)
			require.Equal(t, tc.wantDept, conv.Opportunity.DepartmentID)
			stored, err := f.store.Customers().Get(f.ctx, conv.Customer.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantDept, stored.DepartmentID)
		})
	}

	t.Run("RefusesAnUnknownRoutedOwner", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &lead.Config{Router: stubRouter{owner: crmtest.SequentialID(424242)}})
		l := f.lead(t)
		_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.ErrorContains(t, err, "route owner")
		require.Empty(t, f.customers(t))
		require.Empty(t, f.events(t))
	})
}

func TestConvertAsksTheCheckerAndIndexer(t *testing.T) {
	t.Parallel()

	t.Run("IndexesTheCreatedCustomerInTheSameUnitOfWork", func(t *testing.T) {
		t.Parallel()
		dup := &indexingChecker{}
		f := newFixture(t, &lead.Config{Duplicates: dup})
		l := f.lead(t)
		conv, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		require.NoError(t, err)
		checked, indexed := dup.calls()
		require.Equal(t, 1, checked)
		require.Equal(t, []crm.ID{conv.Customer.ID}, indexed)
	})

	t.Run("IndexesACustomerCreatedDespiteAMatch", func(t *testing.T) {
		t.Parallel()
		existing := crmtest.SequentialID(8001)
		dup := &indexingChecker{match: lead.DuplicateMatch{CustomerID: existing, Score: 0.9}, found: true}
		f := newFixture(t, &lead.Config{Duplicates: dup})
		l := f.lead(t)
		conv, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, OnDuplicate: lead.DuplicateCreate})
		require.NoError(t, err)
		require.False(t, conv.Attached)
		require.Equal(t, existing, conv.Duplicate.CustomerID)
		_, indexed := dup.calls()
		require.Equal(t, []crm.ID{conv.Customer.ID}, indexed)
	})

	t.Run("NeitherAsksNorIndexesWhenAttachingToAGivenCustomer", func(t *testing.T) {
		t.Parallel()
		dup := &indexingChecker{}
		f := newFixture(t, &lead.Config{Duplicates: dup})
		c := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, c))
		l := f.lead(t)
		conv, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, CustomerID: c.ID})
		require.NoError(t, err)
		require.True(t, conv.Attached)
		checked, indexed := dup.calls()
		require.Zero(t, checked)
		require.Empty(t, indexed)
	})

	t.Run("DoesNotIndexWhenAttachingToAMatch", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		c := crmtest.Customer(f.ids)
		require.NoError(t, f.store.Customers().Create(f.ctx, c))
		dup := &indexingChecker{match: lead.DuplicateMatch{CustomerID: c.ID}, found: true}
		svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids, Duplicates: dup})
		require.NoError(t, err)
		l := f.lead(t)
		conv, err := svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, OnDuplicate: lead.DuplicateAttach})
		require.NoError(t, err)
		require.Equal(t, c.ID, conv.Customer.ID)
		_, indexed := dup.calls()
		require.Empty(t, indexed)
	})

	t.Run("ReturnsADuplicateErrorUnwrapped", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &lead.Config{Duplicates: &indexingChecker{match: lead.DuplicateMatch{CustomerID: crmtest.SequentialID(8002)}, found: true}})
		l := f.lead(t)
		_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		var de *lead.DuplicateError
		require.ErrorAs(t, err, &de)
		require.Equal(t, err, error(de), "the *DuplicateError itself")
		f.requireUnconverted(t, l)
	})
}

// nameChecker finds a customer named as the lead's company by listing
// customers through the conversion's tx. memstore runs one unit of work at a
// time, so the check and the create after it cannot interleave with another
// conversion's.
type nameChecker struct{}

func (nameChecker) FindCustomer(ctx context.Context, tx crm.Tx, l *crm.Lead) (lead.DuplicateMatch, bool, error) {
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		p, err := tx.Customers().List(ctx, crm.CustomerFilter{}, page)
		if err != nil {
			return lead.DuplicateMatch{}, false, err
		}
		for _, c := range p.Items {
			if strings.EqualFold(c.Name, l.Company) {
				return lead.DuplicateMatch{CustomerID: c.ID, Score: 1, Reason: "same company name"}, true, nil
			}
		}
		if p.NextCursor == "" {
			return lead.DuplicateMatch{}, false, nil
		}
		page.Cursor = p.NextCursor
	}
}

// emailKeyIndexer never finds a match, and keeps a strong key per company
// name through tx. The only unique key the shared ports offer is a user's
// email, so the key is stored as a user, as dedupe keeps its keys in its
// own ports: a second customer of the same company is crm.ErrAlreadyExists.
type emailKeyIndexer struct{ ids crm.IDGenerator }

func (emailKeyIndexer) FindCustomer(context.Context, crm.Tx, *crm.Lead) (lead.DuplicateMatch, bool, error) {
	return lead.DuplicateMatch{}, false, nil
}

func (x emailKeyIndexer) IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error {
	slug := strings.ToLower(strings.Join(strings.Fields(c.Name), "-"))
	return tx.Users().Create(ctx, &crm.User{Meta: crm.Meta{ID: x.ids.NewID()}, Name: "index key", Email: slug + "@index.invalid"})
}

func TestConcurrentConversionsOfOneCompanyCreateOneCustomer(t *testing.T) {
	t.Parallel()
	const workers = 16
	cases := []struct {
		name      string
		checker   func(ids crm.IDGenerator) lead.DuplicateChecker
		policy    lead.DuplicatePolicy
		converted int   // leads converted in the end
		loser     error // what the other lead's conversions fail with
	}{
		{"TheCheckerRefusesTheSecond", func(crm.IDGenerator) lead.DuplicateChecker { return nameChecker{} }, lead.DuplicateRefuse, 1, crm.ErrAlreadyExists},
		{"TheCheckerAttachesTheSecond", func(crm.IDGenerator) lead.DuplicateChecker { return nameChecker{} }, lead.DuplicateAttach, 2, nil},
		{"TheIndexersStrongKeyRefusesTheSecond", func(ids crm.IDGenerator) lead.DuplicateChecker { return emailKeyIndexer{ids: ids} }, lead.DuplicateCreate, 1, crm.ErrAlreadyExists},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids, Duplicates: tc.checker(f.ids)})
			require.NoError(t, err)
			leads := []*crm.Lead{f.lead(t), f.lead(t, func(l *crm.Lead) { l.Name = "Zhao Lei" })}

			errs := make([]error, workers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = svc.Convert(f.ctx, lead.ConvertRequest{LeadID: leads[i%2].ID, OnDuplicate: tc.policy})
				}()
			}
			close(start)
			wg.Wait()

			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, crm.ErrFailedPrecondition): // that lead was converted already
				default:
					require.NotNil(t, tc.loser, "unexpected error: %v", err)
					require.ErrorIs(t, err, tc.loser)
				}
			}
			require.Equal(t, tc.converted, ok)
			custs := f.customers(t)
			require.Len(t, custs, 1)
			converted := 0
			for _, l := range leads {
				stored, err := f.store.Leads().Get(f.ctx, l.ID)
				require.NoError(t, err)
				if stored.Status == crm.LeadConverted {
					converted++
					require.Equal(t, custs[0].ID, stored.ConvertedCustomerID)
				}
			}
			require.Equal(t, tc.converted, converted)
			evs := eventTypes(f.events(t))
			var events int
			for _, e := range evs {
				if e == lead.EventLeadConverted {
					events++
				}
			}
			require.Equal(t, tc.converted, events, "one lead.converted event a conversion: %v", evs)
		})
	}
}

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	denied := fmt.Errorf("sales reps may not do this: %w", crm.ErrPermissionDenied)
	ops := []struct {
		name   string
		action lead.Action
		to     crm.LeadStatus
		run    func(f *fixture, leadID, actor crm.ID) error
	}{
		{"Transition", lead.ActionTransition, crm.LeadContacted, func(f *fixture, leadID, actor crm.ID) error {
			_, _, err := f.svc.Transition(f.ctx, lead.TransitionRequest{LeadID: leadID, To: crm.LeadContacted, Actor: actor})
			return err
		}},
		{"Convert", lead.ActionConvert, "", func(f *fixture, leadID, actor crm.ID) error {
			_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: leadID, Actor: actor})
			return err
		}},
		{"ScoreLead", lead.ActionScore, "", func(f *fixture, leadID, actor crm.ID) error {
			_, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: leadID, ModelID: "bench", Actor: actor})
			return err
		}},
	}
	cases := []struct {
		name    string
		deny    error
		actor   string // "stored", "unknown" or "" (the system)
		asked   bool
		check   func(t *testing.T, err error)
		changes bool
	}{
		{"AllowsWhatItAllows", nil, "stored", true, func(t *testing.T, err error) { require.NoError(t, err) }, true},
		{"ReturnsARefusalAsIs", denied, "stored", true, func(t *testing.T, err error) {
			require.Same(t, denied, err)
			require.ErrorIs(t, err, crm.ErrPermissionDenied)
		}, false},
		{"RefusesAnUnknownActorWithoutAsking", nil, "unknown", false, func(t *testing.T, err error) {
			requireInvalidField(t, err, "actor")
		}, false},
		{"DoesNotAskForTheSystem", denied, "", false, func(t *testing.T, err error) { require.NoError(t, err) }, true},
	}
	for _, op := range ops {
		for _, tc := range cases {
			t.Run(op.name+tc.name, func(t *testing.T) {
				t.Parallel()
				auth := &recordingAuthorizer{deny: tc.deny}
				f := newFixture(t, &lead.Config{Authorizer: auth})
				require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, benchModel())))
				l := f.lead(t)
				actor := crm.NilID
				switch tc.actor {
				case "stored":
					actor = f.user(t).ID
				case "unknown":
					actor = crmtest.SequentialID(909090)
				}
				tc.check(t, op.run(f, l.ID, actor))
				asked := auth.questions()
				if !tc.asked {
					require.Empty(t, asked)
				} else {
					require.Len(t, asked, 1)
					require.Equal(t, op.action, asked[0].Action)
					require.Equal(t, actor, asked[0].Actor.ID)
					require.Equal(t, l.ID, asked[0].Lead.ID)
					require.Equal(t, l.Version, asked[0].Lead.Version, "the lead as stored before")
					require.Equal(t, op.to, asked[0].To)
				}
				if tc.changes {
					require.NotEmpty(t, f.events(t))
					return
				}
				require.Empty(t, f.events(t))
				require.Empty(t, f.customers(t))
				f.requireUnconverted(t, l)
				scores, err := f.svc.Scores(f.ctx, l.ID)
				require.NoError(t, err)
				require.Empty(t, scores)
			})
		}
	}
}

// requireInvalidField fails unless err is a *crm.ValidationError on field.
func requireInvalidField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *crm.ValidationError
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field)
}

func TestCustomerDraftIsWhatAConversionCreates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*crm.Lead)
		kind crm.CustomerKind
		want string
	}{
		{"ACompanyForALeadWithOne", func(l *crm.Lead) { l.Industry, l.Region, l.Phone = "retail", "cn-east", "+86 21 5555 0101" }, crm.CustomerCompany, "Huateng Technology"},
		{"APersonForALeadWithoutACompany", func(l *crm.Lead) { l.Company = " " }, crm.CustomerPerson, "Wang Fang"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			l := f.lead(t, tc.edit, func(l *crm.Lead) { l.OwnerID, l.DepartmentID = crmtest.SequentialID(6001), crmtest.SequentialID(6002) })
			draft := lead.CustomerDraft(l)
			require.Equal(t, tc.kind, draft.Kind)
			require.Equal(t, tc.want, draft.Name)
			conv, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
			require.NoError(t, err)
			got := conv.Customer.Clone()
			got.Meta, got.CreatedBy = draft.Meta, draft.CreatedBy
			require.Equal(t, draft, got)
		})
	}
}

// departmentCreator stores converted customers itself, in a department of
// its choosing, and may fail.
type departmentCreator struct {
	dept crm.ID
	fail error
}

func (c departmentCreator) CreateConvertedCustomer(ctx context.Context, tx crm.Tx, cust *crm.Customer, actor crm.ID) error {
	if c.fail != nil {
		return c.fail
	}
	cust.DepartmentID = c.dept
	return tx.Customers().Create(ctx, cust)
}

func TestConvertHandsTheCustomerToItsCreator(t *testing.T) {
	t.Parallel()

	t.Run("TheCreatorStoresItAndNoIndexerOrEventIsCalledForIt", func(t *testing.T) {
		t.Parallel()
		dup := &indexingChecker{}
		dept := crmtest.SequentialID(9001)
		f := newFixture(t, &lead.Config{Duplicates: dup, Customers: departmentCreator{dept: dept}})
		l := f.lead(t)
		conv, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{Name: "deal"}})
		require.NoError(t, err)
		_, indexed := dup.calls()
		require.Empty(t, indexed, "the creator keeps the keys")
		got, err := f.store.Customers().Get(f.ctx, conv.Customer.ID)
		require.NoError(t, err)
		require.Equal(t, dept, got.DepartmentID)
		require.Equal(t, dept, conv.Opportunity.DepartmentID, "the opportunity follows the customer's department")
		events, err := f.store.Outbox().Pending(f.ctx, 100)
		require.NoError(t, err)
		for _, e := range events {
			require.NotEqual(t, crm.EventCustomerCreated, e.Type, "the conversion emitted the creator's event")
		}
	})

	t.Run("ACreatorsRefusalKeepsNothing", func(t *testing.T) {
		t.Parallel()
		refusal := fmt.Errorf("owner at cap: %w", crm.ErrLimitExceeded)
		f := newFixture(t, &lead.Config{Customers: departmentCreator{fail: refusal}})
		l := f.lead(t)
		_, err := f.svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		require.ErrorIs(t, err, crm.ErrLimitExceeded)
		f.requireUnconverted(t, l)
		require.Empty(t, f.customers(t))
	})
}
