package pgstore

import (
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/task"
	"github.com/crmkit/crmkit/ticket"
)

// FallingBackSQL exposes the falling-back queue's statement to the plan
// tests.
var FallingBackSQL = fallingBackQuery

// DueTasksSQL exposes the due-tasks queue's statement to the plan tests.
func DueTasksSQL(s *Store, tenant string, q task.DueQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	return dueTasksQuery(s.schema, taskCols(s.sql.tasks.list), tenant, q, n, after)
}

// TicketsBySLASQL exposes the tickets-by-SLA queue's statement to the plan
// tests.
func TicketsBySLASQL(s *Store, tenant string, q ticket.SLAQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	return ticketsBySLAQuery(s.schema, taskCols(s.sql.tickets.list), tenant, q, n, after)
}

// InboxSQL exposes the approval inbox's statement to the plan tests.
func InboxSQL(s *Store, tenant string, approvers []crm.ID, n int, after *crm.QueueKey) (string, []any) {
	return inboxQuery(s.schema, tenant, approvers, n, after)
}

// RisingSQL exposes the rising-leads queue's statement to the plan tests.
func RisingSQL(s *Store, tenant string, q lead.RisingQuery, n int, after *crm.QueueKey) (string, []any, bool) {
	return risingQuery(s.schema, taskCols(s.sql.leads.list), tenant, q, q.Since, n, after)
}
