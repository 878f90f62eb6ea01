package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// BenchmarkApprovalInboxPage reads a page of 50 of one approver's inbox,
// and of a team of ten approvers, over 1,000,000 pending requests (1,000
// approvers), through workflow.ApprovalService.Inbox (one unit of work).
func BenchmarkApprovalInboxPage(b *testing.B) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(base)
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	approvers := make([]crm.ID, 1000)
	for i := range approvers {
		approvers[i] = ids.NewID()
	}
	submitter := ids.NewID()
	const n = 1_000_000
	for start := 0; start < n; start += 100_000 {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			store := tx.(workflow.Tx).ApprovalInstances()
			for i := start; i < start+100_000; i++ {
				a, since := approvers[i%len(approvers)], base.Add(time.Duration(i*7919%1_000_000)*time.Second)
				in := &workflow.Instance{
					ID: ids.NewID(), Definition: "deal_review", DefinitionVersion: 1,
					Record: crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}, Submitter: submitter,
					Status: workflow.ApprovalPending, SubmittedAt: since,
					Steps: []workflow.StepState{{Name: "manager", Rule: workflow.RuleAny, OnReject: workflow.RejectToSubmitter,
						Approvers: []crm.ID{a}, Status: workflow.StepActive, StartedAt: since, Tasks: []workflow.Task{{Approver: a}}}},
				}
				if err := store.CreateInstance(ctx, in); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	org, err := workflow.NewOrg(nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	engine, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := workflow.NewApprovalService(s, engine, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		req  workflow.InboxRequest
	}{
		{"Approver", workflow.InboxRequest{Approver: approvers[1]}},
		{"TeamOf10", workflow.InboxRequest{Approvers: approvers[:10]}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := bc.req
			req.Page = crm.PageRequest{Limit: 50}
			for b.Loop() {
				p, err := svc.Inbox(ctx, req)
				if err != nil || len(p.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(p.Items), err)
				}
			}
		})
	}
}
