package dedupe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Kinds of the keys [Service] stores for a contact. A contact is a
// duplicate only of a contact of the same customer, so each value is
// prefixed with the customer's ID ("<customer>|+8613800138000").
const (
	KeyContactName  = "contact_name"
	KeyContactPhone = "contact_phone"
	KeyContactEmail = "contact_email"
)

// contactPhones returns the contact's phones in E.164 form (or folded
// digits when they do not parse), without repeats, in order.
func (s *Service) contactPhones(c *crm.Contact) []string {
	var out []string
	for _, p := range c.Phones {
		v := digitsOnly(Fold(p))
		if n, err := NormalisePhone(p, s.mt.cfg.Region); err == nil {
			v = n.E164
		}
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// contactEmails returns the contact's normalised e-mail addresses without
// repeats, in order.
func contactEmails(c *crm.Contact) []string {
	var out []string
	for _, e := range c.Emails {
		if v := NormaliseEmail(e); strings.Contains(v, "@") && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ContactKeys returns the match keys of a contact within its customer:
// the pinyin of the name, every phone in E.164 form and every e-mail, each
// prefixed with the customer's ID, at most [MaxKeysPerRecord]; and as
// strong key the customer, the name and the first phone
// ("contact|<customer>|李伟|+8613800138000"), unique per customer like a
// person customer's, so of two concurrent entries of one contact only one
// is stored. A contact without a phone has no strong key. It does not
// touch storage.
func (s *Service) ContactKeys(c *crm.Contact) RecordKeys {
	rk := RecordKeys{RecordID: c.ID}
	scope := c.CustomerID.String() + "|"
	add := func(kind, v string) {
		if v = clipKey(v); v != "" && len(rk.Keys) < MaxKeysPerRecord {
			rk.Keys = append(rk.Keys, Key{Kind: kind, Value: clipKey(scope + v)})
		}
	}
	if p := PinyinKey(c.Name); p != "" {
		add(KeyContactName, p)
	}
	phones := s.contactPhones(c)
	for _, p := range phones {
		add(KeyContactPhone, p)
	}
	for _, e := range contactEmails(c) {
		add(KeyContactEmail, e)
	}
	if name := NormaliseName(c.Name); name != "" && len(phones) > 0 {
		rk.Strong = clipKey("contact|" + scope + name + "|" + phones[0])
	}
	return rk
}

// CompareContacts compares two contacts with the service's matcher as
// persons: name, phone and e-mail. A phone or e-mail the two share counts
// as agreeing wherever it sits in their lists. A customer merge folds two
// contacts into one when they have the same name and first phone, or when
// the decision's class is [Match] and the names agree at least closely;
// an entry ([Service.EnterContactTx]) ignores a contact of another name.
// It does not touch storage.
func (s *Service) CompareContacts(a, b *crm.Contact) (Decision, error) {
	ra, rb := s.contactRecords(a, b)
	return s.mt.Compare(ra, rb)
}

// contactRecords returns a and b as records with [CustomerFields], each
// with the phone and e-mail they share when they share one, else their
// first.
func (s *Service) contactRecords(a, b *crm.Contact) (Record, Record) {
	pick := func(x, y []string) (string, string) {
		for _, v := range x {
			if slices.Contains(y, v) {
				return v, v
			}
		}
		var vx, vy string
		if len(x) > 0 {
			vx = x[0]
		}
		if len(y) > 0 {
			vy = y[0]
		}
		return vx, vy
	}
	pa, pb := pick(s.contactPhones(a), s.contactPhones(b))
	ea, eb := pick(contactEmails(a), contactEmails(b))
	return Record{ID: a.ID.String(), Values: []string{"", a.Name, pa, ea, ""}},
		Record{ID: b.ID.String(), Values: []string{"", b.Name, pb, eb, ""}}
}

// sameContact reports whether a and b are one person: they hold the same
// strong key, or the matcher classes them a match and their names agree
// closely (colleagues share a switchboard number, not a name).
func (s *Service) sameContact(a, b *crm.Contact) (bool, error) {
	ka, kb := s.ContactKeys(a), s.ContactKeys(b)
	if ka.Strong != "" && ka.Strong == kb.Strong {
		return true, nil
	}
	d, err := s.CompareContacts(a, b)
	return d.Class == Match && nameLevel(d) >= LevelClose, err
}

// nameLevel returns the agreement of the person's name in a decision over
// [CustomerFields].
func nameLevel(d Decision) Level {
	for _, r := range d.Reasons {
		if r.Field == "name" {
			return r.Level
		}
	}
	return LevelMissing
}

// ContactEntryRequest asks to enter a new contact of a customer.
type ContactEntryRequest struct {
	// Contact is the contact to store; its CustomerID is required. An ID
	// of crm.NilID gets one from the configured generator. It is not
	// modified.
	Contact *crm.Contact
	// Policy decides what the candidates (contacts of the same customer)
	// mean for this entry point.
	Policy Policy
	// ActorID is the user entering the contact, for the event; crm.NilID
	// for the system.
	ActorID crm.ID
}

// ContactEntryResult is a contact that was entered.
type ContactEntryResult struct {
	// Action is Allow, or Warn when the policy warned about Candidates.
	Action Action
	// Candidates are the contacts of the customer it may duplicate, best
	// first (Record names each contact).
	Candidates []Candidate
	// Contact is the stored contact (a copy the caller owns).
	Contact *crm.Contact
}

// ContactBlockedError reports that a contact entry was refused because the
// customer already has that person. It matches [crm.ErrAlreadyExists].
type ContactBlockedError struct {
	// Best is the candidate that blocked the entry.
	Best Candidate
	// Existing is that stored contact (a copy the caller owns).
	Existing *crm.Contact
	// Candidates are all the candidates found, best first.
	Candidates []Candidate
	// StrongKey is set when Existing has the same name and phone, which
	// blocks whatever the policy.
	StrongKey bool
}

// Error implements error.
func (e *ContactBlockedError) Error() string {
	why := fmt.Sprintf("score %.1f", e.Best.Score)
	if e.StrongKey {
		why = "same name and phone"
	}
	return fmt.Sprintf("dedupe: contact entry blocked: duplicates contact %s %q of customer %s (%s)",
		e.Existing.ID, clipForError(e.Existing.Name), e.Existing.CustomerID, why)
}

// Is reports whether target is [crm.ErrAlreadyExists].
func (e *ContactBlockedError) Is(target error) bool { return target == crm.ErrAlreadyExists }

// EnterContact checks and stores a new contact in one unit of work; see
// [Service.EnterContactTx].
func (s *Service) EnterContact(ctx context.Context, req ContactEntryRequest) (*ContactEntryResult, error) {
	var out *ContactEntryResult
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		out, err = s.EnterContactTx(ctx, tx, req)
		return err
	})
	return out, err
}

// EnterContactTx checks req.Contact against the contacts of its customer
// and, unless the policy blocks it, creates it and stores its keys
// ([Service.ContactKeys]), inside the caller's unit of work. A contact with the name and first phone of one the
// customer has is blocked whatever the policy; others are decided by
// score. A blocked entry writes nothing and returns a
// [*ContactBlockedError]. Of concurrent entries of one contact (one strong
// key) at most one commits; the others fail with an error matching
// [crm.ErrAlreadyExists] and their unit of work must be rolled back. An
// unknown customer is [crm.ErrNotFound], a merged one
// [crm.ErrFailedPrecondition], an invalid contact a [*crm.ValidationError]
// naming the field.
func (s *Service) EnterContactTx(ctx context.Context, tx crm.Tx, req ContactEntryRequest) (*ContactEntryResult, error) {
	ctx = crm.DefaultActor(ctx, req.ActorID, "create")
	if req.Contact == nil {
		return nil, fmt.Errorf("dedupe: enter contact: %w", crm.Invalid("contact", "is required"))
	}
	if err := req.Policy.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: enter contact: %w", err)
	}
	dt, err := TxOf(tx)
	if err != nil {
		return nil, err
	}
	c := req.Contact.Clone()
	if c.ID == crm.NilID {
		c.ID = s.cfg.IDs.NewID()
	}
	c.Version = 0
	c.Normalise()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("dedupe: enter contact: %w", err)
	}
	fail := func(err error) (*ContactEntryResult, error) {
		return nil, fmt.Errorf("dedupe: enter contact %s: %w", c.ID, err)
	}
	cust, err := tx.Customers().Get(ctx, c.CustomerID)
	if err != nil {
		return fail(fmt.Errorf("customer %s: %w", c.CustomerID, err))
	}
	if _, merged := cust.MergedInto(); merged {
		return fail(fmt.Errorf("customer %s is merged: %w", cust.ID, crm.ErrFailedPrecondition))
	}
	keys := s.ContactKeys(c)
	cands, contacts, strong, err := s.checkContact(ctx, tx, dt.DedupeKeys(), c, &keys)
	if err != nil {
		return fail(err)
	}
	if strong != nil {
		return nil, &ContactBlockedError{Best: cands[0], Existing: strong, Candidates: cands, StrongKey: true}
	}
	action, best := req.Policy.Decide(cands)
	if action == Block {
		return nil, &ContactBlockedError{Best: *best, Existing: contacts[0], Candidates: cands}
	}
	if err := tx.Contacts().Create(ctx, c); err != nil {
		return fail(err)
	}
	if err := dt.DedupeKeys().Put(ctx, &keys); err != nil {
		return fail(err)
	}
	return &ContactEntryResult{Action: action, Candidates: cands, Contact: c.Clone()}, nil
}

// checkContact returns the contacts of c's customer that c may duplicate,
// best first (the holder of c's strong key first), with the stored
// contacts, and that holder.
func (s *Service) checkContact(ctx context.Context, tx crm.Tx, ks KeyStore, c *crm.Contact, keys *RecordKeys) ([]Candidate, []*crm.Contact, *crm.Contact, error) {
	ids, err := ks.Lookup(ctx, keys.Keys, s.cfg.PerKey)
	if err != nil {
		return nil, nil, nil, err
	}
	holder := crm.NilID
	if keys.Strong != "" {
		holder, err = ks.Holder(ctx, keys.Strong)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			holder = crm.NilID
		case err != nil:
			return nil, nil, nil, err
		case !slices.Contains(ids, holder):
			ids = append(ids, holder)
		}
	}
	type hit struct {
		cand Candidate
		c    *crm.Contact
	}
	var hits []hit
	var strong *crm.Contact
	for _, id := range ids {
		if id == c.ID {
			continue
		}
		other, err := tx.Contacts().Get(ctx, id)
		if errors.Is(err, crm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if other.CustomerID != c.CustomerID {
			continue // keys left behind by a move: not this customer's
		}
		d, err := s.CompareContacts(c, other)
		if err != nil {
			return nil, nil, nil, err
		}
		h := hit{cand: Candidate{ID: id.String(), Record: crm.Ref{Type: crm.TypeContact, ID: id}, OwnerID: other.OwnerID, Decision: d}, c: other}
		if id == holder {
			h.cand.Strong, strong = true, other
		}
		// Another name is another person, whatever number or address
		// the two share (a switchboard, a team mailbox).
		if h.cand.Strong || (d.Class != NonMatch && nameLevel(d) != LevelDifferent) {
			hits = append(hits, h)
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		switch {
		case a.cand.Strong != b.cand.Strong && a.cand.Strong:
			return -1
		case a.cand.Strong != b.cand.Strong:
			return 1
		case a.cand.Score > b.cand.Score:
			return -1
		case a.cand.Score < b.cand.Score:
			return 1
		}
		return strings.Compare(a.cand.ID, b.cand.ID)
	})
	if len(hits) > s.cfg.Limit {
		hits = hits[:s.cfg.Limit]
	}
	cands := make([]Candidate, len(hits))
	contacts := make([]*crm.Contact, len(hits))
	for i, h := range hits {
		cands[i], contacts[i] = h.cand, h.c
	}
	return cands, contacts, strong, nil
}

// IndexContactTx stores the match keys of a contact written by other code
// (a conversion, an import, an edit form), replacing its old keys. When
// another contact of the customer holds its strong key the contact is
// indexed without it (merge the two: see [Service.MergeTx]).
func (s *Service) IndexContactTx(ctx context.Context, tx crm.Tx, c *crm.Contact) error {
	if c == nil || c.ID == crm.NilID {
		return fmt.Errorf("dedupe: index contact: %w", crm.Invalid("contact.id", "is required"))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return err
	}
	if err := s.indexContact(ctx, dt.DedupeKeys(), c); err != nil {
		return fmt.Errorf("dedupe: index contact %s: %w", c.ID, err)
	}
	return nil
}

func (s *Service) indexContact(ctx context.Context, ks KeyStore, c *crm.Contact) error {
	keys := s.ContactKeys(c)
	err := ks.Put(ctx, &keys)
	var taken *KeyTakenError
	if errors.As(err, &taken) {
		keys.Strong = ""
		err = ks.Put(ctx, &keys)
	}
	return err
}

// UnindexContactTx removes the match keys of a contact, for example
// before the host deletes it. A contact without keys is not an error.
func (s *Service) UnindexContactTx(ctx context.Context, tx crm.Tx, id crm.ID) error {
	dt, err := TxOf(tx)
	if err != nil {
		return err
	}
	if err := dt.DedupeKeys().Delete(ctx, id); err != nil {
		return fmt.Errorf("dedupe: unindex contact %s: %w", id, err)
	}
	return nil
}
