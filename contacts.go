package crmkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
)

// CreateContactRequest asks to add a contact person to a customer.
type CreateContactRequest struct {
	// Contact is the new contact; its CustomerID is required. An ID of
	// crm.NilID gets one from the configured generator. It is not
	// modified.
	Contact *crm.Contact
	// Actor is the user adding the contact; crm.NilID for the system (an
	// import), which no permission policy is asked about.
	Actor crm.ID
	// Policy overrides [Config.EntryPolicy] for this entry point. Defaults
	// to nil.
	Policy *dedupe.Policy
}

// ContactResult is a stored contact and the contacts of its customer it
// was let in beside.
type ContactResult struct {
	// Contact is the stored contact, a copy the caller owns.
	Contact *crm.Contact
	// Candidates are the customer's contacts it may duplicate, best first,
	// that the policy warned about.
	Candidates []dedupe.Candidate
}

// CreateContact adds a contact in one unit of work; see
// [CRM.CreateContactTx].
func (c *CRM) CreateContact(ctx context.Context, req CreateContactRequest) (*ContactResult, error) {
	return inUnit(ctx, c.store, req, c.CreateContactTx)
}

// CreateContactTx adds a contact to its customer inside the caller's unit
// of work, checked against the customer's other contacts through the same
// keys and policy as customers ([dedupe.Service.EnterContactTx]): one with
// the name and first phone of a contact the customer has is refused with a
// [*dedupe.ContactBlockedError] (matching [crm.ErrAlreadyExists]), others
// are decided by score. With [Config.Permissions] the actor needs the edit
// grant on the customer. An unknown customer is [crm.ErrNotFound], a
// merged one [pool.ErrMerged]. On error the caller must roll back.
func (c *CRM) CreateContactTx(ctx context.Context, tx crm.Tx, req CreateContactRequest) (*ContactResult, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "create")
	if req.Contact == nil {
		return nil, fmt.Errorf("crmkit: create contact: %w", crm.Invalid("contact", "is required"))
	}
	if req.Contact.CustomerID == crm.NilID {
		return nil, fmt.Errorf("crmkit: create contact: %w", crm.Invalid("contact.customer_id", "is required"))
	}
	fail := func(err error) (*ContactResult, error) {
		return nil, fmt.Errorf("crmkit: create contact for customer %s: %w", req.Contact.CustomerID, err)
	}
	cust, err := tx.Customers().Get(ctx, req.Contact.CustomerID)
	if err != nil {
		return fail(err)
	}
	if _, merged := cust.MergedInto(); merged {
		return fail(pool.ErrMerged)
	}
	if c.cfg.Permissions != nil && req.Actor != crm.NilID {
		if err := c.seams.authorizeRecord(ctx, tx, req.Actor, permission.ActionEdit, cust); err != nil {
			return fail(err)
		}
	}
	policy := c.seams.policy
	if req.Policy != nil {
		policy = *req.Policy
	}
	res, err := c.Dedupe.EnterContactTx(ctx, tx, dedupe.ContactEntryRequest{Contact: req.Contact, Policy: policy, ActorID: req.Actor})
	var blocked *dedupe.ContactBlockedError
	if errors.As(err, &blocked) {
		return nil, err
	}
	if err != nil {
		return fail(err)
	}
	out := &ContactResult{Contact: res.Contact}
	if res.Action == dedupe.Warn {
		out.Candidates = res.Candidates
	}
	return out, nil
}
