package ticket

import (
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

var schema = func() *cond.Schema {
	s, err := cond.NewSchema(
		cond.Field{Name: "subject", Kind: cond.KindString}, cond.Field{Name: "priority", Kind: cond.KindString},
		cond.Field{Name: "status", Kind: cond.KindString}, cond.Field{Name: "customer_id", Kind: cond.KindID},
		cond.Field{Name: "contact_id", Kind: cond.KindID}, cond.Field{Name: "assignee_id", Kind: cond.KindID},
		cond.Field{Name: "team_id", Kind: cond.KindID}, cond.Field{Name: "department_id", Kind: cond.KindID},
	)
	if err == nil {
		s, err = s.WithCustomFields(cond.CustomFieldPrefix)
	}
	if err != nil {
		panic("ticket: built-in schema: " + err.Error()) // a bug in this package, not bad input
	}
	return s
}()

// Schema is the schema of a [crm.Ticket] as routing rules see it: subject,
// priority and status (string), customer_id, contact_id, assignee_id,
// team_id and department_id (id), and custom fields as "fields.<name>".
// Write the rule sets of [Config.Routers] against it (or against a schema
// of your own that [Record] fills by name). It is immutable and safe for
// concurrent use.
func Schema() *cond.Schema { return schema }

// Record returns a new record of schema filled from t: each field schema
// declares under the name of a ticket attribute listed at [Schema], with
// the same kind, and the ticket's custom fields when schema has custom
// fields. Attributes the ticket leaves empty stay unset. It is the
// default of [Config.Record].
func Record(s *cond.Schema, t *crm.Ticket) (*cond.Record, error) {
	r := s.NewRecord()
	for _, f := range []struct{ name, v string }{
		{"subject", t.Subject}, {"priority", string(t.Priority)}, {"status", string(statusOr(t.Status))},
	} {
		if fd, ok := s.Field(f.name); ok && fd.Kind == cond.KindString && f.v != "" {
			if err := r.SetString(f.name, f.v); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range []struct {
		name string
		v    crm.ID
	}{
		{"customer_id", t.CustomerID}, {"contact_id", t.ContactID}, {"assignee_id", t.AssigneeID},
		{"team_id", t.TeamID}, {"department_id", t.DepartmentID},
	} {
		if fd, ok := s.Field(f.name); ok && fd.Kind == cond.KindID && f.v != crm.NilID {
			if err := r.SetID(f.name, f.v); err != nil {
				return nil, err
			}
		}
	}
	r.SetCustom(t.Fields, false)
	return r, nil
}
