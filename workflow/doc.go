// Package workflow moves records between people and departments: routing
// (who gets a new lead or ticket, and why), approvals (who must agree to a
// discount or a contract), hand-off state machines (marketing to sales to
// service, carrying the history) and SLA timers on business-hours
// calendars (package [github.com/crmkit/crmkit/workflow/calendar]).
//
// Everything here is rules as data: JSON documents validated on load
// against a declared [cond.Schema] of record fields, with errors that name the
// bad field ([crm.ValidationErrors]). Decisions are pure functions of the
// rules, the record and explicit state, so they are reproducible in tests
// and explainable to a manager. Storage is reached only through the small
// ports this package declares ([RoutingStore], [TimerStore],
// [ApprovalDefinitions], [ApprovalInstances], optionally
// [ApprovalDeadlines] and [ApprovalInbox]), which the storage adapters
// implement and offer through [Tx] ([TxOf] finds it on a [crm.Tx]).
//
// # Records and conditions
//
// Rules test records in crmkit's one condition language, package
// [github.com/crmkit/crmkit/cond]: a [cond.Schema] declares the fields
// rules may test (string, number, bool, strings, money in one currency,
// ID), a [cond.Record] holds one record's values, and a [cond.Condition]
// (equals, in, range, prefix, contains, exists, combined with all, any and
// not) compiles against the schema into a [cond.Predicate] whose Match
// does not allocate. Text compares ignoring case; numbers and money
// compare exactly (decimal), never as floats.
//
// # Routing
//
// A [RuleSet] is an ordered list of [Rule] values: the first rule whose
// condition matches sends the record to a user, a team or a queue. For a
// team a [Strategy] picks the member: [RoundRobin], [Weighted] by capacity,
// [LeastLoaded] or [SkillsMatch]; a sticky rule prefers the owner of the
// existing account. Members are skipped when inactive, absent, off duty on
// their calendar, at capacity or over their daily quota, and nobody fitting
// sends the record to a fallback queue. [Router.Decide] makes the decision
// without allocating; [Router.Explain] returns the same decision with every
// rule tried and every candidate's reason.
//
// Round-robin cursors and load counters are explicit [State]; decisions
// never change it and [State.Apply] does. [Router.Route] loads the state
// through a [RoutingStore], decides, and commits with a compare-and-swap on
// the rule's cursor version, deciding again when another application
// instance won the race, so rotation stays fair and capacity holds across
// many instances. [Router.RouteTx] does the same inside a unit of work and
// appends the decision's "<record type>.routed" event ([Router.Event]) to
// the outbox, so state, event and the host's assignment commit together.
//
// # Approvals
//
// A [Definition] (JSON, validated, versioned) has entry criteria and ordered
// steps; a step applies when its threshold condition matches (a discount
// percentage, a [crm.Money] amount, compared exactly) and runs alone or in
// parallel with the step before it. Approvers are a user, a role, a
// department manager found in the [crm.DepartmentTree], or an ID field of
// the record; a step needs any one, all, or a quorum of them. [Approvals]
// runs an [Instance]: Submit resolves every approver up front (a step with
// nobody to approve is an error then), leaving out the submitter: nobody
// approves their own request, not by role, record field or delegation, and
// nobody holds two tasks in one step. Approve, Reject (to the
// submitter or the previous step), Recall, Delegate, Reassign, AddComment
// and Tick (step timeouts that remind, escalate or decide) change it and
// return the [crm.Event] values to store in the same unit of work. A
// failed operation leaves the instance untouched; a decision on a finished
// one is [crm.ErrFailedPrecondition]. The record is locked while
// [Instance.IsLocked]; [CheckUnlocked] asks the store, which keeps at most
// one pending request per record. Running requests keep the definition
// version they started with ([ApprovalDefinitions] stores every version).
// [Approvals.SubmitTx] and [SaveTx] store a request and its events in one
// unit of work; updates are a compare-and-swap on the request's Version.
// Step timeouts fire from storage with [Approvals.TickDue]: adapters that
// offer [ApprovalDeadlines] keep each request's [Instance.NextDueAt] and
// hand out due requests in batches (SKIP LOCKED on PostgreSQL), so hosts
// tick all running requests of a tenant without loading them, from many
// application instances at once, and every timeout fires exactly once.
//
// The approver's inbox is a work queue: [ApprovalService.Inbox] lists the
// pending requests that wait on an approver, or on anyone of a team, the
// longest waiting first. A request waits on whoever holds an undecided
// task in one of its active steps ([Instance.WaitingOn]) since its running
// stage started ([Instance.WaitingSince]): a delegated or reassigned task
// is in the inbox of whom it went to, a decided one and a finished
// request in nobody's, and a later stage's approvers appear once it
// starts. A team's inbox lists a request once, naming the members it
// waits on ([InboxItem]). Adapters that offer [ApprovalInbox] keep an
// index of it with every write of a request, and page it with cursors of
// its own ([InboxCursor]).
//
// [ApprovalService] binds the engine to a [crm.Store], as the pool
// package's Service does for pools: Submit, Approve, Reject, Recall,
// Comment, Delegate and Reassign each load the request, refuse a stale
// expected Version ([crm.ErrConflict]), apply the engine's rules, ask an
// optional [ApprovalAuthorizer] (whose refusal is returned as is), and
// store the request and its events in one unit of work; each has a Tx
// form (ApproveTx, ...) that joins a unit of work the host opened, so an
// approval commits with the host's own writes. [ApprovalService.TickDue]
// runs [Approvals.TickDue] in a unit of work of its own. The engine's
// [Org] is a snapshot: when users, roles, departments or delegations
// change, hand the service a new one with [ApprovalService.SetOrg] (or a
// new engine with [ApprovalService.SetEngine]).
//
// # Hand-offs
//
// A [Machine] declares the stages of a record type and the allowed
// transitions with guards (conditions, required fields, departments allowed
// to move). Cycles and unreachable stages are refused on load.
// [Machine.Transition] checks a [Move] and returns the new stage, the
// history so far and the actions (create a task for another department,
// notify, route) as data for the caller to perform; [Outcome.Event] is the
// "<record type>.handed_off" event the caller stores with the move in the
// same unit of work. [Machine.MoveTx] does all of it against the store: it
// reads the record's stage and history through the [HandoffStore] port,
// checks the move, and stores the new [HandoffState] (compare-and-swap on
// its version, so of two concurrent moves one fails) with the event.
//
// # SLA timers
//
// An [SLAPolicy] measures a target in business time on a calendar; policies
// load from JSON with [ParseSLAPolicies]. Its Start, Pause, Resume and Stop
// keep a [Timer] value up to date (a firing already due is never lost:
// Pause keeps it due and Stop returns it; [StopTx] stores a stop with the
// events of such firings); [Due] lists what fires at an instant
// without changing anything, and [Tick] claims due timers through a
// [TimerStore] (SKIP LOCKED on PostgreSQL), marks them fired, stores them
// and writes one "sla.warned" or "sla.breached" event per firing in the
// same unit of work, so several instances can tick at once without firing
// anything twice.
//
// # Concurrency
//
// Schemas, predicates, routers and calendars are immutable and safe for
// concurrent use. [Record] and [State] values belong to one goroutine at a
// time. The package starts no goroutines; hosts call Tick and Route from
// their own schedulers and requests.
//
// # Events
//
// Each event type is a [crm.EventType] constant with an exported payload
// struct: the approval events ([EventApprovalSubmitted] with
// [ApprovalSubmittedPayload], ..., each embedding [ApprovalSubject]);
// [EventSLAWarned] and [EventSLABreached] with an [SLAPayload]; routing
// events ([RoutedEventType], [EventLeadRouted]) with a [RoutedPayload];
// hand-off events ([HandedOffEventType], [EventLeadHandedOff]) with a
// [HandedOffPayload]. Decode them with [crm.DecodePayload].
package workflow
