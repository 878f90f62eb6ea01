// Package ticket moves service tickets through their lifecycle, with the
// SLA timers that follow them and the actions their firings ask for.
//
// # Lifecycle
//
// A ticket ([crm.Ticket]) starts as new and moves
//
//	new → open → pending → open → resolved → closed
//
// (open or pending may be resolved; pending waits on the customer). A
// resolved ticket may be reopened (resolved → open) within a window after
// its resolution ([Lifecycle.ReopenWindow], [DefaultReopenWindow] by
// default); closed is final. Every other move, and a move to the status
// the ticket is in, is refused with a [*TransitionError] that names the
// field ("status") and matches [crm.ErrFailedPrecondition]; an unknown
// status is a [*crm.ValidationError] on "status". A refused move changes
// nothing: not the ticket, not its timer, and no event is written.
//
// [Service.Transition] sets the times as the ticket moves: ResolvedAt at
// resolution (cleared on reopening), ClosedAt at close, and
// FirstResponseAt at the first move out of new made by a user, or at the
// first [Service.Respond] (which also opens a new ticket).
// [Service.Close] records the customer's satisfaction score (1-5; 0 for
// none; anything else is a [*crm.ValidationError] on "satisfaction").
// A request's Version, when set, must be the ticket's current one: of
// many concurrent moves decided on one read exactly one wins, the others
// get [crm.ErrConflict].
//
// # SLA timers
//
// The timers are package workflow's ([workflow.SLAPolicy],
// [workflow.Timer]), stored through its [workflow.TimerStore]. [Config.SLA]
// chooses the policy of a new ticket by priority (a [CreateRequest] may
// name another): [Service.Create] starts the timer and links it to the
// ticket ([crm.Ticket.SLATimerID]). Moving to pending pauses it, leaving
// pending resumes it, resolving stops it ([workflow.StopTx]: a warning or
// breach already due is still recorded, see [Moved.Late]), and reopening
// starts a new one under the same policy. The timer changes in the unit
// of work of the move.
//
// # Tickets by SLA due time
//
// The service keeps the running timer's deadline on the ticket
// ([crm.Ticket.SLADueAt]) with every change of the timer: set when a
// timer starts or resumes, nil while it is paused (pending) and once it
// stops (resolved, closed). A breached ticket keeps the deadline it
// missed. [Service.BySLA] lists them as a work queue, earliest due first:
// the tickets assigned to an agent, or a team's (by department), paged
// with cursors of the queue's own ([SLACursor]), from adapters that have
// the optional [SLAQueue] port.
//
// # Breach actions
//
// [Service.Tick] fires due timers ([workflow.Tick]) and carries out what
// the firings of ticket timers ask for, in the same unit of work
// ([Service.HandleFiringsTx]): a route action ({"kind": "route",
// "rule_set": ...}) routes the ticket with the [workflow.Router] of that
// rule set ([Config.Routers], rule sets written against [Schema]) and
// gives it to the chosen agent; an escalate action ({"kind": "escalate"})
// raises the priority and may hand the ticket to a manager
// ([Escalation]). Each writes its event with the ticket; create_task and
// notify actions are returned for the host ([Handled.Actions]).
//
// # Joining a unit of work
//
// Every mutating operation has a Tx form — [Service.CreateTx],
// [Service.TransitionTx], [Service.CloseTx], [Service.RespondTx],
// [Service.HandleFiringsTx] — that runs inside a unit of work the caller
// holds ([crm.Store.InTx], or a host's own database transaction), so a
// ticket operation commits or rolls back with the caller's other work.
// The plain form is InTx plus the Tx form. Each names its operation for a
// recording unit of work ([crm.DefaultActor]: "raise", "transition",
// "close", "respond", "sla_action"); records are written through the
// unit of work given, and the workflow ports are found behind any
// wrapper ([workflow.TxOf]).
//
// # Events
//
// [EventTicketRaised] ([RaisedPayload]); the moves [EventTicketOpened],
// [EventTicketSuspended], [EventTicketResolved], [EventTicketClosed],
// [EventTicketReopened] and [EventTicketResponded] ([MovedPayload] under
// one name per type); [EventTicketReassigned] ([ReassignedPayload]) and
// [EventTicketEscalated] ([EscalatedPayload]). Decode them with
// [crm.DecodePayload].
//
// # Concurrency
//
// [Lifecycle] and [Service] are safe for concurrent use. No function
// reads the wall clock: [Service] reads its injected [crm.Clock]. The
// package starts no goroutines; hosts call Tick from their scheduler.
package ticket
