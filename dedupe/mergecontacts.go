package dedupe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// ContactFold is one person whose contacts a customer merge folded into
// one: the kept contact, as it was, and the contacts removed into it, as
// they were, with the tickets and activities moved from them. It is part of
// a [CustomerMerge], so [Service.Undo] can put them back.
type ContactFold struct {
	// Kept is the contact that lives on, as it was before the fold.
	Kept *crm.Contact `json:"kept"`
	// KeptVersion is its version right after the merge.
	KeptVersion int64 `json:"kept_version"`
	// Removed are the contacts folded into it, as they were (already
	// re-pointed to the survivor), deleted by the merge.
	Removed []*crm.Contact `json:"removed"`
	// Moved lists the tickets and activities moved from a removed contact
	// (From) to the kept one.
	Moved []Repointed `json:"moved,omitempty"`
}

// foldContacts folds the contacts of the survivor that are one person and
// came from different customers of the merge, and indexes the survivor's
// contacts under it. origin maps a contact moved by the merge to its
// loser; a contact not in it is the survivor's own.
func (s *Service) foldContacts(ctx context.Context, tx crm.Tx, ks KeyStore, survivor crm.ID, origin map[crm.ID]crm.ID) ([]ContactFold, error) {
	contacts, err := listAll(ctx, tx.Contacts(), crm.ContactFilter{CustomerIDs: []crm.ID{survivor}})
	if err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", survivor, err)
	}
	from := func(c *crm.Contact) crm.ID {
		if o, ok := origin[c.ID]; ok {
			return o
		}
		return survivor
	}
	// Candidate pairs share a normalised name, phone or e-mail; the keys
	// are computed once per contact.
	keys := make([]RecordKeys, len(contacts))
	byKey := map[Key][]int{}
	for i, c := range contacts {
		keys[i] = s.ContactKeys(c)
		for _, k := range keys[i].Keys {
			byKey[k] = append(byKey[k], i)
		}
	}
	parent := make([]int, len(contacts))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	seen := map[[2]int]bool{}
	for _, group := range byKey {
		for x, i := range group {
			for _, j := range group[x+1:] {
				if from(contacts[i]) == from(contacts[j]) || seen[[2]int{i, j}] {
					continue
				}
				seen[[2]int{i, j}] = true
				same, err := s.sameContact(contacts[i], contacts[j])
				if err != nil {
					return nil, err
				}
				if same {
					parent[find(j)] = find(i)
				}
			}
		}
	}
	groups := map[int][]*crm.Contact{}
	for i, c := range contacts {
		r := find(i)
		groups[r] = append(groups[r], c)
	}
	var folds []ContactFold
	removed := map[crm.ID]bool{}
	roots := make([]int, 0, len(groups))
	for r := range groups {
		roots = append(roots, r)
	}
	slices.Sort(roots)
	for _, r := range roots {
		g := groups[r]
		if len(g) < 2 {
			continue
		}
		// The survivor's own contact lives on, else the oldest.
		slices.SortFunc(g, func(a, b *crm.Contact) int {
			oa, ob := from(a) == survivor, from(b) == survivor
			if oa != ob {
				if oa {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.ID.String(), b.ID.String())
		})
		f, err := s.foldGroup(ctx, tx, ks, survivor, g[0], g[1:])
		if err != nil {
			return nil, err
		}
		for _, c := range f.Removed {
			removed[c.ID] = true
		}
		folds = append(folds, f)
	}
	for _, c := range contacts {
		if removed[c.ID] {
			continue
		}
		now, err := tx.Contacts().Get(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if err := s.indexContact(ctx, ks, now); err != nil {
			return nil, fmt.Errorf("index contact %s: %w", c.ID, err)
		}
	}
	return folds, nil
}

// foldGroup folds dups into kept: kept takes their phones, e-mails and the
// attributes it lacks; their tickets and activities move to it; they are
// deleted with their keys.
func (s *Service) foldGroup(ctx context.Context, tx crm.Tx, ks KeyStore, survivor crm.ID, kept *crm.Contact, dups []*crm.Contact) (ContactFold, error) {
	f := ContactFold{Kept: kept.Clone()}
	k := kept.Clone()
	addAll := func(dst *[]string, vs []string, norm func(string) string) {
		for _, v := range vs {
			if !slices.ContainsFunc(*dst, func(x string) bool { return norm(x) == norm(v) }) {
				*dst = append(*dst, v)
			}
		}
	}
	phone := func(v string) string {
		if p, err := NormalisePhone(v, s.mt.cfg.Region); err == nil {
			return p.E164
		}
		return digitsOnly(Fold(v))
	}
	tickets, err := listAll(ctx, tx.Tickets(), crm.TicketFilter{CustomerIDs: []crm.ID{survivor}})
	if err != nil {
		return f, fmt.Errorf("list tickets of %s: %w", survivor, err)
	}
	for _, d := range dups {
		addAll(&k.Phones, d.Phones, phone)
		addAll(&k.Emails, d.Emails, NormaliseEmail)
		if k.Title == "" {
			k.Title = d.Title
		}
		if k.OwnerID == crm.NilID {
			k.OwnerID = d.OwnerID
		}
		k.Primary = k.Primary || d.Primary
		for name, v := range d.Fields {
			if _, ok := k.Fields[name]; !ok {
				if k.Fields == nil {
					k.Fields = crm.Fields{}
				}
				k.Fields[name] = v
			}
		}
		for _, t := range tickets {
			if t.ContactID != d.ID {
				continue
			}
			t.ContactID = k.ID
			if err := tx.Tickets().Update(ctx, t); err != nil {
				return f, fmt.Errorf("re-point ticket %s: %w", t.ID, err)
			}
			f.Moved = append(f.Moved, Repointed{Record: crm.Ref{Type: crm.TypeTicket, ID: t.ID}, From: d.ID})
		}
		acts, err := listAll(ctx, tx.Activities(), crm.ActivityFilter{Subject: &crm.Ref{Type: crm.TypeContact, ID: d.ID}})
		if err != nil {
			return f, fmt.Errorf("list activities of contact %s: %w", d.ID, err)
		}
		for _, a := range acts {
			a.Subject.ID = k.ID
			if err := tx.Activities().Update(ctx, a); err != nil {
				return f, fmt.Errorf("re-point activity %s: %w", a.ID, err)
			}
			f.Moved = append(f.Moved, Repointed{Record: crm.Ref{Type: crm.TypeActivity, ID: a.ID}, From: d.ID})
		}
		if err := tx.Contacts().Delete(ctx, d.ID, d.Version); err != nil {
			return f, fmt.Errorf("remove contact %s: %w", d.ID, err)
		}
		if err := ks.Delete(ctx, d.ID); err != nil {
			return f, err
		}
		f.Removed = append(f.Removed, d.Clone())
	}
	if err := tx.Contacts().Update(ctx, k); err != nil {
		return f, fmt.Errorf("fold into contact %s: %w", k.ID, err)
	}
	f.KeptVersion = k.Version
	return f, nil
}

// undoFolds puts the folded contacts back as they were (still with the
// survivor; the merge's re-pointing is undone after), and moves their
// tickets and activities back. A kept contact changed since the merge is
// [crm.ErrConflict].
func (s *Service) undoFolds(ctx context.Context, tx crm.Tx, folds []ContactFold) error {
	for i := len(folds) - 1; i >= 0; i-- {
		f := folds[i]
		if f.Kept == nil {
			return crm.Invalid(fmt.Sprintf("merge.contacts[%d].kept", i), "is required")
		}
		now, err := tx.Contacts().Get(ctx, f.Kept.ID)
		if err != nil {
			return fmt.Errorf("contact %s: %w", f.Kept.ID, err)
		}
		if now.Version != f.KeptVersion {
			return fmt.Errorf("contact %s changed since the merge (version %d, merged at %d): %w", now.ID, now.Version, f.KeptVersion, crm.ErrConflict)
		}
		k := f.Kept.Clone()
		k.Version = now.Version
		if err := tx.Contacts().Update(ctx, k); err != nil {
			return fmt.Errorf("restore contact %s: %w", k.ID, err)
		}
		for j, r := range f.Removed {
			if r == nil {
				return crm.Invalid(fmt.Sprintf("merge.contacts[%d].removed[%d]", i, j), "is required")
			}
			c := r.Clone()
			c.Version = 0
			if err := tx.Contacts().Create(ctx, c); err != nil {
				return fmt.Errorf("restore contact %s: %w", c.ID, err)
			}
		}
		for _, m := range f.Moved {
			if err := moveBackToContact(ctx, tx, m, f.Kept.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveBackToContact returns a ticket or activity moved to contact kept to
// the contact it came from, if it is still with kept.
func moveBackToContact(ctx context.Context, tx crm.Tx, m Repointed, kept crm.ID) error {
	skip := func(err error) error {
		if err == nil || errors.Is(err, crm.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("move %s %s back: %w", m.Record.Type, m.Record.ID, err)
	}
	switch m.Record.Type {
	case crm.TypeTicket:
		t, err := tx.Tickets().Get(ctx, m.Record.ID)
		if err != nil {
			return skip(err)
		}
		if t.ContactID == kept {
			t.ContactID = m.From
			return skip(tx.Tickets().Update(ctx, t))
		}
	case crm.TypeActivity:
		a, err := tx.Activities().Get(ctx, m.Record.ID)
		if err != nil {
			return skip(err)
		}
		if a.Subject == (crm.Ref{Type: crm.TypeContact, ID: kept}) {
			a.Subject.ID = m.From
			return skip(tx.Activities().Update(ctx, a))
		}
	default:
		return crm.Invalid("merge.contacts.moved.record.type", "unknown record type %q", m.Record.Type)
	}
	return nil
}

// reindexContacts brings the keys of the contacts a merge or its undo
// touched in step with them; a contact that is gone loses its keys.
func (s *Service) reindexContacts(ctx context.Context, tx crm.Tx, ks KeyStore, ids []crm.ID) error {
	for _, id := range ids {
		c, err := tx.Contacts().Get(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			if err := ks.Delete(ctx, id); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := s.indexContact(ctx, ks, c); err != nil {
			return fmt.Errorf("index contact %s: %w", id, err)
		}
	}
	return nil
}
