// Package crmkit is the composition root of crmkit: one constructor call,
// [New], wires every capability over one store — public pools (公海) with
// anti-collision (防撞单), leads with conversion, routing, approvals,
// dedupe and permissions — each asking the others through the seams this
// package ships, so a host writes no glue.
//
// # Wiring
//
//	store := memstore.New(nil) // or pgstore.New(pool, &pgstore.Config{Schema: "crm"})
//	c, err := crmkit.New(store, &crmkit.Config{Permissions: policy, Router: router})
//	res, err := c.Pools.Claim(ctx, pool.ClaimRequest{Actor: rep, CustomerID: id})
//
// The domain services hang off the [CRM]: Pools, Leads, Dedupe,
// Approvals, Tasks, Tickets, Reminders and Pipelines. Their full APIs are the domain packages' own; built by New
// they carry the seams below. The CRM itself adds what spans domains:
// [CRM.CreateCustomer] and [CRM.UpdateCustomer] (duplicate checks and match
// keys, ownership only through the pools), [CRM.CreateContact] (checked
// against the customer's other contacts), [CRM.RouteLead],
// [CRM.Handoff] for hand-off state machines, [CRM.TickSLA] for SLA
// timers, [CRM.RecordActivity] (a follow-up with the customer's last
// follow-up, its pool due time and the task it answers, in one unit of
// work), [CRM.StartOpportunity] and [CRM.MoveOpportunity] (a new deal's
// start and a deal's stage move as a user the policy lets create or edit
// it, with its customer's pool due time, in one unit of work) and
// [CRM.OpportunityHistory], the work queues [CRM.FallingBack], [CRM.TasksDue] and
// [CRM.TicketsBySLA] within the viewer's data scope, the approver's inbox
// [CRM.Inbox] (the viewer's or the managed departments' waiting
// approvals), the leads that turned hot [CRM.RisingLeads], the customer
// 360° view [CRM.View], [CRM.History], the figures managers read within
// their data scope ([CRM.Funnel], [CRM.PipelinePerformance],
// [CRM.PipelineValue], [CRM.Forecast], [CRM.KPIs]), segments
// ([CRM.Segments], [CRM.SegmentMembers]) and the customer import
// [CRM.ImportCustomers].
//
// # The seams
//
//   - Anti-collision and duplicate checks: pool creates, claims and
//     assigns, lead conversions and [CRM.CreateCustomer] ask the dedupe
//     service against the stored match keys ([dedupe.Service.DecideTx]),
//     inside their own unit of work, and every write path crmkit owns —
//     pool create and enter, conversion, merge and undo, customer create
//     and update here — keeps those keys in the same unit of work. A
//     customer's strong key is unique per tenant, so of concurrent entries
//     of one company through any mix of entry points exactly one is stored;
//     the others fail with an error matching [crm.ErrAlreadyExists].
//   - Lead capture: [lead.Service.Capture] checks a new lead against the
//     open leads and the customers ([dedupe.Service.CaptureLeadTx]) under
//     [Config.CapturePolicy] and refuses ([*lead.CaptureBlockedError]) or
//     warns, naming each duplicate's owner only as far as the actor may
//     see it: a customer's as the pools show it ([pool.Service.StatusTx]),
//     a lead's to its owner, the managers of its department and, with
//     [Config.Permissions], those granted view on it. A lead's keys follow
//     its lifecycle: disqualified and converted leads stop counting.
//   - Routing: with [Config.Router], a conversion's owner is routed inside
//     the conversion's unit of work, so a failed conversion leaves no
//     round-robin cursor, load or quota change behind.
//   - Permissions: with [Config.Permissions], pool operations, lead
//     transitions and conversions, customer creates and edits, and approval
//     operations are asked of the policy after each domain's own rules; a
//     refusal is a [*permission.DeniedError] that names the deciding rule.
//   - Merges and pools: a dedupe merge settles ownership in its unit of
//     work ([pool.Service.SettleMergeTx]) and its undo restores it.
//   - History: every create, update and delete of a shared record made
//     through the CRM keeps one history row per changed field and appends
//     its change event ("customer.updated", [crm.ChangedPayload]) in the
//     unit of work of the change, as made by the request's actor in the
//     operation that caused it (claim, convert, merge; a host names its
//     own with [crm.WithActor]); [CRM.History] reads it, masked by the
//     policy's field rules. The domain services append their domain events
//     (customer.claimed, lead.converted); the pool ledger keeps ownership.
//
// # One unit of work across domains
//
// Every operation is all-or-nothing, and every mutating operation has a
// ...Tx form that joins a unit of work the caller already holds: the tx of
// [CRM.InTx] (memstore's lock, or a PostgreSQL transaction), or, with
// pgstore, the host's own pgx.Tx wrapped by Store.WithTx and joined with
// [CRM.Join] (so its writes are recorded), so crmkit's writes commit or
// roll back with the host's own tables:
//
//	err := c.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
//		if _, err := c.Pools.ClaimTx(ctx, tx, claim); err != nil {
//			return err
//		}
//		_, err := c.Leads.ConvertTx(ctx, tx, convert)
//		return err // an error keeps nothing of either
//	})
//
// # Traps
//
//   - A [crm.User] whose Active is false (the zero value) is inactive: it
//     may not claim, own or decide. Set Active when creating users.
//   - Pool IDs are set by the caller (pool.Pool.ID), like customer IDs;
//     use the IDs generator of the Config.
//   - A host's own adapter must implement Departments before pools and
//     permissions can work: authorizers walk the department tree.
//
// # Concurrency
//
// A [CRM] is safe for concurrent use and starts no goroutines: hosts call
// Pools.Sweep and Approvals.TickDue from their own scheduler.
//
// # Events
//
// [EventTypes] lists every event type crmkit's packages write, each a
// [crm.EventType] constant of its package with an exported payload struct
// beside it; [PayloadOf] names the struct of a type and [DecodeEvent]
// decodes an event's payload strictly into it, for a relay that switches
// on the result. A consumer that knows the type uses
// [crm.DecodePayload] directly.
package crmkit
