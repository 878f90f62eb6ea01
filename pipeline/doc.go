// Package pipeline makes a tenant's sales pipelines configurable and
// reads their figures where the data lives.
//
// # Pipelines
//
// A [Pipeline] is an ordered list of stages, each of a [Kind] (open, won
// or lost) with a default probability, the opportunity fields a deal
// needs to enter it ([Stage.Required]: "amount", "expected_close",
// "owner_id", "department_id" or a custom field "fields.<key>"), and, for
// a lost stage, the list its lost reasons come from. Pipelines are JSON,
// read by [Parse] (one) or [Load] (a tenant's set), which report every
// problem at once naming its field: no won or lost stage, duplicate
// names or orders, an open stage after a closed one, probabilities
// outside 0-100 (or not 100 in a won stage, 0 in a lost one), unknown
// kinds, required fields that are not requirable, lost reasons that are
// not identifiers.
//
// A tenant may have several pipelines, one per product line say; a deal
// names its pipeline in crm.Opportunity.Pipeline. The empty key is the
// built-in pipeline ([Default]) of package crm's six stage constants, so
// deals stored before pipelines existed keep working unchanged.
// A [Catalog] gives each tenant's [Set]; [Tenants] is a fixed one.
//
// # Moves
//
// [Service.Move] moves a deal to another stage in one unit of work: it
// checks the stage is in the deal's pipeline, that the deal has the
// fields the stage requires (each missing one named), that a lost stage
// gets a reason from its list; it sets Stage and Probability (the
// stage's default unless the caller gives one); reaching a won or lost
// stage sets ClosedAt, and moving back to an open stage (reopening)
// clears ClosedAt and LostReason. The stay in the old stage is left and
// one in the new stage entered ([StageEntry]: entered and left at, by
// whom), and an [EventStageChanged] event is written. [Service.MoveTx]
// does it inside a unit of work the caller holds. [Service.Start]
// stores a new deal in its pipeline's first stage with its first stay
// ([Service.StartTx] inside the caller's unit of work; [Service.Prepare]
// gives and checks that stage without writing). The service asks no
// permission policy; crmkit.CRM.StartOpportunity starts a deal as a user
// the policy lets create it, and crmkit.CRM.MoveOpportunity moves one as
// a user the policy lets edit it.
//
// # Figures
//
// An adapter computes the figures over the context's tenant, one
// pipeline, a data scope (a manager's department tree) and a crm.Period
// in the tenant's time zone ([Analytics]: SQL aggregates in pgstore, the
// same arithmetic in memstore); the service lays them out:
//
//   - [Service.Funnel]: per stage, the deals that entered it in the
//     period, the conversion to the next stage (lost stages are outside
//     the chain) and the median time in the stage;
//   - [Service.Performance]: win rate, revenue and average deal size per
//     currency, and the sales cycle (CreatedAt to ClosedAt of won deals,
//     mean and median) of the deals closed in the period;
//   - [Service.Value]: the pipeline value and weighted pipeline (amount ×
//     probability / 100) of the open deals, per stage and currency;
//   - [Service.Forecast]: the open deals expected to close in each bucket
//     of the period, per owner and currency.
//
// Currencies are never mixed: every amount is per currency, and
// [Convert] sums them into one only with the rates the host gives.
//
// # Storage
//
// An adapter supports the moves when its unit of work implements [Tx]
// (the stage history) and the figures when its unit of work and store
// implement [AnalyticsTx]; without them the service reports
// crm.ErrUnsupported. memstore and pgstore (migration 0024_pipelines)
// implement both, checked by storetest's "Pipelines" group.
package pipeline
