package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/task"
)

var _ task.CalendarLocker = view{}

// LockCalendar implements [task.CalendarLocker]: a transaction-scoped
// advisory lock on the assignee's calendar in the context tenant, held
// until the unit of work ends, so concurrent bookings of one assignee
// check their overlaps one after the other. It needs a unit of work
// (InTx or WithTx).
func (v view) LockCalendar(ctx context.Context, assignee crm.ID) error {
	if v.tx == nil {
		return errors.New("pgstore: lock calendar: outside a unit of work the lock would end at once")
	}
	if err := v.check(ctx); err != nil {
		return fmt.Errorf("pgstore: lock calendar: %w", dbError(ctx, err))
	}
	key := v.s.schema + ".crm_tasks:" + crm.TenantFrom(ctx) + ":" + assignee.String()
	if _, err := v.q.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", key); err != nil {
		return fmt.Errorf("pgstore: lock calendar: %w", dbError(ctx, err))
	}
	return nil
}
