package memstore

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/ticket"
)

// This file serves the tickets-by-SLA queue from ordered indexes of the
// tickets with an SLA due time, as queue.go serves the others.

var _ ticket.SLAQueue = tx{}

// ticketQueues orders the tickets with an SLA due time by assignee, by
// department and by tenant (the last for unscoped reads, which list
// unassigned tickets too).
type ticketQueues struct {
	byAssignee, byDept map[crm.ID]*queueIndex
	byTenant           map[string]*queueIndex
}

func newTicketQueues() ticketQueues {
	return ticketQueues{byAssignee: map[crm.ID]*queueIndex{}, byDept: map[crm.ID]*queueIndex{}, byTenant: map[string]*queueIndex{}}
}

// index moves a ticket's queue entries from old to c (either nil).
// Callers hold the lock.
func (q ticketQueues) index(old, c *crm.Ticket) {
	if old != nil && old.SLADueAt != nil {
		e := queueEntry{at: old.SLADueAt.UnixMicro(), id: old.ID}
		for _, x := range []*queueIndex{q.byAssignee[old.AssigneeID], q.byDept[old.DepartmentID], q.byTenant[old.TenantID]} {
			if x != nil {
				x.remove(e)
			}
		}
	}
	if c != nil && c.SLADueAt != nil {
		e := queueEntry{at: c.SLADueAt.UnixMicro(), id: c.ID}
		if c.AssigneeID != crm.NilID {
			indexOf(q.byAssignee, c.AssigneeID).insert(e)
		}
		if c.DepartmentID != crm.NilID {
			indexOf(q.byDept, c.DepartmentID).insert(e)
		}
		x, ok := q.byTenant[c.TenantID]
		if !ok {
			x = &queueIndex{}
			q.byTenant[c.TenantID] = x
		}
		x.insert(e)
	}
}

// TicketsBySLA implements [ticket.SLAQueue] as TasksDue implements its
// queue, over the ordered indexes of the scope's assignees and
// departments, or the tenant's for a nil or All scope.
func (t tx) TicketsBySLA(ctx context.Context, q ticket.SLAQuery) (crm.Page[crm.Ticket], error) {
	limit, after, err := ticket.ResolveSLAPage(q.Page)
	if err != nil {
		return crm.Page[crm.Ticket]{}, fmt.Errorf("memstore: tickets by sla: %w", err)
	}
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return crm.Page[crm.Ticket]{}, fmt.Errorf("memstore: tickets by sla: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	qs := t.s.ticketsBySLA
	var idx []*queueIndex
	if q.Scope == nil || q.Scope.All {
		if x, ok := qs.byTenant[tenant]; ok {
			idx = append(idx, x)
		}
	} else {
		idx = t.s.queueIndexes(tenant, q.Scope, qs.byAssignee, qs.byDept)
	}
	return queuePage(idx, after, q.Until(), limit, func(id crm.ID) *crm.Ticket {
		if row := t.s.tickets.rows[id]; row != nil && row.TenantID == tenant {
			return row.Clone()
		}
		return nil
	}, ticket.SLACursor), nil
}
