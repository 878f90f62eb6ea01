package crmkit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// Every entry point of the CRM answers empty or nonsensical requests with
// an error, never a panic and never a write.
func TestBadInputGetsAnErrorNotAPanic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(nil)
	users, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(users, &workflow.ApprovalsConfig{IDs: crmtest.NewIDs(), Clock: crm.SystemClock{}})
	require.NoError(t, err)
	c, err := crmkit.New(store, &crmkit.Config{Approvals: engine})
	require.NoError(t, err)
	ghost := crmtest.SequentialID(404)
	for name, call := range map[string]func() error{
		"CreateCustomerWithoutACustomer": func() error { _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{}); return err },
		"CreateContactWithoutAContact":   func() error { _, err := c.CreateContact(ctx, crmkit.CreateContactRequest{}); return err },
		"CreateContactForAnUnknownCustomer": func() error {
			_, err := c.CreateContact(ctx, crmkit.CreateContactRequest{Contact: &crm.Contact{CustomerID: ghost, Name: "x"}})
			return err
		},
		"CreateCustomerOwnedByNobody": func() error {
			_, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Name: "x"}, Own: true})
			return err
		},
		"CreateCustomerByAnUnknownActor": func() error {
			_, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Name: "x"}, Actor: ghost})
			return err
		},
		"CreateCustomerWithoutAName": func() error {
			_, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: &crm.Customer{}})
			return err
		},
		"UpdateCustomerWithoutACustomer": func() error { _, err := c.UpdateCustomer(ctx, crmkit.UpdateCustomerRequest{}); return err },
		"UpdateAnUnknownCustomer": func() error {
			_, err := c.UpdateCustomer(ctx, crmkit.UpdateCustomerRequest{Customer: &crm.Customer{Meta: crm.Meta{ID: ghost}}})
			return err
		},
		"RouteAnUnknownLead":     func() error { _, err := c.RouteLead(ctx, crmkit.RouteLeadRequest{LeadID: ghost}); return err },
		"HandoffWithoutAMachine": func() error { _, err := c.Handoff(ctx, crmkit.HandoffRequest{}); return err },
		"TickSLAWithNoLimit":     func() error { _, err := c.TickSLA(ctx, crmtest.Epoch(), 0); return err },
		"ConvertAnUnknownLead":   func() error { _, err := c.Leads.Convert(ctx, lead.ConvertRequest{LeadID: ghost}); return err },
		"CaptureNothing":         func() error { _, err := c.Leads.Capture(ctx, lead.CaptureRequest{}); return err },
		"CaptureANamelessLead": func() error {
			_, err := c.Leads.Capture(ctx, lead.CaptureRequest{Lead: &crm.Lead{}})
			return err
		},
		"EnterNoContact": func() error { _, err := c.Dedupe.EnterContact(ctx, dedupe.ContactEntryRequest{}); return err },
		"UndoAForgedContactFold": func() error {
			return c.Dedupe.Undo(ctx, &dedupe.CustomerMerge{SurvivorID: ghost, Before: []*crm.Customer{{}, {}}, Keys: make([]dedupe.RecordKeys, 2), After: make([]dedupe.RecordVersion, 2), Contacts: []dedupe.ContactFold{{}}}, crm.NilID)
		},
		"ClaimNothing": func() error { _, err := c.Pools.Claim(ctx, pool.ClaimRequest{}); return err },
		"MoveNobody":   func() error { _, err := c.Pools.MoveUser(ctx, pool.MoveUserRequest{}); return err },
		"MergeNothing": func() error { _, err := c.Dedupe.Merge(ctx, dedupe.MergeRequest{}); return err },
		"UndoNothing":  func() error { return c.Dedupe.Undo(ctx, nil, crm.NilID) },
		"UndoAForgedMerge": func() error {
			return c.Dedupe.Undo(ctx, &dedupe.CustomerMerge{SurvivorID: ghost, Before: []*crm.Customer{{}, {}}, Keys: make([]dedupe.RecordKeys, 2), After: make([]dedupe.RecordVersion, 2), Ownership: []byte(`{`)}, crm.NilID)
		},
		"SubmitNothing":  func() error { _, err := c.Approvals.Submit(ctx, workflow.SubmitRequest{}); return err },
		"ApproveNothing": func() error { _, err := c.Approvals.Approve(ctx, workflow.DecisionRequest{}); return err },
		"DelegateNothing": func() error {
			_, err := c.Approvals.Delegate(ctx, workflow.HandOverRequest{})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() { require.Error(t, call()) })
		})
	}
	page, err := store.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, page.Items, "bad input stored a customer")
}
