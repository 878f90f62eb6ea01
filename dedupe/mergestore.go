package dedupe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// MergedIntoField is the custom field that marks a customer merged into
// another: its value is the survivor's ID. A merged customer is kept, not
// deleted, so nothing is lost and the merge can be undone; it has no match
// keys, so checks no longer find it.
const MergedIntoField = crm.MergedIntoField

// MergeRequest asks to merge duplicate customers into one.
type MergeRequest struct {
	// SurvivorID is the customer that lives on with the golden values.
	// Required.
	SurvivorID crm.ID
	// LoserIDs are its duplicates: their contacts, opportunities, tickets
	// and activities move to the survivor, and they are marked merged. At
	// least one, distinct, not the survivor.
	LoserIDs []crm.ID
	// Config chooses the survivorship rule of each field. Defaults to nil:
	// see [MergeConfig].
	Config *MergeConfig
	// ActorID is the user merging, for the event; crm.NilID for the system.
	ActorID crm.ID
}

func (r *MergeRequest) validate() error {
	var errs crm.ValidationErrors
	if r.SurvivorID == crm.NilID {
		errs = append(errs, crm.Invalid("survivor_id", "is required"))
	}
	if len(r.LoserIDs) == 0 {
		errs = append(errs, crm.Invalid("loser_ids", "at least one customer to merge is required"))
	}
	for i, id := range r.LoserIDs {
		if id == crm.NilID || id == r.SurvivorID || slices.Contains(r.LoserIDs[:i], id) {
			errs = append(errs, crm.Invalid(fmt.Sprintf("loser_ids[%d]", i), "must be set, distinct and not the survivor"))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Repointed is a record that a merge moved from a loser to the survivor.
type Repointed struct {
	// Record is the contact, opportunity, ticket or activity.
	Record crm.Ref `json:"record"`
	// From is the loser it belonged to.
	From crm.ID `json:"from"`
}

// RecordVersion is the version of a customer right after a merge; an undo
// refuses to run when a customer changed since.
type RecordVersion struct {
	ID      crm.ID `json:"id"`
	Version int64  `json:"version"`
}

// CustomerMerge is a merge as it was applied to storage: what [Service.Undo]
// needs to put everything back. It is plain data (JSON): the host may keep
// it, and it is the payload of the customer.merged event, so the outbox
// keeps a trace of every merge.
type CustomerMerge struct {
	// ID identifies the merge; it is also the ID of its event.
	ID         crm.ID   `json:"id"`
	SurvivorID crm.ID   `json:"survivor_id"`
	LoserIDs   []crm.ID `json:"loser_ids"`
	// Result is the field-by-field outcome with where each value came
	// from (the survivor first among its sources).
	Result *MergeResult `json:"result"`
	// Before holds the survivor and then the losers as they were.
	Before []*crm.Customer `json:"before"`
	// Keys holds the match keys each of them had.
	Keys []RecordKeys `json:"keys"`
	// After holds their versions right after the merge.
	After []RecordVersion `json:"after"`
	// Repointed lists every record moved to the survivor.
	Repointed []Repointed `json:"repointed,omitempty"`
	// MergedAt is when the merge happened.
	MergedAt time.Time `json:"merged_at"`
	// Ownership is what the configured [OwnershipSettler] changed (JSON of
	// its own), empty without one.
	Ownership json.RawMessage `json:"ownership,omitempty"`
	// Contacts lists the contacts folded into one because they were the
	// same person on two of the merged customers.
	Contacts []ContactFold `json:"contacts,omitempty"`
}

// Merge merges duplicate customers in one unit of work; see
// [Service.MergeTx].
func (s *Service) Merge(ctx context.Context, req MergeRequest) (*CustomerMerge, error) {
	var out *CustomerMerge
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		out, err = s.MergeTx(ctx, tx, req)
		return err
	})
	return out, err
}

// MergeTx merges duplicate customers inside the caller's unit of work. The
// survivor gets the golden values of [Matcher.Merge] for the matched fields
// (name, phone, e-mail, address) and keeps its other attributes, taking
// from the losers, in order, the ones it lacks (level, industry, region,
// source, website, department, custom fields) and the latest follow-up and
// deal times. The losers' contacts, opportunities, tickets and activities
// are re-pointed to the survivor; contacts from two of the customers that
// are one person (the same name and phone, or a [Match] on name, phone and
// e-mail: [Service.CompareContacts]) are folded into one, the survivor's
// own contact living on with every phone and e-mail of the others and
// their tickets and activities ([ContactFold]); the losers are kept and
// marked with [MergedIntoField]; their match keys are removed and the
// survivor's and its contacts' replaced; a customer.merged event carries
// the returned [CustomerMerge].
//
// A missing customer is [crm.ErrNotFound], one already merged
// [crm.ErrFailedPrecondition], a bad request [*crm.ValidationError]. When
// the survivor's new strong key is held by yet another customer the merge
// fails with [*KeyTakenError]: merge that one too. On error the caller must
// roll back the unit of work (returning the error from InTx does that).
func (s *Service) MergeTx(ctx context.Context, tx crm.Tx, req MergeRequest) (*CustomerMerge, error) {
	ctx = crm.DefaultActor(ctx, req.ActorID, "merge")
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: merge: %w", err)
	}
	dt, err := TxOf(tx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*CustomerMerge, error) {
		return nil, fmt.Errorf("dedupe: merge into %s: %w", req.SurvivorID, err)
	}
	ids := append([]crm.ID{req.SurvivorID}, req.LoserIDs...)
	m := &CustomerMerge{ID: s.cfg.IDs.NewID(), SurvivorID: req.SurvivorID, LoserIDs: slices.Clone(req.LoserIDs),
		MergedAt: crm.StorageTime(s.cfg.Clock.Now())}
	sources := make([]MergeSource, len(ids))
	for i, id := range ids {
		c, err := tx.Customers().Get(ctx, id)
		if err != nil {
			return fail(fmt.Errorf("customer %s: %w", id, err))
		}
		if _, merged := c.Fields[MergedIntoField]; merged {
			return fail(fmt.Errorf("customer %s is already merged: %w", id, crm.ErrFailedPrecondition))
		}
		keys, err := dt.DedupeKeys().Get(ctx, id)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			keys = &RecordKeys{RecordID: id}
		case err != nil:
			return fail(err)
		}
		m.Before = append(m.Before, c)
		m.Keys = append(m.Keys, *keys)
		sources[i] = MergeSource{Record: CustomerRecord(c), UpdatedAt: c.UpdatedAt, Source: c.Source}
	}
	res, err := s.mt.Merge(sources, req.Config)
	if err != nil {
		return nil, err
	}
	m.Result = res

	survivor := goldenCustomer(m.Before[0], m.Before[1:], res)
	for _, loser := range m.Before[1:] {
		moved, err := repoint(ctx, tx, loser.ID, req.SurvivorID)
		if err != nil {
			return fail(err)
		}
		m.Repointed = append(m.Repointed, moved...)
		l := loser.Clone()
		if l.Fields == nil {
			l.Fields = crm.Fields{}
		}
		l.Fields[MergedIntoField] = crm.String(req.SurvivorID.String())
		if err := tx.Customers().Update(ctx, l); err != nil {
			return fail(fmt.Errorf("mark customer %s merged: %w", l.ID, err))
		}
		if err := dt.DedupeKeys().Delete(ctx, l.ID); err != nil {
			return fail(err)
		}
		m.After = append(m.After, RecordVersion{ID: l.ID, Version: l.Version})
	}
	if err := tx.Customers().Update(ctx, survivor); err != nil {
		return fail(fmt.Errorf("update survivor: %w", err))
	}
	keys := s.Keys(survivor)
	if err := dt.DedupeKeys().Put(ctx, &keys); err != nil {
		return fail(err)
	}
	origin := map[crm.ID]crm.ID{}
	for _, r := range m.Repointed {
		if r.Record.Type == crm.TypeContact {
			origin[r.Record.ID] = r.From
		}
	}
	if m.Contacts, err = s.foldContacts(ctx, tx, dt.DedupeKeys(), req.SurvivorID, origin); err != nil {
		return fail(fmt.Errorf("fold contacts: %w", err))
	}
	if o := s.cfg.Ownership; o != nil {
		if m.Ownership, err = o.SettleMerge(ctx, tx, m, req.ActorID); err != nil {
			return fail(fmt.Errorf("settle ownership: %w", err))
		}
	}
	// Versions as they are now, after any ownership settlement.
	m.After = m.After[:0]
	for _, id := range ids {
		c, err := tx.Customers().Get(ctx, id)
		if err != nil {
			return fail(err)
		}
		m.After = append(m.After, RecordVersion{ID: id, Version: c.Version})
	}
	if err := s.emit(ctx, tx, EventCustomerMerged, req.SurvivorID, req.ActorID, m); err != nil {
		return fail(err)
	}
	return m, nil
}

// goldenCustomer returns the survivor with the golden values of res and
// the attributes it lacks taken from the losers.
func goldenCustomer(survivor *crm.Customer, losers []*crm.Customer, res *MergeResult) *crm.Customer {
	g := survivor.Clone()
	vals := res.GoldenRecord().Values // CustomerFields order
	name := vals[0]
	if g.Kind == crm.CustomerPerson {
		name = vals[1]
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&g.Name, name)
	set(&g.Phone, vals[2])
	set(&g.Email, vals[3])
	set(&g.Address, vals[4])
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	later := func(a, b *time.Time) *time.Time {
		if b != nil && (a == nil || b.After(*a)) {
			t := *b
			return &t
		}
		return a
	}
	for _, l := range losers {
		fill(&g.Level, l.Level)
		fill(&g.Industry, l.Industry)
		fill(&g.Region, l.Region)
		fill(&g.Source, l.Source)
		fill(&g.Website, l.Website)
		if g.DepartmentID == crm.NilID {
			g.DepartmentID = l.DepartmentID
		}
		g.LastFollowUpAt = later(g.LastFollowUpAt, l.LastFollowUpAt)
		g.LastDealAt = later(g.LastDealAt, l.LastDealAt)
		for k, v := range l.Fields {
			if _, ok := g.Fields[k]; !ok && k != MergedIntoField {
				if g.Fields == nil {
					g.Fields = crm.Fields{}
				}
				g.Fields[k] = v
			}
		}
	}
	return g
}

// repoint moves the contacts, opportunities, tickets and activities of
// customer from to customer to, and lists what it moved.
func repoint(ctx context.Context, tx crm.Tx, from, to crm.ID) ([]Repointed, error) {
	var moved []Repointed
	note := func(typ crm.RecordType, id crm.ID) {
		moved = append(moved, Repointed{Record: crm.Ref{Type: typ, ID: id}, From: from})
	}
	contacts, err := listAll(ctx, tx.Contacts(), crm.ContactFilter{CustomerIDs: []crm.ID{from}})
	if err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", from, err)
	}
	for _, c := range contacts {
		c.CustomerID = to
		if err := tx.Contacts().Update(ctx, c); err != nil {
			return nil, fmt.Errorf("re-point contact %s: %w", c.ID, err)
		}
		note(crm.TypeContact, c.ID)
	}
	opps, err := listAll(ctx, tx.Opportunities(), crm.OpportunityFilter{CustomerIDs: []crm.ID{from}})
	if err != nil {
		return nil, fmt.Errorf("list opportunities of %s: %w", from, err)
	}
	for _, o := range opps {
		o.CustomerID = to
		if err := tx.Opportunities().Update(ctx, o); err != nil {
			return nil, fmt.Errorf("re-point opportunity %s: %w", o.ID, err)
		}
		note(crm.TypeOpportunity, o.ID)
	}
	tickets, err := listAll(ctx, tx.Tickets(), crm.TicketFilter{CustomerIDs: []crm.ID{from}})
	if err != nil {
		return nil, fmt.Errorf("list tickets of %s: %w", from, err)
	}
	for _, t := range tickets {
		t.CustomerID = to
		if err := tx.Tickets().Update(ctx, t); err != nil {
			return nil, fmt.Errorf("re-point ticket %s: %w", t.ID, err)
		}
		note(crm.TypeTicket, t.ID)
	}
	acts, err := listAll(ctx, tx.Activities(), crm.ActivityFilter{Subject: &crm.Ref{Type: crm.TypeCustomer, ID: from}})
	if err != nil {
		return nil, fmt.Errorf("list activities of %s: %w", from, err)
	}
	for _, a := range acts {
		a.Subject.ID = to
		if err := tx.Activities().Update(ctx, a); err != nil {
			return nil, fmt.Errorf("re-point activity %s: %w", a.ID, err)
		}
		note(crm.TypeActivity, a.ID)
	}
	return moved, nil
}

// listAll reads every page of a list before anything is changed, so
// updates cannot move records under the cursor.
func listAll[T any, F any](ctx context.Context, r crm.Repository[T, F], f F) ([]*T, error) {
	var out []*T
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		p, err := r.List(ctx, f, page)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out, nil
		}
		page.Cursor = p.NextCursor
	}
}

// Undo undoes a merge in one unit of work; see [Service.UndoTx].
func (s *Service) Undo(ctx context.Context, m *CustomerMerge, actor crm.ID) error {
	return s.inTx(ctx, func(ctx context.Context, tx Tx) error { return s.UndoTx(ctx, tx, m, actor) })
}

// UndoTx undoes a merge inside the caller's unit of work: the survivor and
// the losers get back every value they had (with new versions), folded
// contacts come back as they were (with their IDs; a kept contact changed
// since the merge is [crm.ErrConflict]), the records moved to the survivor
// go back to their loser, the match keys are
// restored as they were, and a customer.merge_undone event is appended.
// When any of the merged customers changed since the merge (or the merge
// was already undone) it returns an error matching [crm.ErrConflict] and
// changes nothing; a record that was moved again since the merge is left
// where it is. On error the caller must roll back the unit of work.
func (s *Service) UndoTx(ctx context.Context, tx crm.Tx, m *CustomerMerge, actor crm.ID) error {
	ctx = crm.DefaultActor(ctx, actor, "unmerge")
	if m == nil || m.SurvivorID == crm.NilID || len(m.Before) < 2 || len(m.Before) != len(m.Keys) || len(m.Before) != len(m.After) {
		return fmt.Errorf("dedupe: undo merge: %w", crm.Invalid("merge", "is not a merge returned by Merge"))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("dedupe: undo merge %s: %w", m.ID, err) }
	for _, v := range m.After {
		c, err := tx.Customers().Get(ctx, v.ID)
		if err != nil {
			return fail(fmt.Errorf("customer %s: %w", v.ID, err))
		}
		if c.Version != v.Version {
			return fail(fmt.Errorf("customer %s changed since the merge (version %d, merged at %d): %w", v.ID, c.Version, v.Version, crm.ErrConflict))
		}
	}
	if o := s.cfg.Ownership; o != nil && len(m.Ownership) > 0 {
		if err := o.UndoMerge(ctx, tx, m, actor); err != nil {
			return fail(fmt.Errorf("undo ownership: %w", err))
		}
	}
	for i, before := range m.Before {
		if before == nil || before.ID != m.After[i].ID {
			return fail(crm.Invalid(fmt.Sprintf("merge.before[%d]", i), "does not match merge.after"))
		}
		now, err := tx.Customers().Get(ctx, before.ID)
		if err != nil {
			return fail(err)
		}
		c := before.Clone()
		c.Version = now.Version
		if err := tx.Customers().Update(ctx, c); err != nil {
			return fail(fmt.Errorf("restore customer %s: %w", c.ID, err))
		}
	}
	if err := s.undoFolds(ctx, tx, m.Contacts); err != nil {
		return fail(err)
	}
	var contacts []crm.ID
	for _, r := range m.Repointed {
		if err := repointBack(ctx, tx, r, m.SurvivorID); err != nil {
			return fail(err)
		}
		if r.Record.Type == crm.TypeContact {
			contacts = append(contacts, r.Record.ID)
		}
	}
	for _, f := range m.Contacts {
		contacts = append(contacts, f.Kept.ID)
	}
	if err := s.reindexContacts(ctx, tx, dt.DedupeKeys(), contacts); err != nil {
		return fail(err)
	}
	for _, k := range m.Keys {
		if err := dt.DedupeKeys().Delete(ctx, k.RecordID); err != nil {
			return fail(err)
		}
	}
	for _, k := range m.Keys {
		if len(k.Keys) == 0 && k.Strong == "" {
			continue
		}
		if err := dt.DedupeKeys().Put(ctx, &k); err != nil {
			return fail(err)
		}
	}
	if err := s.emit(ctx, tx, EventCustomerMergeUndone, m.SurvivorID, actor, m); err != nil {
		return fail(err)
	}
	return nil
}

// repointBack returns one moved record to its loser if it still belongs to
// the survivor.
func repointBack(ctx context.Context, tx crm.Tx, r Repointed, survivor crm.ID) error {
	skip := func(err error) error {
		if err == nil || errors.Is(err, crm.ErrNotFound) {
			return nil // deleted since the merge: nothing to move back
		}
		return fmt.Errorf("re-point %s %s back: %w", r.Record.Type, r.Record.ID, err)
	}
	switch r.Record.Type {
	case crm.TypeContact:
		c, err := tx.Contacts().Get(ctx, r.Record.ID)
		if err != nil {
			return skip(err)
		}
		if c.CustomerID == survivor {
			c.CustomerID = r.From
			return skip(tx.Contacts().Update(ctx, c))
		}
	case crm.TypeOpportunity:
		o, err := tx.Opportunities().Get(ctx, r.Record.ID)
		if err != nil {
			return skip(err)
		}
		if o.CustomerID == survivor {
			o.CustomerID = r.From
			return skip(tx.Opportunities().Update(ctx, o))
		}
	case crm.TypeTicket:
		t, err := tx.Tickets().Get(ctx, r.Record.ID)
		if err != nil {
			return skip(err)
		}
		if t.CustomerID == survivor {
			t.CustomerID = r.From
			return skip(tx.Tickets().Update(ctx, t))
		}
	case crm.TypeActivity:
		a, err := tx.Activities().Get(ctx, r.Record.ID)
		if err != nil {
			return skip(err)
		}
		if a.Subject == (crm.Ref{Type: crm.TypeCustomer, ID: survivor}) {
			a.Subject.ID = r.From
			return skip(tx.Activities().Update(ctx, a))
		}
	default:
		return crm.Invalid("merge.repointed.record.type", "unknown record type %q", r.Record.Type)
	}
	return nil
}
