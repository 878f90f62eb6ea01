package crmkit

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/kpi"
)

// KPIRequest asks for a viewer's figures of one period.
type KPIRequest struct {
	// Viewer is the user reading the figures. Required.
	Viewer crm.ID
	// Period is the reported range and its buckets; see [kpi.Request].
	Period crm.Period
}

// KPIs returns the figures of package kpi for req.Period, counting only
// what the viewer may view: with a [*permission.Policy] or
// [*permission.Registry] in [Config.Permissions], the leads, customers
// (and so pool traffic) and tickets of the policy's list filter for each
// record type, so a manager sees her department tree. A list filter wider
// than the policy ([permission.Filter.PostFilter]) cannot be applied to
// figures record by record, so it is refused with
// [crm.ErrPermissionDenied] rather than widened. Without such a policy
// the figures cover the whole tenant. Errors: a [*crm.ValidationError]
// naming the field ("viewer", "period.to", "period.bucket",
// "period.location"), and those of [kpi.ReportTx].
func (c *CRM) KPIs(ctx context.Context, req KPIRequest) (*kpi.Report, error) {
	fail := func(err error) (*kpi.Report, error) { return nil, fmt.Errorf("crmkit: kpis: %w", err) }
	if req.Viewer == crm.NilID {
		return fail(crm.Invalid("viewer", "is required"))
	}
	kreq := kpi.Request{Period: req.Period}
	for _, s := range []struct {
		rt    crm.RecordType
		scope **crm.DataScope
	}{
		{crm.TypeLead, &kreq.Scope.Leads},
		{crm.TypeCustomer, &kreq.Scope.Customers},
		{crm.TypeTicket, &kreq.Scope.Tickets},
	} {
		v, err := c.viewFilter(ctx, req.Viewer, s.rt)
		if err != nil {
			return fail(err)
		}
		if v == nil {
			break
		}
		if v.filter.PostFilter {
			return fail(fmt.Errorf("%w: the viewer's %s scope is wider than the policy and figures cannot be checked record by record",
				crm.ErrPermissionDenied, s.rt))
		}
		*s.scope = v.filter.Scope
	}
	var out *kpi.Report
	err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		var err error
		out, err = kpi.ReportTx(ctx, tx, kreq)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}
