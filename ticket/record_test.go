package ticket_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/ticket"
)

func TestRecordFillsTheFieldsASchemaDeclaresByName(t *testing.T) {
	t.Parallel()
	ids := crmtest.NewIDs()
	tk := crmtest.Ticket(ids, func(tk *crm.Ticket) {
		tk.Priority, tk.TeamID, tk.Fields = crm.PriorityUrgent, ids.NewID(), crm.Fields{"product": crm.String("erp")}
	})
	rec, err := ticket.Record(ticket.Schema(), tk)
	require.NoError(t, err)
	urgent, err := cond.Parse(ticket.Schema(), []byte(`{"all": [{"field": "priority", "equals": "urgent"}, {"field": "status", "equals": "new"},
		{"field": "fields.product", "equals": "erp"}, {"field": "team_id", "exists": true}, {"field": "assignee_id", "exists": false}]}`))
	require.NoError(t, err)
	require.True(t, urgent.Match(rec))

	// A schema of the host's own: priority as a string, team_id of the
	// wrong kind (left unset), a field tickets do not have.
	own, err := cond.NewSchema(cond.Field{Name: "priority", Kind: cond.KindString}, cond.Field{Name: "team_id", Kind: cond.KindString},
		cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)
	rec, err = ticket.Record(own, tk)
	require.NoError(t, err)
	require.True(t, rec.Has("priority"))
	require.False(t, rec.Has("team_id"))
	require.False(t, rec.Has("region"))
}
