// Package importer holds the rules of a customer import that are not the
// CRM's: which fields a source column may map to, how typed values are
// standardised before they are stored, and the storage port that keeps each
// source system's external IDs.
//
// The import itself, with its batches, upserts and duplicate handling, is
// crmkit.CRM.ImportCustomers on the composition root: every write goes
// through the CRM, so match keys, history and events follow.
//
// # Standardising
//
// [Apply] stores each value as standardised and keeps what was typed beside
// it, in the custom field [TypedField] of the field ("typed_phone",
// "typed_signed_on"), whenever standardising changed it; a value that needed
// no change keeps no typed copy. The rules:
//
//   - every value: full-width letters, digits and punctuation are folded to
//     their ASCII forms (golang.org/x/text/width), surrounding spaces
//     trimmed;
//   - phone: E.164 ("+8613800138000", an extension as ";ext=8001"); a
//     value that is not a valid number is kept as folded, with a note;
//   - email: lower case, without spaces;
//   - kind: "company" or "person" (also 公司, 企业, 个人, 个人客户);
//   - a custom field whose whole value is a year-first date
//     (2024/3/5, 2024.03.05, 2024年3月5日, 2024-3-5): ISO 8601, "2024-03-05".
//     Eight bare digits and day-first dates are kept as folded: they are
//     ambiguous.
//
// # External IDs
//
// [ExternalIDs] is the optional storage port of the mapping from (tenant,
// source system, external ID) to customer, found on the unit of work with
// crm.As; memstore and pgstore have it. Each external ID of a source system
// names at most one customer per tenant; of concurrent units of work
// putting one external ID, at most one commits. [BulkExternalIDs] (pgstore)
// records a whole batch's IDs in one step; [PutMany] falls back to Put one
// by one without it.
package importer
