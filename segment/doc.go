// Package segment groups customers for marketing: RFM scores computed
// from won opportunities, and rule-based segments over customer fields,
// custom fields, tags, RFM scores and activity counts, listed in pages
// within a viewer's data scope.
//
// # RFM
//
// [Service.Compute] aggregates each customer's won opportunities, in the
// store: recency (when the latest one closed), frequency (how many) and
// monetary value (the sum of their amounts in one currency the caller
// names, other currencies converted with [Rates] the caller gives; a won
// amount in a currency without a rate fails the computation, naming
// "rates.<currency>", so currencies are never mixed). Each axis is scored
// 1 to 5 by quintile among the tenant's scored customers ([Quintile]:
// equal values share the score of their lowest rank), and R with FM, the
// mean of F and M, places the customer in one of the named segments of
// [Name]. The scores are stored, replacing the previous computation, so
// rules can select by them; running Compute again is safe.
//
// # Rules
//
// A [Rule] is JSON in crmkit's one condition language (package cond)
// against [Schema]. [Parse] refuses unknown keys, unknown fields and
// unknown segment names, naming the JSON path. A compiled [Segment] knows
// its [Plan]: the parts storage answers from its indexes (status, owner,
// department, pool, tags, RFM scores and segment) and whether the rest
// must be tested per row.
//
// # Members
//
// [Service.Members] lists a segment's members in customer ID order, one
// page at a time, within a [crm.DataScope]. The store's [Store] port
// (memstore and pgstore have it) finds the candidates; the service tests
// them with the whole rule when the plan says so. Without the port the
// service reports [crm.ErrUnsupported].
package segment
