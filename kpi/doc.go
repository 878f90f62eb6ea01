// Package kpi computes the figures managers read: lead conversion and
// follow-up, dealt customers won, kept and lost, service response,
// resolution, SLA compliance and satisfaction, and pool traffic, per
// bucket of a [crm.Period] in the tenant's time zone and within a reader's
// [crm.DataScope].
//
// # Where the figures are computed
//
// The figures are computed where the data lives: a unit of work that
// implements [Store] (memstore in memory, pgstore with SQL aggregates)
// returns tallies, and this package derives the rates and means from them
// ([LeadRow.ConversionRate], [TicketRow.SLACompliance], ...), so each rule
// is written once. [Service.Report] reads every figure in one unit of
// work; without the port it reports [crm.ErrUnsupported]. The
// opportunity figures (funnel, win rate, pipeline) are not in this
// package.
//
// # Periods and buckets
//
// A time t is counted when it lies in [Period.From, Period.To) and falls
// in the bucket [crm.Period.Start] of t: days, ISO weeks from Monday,
// months or quarters starting at midnight in the period's location. The
// first bucket may start before From and the last end after To; they then
// count only the part inside the period. A period whose To is not after
// From, an unknown bucket, more than [crm.MaxBuckets] buckets or a zone
// that is not a named IANA zone is refused with a [*crm.ValidationError]
// naming "period.to", "period.bucket" or "period.location".
//
// # Definitions
//
// Sales, per bucket and lead source ([LeadRow]): Created counts the leads
// whose CreatedAt is in the bucket; Converted those of them whose status
// is now converted; FollowedUp those of them with at least one activity
// about them, and FollowUpMillis the sum of the times from CreatedAt to
// the earliest such activity's OccurredAt (the follow-up first-response
// time).
//
// Customers, per bucket ([CustomerRow]). crmkit stores no history of a
// customer's status, so dealt customers are read from their deals: a
// customer's deals are its opportunities at stage won with a ClosedAt. A
// customer is active in a bucket when it has a deal closed in the bucket
// (within the period). New counts the active customers whose first deal
// ever is in the bucket; Retained those active in the bucket that also
// had a deal in the whole bucket before ([Previous]); Churned those with a
// deal in the bucket before and none in the bucket; Lost the customers
// whose status is now lost, counted in the bucket of their last deal. When
// a customer became lost is not stored, so Lost is not the number of
// customers lost during the bucket.
//
// Service, per bucket ([TicketRow]): first response over the tickets
// created in the bucket (CreatedAt to FirstResponseAt); resolution time
// and SLA compliance over the tickets whose ResolvedAt (their last
// resolution) is in the bucket, a ticket having an SLA when its
// SLATimerID names a stored timer and meeting it when that timer has
// not breached; satisfaction over the tickets whose ClosedAt is in the
// bucket and that have a score: CSAT is the share of scores of
// [SatisfiedScore] or more.
//
// Pools, per bucket and pool ([PoolRow]): ownership ledger entries whose
// time is in the bucket: claims out of their FromPool, releases and
// recycles into their ToPool.
//
// # Scopes
//
// [Scopes] holds one data scope per kind of record counted, as a
// permission policy's list filter compiles one per record type: a
// manager whose scope is her department tree sees the figures of her
// tree's leads, customers and tickets.
package kpi
