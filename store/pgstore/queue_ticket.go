package pgstore

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/ticket"
)

// The tickets-by-SLA queue, from the indexes of migration
// 0021_ticket_sla_queue, with queue.go's query builder.

var _ ticket.SLAQueue = view{}

// ticketsBySLASpec is the tickets-by-SLA queue's table; cols are set from
// the ticket table's list statement.
var ticketsBySLASpec = queueSpec{table: "crm_tickets", id: "id", due: "sla_due_at", owner: "assignee_id", department: "department_id",
	in: "sla_due_at IS NOT NULL"}

// ticketsBySLAQuery is queueQuery for the tickets-by-SLA queue; cols are
// the ticket table's columns.
func ticketsBySLAQuery(schema, cols, tenant string, q ticket.SLAQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	sp := ticketsBySLASpec
	sp.cols = cols
	return queueQuery(schema, sp, tenant, q.Scope, q.Until(), n, after)
}

// TicketsBySLA implements [ticket.SLAQueue].
func (v view) TicketsBySLA(ctx context.Context, q ticket.SLAQuery) (crm.Page[crm.Ticket], error) {
	limit, after, err := ticket.ResolveSLAPage(q.Page)
	if err != nil {
		return crm.Page[crm.Ticket]{}, fmt.Errorf("pgstore: tickets by sla: %w", err)
	}
	t := v.s.sql.tickets
	sql, args, ok := ticketsBySLAQuery(v.s.schema, taskCols(t.list), crm.TenantFrom(ctx), q, limit+1, after)
	if !ok { // an empty scope: nothing to read
		if err := v.check(ctx); err != nil {
			return crm.Page[crm.Ticket]{}, fmt.Errorf("pgstore: tickets by sla: %w", err)
		}
		return crm.Page[crm.Ticket]{}, nil
	}
	page, err := readQueue(ctx, v, sql, args, limit, t.scan, ticket.SLACursor)
	if err != nil {
		return page, fmt.Errorf("pgstore: tickets by sla: %w", err)
	}
	return page, nil
}
