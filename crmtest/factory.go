package crmtest

import (
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
)

// The factories return valid records with a fresh ID from ids and sensible
// defaults; each applies the optional edits in order. They never touch
// storage.

// Lead returns a new lead.
func Lead(ids crm.IDGenerator, edits ...func(*crm.Lead)) *crm.Lead {
	id := ids.NewID()
	l := &crm.Lead{
		Meta:    crm.Meta{ID: id},
		Name:    "Wang Fang",
		Company: "Huateng Technology",
		Email:   fmt.Sprintf("lead-%s@example.com", short(id)),
		Source:  "web_form",
		Status:  crm.LeadNew,
	}
	return apply(l, edits)
}

// Customer returns a new potential company customer.
func Customer(ids crm.IDGenerator, edits ...func(*crm.Customer)) *crm.Customer {
	id := ids.NewID()
	c := &crm.Customer{
		Meta:   crm.Meta{ID: id},
		Kind:   crm.CustomerCompany,
		Name:   "Customer " + short(id),
		Level:  "B",
		Status: crm.CustomerPotential,
	}
	return apply(c, edits)
}

// Contact returns a new contact of customerID.
func Contact(ids crm.IDGenerator, customerID crm.ID, edits ...func(*crm.Contact)) *crm.Contact {
	id := ids.NewID()
	c := &crm.Contact{Meta: crm.Meta{ID: id}, CustomerID: customerID, Name: "Li Na"}
	return apply(c, edits)
}

// Opportunity returns a new opportunity of customerID worth 100000 CNY.
func Opportunity(ids crm.IDGenerator, customerID crm.ID, edits ...func(*crm.Opportunity)) *crm.Opportunity {
	id := ids.NewID()
	amount, _ := crm.NewMoney(decimal.NewFromInt(100000), "CNY")
	o := &crm.Opportunity{
		Meta: crm.Meta{ID: id}, CustomerID: customerID, Name: "Deal " + short(id),
		Amount: amount, Stage: crm.StageQualification, Probability: 10,
	}
	return apply(o, edits)
}

// Activity returns a call on subject by actor at [Epoch]; tests usually set
// OccurredAt from their clock.
func Activity(ids crm.IDGenerator, subject crm.Ref, actor crm.ID, edits ...func(*crm.Activity)) *crm.Activity {
	a := &crm.Activity{
		Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.ActivityCall, Subject: subject,
		ActorID: actor, OccurredAt: epoch, Note: "called",
	}
	return apply(a, edits)
}

// Ticket returns a new ticket ([crm.TicketNew]) of normal priority.
func Ticket(ids crm.IDGenerator, edits ...func(*crm.Ticket)) *crm.Ticket {
	t := &crm.Ticket{
		Meta: crm.Meta{ID: ids.NewID()}, Subject: "Cannot log in",
		Priority: crm.PriorityNormal, Status: crm.TicketNew,
	}
	return apply(t, edits)
}

// Task returns a new open to-do about subject for assignee, due a day
// after epoch.
func Task(ids crm.IDGenerator, subject crm.Ref, assignee crm.ID, edits ...func(*crm.Task)) *crm.Task {
	t := &crm.Task{
		Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.TaskTodo, Title: "Call back", Subject: subject,
		AssigneeID: assignee, Status: crm.TaskOpen, DueAt: epoch.Add(24 * time.Hour),
	}
	return apply(t, edits)
}

// User returns a new active user with a unique email.
func User(ids crm.IDGenerator, edits ...func(*crm.User)) *crm.User {
	id := ids.NewID()
	u := &crm.User{
		Meta: crm.Meta{ID: id}, Name: "User " + short(id),
		Email: fmt.Sprintf("user-%s@example.com", short(id)), Active: true,
	}
	return apply(u, edits)
}

// Department returns a new department below parent (NilID for a root).
func Department(ids crm.IDGenerator, name string, parent crm.ID, edits ...func(*crm.Department)) *crm.Department {
	d := &crm.Department{Meta: crm.Meta{ID: ids.NewID()}, Name: name, ParentID: parent}
	return apply(d, edits)
}

// Team returns a new team with the given members.
func Team(ids crm.IDGenerator, name string, members []crm.ID, edits ...func(*crm.Team)) *crm.Team {
	t := &crm.Team{Meta: crm.Meta{ID: ids.NewID()}, Name: name, MemberIDs: members}
	return apply(t, edits)
}

func apply[T any](v *T, edits []func(*T)) *T {
	for _, e := range edits {
		e(v)
	}
	return v
}

// short is the last 12 hex digits of id, enough to tell test records apart.
func short(id crm.ID) string { s := id.String(); return s[len(s)-12:] }
