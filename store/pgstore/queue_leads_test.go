package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/pgstore"
)

// loadRises fills the store with n leads of owners owners spread over
// depts departments (owner k in department k % depts), one in ten
// disqualified, and one snapshot each under model "hot", three in four
// risen at scattered seconds after queueBase, and analyzes both tables.
// The leads' trigger is off during the load: the snapshots are written
// with their copies of the lead. It returns one owner and one department.
func loadRises(tb testing.TB, s *pgstore.Store, n, owners, depts int) (owner, dept crm.ID) {
	tb.Helper()
	ctx := context.Background()
	db := testPool(tb)
	leads := pgx.Identifier{s.Schema(), "crm_leads"}.Sanitize()
	scores := pgx.Identifier{s.Schema(), "crm_lead_scores"}.Sanitize()
	for _, sql := range []string{
		"ALTER TABLE " + leads + " DISABLE TRIGGER crm_leads_scores_insert",
		"INSERT INTO " + leads + " (id, tenant_id, version, created_at, updated_at, name, status, disqualify_reason, owner_id, department_id)" +
			" SELECT md5('l' || i)::uuid, '', 1, now(), now(), 'Lead ' || i, CASE WHEN i % 10 = 0 THEN 'disqualified' ELSE 'new' END," +
			" CASE WHEN i % 10 = 0 THEN 'no budget' ELSE '' END, md5('o' || (i % $2))::uuid, md5('d' || (i % $2 % $3))::uuid" +
			" FROM generate_series(1, $1) AS i",
		"ALTER TABLE " + leads + " ENABLE TRIGGER crm_leads_scores_insert",
		"INSERT INTO " + scores + " (tenant_id, lead_id, model_id, model_version, fit, engagement, total, grade, stage, computed_at, version," +
			" rose_at, rose_from, owner_id, department_id, lead_status)" +
			" SELECT '', md5('l' || i)::uuid, 'hot', 1, 80, 80, 160, 'A1', '', $4::timestamptz + interval '12 days', 1," +
			" CASE WHEN i % 4 <> 0 THEN $4::timestamptz + ((i::bigint * 7919) % 1000000) * interval '1 second' END, 'B2'," +
			" md5('o' || (i % $2))::uuid, md5('d' || (i % $2 % $3))::uuid, CASE WHEN i % 10 = 0 THEN 'disqualified' ELSE 'new' END" +
			" FROM generate_series(1, $1) AS i",
		"ANALYZE " + leads,
		"ANALYZE " + scores,
	} {
		var err error
		if strings.Contains(sql, "$4") {
			_, err = db.Exec(ctx, sql, n, owners, depts, queueBase)
		} else if strings.Contains(sql, "$1") {
			_, err = db.Exec(ctx, sql, n, owners, depts)
		} else {
			_, err = db.Exec(ctx, sql)
		}
		require.NoError(tb, err, sql)
	}
	return firstOwnerAndDepartment(tb)
}

// TestRisingLeadsPlansUseTheQueueIndexes shows that a page of one owner's,
// one department's and a whole tenant's rising leads is an index scan on
// the queue's index, never a scan of the snapshots, and that only the
// page's leads are read, by primary key.
func TestRisingLeadsPlansUseTheQueueIndexes(t *testing.T) {
	t.Parallel()
	s := newStore(t, crmtest.NewClock(queueBase))
	owner, dept := loadRises(t, s, 100_000, 200, 5)
	ctx := context.Background()
	after := &crm.QueueKey{DueAt: queueBase.Add(500_000 * time.Second), ID: crm.NilID}
	for name, tc := range map[string]struct {
		scope *crm.DataScope
		index string
	}{
		"owner":           {&crm.DataScope{OwnerIDs: []crm.ID{owner}}, "crm_lead_scores_owner_rose_idx"},
		"department":      {&crm.DataScope{DepartmentIDs: []crm.ID{dept}}, "crm_lead_scores_department_rose_idx"},
		"department tree": {&crm.DataScope{DepartmentTrees: []crm.ID{dept}}, "crm_lead_scores_department_rose_idx"},
		"tenant":          {&crm.DataScope{All: true}, "crm_lead_scores_rose_idx"},
	} {
		for _, from := range []*crm.QueueKey{nil, after} {
			sql, args, ok := pgstore.RisingSQL(s, "", lead.RisingQuery{ModelID: "hot", Scope: tc.scope, Since: queueBase}, 51, from)
			require.True(t, ok)
			requireIndexPlan(t, sql, args, tc.index, fmt.Sprintf("%s (after %v)", name, from), "crm_lead_scores", "crm_leads")
		}
	}
	// And the page is right: the department's newest 50 open rises.
	svc, err := lead.New(s, &lead.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(t, err)
	page, err := svc.Rising(ctx, lead.RisingRequest{Scope: &crm.DataScope{DepartmentIDs: []crm.ID{dept}}, ModelID: "hot"})
	require.NoError(t, err)
	require.Len(t, page.Items, crm.DefaultPageLimit)
	require.NotEmpty(t, page.NextCursor)
	for i, r := range page.Items {
		require.Equal(t, dept, r.Lead.DepartmentID)
		require.True(t, lead.Open(r.Lead))
		require.False(t, r.Score.RoseAt.IsZero())
		if i > 0 {
			require.False(t, r.Score.RoseAt.After(page.Items[i-1].Score.RoseAt))
		}
	}
}

// BenchmarkRisingLeadsPage reads a page of 50 of one owner's and of one
// department's rising leads over 1,000,000 score snapshots (1,000,000
// leads of 1,000 owners in 10 departments, one in ten disqualified, three
// in four risen), through lead.Service.Rising (one unit of work).
func BenchmarkRisingLeadsPage(b *testing.B) {
	s := newStore(b, crmtest.NewClock(queueBase))
	owner, dept := loadRises(b, s, 1_000_000, 1000, 10)
	svc, err := lead.New(s, &lead.Config{Clock: crmtest.NewClock(queueBase)})
	require.NoError(b, err)
	benchPages(b, map[string]*crm.DataScope{"Owner": {OwnerIDs: []crm.ID{owner}}, "Department": {DepartmentIDs: []crm.ID{dept}}},
		func(scope *crm.DataScope) (int, error) {
			p, err := svc.Rising(context.Background(), lead.RisingRequest{Scope: scope, ModelID: "hot", Since: queueBase, Page: crm.PageRequest{Limit: 50}})
			return len(p.Items), err
		})
}

// TestRisingLeadsFollowAConcurrentOwnerChange shows that a snapshot's copy
// of its lead's owner cannot miss an owner change committed concurrently
// with the snapshot's first save, whichever of the two writes first: the
// save waits for the lead's change (FOR SHARE), or the change waits for
// the save and its trigger then updates the committed snapshot.
func TestRisingLeadsFollowAConcurrentOwnerChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(queueBase)
	s := newStore(t, clock)
	db := testPool(t)
	ids := crmtest.NewIDs()
	a, b := crmtest.User(ids), crmtest.User(ids)
	require.NoError(t, s.Users().Create(ctx, a))
	require.NoError(t, s.Users().Create(ctx, b))
	svc, err := lead.New(s, &lead.Config{Clock: clock})
	require.NoError(t, err)
	move := "UPDATE " + pgx.Identifier{s.Schema(), "crm_leads"}.Sanitize() + " SET owner_id = $1 WHERE id = $2"
	// blocked waits until the other writer waits for a lock, or is done.
	blocked := func(done <-chan error) {
		t.Helper()
		for range 10_000 {
			select {
			case err := <-done:
				require.NoError(t, err)
				require.Fail(t, "the second writer did not wait for the first")
				return
			default:
			}
			var waiting bool
			require.NoError(t, db.QueryRow(ctx, "SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'",
				s.Schema()).Scan(&waiting))
			if waiting {
				return
			}
			time.Sleep(time.Millisecond)
		}
		require.Fail(t, "the second writer never waited")
	}
	for _, snapshotFirst := range []bool{false, true} {
		l := crmtest.Lead(ids, func(l *crm.Lead) { l.OwnerID = a.ID })
		require.NoError(t, s.Leads().Create(ctx, l))
		snap := &lead.ScoreSnapshot{LeadID: l.ID, ModelID: "hot", ModelVersion: 1, Grade: "A1", ComputedAt: clock.Now(), RoseAt: clock.Now()}
		first, err := db.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = first.Rollback(ctx) }() // after a failure: release the other writer
		done := make(chan error, 1)
		if snapshotFirst {
			require.NoError(t, s.WithTx(first).(lead.Tx).LeadScores().Save(ctx, snap))
			go func() { _, err := db.Exec(ctx, move, [16]byte(b.ID), [16]byte(l.ID)); done <- err }()
		} else {
			_, err = first.Exec(ctx, move, [16]byte(b.ID), [16]byte(l.ID))
			require.NoError(t, err)
			go func() {
				done <- s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return tx.(lead.Tx).LeadScores().Save(ctx, snap) })
			}()
		}
		blocked(done)
		require.NoError(t, first.Commit(ctx))
		require.NoError(t, <-done)
		for owner, want := range map[crm.ID]int{a.ID: 0, b.ID: 1} {
			p, err := svc.Rising(ctx, lead.RisingRequest{Actor: owner, ModelID: "hot"})
			require.NoError(t, err)
			require.Len(t, p.Items, want, "snapshot first %v, owner %s", snapshotFirst, owner)
		}
		require.NoError(t, s.Leads().Delete(ctx, l.ID, 1))
	}
}
