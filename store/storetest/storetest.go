package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/stretchr/testify/require"
)

// Harness connects the suite to one storage adapter.
type Harness struct {
	// NewStore returns a new, empty store whose adapter clock is clock. It is
	// called once per subtest, possibly from parallel subtests; register
	// cleanup (closing pools, dropping schemas) with t.Cleanup. Required.
	NewStore func(t *testing.T, clock crm.Clock) crm.Store
	// Features declares the adapter's optional capabilities; the suite
	// checks each one declared. Defaults to the zero value: the shared
	// contract only.
	Features Features

	// seen collects the event types the subtests' services wrote; set by
	// Run.
	seen *eventsSeen
}

// Features declares the optional capabilities an adapter has, so the suite
// checks them. Every flag is positive: it says what the adapter has. Every
// part of [crm.Store] is mandatory and always checked; a domain package's
// ports are checked when declared; an optional port (found by type
// assertion, as the domain packages find it) is checked whenever the
// adapter has it, and without it the suite checks the domain's fallback
// instead; a declared capability the adapter lacks fails the suite. The
// zero value declares nothing: a host's first adapter, which stores only
// the shared records, passes with it. pgstore declares [AllFeatures], and
// so does memstore.
//
// The optional ports and their fallbacks:
//
//   - pool.ClaimStore (OneWriteClaims), on the store: claims in a unit of
//     work.
//   - pool.BatchTx (BatchSweeps), on the unit of work: sweeps one customer
//     at a time.
//   - pool.RequestPruner (RequestPruning), on the request port:
//     pool.Service.PruneRequests reports crm.ErrUnsupported.
//   - workflow.ApprovalDeadlines (ApprovalDeadlines), on the approval
//     instance port: workflow.Approvals.TickDue reports
//     crm.ErrUnsupported; hosts tick the requests they know with
//     workflow.Approvals.Tick.
//   - workflow.ApprovalInbox (ApprovalInbox), on the approval instance
//     port: workflow.ApprovalService.Inbox reports crm.ErrUnsupported.
//   - crm.DepartmentTreeVersions (DepartmentTreeVersions), on the unit of
//     work: permission policies are not re-synced with the stored tree; the
//     host recompiles them when departments change.
//   - crm.Deliveries (Deliveries), on the value Store.Outbox returns: one
//     relay delivers with crm.Outbox's Pending and Ack.
//   - crm.HistoryTx (History), on the store and its units of work: no
//     field history is kept.
//   - importer.Tx (Imports), on the unit of work:
//     crmkit.CRM.ImportCustomers reports crm.ErrUnsupported.
//   - pipeline.Tx and pipeline.AnalyticsTx (Pipelines), on the unit of
//     work and the store: pipeline.Service.Move and the figures report
//     crm.ErrUnsupported.
//   - task.CalendarLocker, on the unit of work (no flag: checked whenever
//     present): overlapping appointments booked concurrently may both be
//     stored under task.OverlapRefuse.
//   - crm.BulkCreator and crm.BulkGetter on the repositories,
//     crm.ChangesAppender on the history port, dedupe.BulkKeyStore on the
//     key store and importer.BulkExternalIDs on the external-ID port (no
//     flag: checked by "BulkPorts" whenever present): imports create,
//     read, record and index one record at a time.
type Features struct {
	// Pools: units of work implement pool.Tx. Runs "Pool".
	Pools bool
	// BatchSweeps: units of work implement the optional pool.BatchTx
	// (set-based sweeps). Without it sweeps run one customer at a time.
	BatchSweeps bool
	// OneWriteClaims: the store implements the optional pool.ClaimStore
	// (a claim stored in one conditional write). Without it claims run in
	// a unit of work.
	OneWriteClaims bool
	// RequestPruning: the pool request port implements the optional
	// pool.RequestPruner. Without it PruneRequests is unsupported.
	RequestPruning bool
	// DepartmentTreeVersions: units of work implement the optional
	// crm.DepartmentTreeVersions. Without it policies are not re-synced.
	DepartmentTreeVersions bool
	// Workflow: units of work implement workflow.Tx. Runs "Workflow".
	Workflow bool
	// ApprovalDeadlines: the approval instance store implements the
	// optional workflow.ApprovalDeadlines (step timeouts fired from the
	// store by TickDue). Runs "Workflow/ApprovalDeadlines".
	ApprovalDeadlines bool
	// Leads: units of work implement lead.Tx. Runs "LeadStorage".
	Leads bool
	// Dedupe: units of work implement dedupe.Tx. Runs "Dedupe".
	Dedupe bool
	// Deliveries: the outbox implements the optional crm.Deliveries
	// (leases, retries and parking for several relays). Without it one
	// relay delivers with Outbox.Pending and Outbox.Ack.
	Deliveries bool
	// History: the store and its units of work implement the optional
	// crm.HistoryTx (field history). Without it the adapter keeps no
	// history.
	History bool
	// Reminders: units of work implement remind.Tx. Runs "Reminders".
	Reminders bool
	// FallingBackQueue: the unit of work implements
	// pool.FallingBackQueue, the work queue of customers about to fall
	// back into their pools.
	FallingBackQueue bool
	// DueTasksQueue: the unit of work implements task.DueQueue, the work
	// queue of open tasks due by a time.
	DueTasksQueue bool
	// EventLog: the unit of work implements crm.EventLog, the events of a
	// set of records newest first. Runs "RecordReads".
	EventLog bool
	// ApprovalRecords: the approval instance store implements the
	// optional workflow.ApprovalRecords (the requests of a set of
	// records, pending and finished).
	ApprovalRecords bool
	// TicketQueue: the unit of work implements ticket.SLAQueue, the work
	// queue of tickets by SLA due time. Runs "TicketsBySLA" (with Pools
	// and Workflow).
	TicketQueue bool
	// ApprovalInbox: the approval instance store implements the optional
	// workflow.ApprovalInbox, the work queue of the requests waiting on
	// an approver. Runs "ApprovalInbox" (with Workflow).
	ApprovalInbox bool
	// RisingLeadsQueue: the unit of work implements lead.RisingQueue, the
	// work queue of leads whose grade rose. Runs "RisingLeads" (with
	// Leads).
	RisingLeadsQueue bool
	// KPIs: the unit of work implements kpi.Store, the figures computed
	// in the store. Runs "KPIs" (with Pools and Workflow).
	KPIs bool
	// Segments: the unit of work implements segment.Store (RFM scores
	// and segment candidates). Runs "Segments".
	Segments bool
	// Imports: the unit of work implements importer.Tx, the external IDs
	// of imported customers. Runs "Imports" (with Pools, Workflow, Leads
	// and Dedupe: it imports through the composition root).
	Imports bool
	// Pipelines: units of work implement pipeline.Tx (the stage history)
	// and pipeline.AnalyticsTx (the pipeline's figures computed in the
	// store). Runs "Pipelines".
	Pipelines bool
}

// AllFeatures declares every optional capability: what pgstore and
// memstore have. The composition-root group "CRM" runs only with all of
// Pools, Workflow, Leads and Dedupe.
func AllFeatures() Features {
	return Features{Pools: true, BatchSweeps: true, OneWriteClaims: true, RequestPruning: true, DepartmentTreeVersions: true,
		Workflow: true, ApprovalDeadlines: true, Leads: true, Dedupe: true, Deliveries: true, History: true,
		Reminders: true, FallingBackQueue: true, DueTasksQueue: true, EventLog: true, ApprovalRecords: true, TicketQueue: true,
		ApprovalInbox: true, RisingLeadsQueue: true, KPIs: true, Segments: true, Imports: true, Pipelines: true}
}

// clockStart is where each subtest's fake clock starts: a time with
// nanoseconds in a non-UTC zone, so an adapter that forgets to normalise
// stamps to UTC microseconds is caught by every Create.
func clockStart() time.Time {
	return time.Date(2026, 1, 5, 17, 4, 5, 123456789, time.FixedZone("CST", 8*3600))
}

// Run checks the adapter of h against the storage contract of [crm.Store]:
// one group of subtests per record type, then "UnitOfWork", "Outbox",
// "Deliveries" (the optional crm.Deliveries, when the outbox has it),
// "History" (the optional crm.History, when the store has it),
// "Concurrency", "CrossTenant" (references and IDs never cross tenants),
// "Permission" ([RunPermission]: list filters agree with Check after the
// department tree drifts) and "Limits" (filter values and routing names at
// and past their documented limits), then the domain groups "Pool"
// ([RunPool]), "Workflow" ([RunWorkflow]) with "TicketLifecycle"
// ([RunTicketLifecycle]) and "ApprovalInbox" ([RunApprovalInbox]), "LeadStorage" ([RunLead]) and
// "Dedupe" ([RunDedupe]) unless [Features] opts out of them, "Reminders"
// ([RunRemind], with Workflow), "RisingLeads" ([RunRisingLeads], with
// Leads), "KPIs" ([RunKPIs], with Pools and Workflow), "Segments"
// ([RunSegments]; without the port it checks that segment reports
// crm.ErrUnsupported), "Pipelines" ([RunPipelines]), "BulkPorts"
// ([RunBulkPorts], each port skipped when absent), and "CRM" ([RunCRM])
// and "Imports" ([RunImports]) when it opts out of none. Every subtest
// gets a new store from
// h.NewStore and runs in parallel with its siblings.
func Run(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	h.seen = &eventsSeen{types: map[crm.EventType]int{}}
	t.Cleanup(func() { h.seen.requireAll(t, h.Features) })
	t.Run("Lead", func(t *testing.T) { runKind(t, h, leadKind()) })
	t.Run("Customer", func(t *testing.T) { runKind(t, h, customerKind()) })
	t.Run("Contact", func(t *testing.T) { runKind(t, h, contactKind()) })
	t.Run("Opportunity", func(t *testing.T) { runKind(t, h, opportunityKind()) })
	t.Run("Activity", func(t *testing.T) { runKind(t, h, activityKind()) })
	t.Run("Ticket", func(t *testing.T) { runKind(t, h, ticketKind()) })
	t.Run("User", func(t *testing.T) {
		runKind(t, h, userKind())
		runUsers(t, h)
	})
	t.Run("Department", func(t *testing.T) {
		runKind(t, h, departmentKind())
		runDepartments(t, h)
		runDepartmentTreeVersions(t, h)
	})
	t.Run("Team", func(t *testing.T) { runKind(t, h, teamKind()) })
	t.Run("Task", func(t *testing.T) {
		runKind(t, h, taskKind())
		runTaskService(t, h)
		if h.Features.Pools {
			t.Run("Due", func(t *testing.T) { RunTasksDue(t, h) })
		}
	})
	t.Run("UnitOfWork", func(t *testing.T) { runUnitOfWork(t, h) })
	t.Run("Outbox", func(t *testing.T) { runOutbox(t, h) })
	t.Run("Deliveries", func(t *testing.T) { runDeliveries(t, h) })
	t.Run("History", func(t *testing.T) { runHistory(t, h) })
	t.Run("Concurrency", func(t *testing.T) { runConcurrency(t, h) })
	t.Run("CrossTenant", func(t *testing.T) { runCrossTenant(t, h) })
	t.Run("Permission", func(t *testing.T) { RunPermission(t, h) })
	t.Run("Limits", func(t *testing.T) { runLimits(t, h) })
	t.Run("RecordReads", func(t *testing.T) { RunRecordReads(t, h) })
	if h.Features.Pools {
		t.Run("Pool", func(t *testing.T) { RunPool(t, h) })
		t.Run("FallingBack", func(t *testing.T) { RunFallingBack(t, h) })
	}
	if h.Features.Workflow {
		t.Run("Workflow", func(t *testing.T) { RunWorkflow(t, h) })
		t.Run("TicketLifecycle", func(t *testing.T) { RunTicketLifecycle(t, h) })
		if h.Features.Pools {
			t.Run("TicketsBySLA", func(t *testing.T) { RunTicketsBySLA(t, h) })
		}
		t.Run("ApprovalInbox", func(t *testing.T) { RunApprovalInbox(t, h) })
	}
	if h.Features.Leads {
		t.Run("LeadStorage", func(t *testing.T) { RunLead(t, h) })
		t.Run("RisingLeads", func(t *testing.T) { RunRisingLeads(t, h) })
	}
	if h.Features.Pools && h.Features.Workflow {
		t.Run("KPIs", func(t *testing.T) { RunKPIs(t, h) })
	}
	if h.Features.Dedupe {
		t.Run("Dedupe", func(t *testing.T) { RunDedupe(t, h) })
	}
	t.Run("Segments", func(t *testing.T) { RunSegments(t, h) })
	if h.Features.Reminders && h.Features.Workflow {
		t.Run("Reminders", func(t *testing.T) { RunRemind(t, h) })
	}
	t.Run("Pipelines", func(t *testing.T) { RunPipelines(t, h) })
	t.Run("BulkPorts", func(t *testing.T) { RunBulkPorts(t, h) })
	if f := h.Features; f.Pools && f.Workflow && f.Leads && f.Dedupe {
		t.Run("CRM", func(t *testing.T) { RunCRM(t, h) })
		t.Run("Imports", func(t *testing.T) { RunImports(t, h) })
	}
}

// env is what one subtest works with: a new store, its fake clock, and
// sequential IDs.
type env struct {
	t     *testing.T
	store crm.Store
	clock *crmtest.Clock
	ids   *crmtest.IDs
	// ctx is the default tenant's context; ctxA and ctxB act for tenants
	// "a" and "b".
	ctx, ctxA, ctxB context.Context
	// rawEvents is set by a test that appends events of its own making,
	// whose payloads need not be crmkit's; otherwise every event left in
	// the outbox must decode into its type's payload struct.
	rawEvents bool
}

// test runs fn as a parallel subtest with a fresh store.
func test(t *testing.T, h Harness, name string, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		fn(t, newEnv(t, h))
	})
}

func newEnv(t *testing.T, h Harness) *env {
	clock := crmtest.NewClock(clockStart())
	s := h.NewStore(t, clock)
	require.NotNil(t, s, "storetest: Harness.NewStore returned nil")
	ctx := context.Background()
	e := &env{
		t: t, store: s, clock: clock, ids: crmtest.NewIDs(),
		ctx: ctx, ctxA: crm.WithTenant(ctx, "a"), ctxB: crm.WithTenant(ctx, "b"),
	}
	requireEventsDecode(t, s, &e.rawEvents, h.seen)
	return e
}

// now is the clock's time as every adapter must store it.
func (e *env) now() time.Time { return crm.StorageTime(e.clock.Now()) }

// tick moves the clock by an odd amount with nanoseconds, so successive
// stamps differ and must be truncated.
func (e *env) tick() time.Time {
	return crm.StorageTime(e.clock.Advance(90*time.Minute + 1234567*time.Nanosecond))
}

// cancelled returns a context that is already done.
func cancelled(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	cancel()
	return ctx
}

// requireInvalid checks that err is bad input naming field: it matches
// crm.ErrInvalidArgument and errors.As finds a *crm.ValidationError, and
// field is among the fields reported.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "errors.As finds no *crm.ValidationError in %v", err)
	fields := []string{ve.Field}
	var all crm.ValidationErrors
	if errors.As(err, &all) {
		fields = all.Fields()
	}
	require.Contains(t, fields, field, "error %q does not name field %q", err, field)
}

// requireSame fails when got differs from want under storage semantics.
func requireSame(t *testing.T, want, got any, msgAndArgs ...any) {
	t.Helper()
	if d := Diff(want, got); len(d) > 0 {
		require.Fail(t, "stored value differs:\n  "+joinLines(d), msgAndArgs...)
	}
}

func joinLines(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += "\n  "
		}
		out += s
	}
	return out
}
