package memstore

import (
	"context"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/task"
)

var _ task.CalendarLocker = tx{}

// LockCalendar implements [task.CalendarLocker]. Units of work hold the
// store's lock from start to end and never interleave, so an assignee's
// bookings are already checked one after the other.
func (t tx) LockCalendar(ctx context.Context, _ crm.ID) error {
	return ctx.Err()
}
