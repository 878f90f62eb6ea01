// Package task plans follow-ups (跟进计划) and books appointments (日程):
// a [crm.Task] is a to-do due by a time, or an appointment from a start to
// an end, about a lead, customer, contact, opportunity or ticket, assigned
// to one user, with an optional reminder and recurrence. Recording the
// activity that answers a task completes it (package crmkit's
// RecordActivity does that, with the customer's last follow-up and pool
// holding, in one unit of work).
//
// # Operations
//
// [Service.Create] stores an open task; [Service.Complete] marks it done
// with the activity that answered it; [Service.Cancel] drops it;
// [Service.Reschedule] moves it. Each runs in one unit of work of the
// store, and each has a ...Tx form ([Service.CreateTx], ...) that joins a
// unit of work the caller holds, so a task can be completed in the same
// unit of work as the activity that answers it.
//
// # Rules
//
// Bad input is a [*crm.ValidationError] naming the field, with nothing
// written: a due time before the creation time ("due_at"; an appointment's
// "start_at"), a reminder after the due time ("remind_at"), an appointment
// that does not end after it starts ("end_at"), a recurrence that never
// fires a second occurrence ("recurrence.until" before it,
// "recurrence.count" of 1), an unknown assignee or subject.
//
// A [crm.Recurrence] repeats a task every N days, weeks or months, until
// a time or for a count of occurrences. Completing an occurrence stores
// the next one in the same unit of work, counted from the series' first
// due time so monthly tasks keep their day of the month; occurrences
// already past due are skipped. Cancelling an occurrence ends the series.
//
// Only open tasks are completed, cancelled or rescheduled ([ErrNotOpen]).
// Every write is conditional on the version read, so of many concurrent
// completions of one task exactly one wins; the others get [ErrNotOpen] or
// [crm.ErrConflict].
//
// # Appointments and overlaps
//
// An appointment that shares time with another open appointment of its
// assignee is reported at creation and at rescheduling: listed in the
// result under [OverlapWarn] (the default), or refused with an
// [*OverlapError] (matching [ErrOverlap] and [crm.ErrFailedPrecondition])
// under [OverlapRefuse]. An adapter with the optional [CalendarLocker]
// port (pgstore) serialises the bookings of one assignee, so two
// concurrent bookings cannot both miss each other.
//
// # Storage
//
// Tasks are a shared record type ([crm.Tx.Tasks]); list them with a
// [crm.TaskFilter] (assignees, statuses, kinds, subject, due window,
// appointments overlapping a window, data scope with the assignee as
// owner). pgstore indexes an assignee's tasks by status and due time, a
// department's open tasks by due time, and open tasks by reminder time.
//
// # Work queue
//
// [Service.Due] pages the open tasks due by a time (the overdue ones by
// default), earliest first, ties by task ID: the actor's own ("mine"), or
// a team's, given as a [crm.DataScope] (the composition root passes the
// permission policy's list filter) or, by default, the departments the
// actor manages and those below them ([crm.QueueScope]). Its keyset cursor
// ([DueCursor]) refuses a cursor of any other list or queue on
// "page.cursor". The adapter serves it through the optional [DueQueue]
// port (memstore and pgstore); without it the call reports
// [crm.ErrUnsupported].
package task
