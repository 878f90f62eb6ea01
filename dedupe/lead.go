package dedupe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Kinds of the keys [Service] stores for an open lead. They are the
// customer keys ([KeyCompany], [KeyName], [KeyPhone], [KeyEmail]) made by
// the same normalisers under kinds of their own, so a customer check never
// reads a lead and a lead never crowds customers out of a key's newest
// [ServiceConfig.PerKey] records.
const (
	KeyLeadCompany = "lead_company"
	KeyLeadName    = "lead_name"
	KeyLeadPhone   = "lead_phone"
	KeyLeadEmail   = "lead_email"
)

// leadStrongPrefix namespaces a lead's strong key, so a lead never holds a
// customer's strong key.
const leadStrongPrefix = "lead|"

// LeadOpen reports whether l is still worked on: neither converted nor
// disqualified. Only open leads keep match keys and count as duplicates.
func LeadOpen(l *crm.Lead) bool {
	return l.Status != crm.LeadConverted && l.Status != crm.LeadDisqualified
}

// LeadRecord turns a lead into a record with [CustomerFields]: company,
// the person's name, phone and e-mail (leads have no address). Compared
// with a lead, both the company and the person count; a lead compared with
// a customer is compared as [LeadCustomer].
func LeadRecord(l *crm.Lead) Record {
	return Record{ID: l.ID.String(), Values: []string{l.Company, l.Name, l.Phone, l.Email, ""}}
}

// LeadCustomer returns the customer a lead would become, as far as
// matching goes: a company named l.Company, or a person named l.Name when
// the lead names no company, with the lead's phone and e-mail and ID.
// lead.CustomerDraft, the conversion's customer, has the same kind, name,
// phone and e-mail, so a lead is checked against customers at capture
// exactly as at conversion.
func LeadCustomer(l *crm.Lead) *crm.Customer {
	c := &crm.Customer{Meta: crm.Meta{ID: l.ID}, Kind: crm.CustomerCompany, Name: l.Company, Phone: l.Phone, Email: l.Email}
	if strings.TrimSpace(l.Company) == "" {
		c.Kind, c.Name = crm.CustomerPerson, l.Name
	}
	return c
}

// LeadKeys returns the match keys of a lead: the company name without
// legal form and region (or, for a lead naming no company, the pinyin of
// the person's name), the E.164 phone and the e-mail, under the lead kinds ([KeyLeadCompany] ...), and as
// strong key the strong key of [LeadCustomer] prefixed "lead|". Unlike a
// customer's, a lead's strong key is no uniqueness rule (a policy may let a
// second lead of one company in, which then holds no strong key): it is the
// point where concurrent captures of one lead meet, so the later one sees
// the earlier. It does not touch storage.
func (s *Service) LeadKeys(l *crm.Lead) RecordKeys {
	rk := RecordKeys{RecordID: l.ID}
	add := func(kind, v string) {
		if v = clipKey(v); v != "" {
			rk.Keys = append(rk.Keys, Key{Kind: kind, Value: v})
		}
	}
	add(KeyLeadCompany, NormaliseCompany(l.Company).Key())
	if strings.TrimSpace(l.Company) == "" {
		// As for customers, a person's name is a key only of a lead that
		// is a person: a common name (王芳) shared by many companies'
		// leads would make every capture read PerKey of them.
		add(KeyLeadName, PinyinKey(l.Name))
	}
	if p, err := NormalisePhone(l.Phone, s.mt.cfg.Region); err == nil {
		add(KeyLeadPhone, p.E164)
	}
	if e := NormaliseEmail(l.Email); strings.Contains(e, "@") {
		add(KeyLeadEmail, e)
	}
	if strong := s.Keys(LeadCustomer(l)).Strong; strong != "" {
		rk.Strong = clipKey(leadStrongPrefix + strong)
	}
	return rk
}

// decideShared is [Policy.Decide] for records that may share a strong key
// (leads): a candidate holding the strong key gets the policy's strongest
// action (block when the policy blocks, else warn when it warns), whatever
// its score, and comes first; the others are decided by score.
func decideShared(p Policy, cands []Candidate) (Action, []Candidate) {
	i := slices.IndexFunc(cands, func(c Candidate) bool { return c.Strong })
	if i < 0 {
		a, _ := p.Decide(cands)
		return a, cands
	}
	if i > 0 {
		out := make([]Candidate, 0, len(cands))
		out = append(out, cands[i])
		out = append(out, cands[:i]...)
		cands = append(out, cands[i+1:]...)
	}
	switch {
	case p.BlockScore != 0:
		return Block, cands
	case p.WarnScore != 0:
		return Warn, cands
	}
	return Allow, cands
}

// CheckLeadTx returns the open leads and the customers that l may
// duplicate, best first, at most the configured Limit: a lead holding l's
// strong key first, then a customer holding the strong key of
// [LeadCustomer], then by score. Leads are compared as [LeadRecord]s,
// customers as at conversion ([LeadCustomer]); a lead with l's own ID and
// leads that are converted or disqualified are skipped. It writes nothing.
func (s *Service) CheckLeadTx(ctx context.Context, tx crm.Tx, l *crm.Lead) ([]Candidate, error) {
	if l == nil {
		return nil, fmt.Errorf("dedupe: check lead: %w", crm.Invalid("lead", "is required"))
	}
	keys := s.LeadKeys(l)
	cands, _, err := s.checkLead(ctx, tx, l, &keys)
	return cands, err
}

// checkLead returns the candidates of l and the holder of its lead strong
// key (crm.NilID for none, or for a holder that is no open lead).
func (s *Service) checkLead(ctx context.Context, tx crm.Tx, l *crm.Lead, keys *RecordKeys) ([]Candidate, crm.ID, error) {
	dt, err := TxOf(tx)
	if err != nil {
		return nil, crm.NilID, err
	}
	ks := dt.DedupeKeys()
	ids, err := ks.Lookup(ctx, keys.Keys, s.cfg.PerKey)
	if err != nil {
		return nil, crm.NilID, fmt.Errorf("dedupe: check lead: %w", err)
	}
	holder := crm.NilID
	if keys.Strong != "" {
		holder, err = ks.Holder(ctx, keys.Strong)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			holder = crm.NilID
		case err != nil:
			return nil, crm.NilID, fmt.Errorf("dedupe: check lead: %w", err)
		case !slices.Contains(ids, holder):
			ids = append(ids, holder)
		}
	}
	rec := LeadRecord(l)
	var out []Candidate
	openHolder := crm.NilID
	for _, id := range ids {
		if id == l.ID {
			continue
		}
		other, err := tx.Leads().Get(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, crm.NilID, fmt.Errorf("dedupe: check lead: %w", err)
		}
		if !LeadOpen(other) {
			continue
		}
		d, err := s.mt.Compare(rec, LeadRecord(other))
		if err != nil {
			return nil, crm.NilID, fmt.Errorf("dedupe: check lead: %w", err)
		}
		c := Candidate{ID: id.String(), Record: crm.Ref{Type: crm.TypeLead, ID: id}, OwnerID: other.OwnerID, Decision: d}
		if id == holder {
			c.Strong, openHolder = true, id
		}
		if c.Strong || d.Class != NonMatch {
			out = append(out, c)
		}
	}
	custs, _, strong, err := s.check(ctx, tx, LeadCustomer(l), false)
	if err != nil {
		return nil, crm.NilID, err
	}
	if strong != nil && !slices.ContainsFunc(custs, func(c Candidate) bool { return c.CustomerID == strong.cand.CustomerID }) {
		custs = append(custs, strong.cand)
	}
	for i := range custs {
		custs[i].Strong = strong != nil && custs[i].CustomerID == strong.cand.CustomerID
	}
	out = append(out, custs...)
	slices.SortStableFunc(out, func(a, b Candidate) int {
		// Strong holders first (a lead before a customer), then by score.
		switch {
		case a.Strong != b.Strong && a.Strong:
			return -1
		case a.Strong != b.Strong:
			return 1
		case a.Strong && a.Record.Type != b.Record.Type:
			if a.Record.Type == crm.TypeLead {
				return -1
			}
			return 1
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > s.cfg.Limit {
		out = out[:s.cfg.Limit]
	}
	return out, openHolder, nil
}

// CaptureLeadTx checks a lead about to be stored against the open leads
// and the customers ([Service.CheckLeadTx]), lets p decide, and unless p
// blocks, stores l's match keys, inside the caller's unit of work; the
// caller stores the lead itself in the same unit of work. A candidate
// holding l's strong key (a lead of the same company, or of the same person
// and phone; or a customer that is that company or person) gets p's
// strongest action whatever its score: block when p blocks, else warn. A
// blocked capture writes nothing. A lead stored beside another that holds
// its strong key gets no strong key.
//
// Of two concurrent captures of one lead (one strong key), the later sees
// the earlier: storing its strong key waits for the earlier unit of work
// and, when that one committed, finds the key taken, checks again (the
// earlier lead is visible now) and decides on what it finds. l.ID must be
// set. On error the caller must roll back the unit of work (returning the
// error from InTx does that).
func (s *Service) CaptureLeadTx(ctx context.Context, tx crm.Tx, l *crm.Lead, p Policy) (Action, []Candidate, error) {
	if err := p.validate(); err != nil {
		return Allow, nil, fmt.Errorf("dedupe: capture lead: %w", err)
	}
	if l == nil || l.ID == crm.NilID {
		return Allow, nil, fmt.Errorf("dedupe: capture lead: %w", crm.Invalid("lead.id", "is required"))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return Allow, nil, err
	}
	keys := s.LeadKeys(l)
	for round := 0; ; round++ {
		cands, holder, err := s.checkLead(ctx, tx, l, &keys)
		if err != nil {
			return Allow, nil, err
		}
		action, cands := decideShared(p, cands)
		if action == Block {
			return Block, cands, nil
		}
		put := keys
		if holder != crm.NilID {
			put.Strong = "" // an open lead holds it: l stands beside it
		}
		err = s.putLeadKeys(ctx, tx, dt.DedupeKeys(), &put)
		var taken *KeyTakenError
		if errors.As(err, &taken) && round == 0 {
			continue // a concurrent capture committed first: decide again, seeing it
		}
		if err != nil {
			return Allow, nil, fmt.Errorf("dedupe: capture lead %s: %w", l.ID, err)
		}
		return action, cands, nil
	}
}

// putLeadKeys stores a lead's keys. A strong key held by a lead that is
// gone or closed (its keys outlived it) is taken over; one held by an open
// lead is a [*KeyTakenError].
func (s *Service) putLeadKeys(ctx context.Context, tx crm.Tx, ks KeyStore, keys *RecordKeys) error {
	err := ks.Put(ctx, keys)
	var taken *KeyTakenError
	if !errors.As(err, &taken) {
		return err
	}
	holder, gerr := tx.Leads().Get(ctx, taken.HolderID)
	switch {
	case errors.Is(gerr, crm.ErrNotFound):
	case gerr != nil:
		return gerr
	case LeadOpen(holder):
		return err
	}
	if err := ks.Delete(ctx, taken.HolderID); err != nil {
		return err
	}
	return ks.Put(ctx, keys)
}

// IndexLeadTx keeps the match keys of a lead written by other code (a
// transition, an import, an edit form) in step with it: an open lead gets
// its keys (without the strong key when another open lead holds it), a
// converted or disqualified lead loses them, so checks no longer find it.
func (s *Service) IndexLeadTx(ctx context.Context, tx crm.Tx, l *crm.Lead) error {
	if l == nil || l.ID == crm.NilID {
		return fmt.Errorf("dedupe: index lead: %w", crm.Invalid("lead.id", "is required"))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return err
	}
	ks := dt.DedupeKeys()
	if !LeadOpen(l) {
		if err := ks.Delete(ctx, l.ID); err != nil {
			return fmt.Errorf("dedupe: unindex lead %s: %w", l.ID, err)
		}
		return nil
	}
	keys := s.LeadKeys(l)
	err = s.putLeadKeys(ctx, tx, ks, &keys)
	var taken *KeyTakenError
	if errors.As(err, &taken) {
		keys.Strong = ""
		err = ks.Put(ctx, &keys)
	}
	if err != nil {
		return fmt.Errorf("dedupe: index lead %s: %w", l.ID, err)
	}
	return nil
}
