package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// adminReassigns lets only administrators reassign tasks; every other
// action is left to the engine's own rules.
type adminReassigns struct{ admins []crm.ID }

func (a adminReassigns) AuthorizeApproval(_ context.Context, _ crm.Tx, acc *workflow.ApprovalAccess) error {
	if acc.Action == workflow.ApprovalActionReassign && !slices.Contains(a.admins, acc.Actor) {
		return fmt.Errorf("only an administrator may reassign approval %s: %w", acc.Instance.ID, crm.ErrPermissionDenied)
	}
	return nil
}

// A discount needs the sales manager, then the director. The manager is
// away, so an administrator reassigns the task to a deputy; each decision
// is one call that loads, checks, decides and stores with its events.
func ExampleApprovalService() {
	ctx := context.Background()
	rep := uuid.MustParse("0190a5a0-0000-7000-8000-000000000001")
	manager := uuid.MustParse("0190a5a0-0000-7000-8000-000000000002")
	director := uuid.MustParse("0190a5a0-0000-7000-8000-000000000003")
	deputy := uuid.MustParse("0190a5a0-0000-7000-8000-000000000004")
	admin := uuid.MustParse("0190a5a0-0000-7000-8000-000000000005")
	org, _ := workflow.NewOrg([]crm.User{
		{Meta: crm.Meta{ID: rep}, Name: "Li Wei", Active: true},
		{Meta: crm.Meta{ID: manager}, Name: "Liu Yang", Roles: []string{"sales_manager"}, Active: true},
		{Meta: crm.Meta{ID: director}, Name: "Chen Jie", Roles: []string{"director"}, Active: true},
		{Meta: crm.Meta{ID: deputy}, Name: "Wu Lan", Active: true},
		{Meta: crm.Meta{ID: admin}, Name: "Admin", Active: true},
	}, nil, nil)
	schema, _ := cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	def, err := workflow.ParseDefinition(schema, org, []byte(`{
		"key": "quote_discount", "version": 1, "record_type": "opportunity",
		"steps": [
			{"name": "sales_manager", "approvers": [{"role": "sales_manager"}]},
			{"name": "director", "approvers": [{"role": "director"}]}
		]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	engine, _ := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	approvals, err := workflow.NewApprovalService(store, engine, &workflow.ApprovalServiceConfig{
		Authorizer: adminReassigns{admins: []crm.ID{admin}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	opp := crm.Ref{Type: crm.TypeOpportunity, ID: uuid.MustParse("0190a5a0-0000-7000-8000-0000000000f1")}
	req, err := approvals.Submit(ctx, workflow.SubmitRequest{Definition: def, Record: schema.NewRecord(), Ref: opp, Submitter: rep})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("submitted, version", req.Version)

	_, err = approvals.Approve(ctx, workflow.DecisionRequest{InstanceID: req.ID, Actor: director})
	fmt.Println("director before their step, denied:", errors.Is(err, crm.ErrPermissionDenied))
	_, err = approvals.Reassign(ctx, workflow.HandOverRequest{InstanceID: req.ID, Actor: rep, From: manager, To: deputy})
	fmt.Println("rep reassigns, denied:", errors.Is(err, crm.ErrPermissionDenied))
	req, _ = approvals.Reassign(ctx, workflow.HandOverRequest{InstanceID: req.ID, Actor: admin, From: manager, To: deputy, Version: req.Version})
	fmt.Println("admin reassigns, version", req.Version)

	_, err = approvals.Approve(ctx, workflow.DecisionRequest{InstanceID: req.ID, Actor: deputy, Version: 1})
	fmt.Println("deputy decides on version 1, conflict:", errors.Is(err, crm.ErrConflict))
	req, _ = approvals.Approve(ctx, workflow.DecisionRequest{InstanceID: req.ID, Actor: deputy, Comment: "ok for Liu Yang", Version: req.Version})
	req, _ = approvals.Approve(ctx, workflow.DecisionRequest{InstanceID: req.ID, Actor: director, Version: req.Version})
	fmt.Println("status:", req.Status, "version", req.Version)

	events, _ := store.Outbox().Pending(ctx, 100)
	for _, e := range events {
		fmt.Println("event:", e.Type)
	}
	// Output:
	// submitted, version 1
	// director before their step, denied: true
	// rep reassigns, denied: true
	// admin reassigns, version 2
	// deputy decides on version 1, conflict: true
	// status: approved version 4
	// event: approval.submitted
	// event: approval.reassigned
	// event: approval.step_approved
	// event: approval.step_approved
	// event: approval.approved
}
