// Package crm is the shared vocabulary of crmkit: the records every CRM
// keeps, the values they are made of, the errors every package returns, and
// the storage contract that adapters implement.
//
// # Records
//
// [Lead], [Customer], [Contact], [Opportunity], [Activity] (a follow-up),
// [Ticket], [User], [Department] and [Team] each embed [Meta] (ID, tenant,
// optimistic version, timestamps), validate themselves with errors that name
// the field ([ValidationErrors]), and carry host-defined custom fields
// ([Fields], a typed map).
//
// # Values
//
// [ID] is a UUID, made by an injected [IDGenerator] ([UUIDv7] by default).
// [Money] is an exact decimal amount with an ISO 4217 currency; arithmetic
// across currencies returns [ErrCurrencyMismatch]. Time comes from an injected
// [Clock]; storage keeps UTC microseconds ([StorageTime]).
//
// # Errors
//
// Sentinels ([ErrNotFound], [ErrAlreadyExists], [ErrConflict],
// [ErrInvalidArgument], [ErrPermissionDenied], [ErrLimitExceeded],
// [ErrFailedPrecondition], [ErrUnsupported], [ErrUnavailable]) are matched with
// [errors.Is]. Typed errors carry details: [*ValidationError] (field and
// reason), [ValidationErrors], [*LimitError].
//
// # Storage
//
// [Store] is the port every adapter implements: a [Repository] per record
// type with Get, Create, Update (optimistic, by [Meta.Version]), Delete and a
// paginated, filtered List, plus [Store.InTx] for all-or-nothing units of
// work and a transactional outbox of [Event] values ([EventWriter], [Outbox]).
// Tenancy travels in the context ([WithTenant]). The store/memstore and
// store/pgstore packages implement it; store/storetest checks any
// implementation against the contract.
//
// Optional ports let an adapter do more in one step; callers find them with
// a type assertion (or [As] on a wrapped unit of work) and fall back when
// they are missing. [BulkCreator], [BulkGetter] and [ChangesAppender] write
// and read many records at once, as an import does ([CreateMany] and
// [GetMany] fall back to one by one); pgstore implements them with COPY and
// one query, memstore does not need them.
//
// # Events
//
// Every change a domain operation makes is written with an [Event] in the
// same unit of work. Its [EventType] ("customer.claimed") is a documented
// constant of the package that writes it, and names the exported struct
// its payload decodes into (pool.ClaimedPayload for pool.EventClaimed,
// [NoPayload] for types without one); [DecodePayload] decodes a payload
// strictly into that struct. The root package crmkit lists every type
// (crmkit.EventTypes) with its payload struct (crmkit.PayloadOf,
// crmkit.DecodeEvent). Stored events keep the type as a plain string.
package crm
