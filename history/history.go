package history

import (
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// The operations crmkit records. Hosts may record their own (a lower-case
// word such as "import").
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// ledgerFields are the fields of a customer whose changes the pool ledger
// keeps (package pool): a Recorder leaves them out, and [Config.Tracked]
// may not list them (one fact, one row).
var ledgerFields = map[string]bool{"owner_id": true, "pool_id": true, "department_id": true}

// Config configures a [Recorder]. The zero value records every business
// field of every record type.
type Config struct {
	// Tracked lists, per record type, the fields whose changes are kept
	// ("name", "level", "fields.credit_limit"); a field ending in ".*"
	// keeps every field under it ("fields.*"). A record type not listed
	// keeps every business field, but for a customer's owner, pool and
	// department, which the pool ledger keeps and which may not be listed;
	// one listed with no fields keeps none.
	Tracked map[crm.RecordType][]string
	// IDs and Clock make entry and event IDs and times; they default to
	// UUIDv7 and the system clock.
	IDs   crm.IDGenerator
	Clock crm.Clock
}

// Recorder records the changes of records: one history entry per changed
// tracked field and one change event per change, in the caller's unit of
// work, so a change, its history and its event are stored together or not
// at all. It is safe for concurrent use.
type Recorder struct {
	tracked map[crm.RecordType]fieldSet
	ids     crm.IDGenerator
	clock   crm.Clock
}

type fieldSet struct {
	exact    map[string]bool
	prefixes []string
}

func (f *fieldSet) has(field string) bool {
	if f.exact[field] {
		return true
	}
	for _, p := range f.prefixes {
		if len(field) > len(p) && field[:len(p)] == p {
			return true
		}
	}
	return false
}

// New checks cfg and returns its recorder. A nil cfg means defaults.
func New(cfg *Config) (*Recorder, error) {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	var probs crm.Problems
	r := &Recorder{tracked: map[crm.RecordType]fieldSet{}, ids: c.IDs, clock: c.Clock}
	for rt, fields := range c.Tracked {
		if rt == "" {
			probs.Add("tracked", "a record type is required")
		}
		fs := fieldSet{exact: map[string]bool{}}
		for i, f := range fields {
			switch {
			case f == "" || len(f) > 200:
				probs.Add(fmt.Sprintf("tracked.%s[%d]", rt, i), "must be 1 to 200 bytes")
			case rt == crm.TypeCustomer && ledgerFields[f]:
				probs.Add(fmt.Sprintf("tracked.%s[%d]", rt, i), "%s changes are kept by the pool ledger, not the history", f)
			case len(f) > 2 && f[len(f)-2:] == ".*":
				fs.prefixes = append(fs.prefixes, f[:len(f)-1])
			default:
				fs.exact[f] = true
			}
		}
		r.tracked[rt] = fs
	}
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("history: new: %w", err)
	}
	return r, nil
}

// Change is one change of a record for [Recorder.Record].
type Change struct {
	// Record is the record that changed.
	Record crm.Ref
	// Old and New are the record before and after (pointers to crm
	// records, such as *crm.Customer); Old is nil for a create, New for a
	// delete.
	Old, New any
	// Actor made the change; crm.NilID for the system.
	Actor crm.ID
	// Operation says what caused it; defaults to create, update or
	// delete.
	Operation string
}

// Record writes the history entries of one change into tx's history
// (tx must implement [crm.HistoryTx]) and appends its change event, and
// returns the tracked changes. A change of no tracked field writes
// nothing.
func (r *Recorder) Record(ctx context.Context, tx crm.Tx, c Change) ([]crm.Change, error) {
	ht, ok := crm.As[crm.HistoryTx](tx)
	if !ok {
		return nil, fmt.Errorf("history: the unit of work %T keeps no history (crm.HistoryTx): %w", tx, crm.ErrUnsupported)
	}
	b, err := r.build(c)
	if err != nil || b == nil {
		return nil, err
	}
	h := ht.History()
	if ca, ok := h.(crm.ChangeAppender); ok {
		if err := ca.AppendChange(ctx, &b.event, b.entries...); err != nil {
			return nil, fmt.Errorf("history: record %s %s: %w", c.Record.Type, c.Record.ID, err)
		}
		return b.changes, nil
	}
	if err := h.Append(ctx, b.entries...); err != nil {
		return nil, fmt.Errorf("history: record %s %s: %w", c.Record.Type, c.Record.ID, err)
	}
	if err := tx.Events().Append(ctx, &b.event); err != nil {
		return nil, fmt.Errorf("history: change event: %w", err)
	}
	return b.changes, nil
}

// RecordMany is [Recorder.Record] for many changes, written together
// when tx's history has [crm.ChangesAppender] (pgstore: one round trip
// for all of them), else change by change.
func (r *Recorder) RecordMany(ctx context.Context, tx crm.Tx, cs []Change) error {
	ht, ok := crm.As[crm.HistoryTx](tx)
	if !ok {
		return fmt.Errorf("history: the unit of work %T keeps no history (crm.HistoryTx): %w", tx, crm.ErrUnsupported)
	}
	ca, ok := ht.History().(crm.ChangesAppender)
	if !ok {
		for _, c := range cs {
			if _, err := r.Record(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	}
	events := make([]*crm.Event, 0, len(cs))
	var entries []*crm.HistoryEntry
	for _, c := range cs {
		b, err := r.build(c)
		if err != nil {
			return err
		}
		if b != nil {
			events, entries = append(events, &b.event), append(entries, b.entries...)
		}
	}
	if len(events) == 0 {
		return nil
	}
	if err := ca.AppendChanges(ctx, events, entries); err != nil {
		return fmt.Errorf("history: record %d changes: %w", len(events), err)
	}
	return nil
}

// built is one change made into history entries and its event.
type built struct {
	changes []crm.Change
	entries []*crm.HistoryEntry
	event   crm.Event
}

// build makes c's entries and event; nil when it changes no tracked field.
func (r *Recorder) build(c Change) (*built, error) {
	if c.Record.Type == "" || c.Record.ID == crm.NilID {
		return nil, crm.Invalid("record", "type and id are required")
	}
	verb, op := "updated", OpUpdate
	switch {
	case c.Old == nil && c.New == nil:
		return nil, crm.Invalid("new", "a change needs the record before or after it")
	case c.Old == nil:
		verb, op = "created", OpCreate
	case c.New == nil:
		verb, op = "deleted", OpDelete
	}
	if c.Operation != "" {
		op = c.Operation
	}
	all, err := crm.Diff(c.Old, c.New)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	changes := all
	if fs, ok := r.tracked[c.Record.Type]; ok {
		changes = slices.DeleteFunc(slices.Clone(all), func(ch crm.Change) bool { return !fs.has(ch.Field) })
	} else if c.Record.Type == crm.TypeCustomer {
		// Who holds a customer is the pool ledger's fact: one fact, one row.
		changes = slices.DeleteFunc(slices.Clone(all), func(ch crm.Change) bool { return ledgerFields[ch.Field] })
	}
	if len(changes) == 0 {
		return nil, nil
	}
	at := r.clock.Now()
	entries := make([]*crm.HistoryEntry, len(changes))
	for i, ch := range changes {
		entries[i] = &crm.HistoryEntry{ID: r.ids.NewID(), Record: c.Record, Change: ch, ActorID: c.Actor, Operation: op, At: at}
	}
	ev, err := crm.NewEvent(r.ids, r.clock, crm.ChangeEventType(c.Record.Type, verb), c.Record, c.Actor, crm.ChangedPayload{Operation: op, Changes: changes})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &built{changes: changes, entries: entries, event: ev}, nil
}
