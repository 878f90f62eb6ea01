// Package remind fires reminders: a sweep that a host's scheduler calls,
// safe from many application instances at once, turning each due reminder
// into exactly one event for the host's notifier.
//
// # What fires
//
// A [Sweeper] fires four kinds of reminders ([Kind]):
//
//   - [KindTaskReminder]: an open task ([crm.Task]) whose RemindAt has
//     come;
//   - [KindTaskOverdue]: an open task whose DueAt has passed;
//   - [KindApprovalWaiting]: an active step of a pending approval request
//     ([workflow.Instance]) that has waited longer than
//     [Config.ApprovalWaiting] on an approver who has not decided;
//   - [KindPoolNotice]: a pool notice, "falls back in N days", to the
//     owner of a customer that will fall back into its pool
//     ([pool.Holding.DueAt]) within the pool's [pool.Pool.NoticeDays];
//     locked customers, customers sitting in a pool, customers already
//     due and pools with no notice period get none.
//
// Each fires once for the time it is for: a task's RemindAt, its DueAt,
// the step's start, the customer's due time. A task whose RemindAt or
// DueAt moves is a new reminder and fires again; so does a step that
// starts again, and a customer whose due time moves (after a follow-up,
// say). Done, cancelled and deleted tasks never fire.
//
// # Exactly once
//
// Every reminder fired is stored as a [Firing] whose key (tenant, kind,
// subject, time, part) is unique in storage, and one [EventFired] event
// with a [FiredPayload] is written in the same unit of work: the event is
// stored exactly when the firing is. Sweeps claim due tasks the way
// [workflow.Approvals.TickDue] claims due requests (PostgreSQL: FOR UPDATE
// SKIP LOCKED), and due holdings likewise, so concurrent sweeps take
// different batches, and the unique key settles any reminder two sweeps
// still meet. A batch that
// fails keeps nothing; its reminders fire on a later sweep.
//
// # Storage
//
// Adapters offer the [Store] port through [Tx] on their units of work
// ([TxOf] finds it through any [crm.TxWrapper]); memstore and pgstore do,
// and storetest.RunRemind checks an adapter. Pool notices also need the
// adapter's [pool.Tx], to list the pools. pgstore keeps firings in
// crm_reminder_firings (migration 0017) and lists a pool's due holdings
// from an index of its own (migration 0019).
//
// # Scheduling
//
// crmkit starts no timers. A host calls [Sweeper.Sweep] for each tenant
// from its scheduler, every minute say, from any number of instances, or
// [Sweeper.FireTx] inside a transaction of its own. The events reach the
// notifier through the outbox relay like every other event.
package remind
