package crmkit

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/workflow"
)

// RouteLeadRequest asks to route a lead to a salesperson.
type RouteLeadRequest struct {
	// LeadID is the lead to route. Required.
	LeadID crm.ID
	// Actor is the user routing it; crm.NilID for the system (a web form's
	// intake). With [Config.Permissions] an actor needs the edit grant on
	// the lead.
	Actor crm.ID
	// Explain asks for the decision's explanation (every rule tried and
	// every member considered), read in the same unit of work.
	Explain bool
}

// RoutedLead is a routed lead.
type RoutedLead struct {
	// Lead is the stored lead with its new owner and department (a copy
	// the caller owns). A decision for a queue leaves them as they were.
	Lead *crm.Lead
	// Decision is the router's decision.
	Decision workflow.Decision
	// Explanation is set when the request asked for it.
	Explanation *workflow.Explanation
}

// RouteLead routes a lead in one unit of work; see [CRM.RouteLeadTx].
func (c *CRM) RouteLead(ctx context.Context, req RouteLeadRequest) (*RoutedLead, error) {
	return inUnit(ctx, c.store, req, c.RouteLeadTx)
}

// RouteLeadTx routes a lead with [Config.Router] inside the caller's unit
// of work: the decision, its routing state (cursor, load, quota), the
// lead.routed event and the lead's new owner and department (the owner's
// home department) commit together or not at all. Without a router it
// returns an error matching [crm.ErrFailedPrecondition]; a missing lead is
// [crm.ErrNotFound]; a converted or disqualified lead is refused with
// [crm.ErrFailedPrecondition].
func (c *CRM) RouteLeadTx(ctx context.Context, tx crm.Tx, req RouteLeadRequest) (*RoutedLead, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "route")
	fail := func(err error) (*RoutedLead, error) {
		return nil, fmt.Errorf("crmkit: route lead %s: %w", req.LeadID, err)
	}
	if c.Router == nil {
		return fail(fmt.Errorf("no router configured (Config.Router): %w", crm.ErrFailedPrecondition))
	}
	wt, ok := crm.As[workflow.RouteTx](tx)
	if !ok {
		return fail(fmt.Errorf("storage adapter %T has no routing port: %w", tx, crm.ErrUnsupported))
	}
	l, err := tx.Leads().Get(ctx, req.LeadID)
	if err != nil {
		return fail(err)
	}
	if l.Status == crm.LeadConverted || l.Status == crm.LeadDisqualified {
		return fail(fmt.Errorf("lead is %s: %w", l.Status, crm.ErrFailedPrecondition))
	}
	if c.cfg.Permissions != nil && req.Actor != crm.NilID {
		if err := c.seams.authorizeRecord(ctx, tx, req.Actor, permission.ActionEdit, l); err != nil {
			return fail(err)
		}
	}
	rec, err := c.cfg.LeadRecord(c.Router.Schema(), l)
	if err != nil {
		return fail(fmt.Errorf("routing record: %w", err))
	}
	rq := &workflow.Request{Record: rec, Now: c.cfg.Clock.Now(), Owner: l.OwnerID}
	out := &RoutedLead{}
	if req.Explain {
		st := c.Router.NewState()
		if err := wt.Routing().LoadRouting(ctx, c.Router.RuleSet().Name, c.Router.Day(rq.Now), st); err != nil {
			return fail(err)
		}
		if out.Explanation, err = c.Router.Explain(st, rq); err != nil {
			return fail(err)
		}
	}
	if out.Decision, err = c.Router.RouteTx(ctx, wt, c.cfg.IDs, l.ID, rq); err != nil {
		return fail(err)
	}
	if u := out.Decision.UserID; u != crm.NilID && u != l.OwnerID {
		owner, err := tx.Users().Get(ctx, u)
		if err != nil {
			return fail(fmt.Errorf("routed owner %s: %w", u, err))
		}
		l.OwnerID, l.DepartmentID = owner.ID, owner.DepartmentID
		if err := tx.Leads().Update(ctx, l); err != nil {
			return fail(err)
		}
	}
	out.Lead = l
	return out, nil
}
