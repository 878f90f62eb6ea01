package memstore_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/task"
)

// queueBench is a memstore filled for a work-queue benchmark: 1,000
// owners spread over 10 departments (owner k in department k % 10) and
// 1,000,000 rows, row i of owner i % 1,000, in ten units of work.
type queueBench struct {
	ctx           context.Context
	base          time.Time
	clock         *crmtest.Clock
	ids           *crmtest.IDs
	s             *memstore.Store
	owners, depts []crm.ID
}

// newQueueBench fills a store, calling fill once per row with the bench
// being filled, the row's index, owner and department.
func newQueueBench(b *testing.B, fill func(ctx context.Context, tx crm.Tx, q *queueBench, i int, owner, dept crm.ID) error) *queueBench {
	q := &queueBench{ctx: context.Background(), base: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ids: crmtest.NewIDs()}
	q.clock = crmtest.NewClock(q.base)
	q.s = memstore.New(&memstore.Config{Clock: q.clock})
	q.owners, q.depts = make([]crm.ID, 1000), make([]crm.ID, 10)
	for i := range q.owners {
		q.owners[i] = q.ids.NewID()
	}
	for i := range q.depts {
		q.depts[i] = q.ids.NewID()
	}
	const n = 1_000_000
	for start := 0; start < n; start += 100_000 {
		err := q.s.InTx(q.ctx, func(ctx context.Context, tx crm.Tx) error {
			for i := start; i < start+100_000; i++ {
				k := i % len(q.owners)
				if err := fill(ctx, tx, q, i, q.owners[k], q.depts[k%len(q.depts)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return q
}

// at returns row i's scattered time, within about 12 days after base.
func (q *queueBench) at(i int) time.Time {
	return q.base.Add(time.Duration(i*7919%1_000_000) * time.Second)
}

// BenchmarkFallingBackPage reads a page of 50 of one owner's and of one
// department's falling-back queue over 1,000,000 holdings (1,000 owners,
// 10 departments, one in fifty locked), through pool.Service.FallingBack
// (one unit of work).
func BenchmarkFallingBackPage(b *testing.B) {
	q := newQueueBench(b, func(ctx context.Context, tx crm.Tx, q *queueBench, i int, owner, dept crm.ID) error {
		return tx.(pool.Tx).PoolHoldings().Create(ctx, &pool.Holding{
			CustomerID: q.ids.NewID(), OwnerID: owner, OwnerDepartmentID: dept, Locked: i%50 == 0, DueAt: q.at(i),
		})
	})
	svc, err := pool.New(q.s, &pool.Config{Clock: q.clock})
	if err != nil {
		b.Fatal(err)
	}
	benchPages(b, map[string]*crm.DataScope{"Owner": {OwnerIDs: q.owners[1:2]}, "Department": {DepartmentIDs: q.depts[1:2]}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.FallingBack(q.ctx, pool.FallingBackRequest{Scope: scope, Within: 30 * 24 * time.Hour, Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// BenchmarkDueTasksPage reads a page of 50 of one assignee's and of one
// department's due tasks over 1,000,000 tasks (1,000 assignees, 10
// departments, one in five done), through task.Service.Due (one unit of
// work).
func BenchmarkDueTasksPage(b *testing.B) {
	var subject crm.Ref
	q := newQueueBench(b, func(ctx context.Context, tx crm.Tx, q *queueBench, i int, assignee, dept crm.ID) error {
		if subject.ID == crm.NilID {
			subject = crm.Ref{Type: crm.TypeCustomer, ID: q.ids.NewID()}
		}
		t := crmtest.Task(q.ids, subject, assignee, func(t *crm.Task) {
			t.DepartmentID, t.DueAt = dept, q.at(i)
			if i%5 == 0 {
				t.Status, t.CompletedAt = crm.TaskDone, &q.base
			}
		})
		return tx.Tasks().Create(ctx, t)
	})
	svc, err := task.New(q.s, &task.Config{Clock: q.clock})
	if err != nil {
		b.Fatal(err)
	}
	benchPages(b, map[string]*crm.DataScope{"Assignee": {OwnerIDs: q.owners[1:2]}, "Department": {DepartmentIDs: q.depts[1:2]}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.Due(q.ctx, task.DueRequest{Scope: scope, Before: q.base.Add(30 * 24 * time.Hour), Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// BenchmarkRisingLeadsPage reads a page of 50 of one owner's and of one
// department's rising leads over 1,000,000 score snapshots (1,000,000
// leads of 1,000 owners in 10 departments, one in ten disqualified, three
// in four risen), through lead.Service.Rising (one unit of work).
func BenchmarkRisingLeadsPage(b *testing.B) {
	q := newQueueBench(b, func(ctx context.Context, tx crm.Tx, q *queueBench, i int, owner, dept crm.ID) error {
		l := &crm.Lead{Meta: crm.Meta{ID: q.ids.NewID()}, Name: "Lead", Status: crm.LeadNew, OwnerID: owner, DepartmentID: dept}
		if i%10 == 0 {
			l.Status, l.DisqualifyReason = crm.LeadDisqualified, "no budget"
		}
		if err := tx.Leads().Create(ctx, l); err != nil {
			return err
		}
		snap := &lead.ScoreSnapshot{LeadID: l.ID, ModelID: "hot", ModelVersion: 1, Grade: "A1", ComputedAt: q.base.Add(12 * 24 * time.Hour)}
		if i%4 != 0 {
			snap.RoseAt, snap.RoseFrom = q.at(i), "B2"
		}
		return tx.(lead.Tx).LeadScores().Save(ctx, snap)
	})
	svc, err := lead.New(q.s, &lead.Config{Clock: q.clock})
	if err != nil {
		b.Fatal(err)
	}
	benchPages(b, map[string]*crm.DataScope{"Owner": {OwnerIDs: q.owners[1:2]}, "Department": {DepartmentIDs: q.depts[1:2]}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.Rising(q.ctx, lead.RisingRequest{Scope: scope, ModelID: "hot", Since: q.base, Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// benchPages runs one sub-benchmark per named scope, in name order, each
// reading with page a page of 50 (page returns how many entries it held).
func benchPages(b *testing.B, scopes map[string]*crm.DataScope, page func(*crm.DataScope) (int, error)) {
	for _, name := range slices.Sorted(maps.Keys(scopes)) {
		scope := scopes[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n, err := page(scope); err != nil || n != 50 {
					b.Fatalf("page: %d items, %v", n, err)
				}
			}
		})
	}
}
