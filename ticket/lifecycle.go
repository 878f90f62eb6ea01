package ticket

import (
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// DefaultReopenWindow is how long after its resolution a ticket may be
// reopened under [DefaultLifecycle].
const DefaultReopenWindow = 7 * 24 * time.Hour

// moves is the one table of allowed moves: new → open → pending ⇄ open,
// open or pending → resolved → closed, and resolved → open (a reopening,
// within the window). Closed is final.
var moves = map[crm.TicketStatus][]crm.TicketStatus{
	crm.TicketNew:      {crm.TicketOpen},
	crm.TicketOpen:     {crm.TicketPending, crm.TicketResolved},
	crm.TicketPending:  {crm.TicketOpen, crm.TicketResolved},
	crm.TicketResolved: {crm.TicketOpen, crm.TicketClosed},
}

// Lifecycle decides which status moves a ticket may make:
//
//	new → open → pending → open (the customer answered)
//	open, pending → resolved → closed
//	resolved → open: a reopening, only within the reopen window after
//	ResolvedAt
//
// Every other move is refused, and so is a move to the status the ticket
// is in. Closed is final: a customer who comes back after the close raises
// a new ticket, so the satisfaction score given at close stays true. It is
// immutable and safe for concurrent use.
type Lifecycle struct {
	reopenWindow time.Duration
}

// NewLifecycle returns the lifecycle whose reopen window is window, which
// must be positive ([*crm.ValidationError] on "reopen_window").
func NewLifecycle(window time.Duration) (*Lifecycle, error) {
	if window <= 0 {
		return nil, fmt.Errorf("ticket: lifecycle: %w", crm.Invalid("reopen_window", "must be positive, got %s", window))
	}
	return &Lifecycle{reopenWindow: window}, nil
}

// DefaultLifecycle returns the lifecycle with a reopen window of
// [DefaultReopenWindow].
func DefaultLifecycle() *Lifecycle { return &Lifecycle{reopenWindow: DefaultReopenWindow} }

// ReopenWindow returns how long after its resolution a ticket may be
// reopened.
func (lc *Lifecycle) ReopenWindow() time.Duration { return lc.reopenWindow }

// Next returns the statuses a ticket in from may move to, leaving the
// reopen window aside; nil for closed and for an unknown status.
func (lc *Lifecycle) Next(from crm.TicketStatus) []crm.TicketStatus {
	return append([]crm.TicketStatus(nil), moves[statusOr(from)]...)
}

// Allows reports whether the table of moves has from → to, leaving the
// reopen window aside.
func (lc *Lifecycle) Allows(from, to crm.TicketStatus) bool {
	for _, n := range moves[statusOr(from)] {
		if n == to {
			return true
		}
	}
	return false
}

// TransitionError reports a move the lifecycle refuses. It names the field
// ("status") in its message and matches [crm.ErrFailedPrecondition]: the
// status asked for is a valid one, but not from where the ticket is.
type TransitionError struct {
	From, To crm.TicketStatus
	Reason   string
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("ticket: status: cannot move from %s to %s: %s", e.From, e.To, e.Reason)
}

// Is reports whether target is [crm.ErrFailedPrecondition].
func (e *TransitionError) Is(target error) bool { return target == crm.ErrFailedPrecondition }

// Check reports whether t may move to status to at now. An unknown status
// is a [*crm.ValidationError] on "status"; a move the table does not have,
// a move to the ticket's own status and a reopening after the window are a
// [*TransitionError]. A resolved ticket without a ResolvedAt (stored by
// other means) may be reopened.
func (lc *Lifecycle) Check(t *crm.Ticket, to crm.TicketStatus, now time.Time) error {
	from := statusOr(t.Status)
	if !to.Valid() {
		return fmt.Errorf("ticket: transition: %w", crm.Invalid("status", "unknown ticket status %q", truncate(string(to), 32)))
	}
	if !lc.Allows(from, to) {
		why := "the lifecycle does not allow it"
		switch {
		case from == crm.TicketClosed:
			why = "a closed ticket is final; raise a new one"
		case from == to:
			why = "the ticket is already " + string(to)
		default:
			names := make([]string, 0, 2)
			for _, n := range lc.Next(from) {
				names = append(names, string(n))
			}
			why += "; allowed: " + strings.Join(names, ", ")
		}
		return &TransitionError{From: from, To: to, Reason: why}
	}
	if from == crm.TicketResolved && to == crm.TicketOpen && t.ResolvedAt != nil {
		if until := t.ResolvedAt.Add(lc.reopenWindow); now.After(until) {
			return &TransitionError{From: from, To: to, Reason: fmt.Sprintf("the reopen window of %s ended at %s", lc.reopenWindow, until.UTC().Format(time.RFC3339))}
		}
	}
	return nil
}

// statusOr returns s, or new for a ticket stored without a status.
func statusOr(s crm.TicketStatus) crm.TicketStatus {
	if s == "" {
		return crm.TicketNew
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
