// Package storetest is the conformance suite of crmkit's storage contract
// ([crm.Store], [crm.Repository], [crm.EventWriter], [crm.Outbox]). Every
// adapter runs it: crmkit's own memstore and pgstore, and any adapter a host
// writes for its own database. An adapter that passes behaves the same as
// the others, so domain packages and host code can rely on the contract
// rather than on one adapter's quirks.
//
// # Running it
//
// Call [Run] from a test in the adapter's package, with a [Harness] whose
// NewStore returns a new, empty store driven by the clock the suite passes
// in:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			NewStore: func(t *testing.T, clock crm.Clock) crm.Store {
//				s, err := mystore.New(openTestDB(t), &mystore.Config{Clock: clock})
//				require.NoError(t, err)
//				return s
//			},
//			Features: storetest.Features{Pools: true, Leads: true}, // what mystore has
//		})
//	}
//
// NewStore is called once per subtest and from parallel subtests, so each
// call must return an isolated store: a database adapter typically creates
// a fresh schema and drops it in t.Cleanup. Select parts of the suite with
// -run, for example -run 'TestConformance/Department' or
// -run 'TestConformance/.*/ListMatchesTheFilterSemantics'.
//
// # What it checks
//
// For each record type (Lead, Customer, Contact, Opportunity, Activity,
// Ticket, User, Department, Team), with fully populated records (custom
// fields of every kind, exact Money, times with nanoseconds in a non-UTC
// zone):
//
//   - Create then Get round-trips every field; times come back in UTC with
//     microsecond precision; Create sets Version 1 and both stamps from the
//     adapter's clock and writes them back into the caller's value.
//   - Values are copied in and out: changing a value after Create or Update,
//     or the value Get or List returned, changes nothing stored.
//   - Invalid records are refused with an error matching
//     [crm.ErrInvalidArgument] whose [*crm.ValidationError] names the field,
//     and nothing is written.
//   - Optimistic versions: a stale Update or Delete is [crm.ErrConflict] and
//     changes nothing; a missing record is [crm.ErrNotFound]; a repeated ID
//     or user email (per tenant, any letter case) is [crm.ErrAlreadyExists].
//   - Tenants never see each other's records.
//   - List agrees with the filter's Match method for fixed and random
//     filters, data scopes included (checked against [crm.NewDepartmentTree]),
//     and pages walk every record exactly once in ID order.
//   - Every method refuses a cancelled context with an error matching
//     [context.Canceled] and writes nothing.
//   - Units of work are all-or-nothing on error, panic and cancellation,
//     refuse nesting, and see their own writes.
//
// Then the department tree (unknown parents, cycles, deletes with children,
// concurrent opposite moves), the outbox (sequence numbers, tenants,
// acknowledgement, events of failed units of work) and its delivery port
// when the adapter has one (leases in Seq order to one relay at a time, each
// record's events in order through retries and parking, settlement by the
// lease's owner only, replay, lag, and relays leasing at once that deliver
// every event once and each record's events in order), field history when
// the adapter keeps it (entries read back byte for byte, each record's
// history and each actor's time window newest first in pages, tenancy,
// purges, units of work that roll back, concurrent appends), concurrency
// under many goroutines (one winner per version, unique emails, no lost updates),
// tenancy sealed at the reference level (no record points at another
// tenant's, and an ID held by another tenant reveals nothing), permission
// list filters that agree with Check after the department tree drifts, and
// input limits (NUL, invalid UTF-8 and over-long filter values and routing
// names get the same typed answer on every adapter).
//
// # Reading failures
//
// Record differences are reported by [Diff], one line per field, with the
// storage semantics it documents (Money and decimals compared numerically,
// nil and empty lists equal). The random parts of the suite use fixed seeds,
// so a failure repeats on the next run.
//
// # Domain groups and Features
//
// After the shared contract, [Run] runs one group per domain port: "Pool"
// ([RunPool]: claims, limits, sweeps and the pool invariants under many
// goroutines), "Workflow" ([RunWorkflow]: routing state, approvals,
// hand-offs, SLA timers) with "TicketLifecycle" ([RunTicketLifecycle]:
// package ticket's moves, SLA timers and breach actions on the adapter),
// "LeadStorage" ([RunLead]) and "Dedupe"
// ([RunDedupe]), and then "CRM" ([RunCRM]): the composition root
// (crmkit.New) over the adapter, checking what only holds when the
// domains work together — one customer per company whatever the entry
// point, conversions that leave nothing when they fail, units of work
// spanning domains, anti-collision and policy denials on claims, merges
// and department moves that keep the pool's invariants.
//
// The domain ports are optional for a host's adapter, and so are some
// extensions of them. [Features] declares, with positive flags, what the
// adapter has: a declared domain port runs its group (Pools, Workflow,
// Leads, Dedupe), the "CRM" group runs when all four are declared, and an
// optional port (pool.ClaimStore, pool.BatchTx, pool.RequestPruner,
// workflow.ApprovalDeadlines, workflow.ApprovalInbox,
// crm.DepartmentTreeVersions, crm.Deliveries, crm.HistoryTx;
// [Features] lists each with its fallback) is found by type assertion, as
// the domain packages find it, and checked whenever the adapter has it:
// pool.ClaimStore is called directly ("Pool/ClaimStore": version checks,
// counters at their max, refusals that change nothing, idempotency records,
// concurrent writes). Without an optional port the suite checks the domain's
// fallback instead; anything declared but missing fails the suite. The zero
// value declares nothing and checks the shared contract; [AllFeatures]
// declares everything memstore and pgstore have.
package storetest
