package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/task"
)

// BenchmarkFallingBackPage reads a page of 50 of one owner's and of one
// department's falling-back queue over 1,000,000 holdings (1,000 owners,
// 10 departments, one in fifty locked), through pool.Service.FallingBack
// (one unit of work).
func BenchmarkFallingBackPage(b *testing.B) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(base)
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	owners, depts := make([]crm.ID, 1000), make([]crm.ID, 10)
	for i := range owners {
		owners[i] = ids.NewID()
	}
	for i := range depts {
		depts[i] = ids.NewID()
	}
	const n = 1_000_000
	for start := 0; start < n; start += 100_000 {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			hs := tx.(pool.Tx).PoolHoldings()
			for i := start; i < start+100_000; i++ {
				h := &pool.Holding{
					CustomerID: ids.NewID(), OwnerID: owners[i%len(owners)], OwnerDepartmentID: depts[i%len(owners)%len(depts)],
					Locked: i%50 == 0, DueAt: base.Add(time.Duration(i*7919%1_000_000) * time.Second),
				}
				if err := hs.Create(ctx, h); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	svc, err := pool.New(s, &pool.Config{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		scope *crm.DataScope
	}{
		{"Owner", &crm.DataScope{OwnerIDs: owners[1:2]}},
		{"Department", &crm.DataScope{DepartmentIDs: depts[1:2]}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := pool.FallingBackRequest{Scope: bc.scope, Within: 30 * 24 * time.Hour, Page: crm.PageRequest{Limit: 50}}
			for b.Loop() {
				p, err := svc.FallingBack(ctx, req)
				if err != nil || len(p.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(p.Items), err)
				}
			}
		})
	}
}

// BenchmarkDueTasksPage reads a page of 50 of one assignee's and of one
// department's due tasks over 1,000,000 tasks (1,000 assignees, 10
// departments, one in five done), through task.Service.Due (one unit of
// work).
func BenchmarkDueTasksPage(b *testing.B) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(base)
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	assignees, depts := make([]crm.ID, 1000), make([]crm.ID, 10)
	for i := range assignees {
		assignees[i] = ids.NewID()
	}
	for i := range depts {
		depts[i] = ids.NewID()
	}
	subject := crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}
	const n = 1_000_000
	for start := 0; start < n; start += 100_000 {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			for i := start; i < start+100_000; i++ {
				t := crmtest.Task(ids, subject, assignees[i%len(assignees)], func(t *crm.Task) {
					t.DepartmentID = depts[i%len(assignees)%len(depts)]
					t.DueAt = base.Add(time.Duration(i*7919%1_000_000) * time.Second)
					if i%5 == 0 {
						t.Status, t.CompletedAt = crm.TaskDone, &base
					}
				})
				if err := tx.Tasks().Create(ctx, t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	svc, err := task.New(s, &task.Config{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		scope *crm.DataScope
	}{
		{"Assignee", &crm.DataScope{OwnerIDs: assignees[1:2]}},
		{"Department", &crm.DataScope{DepartmentIDs: depts[1:2]}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := task.DueRequest{Scope: bc.scope, Before: base.Add(30 * 24 * time.Hour), Page: crm.PageRequest{Limit: 50}}
			for b.Loop() {
				p, err := svc.Due(ctx, req)
				if err != nil || len(p.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(p.Items), err)
				}
			}
		})
	}
}

// BenchmarkRisingLeadsPage reads a page of 50 of one owner's and of one
// department's rising leads over 1,000,000 score snapshots (1,000,000
// leads of 1,000 owners in 10 departments, one in ten disqualified, three
// in four risen), through lead.Service.Rising (one unit of work).
func BenchmarkRisingLeadsPage(b *testing.B) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(base)
	ids := crmtest.NewIDs()
	s := memstore.New(&memstore.Config{Clock: clock})
	owners, depts := make([]crm.ID, 1000), make([]crm.ID, 10)
	for i := range owners {
		owners[i] = ids.NewID()
	}
	for i := range depts {
		depts[i] = ids.NewID()
	}
	const n = 1_000_000
	computed := base.Add(12 * 24 * time.Hour)
	for start := 0; start < n; start += 100_000 {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			scores := tx.(lead.Tx).LeadScores()
			for i := start; i < start+100_000; i++ {
				l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Lead", Status: crm.LeadNew,
					OwnerID: owners[i%len(owners)], DepartmentID: depts[i%len(owners)%len(depts)]}
				if i%10 == 0 {
					l.Status, l.DisqualifyReason = crm.LeadDisqualified, "no budget"
				}
				if err := tx.Leads().Create(ctx, l); err != nil {
					return err
				}
				snap := &lead.ScoreSnapshot{LeadID: l.ID, ModelID: "hot", ModelVersion: 1, Grade: "A1", ComputedAt: computed}
				if i%4 != 0 {
					snap.RoseAt, snap.RoseFrom = base.Add(time.Duration(i*7919%1_000_000)*time.Second), "B2"
				}
				if err := scores.Save(ctx, snap); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	svc, err := lead.New(s, &lead.Config{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		scope *crm.DataScope
	}{
		{"Owner", &crm.DataScope{OwnerIDs: owners[1:2]}},
		{"Department", &crm.DataScope{DepartmentIDs: depts[1:2]}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := lead.RisingRequest{Scope: bc.scope, ModelID: "hot", Since: base, Page: crm.PageRequest{Limit: 50}}
			for b.Loop() {
				p, err := svc.Rising(ctx, req)
				if err != nil || len(p.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(p.Items), err)
				}
			}
		})
	}
}
