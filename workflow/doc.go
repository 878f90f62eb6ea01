// Package workflow moves records between people and departments: routing
// (who gets a new lead or ticket, and why), approvals (who must agree to a
// discount or a contract), hand-off state machines (marketing to sales to
// service, carrying the history) and SLA timers on business-hours
// calendars (package [github.com/crmkit/crmkit/workflow/calendar]).
//
// Everything here is rules as data: JSON documents validated on load
// against a declared [Schema] of record fields, with errors that name the
// bad field ([crm.ValidationErrors]). Decisions are pure functions of the
// rules, the record and explicit state, so they are reproducible in tests
// and explainable to a manager. Storage is reached only through the small
// ports this package declares ([RoutingStore]), implemented by the storage
// adapters.
//
// # Records and conditions
//
// A [Schema] declares the fields rules may test (string, number, bool,
// strings, money in one currency, ID). A [Record] holds one record's values;
// a [Condition] (equals, in, range, prefix, exists, combined with all, any
// and not) compiles against the schema into a [Predicate] whose Match does
// not allocate. Numbers and money compare exactly (decimal), never as
// floats.
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
// many instances.
//
// # Concurrency
//
// Schemas, predicates, routers and calendars are immutable and safe for
// concurrent use. [Record] and [State] values belong to one goroutine at a
// time. The package starts no goroutines; hosts call Tick and Route from
// their own schedulers and requests.
package workflow
