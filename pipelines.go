package crmkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/pool"
)

// FigureRequest asks for a pipeline figure as a viewer sees it: Viewer
// (required) is the user reading, and the figure covers the
// opportunities the viewer may view under [Config.Permissions]. The
// embedded request's Scope narrows it further (a department tree, say)
// only for a viewer the policy lets see every opportunity; for one it
// restricts, Scope must be nil and the viewer's own scope applies.
type FigureRequest struct {
	Viewer crm.ID
	pipeline.ReportRequest
}

// scoped returns req's report request within the viewer's view scope of
// opportunities. Without a compiled policy (no permissions, or an
// authorizer of the host's own) the request passes as it is. A policy
// whose scope of opportunities is wider than it (PostFilter: records
// need a check each) cannot bound an aggregate, so it is refused with
// [crm.ErrFailedPrecondition].
func (c *CRM) scoped(ctx context.Context, req FigureRequest) (pipeline.ReportRequest, error) {
	out := req.ReportRequest
	if req.Viewer == crm.NilID {
		return out, crm.Invalid("viewer", "is required")
	}
	v, err := c.viewFilter(ctx, req.Viewer, crm.TypeOpportunity)
	if err != nil || v == nil {
		return out, err
	}
	if v.filter.PostFilter {
		return out, fmt.Errorf("%w: the viewer's view of opportunities needs a check of each record, which a figure cannot make", crm.ErrFailedPrecondition)
	}
	if v.filter.Scope.All {
		return out, nil
	}
	if out.Scope != nil {
		return out, crm.Invalid("scope", "must be empty: the viewer's permission scope bounds the figure")
	}
	out.Scope = v.filter.Scope
	return out, nil
}

// Funnel is [pipeline.Service.Funnel] within the viewer's scope.
func (c *CRM) Funnel(ctx context.Context, req FigureRequest) (*pipeline.Funnel, error) {
	r, err := c.scoped(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("crmkit: funnel: %w", err)
	}
	return c.Pipelines.Funnel(ctx, r)
}

// PipelinePerformance is [pipeline.Service.Performance] (win rate, deal
// size, sales cycle) within the viewer's scope.
func (c *CRM) PipelinePerformance(ctx context.Context, req FigureRequest) (*pipeline.Performance, error) {
	r, err := c.scoped(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("crmkit: pipeline performance: %w", err)
	}
	return c.Pipelines.Performance(ctx, r)
}

// PipelineValue is [pipeline.Service.Value] (pipeline and weighted
// pipeline) within the viewer's scope.
func (c *CRM) PipelineValue(ctx context.Context, req FigureRequest) (*pipeline.PipelineValue, error) {
	r, err := c.scoped(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("crmkit: pipeline value: %w", err)
	}
	return c.Pipelines.Value(ctx, r)
}

// Forecast is [pipeline.Service.Forecast] within the viewer's scope.
func (c *CRM) Forecast(ctx context.Context, req FigureRequest) ([]pipeline.ForecastRow, error) {
	r, err := c.scoped(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("crmkit: forecast: %w", err)
	}
	return c.Pipelines.Forecast(ctx, r)
}

// MoveResult is a move of an opportunity through its pipeline, or its
// start in it ([CRM.StartOpportunity]), and what it changed.
type MoveResult struct {
	// Opportunity is the moved or started opportunity as stored, a copy
	// the caller owns.
	Opportunity *crm.Opportunity
	// Holding is the pool holding of the opportunity's customer with its
	// facts (an open opportunity, the latest one) and its recycling due
	// time recomputed; nil when the opportunity has no customer or the
	// customer is in no pool.
	Holding *pool.Holding
}

// StartOpportunityRequest asks to start a new opportunity in its
// pipeline as a user.
type StartOpportunityRequest struct {
	// Opportunity is the new deal. Required; it needs a customer and a
	// name. An ID of crm.NilID gets one from the configured generator; an
	// empty Stage is its pipeline's first open stage and a zero
	// Probability that stage's default ([pipeline.Service.Prepare]). An
	// empty OwnerID is the actor, an empty DepartmentID the owner's
	// department.
	Opportunity *crm.Opportunity
	// Actor is the user starting the deal, who enters its first stay.
	// Required with [Config.Permissions]; crm.NilID for the system
	// otherwise.
	Actor crm.ID
}

// StartOpportunity starts a new opportunity in one unit of work; see
// [CRM.StartOpportunityTx]. On success req.Opportunity is updated to the
// stored opportunity; on error it is not modified.
func (c *CRM) StartOpportunity(ctx context.Context, req StartOpportunityRequest) (*MoveResult, error) {
	out, err := inUnit(ctx, c.store, req, c.StartOpportunityTx)
	if err != nil {
		return nil, err
	}
	*req.Opportunity = *out.Opportunity.Clone()
	return out, nil
}

// StartOpportunityTx stores a new opportunity and enters its first stay
// inside the caller's unit of work ([pipeline.Service.StartTx]: the
// pipeline's first open stage unless the deal names another open stage,
// with the fields that stage requires), as req.Actor:
//
//   - a known req.Actor ("actor") owns the deal unless it names an owner,
//     and the deal belongs to its owner's department unless it names one
//     (an unknown owner is a validation error on "owner_id");
//   - with [Config.Permissions], req.Actor is required ("actor") and needs
//     the policy's create grant on the deal as it will be stored (its
//     stage, owner and department; the actor's department as the
//     creator's); a refusal is a [*permission.DeniedError] (matching
//     [crm.ErrPermissionDenied]) and nothing is written;
//   - in the same unit of work the pool holding of the deal's customer is
//     recomputed ([pool.Service.RecomputeTx]), so the new open deal
//     protects the customer from a pool rule's open_opportunity
//     exclusion at once, without waiting for another operation.
//
// Bad input is a [*crm.ValidationError] naming the field ("opportunity",
// "actor", "owner_id", "customer_id", "name", "pipeline", "stage", a
// field the stage requires). Any failure keeps nothing; on error the
// caller must roll back. req.Opportunity is not modified: the result
// holds the stored copy.
func (c *CRM) StartOpportunityTx(ctx context.Context, tx crm.Tx, req StartOpportunityRequest) (*MoveResult, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "create")
	fail := func(err error) (*MoveResult, error) {
		return nil, fmt.Errorf("crmkit: start opportunity: %w", err)
	}
	if req.Opportunity == nil {
		return fail(crm.Invalid("opportunity", "is required"))
	}
	if c.cfg.Permissions != nil && req.Actor == crm.NilID {
		return fail(crm.Invalid("actor", "is required: the permission policy decides who may create an opportunity"))
	}
	o := req.Opportunity.Clone()
	if o.ID == crm.NilID {
		o.ID = c.cfg.IDs.NewID()
	}
	actor, err := c.creator(ctx, tx, req.Actor)
	if err != nil {
		return fail(err)
	}
	if err := c.stampOpportunity(ctx, tx, o, actor); err != nil {
		return fail(err)
	}
	if err := c.Pipelines.Prepare(ctx, o); err != nil {
		return fail(err)
	}
	if c.cfg.Permissions != nil {
		r := permission.OpportunityResource(o, actor.DepartmentID)
		if err := c.seams.authorize(ctx, tx, actor, permission.ActionCreate, &r); err != nil {
			return fail(err)
		}
	}
	if err := c.Pipelines.StartTx(ctx, tx, o, req.Actor); err != nil {
		return nil, fmt.Errorf("crmkit: %w", err)
	}
	return c.dealResult(ctx, tx, o, fail)
}

// stampOpportunity gives a new deal its owner (actor unless it names
// one) and department (its owner's unless it names one); an unknown owner
// it must read is a validation error on "owner_id". A nil actor is the
// system, which owns no deal.
func (c *CRM) stampOpportunity(ctx context.Context, tx crm.Tx, o *crm.Opportunity, actor *crm.User) error {
	if o.OwnerID == crm.NilID && actor != nil {
		o.OwnerID = actor.ID
	}
	if o.DepartmentID != crm.NilID || o.OwnerID == crm.NilID {
		return nil
	}
	owner := actor
	if actor == nil || o.OwnerID != actor.ID {
		u, err := tx.Users().Get(ctx, o.OwnerID)
		if errors.Is(err, crm.ErrNotFound) {
			return crm.Invalid("owner_id", "unknown user %s", o.OwnerID)
		}
		if err != nil {
			return err
		}
		owner = u
	}
	o.DepartmentID = owner.DepartmentID
	return nil
}

// MoveOpportunity moves an opportunity to another stage of its pipeline
// in one unit of work; see [CRM.MoveOpportunityTx].
func (c *CRM) MoveOpportunity(ctx context.Context, req pipeline.MoveRequest) (*MoveResult, error) {
	return inUnit(ctx, c.store, req, c.MoveOpportunityTx)
}

// MoveOpportunityTx moves an opportunity to another stage of its pipeline
// inside the caller's unit of work ([pipeline.Service.MoveTx]: the stage
// rules, the stage history and the stage-changed event), as req.Actor:
//
//   - with [Config.Permissions], req.Actor is required ("actor") and needs
//     the policy's edit grant on the opportunity as stored; a refusal is a
//     [*permission.DeniedError] (matching [crm.ErrPermissionDenied]). The
//     opportunity is moved only at the version that was authorized: a
//     concurrent change in between is [crm.ErrConflict];
//   - in the same unit of work the pool holding of the opportunity's
//     customer is recomputed ([pool.Service.RecomputeTx]), so a move that
//     closes the customer's last open opportunity (won or lost) ends the
//     protection a pool rule's open_opportunity exclusion gave it, and a
//     reopening restores it, without waiting for another operation.
//
// Bad input is a [*crm.ValidationError] naming the field ("actor",
// "opportunity_id", "to", "lost_reason", a field the stage requires); an
// unknown opportunity is [crm.ErrNotFound]. Any failure keeps nothing; on
// error the caller must roll back.
func (c *CRM) MoveOpportunityTx(ctx context.Context, tx crm.Tx, req pipeline.MoveRequest) (*MoveResult, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Actor, "move_opportunity")
	fail := func(err error) (*MoveResult, error) {
		return nil, fmt.Errorf("crmkit: move opportunity %s: %w", req.OpportunityID, err)
	}
	if c.cfg.Permissions != nil && req.Actor == crm.NilID {
		return fail(crm.Invalid("actor", "is required: the permission policy decides who may move an opportunity"))
	}
	if req.OpportunityID == crm.NilID {
		return fail(crm.Invalid("opportunity_id", "is required"))
	}
	if c.cfg.Permissions != nil {
		o, err := tx.Opportunities().Get(ctx, req.OpportunityID)
		if err != nil {
			return fail(err)
		}
		if err := c.seams.authorizeRecord(ctx, tx, req.Actor, permission.ActionEdit, o); err != nil {
			return fail(err)
		}
		if req.Version == 0 {
			req.Version = o.Version
		}
	}
	o, err := c.Pipelines.MoveTx(ctx, tx, req)
	if err != nil {
		return nil, fmt.Errorf("crmkit: %w", err)
	}
	return c.dealResult(ctx, tx, o, fail)
}

// OpportunityHistory returns the stage history of an opportunity
// ([pipeline.Service.HistoryTx]: its stays, in order) as viewer sees it:
// with [Config.Permissions] the viewer needs the policy's view grant on
// the opportunity, else a [*permission.DeniedError] (matching
// [crm.ErrPermissionDenied]). Errors: a [*crm.ValidationError] on
// "viewer" (missing or unknown) or "opportunity_id", [crm.ErrNotFound]
// for an unknown opportunity.
func (c *CRM) OpportunityHistory(ctx context.Context, viewer, opportunityID crm.ID) ([]pipeline.StageEntry, error) {
	var out []pipeline.StageEntry
	err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		switch {
		case viewer == crm.NilID:
			return crm.Invalid("viewer", "is required")
		case opportunityID == crm.NilID:
			return crm.Invalid("opportunity_id", "is required")
		}
		u, err := tx.Users().Get(ctx, viewer)
		if errors.Is(err, crm.ErrNotFound) {
			return crm.Invalid("viewer", "unknown user %s", viewer)
		}
		if err != nil {
			return err
		}
		o, err := tx.Opportunities().Get(ctx, opportunityID)
		if err != nil {
			return err
		}
		if c.cfg.Permissions != nil {
			r, err := resourceOf(ctx, tx, o)
			if err != nil {
				return err
			}
			if err := c.seams.authorize(ctx, tx, u, permission.ActionView, &r); err != nil {
				return err
			}
		}
		out, err = c.Pipelines.HistoryTx(ctx, tx, opportunityID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("crmkit: stage history of opportunity %s: %w", opportunityID, err)
	}
	return out, nil
}

// dealResult returns o with its customer's pool holding, recomputed in
// tx so that whether the customer has an open deal (which spares it from
// recycling) follows the change at once; a customer in no pool has none.
func (c *CRM) dealResult(ctx context.Context, tx crm.Tx, o *crm.Opportunity, fail func(error) (*MoveResult, error)) (*MoveResult, error) {
	out := &MoveResult{Opportunity: o.Clone()}
	if o.CustomerID == crm.NilID {
		return out, nil
	}
	h, err := c.Pools.RecomputeTx(ctx, tx, o.CustomerID)
	switch {
	case errors.Is(err, pool.ErrNotInPool):
	case err != nil:
		return fail(err)
	default:
		out.Holding = h
	}
	return out, nil
}
