// Package history keeps who changed what in every record, and tells the
// rest of the company: a [Recorder] writes one history entry per changed
// field ([crm.HistoryEntry]: the field, its old and new values, the
// actor, the operation, the time) and one change event
// ("customer.updated" with a [crm.ChangedPayload]) in the unit of work of the
// change, so the change, its history and its event are stored together or
// not at all. Which fields are kept is configurable per record type
// ([Config.Tracked]); by default every business field, custom fields as
// "fields.<name>".
//
// [Recorder.Wrap] records every write by itself: it returns a unit of
// work whose record repositories record each create, update and delete
// made through them, as made by the actor and in the operation the
// context names ([crm.WithActor]), against the version the unit of work last
// read of the record (so an update costs no extra read when the record
// was read first, as it must be for its version). The wrapped unit of
// work keeps every other port, found with crm.As.
//
// [Recorder.WrapStore] records a whole store: its units of work as Wrap
// does, and its own repositories' writes each in a unit of work of its
// own. crmkit's CRM (package crmkit) records every write it makes so,
// with the actor and operation its services name ([crm.DefaultActor]:
// "claim", "convert", "merge"). The domain services append only their
// domain events (customer.claimed, lead.converted); the change events of
// the records they write come from the recording unit of work. Ownership
// is the pool ledger's fact: a customer's owner, pool and department are
// never history rows, and [Config.Tracked] may not list them.
//
// A [Reader] reads a record's history, or what one person changed in a
// time window, newest first, with the values of fields the reader may not
// see masked ([Masker]); [Purge] removes history older than a given time.
// The storage port is [crm.History], which memstore and pgstore implement.
package history
