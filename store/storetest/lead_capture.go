package storetest

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
)

// runCRMCapture runs the lead-capture subtests of the "CRM" group: a new
// lead is checked against the open leads and the customers under the
// capture policy, with owners masked for the actor.
func runCRMCapture(t *testing.T, h Harness) {
	t.Run("CaptureDecidesByThePolicy", func(t *testing.T) {
		t.Parallel()
		testCRMCaptureMatrix(t, h)
	})
	for _, mode := range []struct {
		name   string
		policy dedupe.Policy
	}{{"Blocking", dedupe.Policy{BlockScore: 10}}, {"Warning", dedupe.Policy{WarnScore: 10}}} {
		t.Run("OfSixteenConcurrentCapturesOfOneLeadTheLaterSeeTheFirst"+mode.name, func(t *testing.T) {
			t.Parallel()
			testCRMConcurrentCaptures(t, newCRMEnv(t, h, func(_ *crmEnv, cfg *crmkit.Config) { cfg.CapturePolicy = &mode.policy }), mode.policy)
		})
	}
	crmTest(t, h, "CaptureShowsTheOwnerOfADuplicateOnlyToThoseWhoMaySee", testCRMCaptureMasksOwners)
	crmTest(t, h, "ClosedLeadsStopCountingAndReopenedOnesCountAgain", testCRMCaptureFollowsTheLifecycle)
	crmTest(t, h, "BadCaptureInputNamesTheFieldAndWritesNothing", testCRMCaptureBadInput)
}

// newLead returns an unsaved open lead; edit changes it.
func (e *crmEnv) newLead(edit func(l *crm.Lead)) *crm.Lead {
	l := crmtest.Lead(e.ids, func(l *crm.Lead) {
		l.Email, l.Region, l.OwnerID, l.DepartmentID = "", "cn-east", crm.NilID, e.sales.ID
	})
	if edit != nil {
		edit(l)
	}
	return l
}

// owned makes l owned by u, in u's department.
func owned(u *crm.User) func(*crm.Lead) {
	return func(l *crm.Lead) { l.OwnerID, l.DepartmentID = u.ID, u.DepartmentID }
}

func testCRMCaptureMatrix(t *testing.T, h Harness) {
	const company, phone = "苏州恒通材料有限公司", "0512-65551234"
	block, warn := dedupe.Policy{BlockScore: 10}, dedupe.Policy{WarnScore: 10}
	type existing int
	const (
		nothing existing = iota
		openLead
		disqualifiedLead
		customer
	)
	for _, tc := range []struct {
		name     string
		policy   dedupe.Policy
		existing existing
		stored   func(l *crm.Lead) // the stored lead, for openLead and disqualifiedLead
		captured func(l *crm.Lead)
		want     lead.CaptureDecision
		strong   bool
	}{
		{"ALeadOfTheSameCompanyIsBlocked", block, openLead, nil, nil, lead.CaptureBlock, true},
		{"ALeadOfTheSameCompanyIsWarnedAbout", warn, openLead, nil, nil, lead.CaptureWarn, true},
		{"TheSamePersonWithPhoneAndEmailButNoCompanyIsBlockedByScore", block,
			openLead, func(l *crm.Lead) { l.Name, l.Email = "李伟", "liwei@hengtong.cn" },
			func(l *crm.Lead) { l.Company, l.Name, l.Email = "", "李伟", "LiWei@hengtong.cn" }, lead.CaptureBlock, false},
		{"TheSamePersonWithPhoneAndEmailButNoCompanyIsWarnedAboutByScore", warn,
			openLead, func(l *crm.Lead) { l.Name, l.Email = "李伟", "liwei@hengtong.cn" },
			func(l *crm.Lead) { l.Company, l.Name, l.Email = "", "李伟", "LiWei@hengtong.cn" }, lead.CaptureWarn, false},
		{"ADisqualifiedLeadIsNoDuplicate", block, disqualifiedLead, nil, nil, lead.CaptureAllow, false},
		{"ALeadOfAnotherCompanyAndPhoneIsLetIn", block, openLead, nil,
			func(l *crm.Lead) {
				l.Company, l.Name, l.Phone = "杭州远景科技有限公司", "赵敏", "0571-88880000"
			}, lead.CaptureAllow, false},
		{"ALeadOfAnExistingCustomerIsBlocked", block, customer, nil, nil, lead.CaptureBlock, true},
		{"ALeadOfAnExistingCustomerIsWarnedAbout", warn, customer, nil, nil, lead.CaptureWarn, true},
		{"APolicyThatNeverWarnsLetsEverythingIn", dedupe.Policy{}, openLead, nil, nil, lead.CaptureAllow, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newCRMEnv(t, h, func(_ *crmEnv, cfg *crmkit.Config) { cfg.CapturePolicy = &tc.policy })
			base := func(l *crm.Lead) { l.Company, l.Phone = company, phone }
			var dupLead, dupCustomer crm.ID
			switch tc.existing {
			case openLead, disqualifiedLead:
				l := e.newLead(func(l *crm.Lead) {
					base(l)
					owned(e.reps[0])(l)
					if tc.stored != nil {
						tc.stored(l)
					}
				})
				got, err := e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{Lead: l, Actor: e.reps[0].ID})
				require.NoError(t, err)
				dupLead = got.Lead.ID
				if tc.existing == disqualifiedLead {
					_, _, err := e.crm.Leads.Transition(e.ctx, lead.TransitionRequest{LeadID: dupLead, To: crm.LeadDisqualified, Reason: "no budget"})
					require.NoError(t, err)
					dupLead = crm.NilID
				}
			case customer:
				c := e.company(company, phone)
				_, err := e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: c, Actor: e.reps[0].ID, Own: true})
				require.NoError(t, err)
				dupCustomer = c.ID
			}
			l := e.newLead(func(l *crm.Lead) {
				base(l)
				if tc.captured != nil {
					tc.captured(l)
				}
			})
			events := e.pending()
			got, err := e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{Lead: l, Actor: e.reps[1].ID})
			var dups []lead.CaptureDuplicate
			if tc.want == lead.CaptureBlock {
				require.ErrorIs(t, err, crm.ErrAlreadyExists)
				var be *lead.CaptureBlockedError
				require.ErrorAs(t, err, &be)
				dups = be.Duplicates
				_, gerr := e.store.Leads().Get(e.ctx, l.ID)
				require.ErrorIs(t, gerr, crm.ErrNotFound, "a blocked capture stores no lead")
				require.Equal(t, events, e.pending(), "a blocked capture writes no event")
				require.Nil(t, e.keysOf(l.ID), "a blocked capture stores no key")
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.want, got.Decision)
				dups = got.Duplicates
				stored, gerr := e.store.Leads().Get(e.ctx, l.ID)
				require.NoError(t, gerr)
				require.Equal(t, e.reps[1].ID, stored.CreatedBy)
				require.Equal(t, events+1, e.pending(), "a capture writes its lead.created event")
				require.NotNil(t, e.keysOf(l.ID), "a captured lead keeps its match keys")
			}
			if tc.want == lead.CaptureAllow {
				require.Empty(t, dups)
				return
			}
			require.NotEmpty(t, dups)
			best := dups[0]
			require.Equal(t, dupLead, best.LeadID)
			require.Equal(t, dupCustomer, best.CustomerID)
			require.Equal(t, tc.strong, best.Strong)
			require.True(t, best.OwnerHidden, "a colleague learns that someone holds it, not who")
			require.Equal(t, crm.NilID, best.OwnerID)
		})
	}
}

func testCRMConcurrentCaptures(t *testing.T, e *crmEnv, policy dedupe.Policy) {
	const n = 16
	const company = "北京华腾科技有限公司"
	leads := make([]*crm.Lead, n)
	for i := range leads {
		leads[i] = e.newLead(func(l *crm.Lead) {
			l.Company, l.Name, l.Phone = company, "王芳", "010-62345678"
			owned(e.reps[i%4])(l)
		})
	}
	results := make([]*lead.Captured, n)
	errs := make([]error, n)
	var stored atomic.Int32
	poolParallel(n, func(i int) {
		results[i], errs[i] = e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{Lead: leads[i], Actor: e.reps[i%4].ID})
		if errs[i] == nil {
			stored.Add(1)
		}
	})
	unwarned := 0
	var first crm.ID
	for i, err := range errs {
		if err != nil {
			var be *lead.CaptureBlockedError
			require.ErrorAs(t, err, &be, "capture %d failed with something other than a blocked capture", i)
			require.NotEmpty(t, be.Duplicates)
			continue
		}
		if len(results[i].Duplicates) == 0 {
			unwarned++
			first = results[i].Lead.ID
		}
	}
	require.Equal(t, 1, unwarned, "exactly one capture saw no earlier one; errors: %v", errs)
	if policy.BlockScore != 0 {
		require.Equal(t, int32(1), stored.Load(), "a blocking policy stores one lead; errors: %v", errs)
		for _, err := range errs {
			var be *lead.CaptureBlockedError
			if errors.As(err, &be) {
				require.Equal(t, first, be.Duplicates[0].LeadID, "a refused capture names the stored lead")
			}
		}
		return
	}
	require.Equal(t, int32(n), stored.Load(), "a warning policy stores every lead; errors: %v", errs)
	for i, r := range results {
		if r.Lead.ID == first {
			continue
		}
		require.Equal(t, lead.CaptureWarn, r.Decision, "capture %d", i)
		require.NotEmpty(t, r.Duplicates[0].LeadID, "capture %d names an earlier lead", i)
	}
	holders := 0
	for _, l := range leads {
		if k := e.keysOf(l.ID); k != nil && k.Strong != "" {
			holders++
		}
	}
	require.Equal(t, 1, holders, "one lead holds the strong key")
}

func testCRMCaptureMasksOwners(t *testing.T, e *crmEnv) {
	sales, err := e.store.Departments().Get(e.ctx, e.sales.ID)
	require.NoError(t, err)
	sales.ManagerID = e.admin.ID
	require.NoError(t, e.store.Departments().Update(e.ctx, sales))
	const company, phone = "苏州恒通材料有限公司", "0512-65551234"
	held, err := e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{
		Lead:  e.newLead(func(l *crm.Lead) { l.Company, l.Phone = company, phone; owned(e.reps[0])(l) }),
		Actor: e.reps[0].ID,
	})
	require.NoError(t, err)
	cust := e.company("杭州远景科技有限公司", "0571-88880000")
	_, err = e.crm.CreateCustomer(e.ctx, crmkit.CreateCustomerRequest{Customer: cust, Actor: e.reps[0].ID, Own: true})
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		actor   crm.ID
		seesWho crm.ID
	}{
		{"AColleagueLearnsThatSomeoneHoldsIt", e.reps[1].ID, crm.NilID},
		{"TheOwnersManagerLearnsWho", e.admin.ID, e.reps[0].ID},
		{"TheOwnerSeesThemselves", e.reps[0].ID, e.reps[0].ID},
		{"TheSystemSeesEverything", crm.NilID, e.reps[0].ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dup := range []struct {
				company, phone string
				lead, customer crm.ID
			}{{company, phone, held.Lead.ID, crm.NilID}, {cust.Name, cust.Phone, crm.NilID, cust.ID}} {
				_, err := e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{
					Lead:  e.newLead(func(l *crm.Lead) { l.Company, l.Phone = dup.company, dup.phone }),
					Actor: tc.actor,
				})
				var be *lead.CaptureBlockedError
				require.ErrorAs(t, err, &be)
				best := be.Duplicates[0]
				require.Equal(t, dup.lead, best.LeadID)
				require.Equal(t, dup.customer, best.CustomerID)
				require.Equal(t, tc.seesWho, best.OwnerID)
				require.Equal(t, tc.seesWho == crm.NilID, best.OwnerHidden)
				if tc.seesWho == crm.NilID {
					require.NotContains(t, err.Error(), e.reps[0].ID.String(), "the message names no hidden owner")
				}
			}
		})
	}
}

func testCRMCaptureFollowsTheLifecycle(t *testing.T, e *crmEnv) {
	const company, phone = "成都天府软件有限公司", "028-85551234"
	first, err := e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{
		Lead:  e.newLead(func(l *crm.Lead) { l.Company, l.Phone = company, phone; owned(e.reps[0])(l) }),
		Actor: e.reps[0].ID,
	})
	require.NoError(t, err)
	again := func() (*lead.Captured, error) {
		return e.crm.Leads.Capture(e.ctx, lead.CaptureRequest{
			Lead: e.newLead(func(l *crm.Lead) { l.Company, l.Phone = company, phone }), Actor: e.reps[1].ID,
		})
	}
	blockedBy := func(err error) lead.CaptureDuplicate {
		t.Helper()
		var be *lead.CaptureBlockedError
		require.ErrorAs(t, err, &be)
		return be.Duplicates[0]
	}
	_, err = again()
	require.Equal(t, first.Lead.ID, blockedBy(err).LeadID)

	_, _, err = e.crm.Leads.Transition(e.ctx, lead.TransitionRequest{LeadID: first.Lead.ID, To: crm.LeadDisqualified, Reason: "no budget"})
	require.NoError(t, err)
	require.Nil(t, e.keysOf(first.Lead.ID), "a disqualified lead loses its keys")

	_, _, err = e.crm.Leads.Transition(e.ctx, lead.TransitionRequest{LeadID: first.Lead.ID, To: crm.LeadNew, Reason: "budget found"})
	require.NoError(t, err)
	require.NotNil(t, e.keysOf(first.Lead.ID), "a reopened lead gets its keys back")
	_, err = again()
	require.Equal(t, first.Lead.ID, blockedBy(err).LeadID, "a reopened lead counts again")

	conv, err := e.crm.Leads.Convert(e.ctx, lead.ConvertRequest{LeadID: first.Lead.ID})
	require.NoError(t, err)
	require.Nil(t, e.keysOf(first.Lead.ID), "a converted lead loses its keys")
	_, err = again()
	dup := blockedBy(err)
	require.Equal(t, conv.Customer.ID, dup.CustomerID, "the customer it became is the duplicate now")
	require.Equal(t, crm.NilID, dup.LeadID)
}

func testCRMCaptureBadInput(t *testing.T, e *crmEnv) {
	events := e.pending()
	for _, tc := range []struct {
		name  string
		req   lead.CaptureRequest
		field string
	}{
		{"NoLead", lead.CaptureRequest{}, "lead"},
		{"NeitherNameNorCompany", lead.CaptureRequest{Lead: e.newLead(func(l *crm.Lead) { l.Name, l.Company = " ", "" })}, "name"},
		{"AConvertedStatus", lead.CaptureRequest{Lead: e.newLead(func(l *crm.Lead) { l.Status = crm.LeadConverted })}, "lead.status"},
		{"AnUnknownStatus", lead.CaptureRequest{Lead: e.newLead(func(l *crm.Lead) { l.Status = "hot" })}, "status"},
		{"AnUnknownActor", lead.CaptureRequest{Lead: e.newLead(nil), Actor: e.ids.NewID()}, "actor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *lead.Captured
			require.NotPanics(t, func() {
				var err error
				got, err = e.crm.Leads.Capture(e.ctx, tc.req)
				requireInvalid(t, err, tc.field)
			})
			require.Nil(t, got)
			if tc.req.Lead != nil {
				_, err := e.store.Leads().Get(e.ctx, tc.req.Lead.ID)
				require.ErrorIs(t, err, crm.ErrNotFound)
				require.Nil(t, e.keysOf(tc.req.Lead.ID))
			}
		})
	}
	require.Equal(t, events, e.pending(), "no bad capture writes an event")
}
