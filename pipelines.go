package crmkit

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
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
