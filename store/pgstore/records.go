package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// statements holds every table of one schema with its SQL rendered once.
type statements struct {
	leads         *table[crm.Lead, crm.LeadFilter]
	customers     *table[crm.Customer, crm.CustomerFilter]
	contacts      *table[crm.Contact, crm.ContactFilter]
	opportunities *table[crm.Opportunity, crm.OpportunityFilter]
	activities    *table[crm.Activity, crm.ActivityFilter]
	tickets       *table[crm.Ticket, crm.TicketFilter]
	users         *table[crm.User, crm.UserFilter]
	departments   *table[crm.Department, crm.DepartmentFilter]
	teams         *table[crm.Team, crm.TeamFilter]
	tasks         *table[crm.Task, crm.TaskFilter]

	departmentParent, departmentChild string
	events                            eventStatements
	history                           historyStatements
}

func newStatements(schema string) *statements {
	deps := pgx.Identifier{schema, "crm_departments"}.Sanitize()
	users := pgx.Identifier{schema, "crm_users"}.Sanitize()
	return &statements{
		leads:         newTable(schema, leadSpec(deps)),
		customers:     newTable(schema, customerSpec(deps)),
		contacts:      newTable(schema, contactSpec),
		opportunities: newTable(schema, opportunitySpec(deps)),
		activities:    newTable(schema, activitySpec),
		tickets:       newTable(schema, ticketSpec(deps)),
		users:         newTable(schema, userSpec(users)),
		departments:   newTable(schema, departmentSpec),
		teams:         newTable(schema, teamSpec),
		tasks:         newTable(schema, taskSpec(deps)),

		departmentParent: "SELECT parent_id FROM " + deps + " WHERE id = $1 AND tenant_id = $2",
		departmentChild:  "SELECT id FROM " + deps + " WHERE tenant_id = $2 AND parent_id = $1 ORDER BY id LIMIT 1",
		events:           newEventStatements(schema, pgx.Identifier{schema, "crm_events"}.Sanitize()),
		history:          newHistoryStatements(pgx.Identifier{schema, "crm_history"}.Sanitize()),
	}
}

func cols(names ...string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		out[i] = column{name: n}
	}
	return out
}

// fieldsJSON encodes custom fields for a jsonb column; nil stays NULL so an
// absent map and an empty one both survive a round trip.
func fieldsJSON(f crm.Fields) ([]byte, error) {
	if f == nil {
		return nil, nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode fields: %w", err)
	}
	return b, nil
}

func decodeFields(b []byte) (crm.Fields, error) {
	if b == nil {
		return nil, nil
	}
	var f crm.Fields
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode fields: %w", err)
	}
	if f == nil {
		f = crm.Fields{}
	}
	return f, nil
}

func leadSpec(deps string) spec[crm.Lead, crm.LeadFilter] {
	return spec[crm.Lead, crm.LeadFilter]{
		typ: "lead", table: "crm_leads",
		cols: cols("name", "company", "title", "email", "phone", "industry", "region", "source",
			"company_size", "status", "disqualify_reason", "owner_id", "department_id", "created_by",
			"converted_customer_id", "converted_contact_id", "converted_opportunity_id", "converted_at",
			"tags", "fields"),
		values: func(l *crm.Lead) ([]any, error) {
			f, err := fieldsJSON(l.Fields)
			return []any{l.Name, l.Company, l.Title, l.Email, l.Phone, l.Industry, l.Region, l.Source,
				l.CompanySize, string(l.Status), l.DisqualifyReason, ref(l.OwnerID), ref(l.DepartmentID), ref(l.CreatedBy),
				ref(l.ConvertedCustomerID), ref(l.ConvertedContactID), ref(l.ConvertedOpportunityID), l.ConvertedAt,
				l.Tags, f}, err
		},
		dests: func(l *crm.Lead, s *scratch) []any {
			return []any{&l.Name, &l.Company, &l.Title, &l.Email, &l.Phone, &l.Industry, &l.Region, &l.Source,
				&l.CompanySize, (*string)(&l.Status), &l.DisqualifyReason, (*ref)(&l.OwnerID), (*ref)(&l.DepartmentID), (*ref)(&l.CreatedBy),
				(*ref)(&l.ConvertedCustomerID), (*ref)(&l.ConvertedContactID), (*ref)(&l.ConvertedOpportunityID), &l.ConvertedAt,
				&l.Tags, &s.fields}
		},
		decode: func(l *crm.Lead, s *scratch) (err error) {
			l.Fields, err = decodeFields(s.fields)
			return err
		},
		where: whereLead(deps),
	}
}

func customerSpec(deps string) spec[crm.Customer, crm.CustomerFilter] {
	return spec[crm.Customer, crm.CustomerFilter]{
		typ: "customer", table: "crm_customers",
		cols: cols("kind", "name", "level", "industry", "region", "source", "status", "phone", "email",
			"address", "website", "owner_id", "department_id", "pool_id", "created_by", "last_follow_up_at",
			"last_deal_at", "tags", "fields"),
		values: func(c *crm.Customer) ([]any, error) {
			f, err := fieldsJSON(c.Fields)
			return []any{string(c.Kind), c.Name, c.Level, c.Industry, c.Region, c.Source, string(c.Status), c.Phone, c.Email,
				c.Address, c.Website, ref(c.OwnerID), ref(c.DepartmentID), ref(c.PoolID), ref(c.CreatedBy), c.LastFollowUpAt,
				c.LastDealAt, c.Tags, f}, err
		},
		dests: func(c *crm.Customer, s *scratch) []any {
			return []any{(*string)(&c.Kind), &c.Name, &c.Level, &c.Industry, &c.Region, &c.Source, (*string)(&c.Status), &c.Phone, &c.Email,
				&c.Address, &c.Website, (*ref)(&c.OwnerID), (*ref)(&c.DepartmentID), (*ref)(&c.PoolID), (*ref)(&c.CreatedBy), &c.LastFollowUpAt,
				&c.LastDealAt, &c.Tags, &s.fields}
		},
		decode: func(c *crm.Customer, s *scratch) (err error) {
			c.Fields, err = decodeFields(s.fields)
			return err
		},
		where: whereCustomer(deps),
	}
}

var contactSpec = spec[crm.Contact, crm.ContactFilter]{
	typ: "contact", table: "crm_contacts",
	cols: cols("customer_id", "name", "title", "phones", "emails", "is_primary", "owner_id", "fields"),
	values: func(c *crm.Contact) ([]any, error) {
		f, err := fieldsJSON(c.Fields)
		return []any{ref(c.CustomerID), c.Name, c.Title, c.Phones, c.Emails, c.Primary, ref(c.OwnerID), f}, err
	},
	dests: func(c *crm.Contact, s *scratch) []any {
		return []any{(*ref)(&c.CustomerID), &c.Name, &c.Title, &c.Phones, &c.Emails, &c.Primary, (*ref)(&c.OwnerID), &s.fields}
	},
	decode: func(c *crm.Contact, s *scratch) (err error) {
		c.Fields, err = decodeFields(s.fields)
		return err
	},
	where: whereContact,
}

func opportunitySpec(deps string) spec[crm.Opportunity, crm.OpportunityFilter] {
	c := cols("customer_id", "name", "amount", "amount_currency", "stage", "probability", "expected_close",
		"closed_at", "owner_id", "department_id", "fields", "pipeline", "lost_reason")
	// The amount travels as text both ways: exact, and with its scale.
	c[2].sel, c[2].val = "%s::text", "%s::numeric"
	return spec[crm.Opportunity, crm.OpportunityFilter]{
		typ: "opportunity", table: "crm_opportunities", cols: c,
		values: func(o *crm.Opportunity) ([]any, error) {
			f, err := fieldsJSON(o.Fields)
			var amount, currency *string
			if !o.Amount.IsZero() {
				a, c := o.Amount.Amount().String(), o.Amount.Currency()
				if e := o.Amount.Amount().Exponent(); e < 0 {
					a = o.Amount.Amount().StringFixed(-e)
				}
				amount, currency = &a, &c
			}
			return []any{ref(o.CustomerID), o.Name, amount, currency, string(o.Stage), o.Probability, o.ExpectedClose,
				o.ClosedAt, ref(o.OwnerID), ref(o.DepartmentID), f, o.Pipeline, o.LostReason}, err
		},
		dests: func(o *crm.Opportunity, s *scratch) []any {
			return []any{(*ref)(&o.CustomerID), &o.Name, &s.amount, &s.currency, (*string)(&o.Stage), &o.Probability, &o.ExpectedClose,
				&o.ClosedAt, (*ref)(&o.OwnerID), (*ref)(&o.DepartmentID), &s.fields, &o.Pipeline, &o.LostReason}
		},
		decode: func(o *crm.Opportunity, s *scratch) (err error) {
			if s.amount != nil && s.currency != nil {
				d, err := decimal.NewFromString(*s.amount)
				if err != nil {
					return fmt.Errorf("decode amount: %w", err)
				}
				if o.Amount, err = crm.NewMoney(d, *s.currency); err != nil {
					return fmt.Errorf("decode amount: %w", err)
				}
			}
			o.Fields, err = decodeFields(s.fields)
			return err
		},
		where: whereOpportunity(deps),
	}
}

var activitySpec = spec[crm.Activity, crm.ActivityFilter]{
	typ: "activity", table: "crm_activities",
	cols: cols("kind", "subject_type", "subject_id", "actor_id", "occurred_at", "note", "next_follow_up_at", "fields"),
	values: func(a *crm.Activity) ([]any, error) {
		f, err := fieldsJSON(a.Fields)
		return []any{string(a.Kind), string(a.Subject.Type), ref(a.Subject.ID), ref(a.ActorID), a.OccurredAt, a.Note,
			a.NextFollowUpAt, f}, err
	},
	dests: func(a *crm.Activity, s *scratch) []any {
		return []any{(*string)(&a.Kind), (*string)(&a.Subject.Type), (*ref)(&a.Subject.ID), (*ref)(&a.ActorID), &a.OccurredAt, &a.Note,
			&a.NextFollowUpAt, &s.fields}
	},
	decode: func(a *crm.Activity, s *scratch) (err error) {
		a.Fields, err = decodeFields(s.fields)
		return err
	},
	where: whereActivity,
}

func ticketSpec(deps string) spec[crm.Ticket, crm.TicketFilter] {
	return spec[crm.Ticket, crm.TicketFilter]{
		typ: "ticket", table: "crm_tickets",
		cols: cols("customer_id", "contact_id", "subject", "description", "priority", "status", "assignee_id",
			"team_id", "department_id", "resolved_at", "closed_at", "first_response_at", "satisfaction", "sla_timer_id", "sla_due_at", "fields"),
		values: func(t *crm.Ticket) ([]any, error) {
			f, err := fieldsJSON(t.Fields)
			return []any{ref(t.CustomerID), ref(t.ContactID), t.Subject, t.Description, string(t.Priority), string(t.Status),
				ref(t.AssigneeID), ref(t.TeamID), ref(t.DepartmentID), t.ResolvedAt, t.ClosedAt, t.FirstResponseAt, t.Satisfaction,
				ref(t.SLATimerID), t.SLADueAt, f}, err
		},
		dests: func(t *crm.Ticket, s *scratch) []any {
			return []any{(*ref)(&t.CustomerID), (*ref)(&t.ContactID), &t.Subject, &t.Description, (*string)(&t.Priority), (*string)(&t.Status),
				(*ref)(&t.AssigneeID), (*ref)(&t.TeamID), (*ref)(&t.DepartmentID), &t.ResolvedAt, &t.ClosedAt, &t.FirstResponseAt, &t.Satisfaction,
				(*ref)(&t.SLATimerID), &t.SLADueAt, &s.fields}
		},
		decode: func(t *crm.Ticket, s *scratch) (err error) {
			t.Fields, err = decodeFields(s.fields)
			return err
		},
		where: whereTicket(deps),
	}
}

func userSpec(users string) spec[crm.User, crm.UserFilter] {
	taken := "SELECT id FROM " + users + " WHERE tenant_id = $1 AND email_key = $2 AND id <> $3 LIMIT 1"
	return spec[crm.User, crm.UserFilter]{
		typ: "user", table: "crm_users",
		cols: cols("name", "email", "email_key", "phone", "department_id", "roles", "skills", "regions", "capacity", "active", "fields"),
		values: func(u *crm.User) ([]any, error) {
			f, err := fieldsJSON(u.Fields)
			return []any{u.Name, u.Email, u.EmailKey(), u.Phone, ref(u.DepartmentID), u.Roles, u.Skills, u.Regions, u.Capacity, u.Active, f}, err
		},
		dests: func(u *crm.User, s *scratch) []any {
			return []any{&u.Name, &u.Email, &s.emailKey, &u.Phone, (*ref)(&u.DepartmentID), &u.Roles, &u.Skills, &u.Regions, &u.Capacity, &u.Active, &s.fields}
		},
		decode: func(u *crm.User, s *scratch) (err error) {
			u.Fields, err = decodeFields(s.fields)
			return err
		},
		where: whereUser,
		// The unique index is the guarantee; this check reports the usual case
		// without aborting the caller's transaction.
		unique: func(ctx context.Context, q DBTX, u *crm.User) error {
			var other crm.ID
			err := q.QueryRow(ctx, taken, u.TenantID, u.EmailKey(), key(u.ID)).Scan((*key)(&other))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("email taken by user %s: %w", other, crm.ErrAlreadyExists)
		},
	}
}

var departmentSpec = spec[crm.Department, crm.DepartmentFilter]{
	typ: "department", table: "crm_departments", tree: true,
	cols: cols("name", "parent_id", "manager_id", "fields"),
	values: func(d *crm.Department) ([]any, error) {
		f, err := fieldsJSON(d.Fields)
		return []any{d.Name, ref(d.ParentID), ref(d.ManagerID), f}, err
	},
	dests: func(d *crm.Department, s *scratch) []any {
		return []any{&d.Name, (*ref)(&d.ParentID), (*ref)(&d.ManagerID), &s.fields}
	},
	decode: func(d *crm.Department, s *scratch) (err error) {
		d.Fields, err = decodeFields(s.fields)
		return err
	},
	where: whereDepartment,
}

var teamSpec = spec[crm.Team, crm.TeamFilter]{
	typ: "team", table: "crm_teams",
	cols: cols("name", "department_id", "lead_id", "member_ids", "fields"),
	values: func(t *crm.Team) ([]any, error) {
		f, err := fieldsJSON(t.Fields)
		var members []pgtype.UUID
		if t.MemberIDs != nil {
			members = uuidArray(t.MemberIDs)
		}
		return []any{t.Name, ref(t.DepartmentID), ref(t.LeadID), members, f}, err
	},
	dests: func(t *crm.Team, s *scratch) []any {
		return []any{&t.Name, (*ref)(&t.DepartmentID), (*ref)(&t.LeadID), &s.members, &s.fields}
	},
	decode: func(t *crm.Team, s *scratch) (err error) {
		if s.members != nil {
			t.MemberIDs = make([]crm.ID, len(s.members))
			for i, m := range s.members {
				t.MemberIDs[i] = m.Bytes
			}
		}
		t.Fields, err = decodeFields(s.fields)
		return err
	},
	where: whereTeam,
}

func taskSpec(deps string) spec[crm.Task, crm.TaskFilter] {
	return spec[crm.Task, crm.TaskFilter]{
		typ: "task", table: "crm_tasks",
		cols: cols("kind", "title", "note", "subject_type", "subject_id", "assignee_id", "department_id", "created_by",
			"status", "due_at", "remind_at", "start_at", "end_at", "recurrence", "series_start", "occurrence",
			"previous_id", "completed_by", "completed_at", "fields"),
		values: func(t *crm.Task) ([]any, error) {
			f, err := fieldsJSON(t.Fields)
			if err != nil {
				return nil, err
			}
			var rec []byte
			if t.Recurrence != nil {
				if rec, err = json.Marshal(t.Recurrence); err != nil {
					return nil, fmt.Errorf("encode recurrence: %w", err)
				}
			}
			return []any{string(t.Kind), t.Title, t.Note, string(t.Subject.Type), ref(t.Subject.ID), ref(t.AssigneeID),
				ref(t.DepartmentID), ref(t.CreatedBy), string(t.Status), t.DueAt, t.RemindAt, t.StartAt, t.EndAt, rec,
				t.SeriesStart, t.Occurrence, ref(t.PreviousID), ref(t.CompletedBy), t.CompletedAt, f}, nil
		},
		dests: func(t *crm.Task, s *scratch) []any {
			return []any{(*string)(&t.Kind), &t.Title, &t.Note, (*string)(&t.Subject.Type), (*ref)(&t.Subject.ID), (*ref)(&t.AssigneeID),
				(*ref)(&t.DepartmentID), (*ref)(&t.CreatedBy), (*string)(&t.Status), &t.DueAt, &t.RemindAt, &t.StartAt, &t.EndAt, &s.recurrence,
				&t.SeriesStart, &t.Occurrence, (*ref)(&t.PreviousID), (*ref)(&t.CompletedBy), &t.CompletedAt, &s.fields}
		},
		decode: func(t *crm.Task, s *scratch) (err error) {
			if s.recurrence != nil {
				t.Recurrence = new(crm.Recurrence)
				if err := json.Unmarshal(s.recurrence, t.Recurrence); err != nil {
					return fmt.Errorf("decode recurrence: %w", err)
				}
			}
			t.Fields, err = decodeFields(s.fields)
			return err
		},
		where: whereTask(deps),
	}
}
