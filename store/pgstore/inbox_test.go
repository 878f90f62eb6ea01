package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/pgstore"
	"github.com/crmkit/crmkit/workflow"
)

// inboxRow is one row of crm_approval_inbox.
type inboxRow struct {
	Tenant   string
	Instance crm.ID
	Approver crm.ID
	Since    time.Time
}

func (r inboxRow) String() string {
	return fmt.Sprintf("%s/%s/%s@%s", r.Tenant, r.Instance, r.Approver, r.Since.UTC().Format(time.RFC3339Nano))
}

// inboxRows returns the inbox table's rows, and the rows the stored
// requests' bodies call for (workflow.Instance.PendingApprovers at
// WaitingSince), both sorted.
func inboxRows(t *testing.T, schema string) (stored, want []string) {
	t.Helper()
	ctx := context.Background()
	db := testPool(t)
	rows, err := db.Query(ctx, "SELECT tenant_id, instance_id, approver_id, waiting_since FROM "+pgx.Identifier{schema, "crm_approval_inbox"}.Sanitize())
	require.NoError(t, err)
	for rows.Next() {
		var r inboxRow
		var in, a [16]byte
		require.NoError(t, rows.Scan(&r.Tenant, &in, &a, &r.Since))
		r.Instance, r.Approver = in, a
		stored = append(stored, r.String())
	}
	require.NoError(t, rows.Err())
	rows, err = db.Query(ctx, "SELECT tenant_id, body FROM "+pgx.Identifier{schema, "crm_approval_instances"}.Sanitize())
	require.NoError(t, err)
	for rows.Next() {
		var tenant string
		var body []byte
		require.NoError(t, rows.Scan(&tenant, &body))
		var in workflow.Instance
		require.NoError(t, json.Unmarshal(body, &in))
		for _, a := range in.PendingApprovers() {
			want = append(want, inboxRow{tenant, in.ID, a, in.WaitingSince()}.String())
		}
	}
	require.NoError(t, rows.Err())
	slices.Sort(stored)
	slices.Sort(want)
	return stored, want
}

// requireInboxRows fails unless the inbox table holds exactly the rows the
// stored requests call for.
func requireInboxRows(t *testing.T, schema string, msg string) {
	t.Helper()
	stored, want := inboxRows(t, schema)
	require.Equal(t, want, stored, msg)
}

// TestApprovalInboxRowsFollowTheStoredRequests checks the table itself,
// which the conformance suite sees only through pages: after every kind
// of write (create, update, a batch update by TickDue, a refused update,
// a rolled-back unit of work) it holds one row per request and approver
// waited on, at the request's WaitingSince, and nothing else.
func TestApprovalInboxRowsFollowTheStoredRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600)))
	ids := crmtest.NewIDs()
	s := newStore(t, clock)
	rep, a1, a2, a3, boss, d := ids.NewID(), ids.NewID(), ids.NewID(), ids.NewID(), ids.NewID(), ids.NewID()
	var users []crm.User
	for _, id := range []crm.ID{rep, a1, a2, a3, boss, d} {
		users = append(users, crm.User{Meta: crm.Meta{ID: id}, Name: "U", Active: true})
	}
	org, err := workflow.NewOrg(users, nil, nil)
	require.NoError(t, err)
	schema, err := cond.NewSchema(cond.Field{Name: "amount", Kind: cond.KindNumber})
	require.NoError(t, err)
	def, err := workflow.ParseDefinition(schema, org, fmt.Appendf(nil, `{"key": "deal_review", "version": 1, "record_type": "opportunity",
		"steps": [
		  {"name": "managers", "approvers": [{"user": %q}, {"user": %q}], "rule": "all"},
		  {"name": "finance", "approvers": [{"user": %q}], "timeout": "1h", "on_timeout": {"action": "escalate", "to": {"user": %q}}}]}`,
		a1, a2, a3, boss))
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	require.NoError(t, err)
	svc, err := workflow.NewApprovalService(s, engine, nil)
	require.NoError(t, err)
	submit := func(ctx context.Context) *workflow.Instance {
		in, err := svc.Submit(ctx, workflow.SubmitRequest{Definition: def, Record: schema.NewRecord(),
			Ref: crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}, Submitter: rep})
		require.NoError(t, err)
		return in
	}
	decide := func(id, actor crm.ID) {
		_, err := svc.Approve(ctx, workflow.DecisionRequest{InstanceID: id, Actor: actor})
		require.NoError(t, err)
	}

	r1, r2, r3 := submit(ctx), submit(ctx), submit(crm.WithTenant(ctx, "b"))
	requireInboxRows(t, s.Schema(), "after creates")
	stored, _ := inboxRows(t, s.Schema())
	require.Len(t, stored, 6)
	decide(r1.ID, a1)
	requireInboxRows(t, s.Schema(), "after a decision")
	clock.Advance(time.Minute)
	decide(r1.ID, a2)
	decide(r2.ID, a1)
	decide(r2.ID, a2)
	requireInboxRows(t, s.Schema(), "after the next stage started")
	_, err = svc.Delegate(crm.WithTenant(ctx, "b"), workflow.HandOverRequest{InstanceID: r3.ID, Actor: a1, To: d})
	require.NoError(t, err)
	requireInboxRows(t, s.Schema(), "after a delegation")
	clock.Advance(2 * time.Hour)
	res, err := svc.TickDue(ctx, time.Time{}, 10)
	require.NoError(t, err)
	require.Len(t, res.Saved, 2)
	requireInboxRows(t, s.Schema(), "after escalations stored in one batch")
	decide(r1.ID, boss)
	requireInboxRows(t, s.Schema(), "after a request finished")
	_, err = svc.Approve(ctx, workflow.DecisionRequest{InstanceID: r2.ID, Actor: a3, Version: 1})
	require.ErrorIs(t, err, crm.ErrConflict)
	err = s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if _, err := svc.ApproveTx(ctx, tx, workflow.DecisionRequest{InstanceID: r2.ID, Actor: a3}); err != nil {
			return err
		}
		return context.Canceled
	})
	require.ErrorIs(t, err, context.Canceled)
	requireInboxRows(t, s.Schema(), "after a refused update and a rollback")
	stored, _ = inboxRows(t, s.Schema())
	require.Len(t, stored, 4, "r2 waits on a3 and boss, r3 on a2 and d")
}

// TestMigrationBackfillsTheApprovalInbox stores requests at schema version
// 19, in every shape the inbox rule distinguishes, and checks that
// migration 20 fills the inbox as pgstore would have written it (times
// cut, not rounded, to the microsecond), that the store then pages it,
// and that migrating down drops it.
func TestMigrationBackfillsTheApprovalInbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testPool(t)
	schema := freshSchema(t, db)
	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 19))
	ids := crmtest.NewIDs()
	a1, a2, d := ids.NewID(), ids.NewID(), ids.NewID()
	zone := time.FixedZone("CST", 8*3600)
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 999999999, zone) // rounds up, truncates down
	task := func(u crm.ID) workflow.Task { return workflow.Task{Approver: u} }
	step := func(status workflow.StepStatus, started time.Time, tasks ...workflow.Task) workflow.StepState {
		st := workflow.StepState{Name: "s", Rule: workflow.RuleAny, OnReject: workflow.RejectToSubmitter, Status: status, StartedAt: started, Tasks: tasks}
		for _, tk := range tasks {
			st.Approvers = append(st.Approvers, tk.Approver)
		}
		return st
	}
	var made []*workflow.Instance
	add := func(tenant string, status workflow.ApprovalStatus, steps ...workflow.StepState) *workflow.Instance {
		in := &workflow.Instance{ID: ids.NewID(), TenantID: tenant, Version: 1, Definition: "deal_review", DefinitionVersion: 1,
			Record: crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}, Submitter: ids.NewID(), Status: status, SubmittedAt: t0, Steps: steps}
		made = append(made, in)
		return in
	}
	plain := add("", workflow.ApprovalPending, step(workflow.StepActive, t0, task(a1), task(a2)))
	plain2 := add("", workflow.ApprovalPending, step(workflow.StepActive, t0, task(a1)))
	add("b", workflow.ApprovalPending, step(workflow.StepActive, t0.Add(-time.Hour), task(a1)))
	add("", workflow.ApprovalPending, step(workflow.StepActive, t0, workflow.Task{Approver: a1, Decision: workflow.Approved, DecidedAt: t0}, task(a2)))
	add("", workflow.ApprovalPending, step(workflow.StepApproved, t0.Add(-time.Hour)), step(workflow.StepActive, t0.Add(time.Hour), task(a2)),
		step(workflow.StepWaiting, time.Time{}, task(a1)))
	add("", workflow.ApprovalPending, step(workflow.StepActive, t0.Add(2*time.Hour), workflow.Task{Approver: d, OnBehalfOf: a1}),
		step(workflow.StepActive, t0.Add(time.Minute), task(a2)))
	add("", workflow.ApprovalPending, step(workflow.StepActive, time.Time{}, task(a1))) // no start: the zero time
	add("", workflow.ApprovalApproved, step(workflow.StepActive, t0, task(a1)))
	add("", workflow.ApprovalRecalled, step(workflow.StepWaiting, t0, task(a1)))
	table := pgx.Identifier{schema, "crm_approval_instances"}.Sanitize()
	for _, in := range made {
		body, err := json.Marshal(in)
		require.NoError(t, err)
		_, err = db.Exec(ctx, "INSERT INTO "+table+" (id, tenant_id, version, definition, definition_version, record_type, record_id, submitter, status, submitted_at, body)"+
			" VALUES ($1, $2, 1, 'deal_review', 1, 'opportunity', $3, $4, $5, $6, $7)",
			in.ID, in.TenantID, in.Record.ID, in.Submitter, string(in.Status), in.SubmittedAt, body)
		require.NoError(t, err)
	}

	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	stored, want := inboxRows(t, schema)
	require.Equal(t, want, stored)
	require.Len(t, stored, 9)

	s, err := pgstore.New(db, &pgstore.Config{Schema: schema})
	require.NoError(t, err)
	org, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(org, nil)
	require.NoError(t, err)
	svc, err := workflow.NewApprovalService(s, engine, nil)
	require.NoError(t, err)
	var got []crm.ID
	page := crm.PageRequest{Limit: 1}
	for {
		p, err := svc.Inbox(ctx, workflow.InboxRequest{Approver: a1, Page: page})
		require.NoError(t, err)
		for _, it := range p.Items {
			got = append(got, it.Instance.ID)
		}
		if p.NextCursor == "" {
			break
		}
		page.Cursor = p.NextCursor
	}
	require.Equal(t, []crm.ID{made[6].ID, plain.ID, plain2.ID}, got, "the zero time first, then t0 by ID; a cursor at t0 repeats nothing")

	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 19))
	var exists bool
	require.NoError(t, db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schema+".crm_approval_inbox").Scan(&exists))
	require.False(t, exists)
}

// loadInbox fills the store with n pending requests, each waiting on one
// of approvers approvers since a scattered second after queueBase
// (inserted with set-based statements: the requests' bodies and their
// inbox rows), and analyzes both tables. It returns the approvers in
// order.
func loadInbox(tb testing.TB, s *pgstore.Store, n, approvers int) []crm.ID {
	tb.Helper()
	ctx := context.Background()
	db := testPool(tb)
	instances := pgx.Identifier{s.Schema(), "crm_approval_instances"}.Sanitize()
	inbox := pgx.Identifier{s.Schema(), "crm_approval_inbox"}.Sanitize()
	_, err := db.Exec(ctx, "INSERT INTO "+instances+" (id, tenant_id, version, definition, definition_version, record_type, record_id, submitter, status, submitted_at, body)"+
		" SELECT r.id, '', 1, 'deal_review', 1, 'opportunity', r.record, r.submitter, 'pending', r.since,"+
		" jsonb_build_object('id', r.id, 'version', 1, 'definition', 'deal_review', 'definition_version', 1,"+
		"   'record', jsonb_build_object('type', 'opportunity', 'id', r.record), 'submitter', r.submitter, 'status', 'pending', 'stage', 0,"+
		"   'submitted_at', r.since, 'steps', jsonb_build_array(jsonb_build_object('name', 'manager', 'stage', 0, 'rule', 'any',"+
		"   'on_reject', 'submitter', 'approvers', jsonb_build_array(r.approver), 'status', 'active', 'started_at', r.since,"+
		"   'tasks', jsonb_build_array(jsonb_build_object('approver', r.approver)))))"+
		" FROM (SELECT md5('r' || i)::uuid AS id, md5('o' || i)::uuid AS record, md5('s' || (i % 97))::uuid AS submitter,"+
		"   md5('a' || (i % $2))::uuid AS approver, $3::timestamptz + ((i::bigint * 7919) % 1000000) * interval '1 second' AS since"+
		"   FROM generate_series(1, $1) AS i) AS r", n, approvers, queueBase)
	require.NoError(tb, err)
	_, err = db.Exec(ctx, "INSERT INTO "+inbox+" (tenant_id, instance_id, approver_id, waiting_since)"+
		" SELECT '', md5('r' || i)::uuid, md5('a' || (i % $2))::uuid, $3::timestamptz + ((i::bigint * 7919) % 1000000) * interval '1 second'"+
		" FROM generate_series(1, $1) AS i", n, approvers, queueBase)
	require.NoError(tb, err)
	_, err = db.Exec(ctx, "ANALYZE "+instances+", "+inbox)
	require.NoError(tb, err)
	out := make([]crm.ID, approvers)
	for i := range out {
		var id [16]byte
		require.NoError(tb, db.QueryRow(ctx, "SELECT md5('a' || $1::int)::uuid", i).Scan(&id))
		out[i] = id
	}
	return out
}

// TestApprovalInboxPlanUsesTheInboxIndex shows that a page of one
// approver's inbox, and of a team's, is an index scan on the inbox index
// per approver, the requests read by primary key: never a scan of either
// table.
func TestApprovalInboxPlanUsesTheInboxIndex(t *testing.T) {
	t.Parallel()
	s := newStore(t, crmtest.NewClock(queueBase))
	approvers := loadInbox(t, s, 100_000, 200)
	ctx := context.Background()
	db := testPool(t)
	after := &crm.QueueKey{DueAt: queueBase.Add(time.Hour), ID: crm.NilID}
	for name, set := range map[string][]crm.ID{"approver": approvers[1:2], "team": approvers[:10]} {
		for _, from := range []*crm.QueueKey{nil, after} {
			sql, args := pgstore.InboxSQL(s, "", set, 51, from)
			rows, err := db.Query(ctx, "EXPLAIN "+sql, args...)
			require.NoError(t, err)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			plan := strings.Join(lines, "\n")
			require.Regexp(t, `Index (Only )?Scan using crm_approval_inbox_approver_idx`, plan, "%s (after %v):\n%s", name, from, plan)
			for _, table := range []string{"crm_approval_inbox", "crm_approval_instances"} {
				require.NotContains(t, plan, "Seq Scan on "+table, "%s:\n%s", name, plan)
				require.NotContains(t, plan, "Bitmap Heap Scan on "+table, "%s:\n%s", name, plan)
			}
			if testing.Verbose() {
				t.Logf("%s (after %v):\n%s", name, from, plan)
			}
		}
	}
	// And the page is right: one approver's first 50, oldest first.
	org, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(t, err)
	engine, err := workflow.NewApprovals(org, nil)
	require.NoError(t, err)
	svc, err := workflow.NewApprovalService(s, engine, nil)
	require.NoError(t, err)
	page, err := svc.Inbox(ctx, workflow.InboxRequest{Approver: approvers[1]})
	require.NoError(t, err)
	require.Len(t, page.Items, crm.DefaultPageLimit)
	require.NotEmpty(t, page.NextCursor)
	for i, it := range page.Items {
		require.Equal(t, []crm.ID{approvers[1]}, it.Approvers)
		if i > 0 {
			require.True(t, page.Items[i-1].WaitingSince.Before(it.WaitingSince))
		}
	}
}

// BenchmarkApprovalInboxPage reads a page of 50 of one approver's inbox,
// and of a team of ten approvers, over 1,000,000 pending requests (1,000
// approvers), through workflow.ApprovalService.Inbox (one unit of work).
func BenchmarkApprovalInboxPage(b *testing.B) {
	s := newStore(b, crmtest.NewClock(queueBase))
	approvers := loadInbox(b, s, 1_000_000, 1000)
	org, err := workflow.NewOrg(nil, nil, nil)
	require.NoError(b, err)
	engine, err := workflow.NewApprovals(org, nil)
	require.NoError(b, err)
	svc, err := workflow.NewApprovalService(s, engine, nil)
	require.NoError(b, err)
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
				p, err := svc.Inbox(context.Background(), req)
				if err != nil || len(p.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(p.Items), err)
				}
			}
		})
	}
}
