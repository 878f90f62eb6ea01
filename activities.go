package crmkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/task"
)

// RecordActivityRequest asks to record a follow-up.
type RecordActivityRequest struct {
	// Activity is the call, visit, email or note. Required. An ID of
	// crm.NilID gets one from the configured generator, an empty ActorID
	// the Actor, a zero OccurredAt the clock's now.
	Activity *crm.Activity
	// Actor is the user recording it; crm.NilID for the system, which no
	// permission policy is asked about.
	Actor crm.ID
	// TaskID is the open task the activity answers, completed with it;
	// crm.NilID for none.
	TaskID crm.ID
}

// ActivityResult is a recorded activity and what it changed.
type ActivityResult struct {
	// Activity is the stored activity, a copy the caller owns.
	Activity *crm.Activity
	// Customer is the customer whose last follow-up the activity set, as
	// stored; nil when the subject has no customer (a lead, a ticket
	// without one).
	Customer *crm.Customer
	// Holding is the customer's pool holding with its recycling due time
	// recomputed; nil when the customer is not in a pool.
	Holding *pool.Holding
	// Task is the completed task and its next occurrence; nil without
	// [RecordActivityRequest.TaskID].
	Task *task.CompleteResult
}

// RecordActivity records a follow-up in one unit of work; see
// [CRM.RecordActivityTx].
func (c *CRM) RecordActivity(ctx context.Context, req RecordActivityRequest) (*ActivityResult, error) {
	return inUnit(ctx, c.store, req, c.RecordActivityTx)
}

// RecordActivityTx records a follow-up inside the caller's unit of work,
// and in the same unit of work sets the last follow-up
// ([crm.Customer.LastFollowUpAt]) of the customer it is about (the
// subject itself, or the customer of the contact, opportunity or ticket)
// to its OccurredAt unless a later one is recorded, recomputes the
// customer's pool holding so its recycling due time counts from the
// follow-up ([pool.Service.RecomputeTx]; a customer in no pool has none),
// and completes the task it answers ([task.Service.CompleteTx]). Any
// failure keeps nothing: an invalid activity or an unknown subject
// ([*crm.ValidationError] naming the field, "activity.subject.id"), a task
// that is not open ([task.ErrNotOpen]), a concurrent change of the
// customer ([crm.ErrConflict]). With [Config.Permissions] the actor needs
// the edit grant on the customer (on the subject itself when it has no
// customer). On error the caller must roll back; req.Activity is not
// modified.
func (c *CRM) RecordActivityTx(ctx context.Context, tx crm.Tx, req RecordActivityRequest) (*ActivityResult, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "record_activity")
	fail := func(err error) (*ActivityResult, error) {
		return nil, fmt.Errorf("crmkit: record activity: %w", err)
	}
	if req.Activity == nil {
		return fail(crm.Invalid("activity", "is required"))
	}
	a := req.Activity.Clone()
	if a.ID == crm.NilID {
		a.ID = c.cfg.IDs.NewID()
	}
	if a.ActorID == crm.NilID {
		a.ActorID = req.Actor
	}
	if a.OccurredAt.IsZero() {
		a.OccurredAt = c.cfg.Clock.Now()
	}
	a.Normalise()
	if err := a.Validate(); err != nil {
		var p crm.Problems
		p.MergeAt("activity", err)
		return fail(p.Err())
	}
	cust, err := subjectCustomer(ctx, tx, a.Subject)
	if err != nil {
		return fail(err)
	}
	if c.cfg.Permissions != nil && req.Actor != crm.NilID {
		if cust != nil {
			err = c.seams.authorizeRecord(ctx, tx, req.Actor, permission.ActionEdit, cust)
		} else {
			err = c.seams.authorizeRef(ctx, tx, req.Actor, permission.ActionEdit, a.Subject)
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := tx.Activities().Create(ctx, a); err != nil {
		return fail(err)
	}
	out := &ActivityResult{Activity: a.Clone()}
	if cust != nil {
		if cust.LastFollowUpAt == nil || cust.LastFollowUpAt.Before(a.OccurredAt) {
			at := a.OccurredAt
			cust.LastFollowUpAt = &at
			if err := tx.Customers().Update(ctx, cust); err != nil {
				return fail(fmt.Errorf("customer %s: %w", cust.ID, err))
			}
		}
		h, err := c.Pools.RecomputeTx(ctx, tx, cust.ID)
		switch {
		case errors.Is(err, pool.ErrNotInPool):
		case err != nil:
			return fail(err)
		default:
			out.Holding = h
		}
		out.Customer = cust.Clone()
	}
	if req.TaskID != crm.NilID {
		done, err := c.Tasks.CompleteTx(ctx, tx, task.CompleteRequest{TaskID: req.TaskID, ActivityID: a.ID, Actor: req.Actor})
		if err != nil {
			return fail(err)
		}
		out.Task = done
	}
	return out, nil
}

// subjectCustomer returns the customer an activity about ref is about:
// the customer itself, or the customer of a contact, opportunity or
// ticket; nil for a lead or a ticket without a customer. An unknown
// subject is a *crm.ValidationError on "activity.subject.id".
func subjectCustomer(ctx context.Context, tx crm.Tx, ref crm.Ref) (*crm.Customer, error) {
	var customerID crm.ID
	var err error
	switch ref.Type {
	case crm.TypeCustomer:
		customerID = ref.ID
	case crm.TypeContact:
		var ct *crm.Contact
		if ct, err = tx.Contacts().Get(ctx, ref.ID); err == nil {
			customerID = ct.CustomerID
		}
	case crm.TypeOpportunity:
		var o *crm.Opportunity
		if o, err = tx.Opportunities().Get(ctx, ref.ID); err == nil {
			customerID = o.CustomerID
		}
	case crm.TypeTicket:
		var t *crm.Ticket
		if t, err = tx.Tickets().Get(ctx, ref.ID); err == nil {
			customerID = t.CustomerID
		}
	case crm.TypeLead:
		_, err = tx.Leads().Get(ctx, ref.ID)
	}
	if errors.Is(err, crm.ErrNotFound) {
		return nil, crm.Invalid("activity.subject.id", "unknown %s %s", ref.Type, ref.ID)
	}
	if err != nil || customerID == crm.NilID {
		return nil, err
	}
	cust, err := tx.Customers().Get(ctx, customerID)
	if errors.Is(err, crm.ErrNotFound) && ref.Type == crm.TypeCustomer {
		return nil, crm.Invalid("activity.subject.id", "unknown customer %s", ref.ID)
	}
	if errors.Is(err, crm.ErrNotFound) {
		return nil, nil // the record names a customer that is gone
	}
	return cust, err
}
