package dedupe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// Kinds of the keys [Service] stores for a customer.
const (
	// KeyCompany is a company's name without legal form and region
	// ([Company.Key]), so 华腾科技(北京)有限公司 and 北京华腾科技有限公司 share it.
	KeyCompany = "company"
	// KeyName is a person's name read as pinyin ([PinyinKey]), so
	// homophones share it.
	KeyName = "name"
	// KeyPhone is a phone number in E.164 form.
	KeyPhone = "phone"
	// KeyEmail is a normalised e-mail address.
	KeyEmail = "email"
	// KeyAddress is the first ten characters of a normalised address.
	KeyAddress = "address"
)

// Event types written by [Service].
const (
	// EventCustomerMerged is written when duplicates merge into a survivor;
	// its payload is the [CustomerMerge].
	EventCustomerMerged crm.EventType = "customer.merged"
	// EventCustomerMergeUndone is written when a merge is undone; its
	// payload is the [CustomerMerge] that was undone.
	EventCustomerMergeUndone crm.EventType = "customer.merge_undone"
)

// ServiceConfig configures a [Service]. The zero value is the default.
type ServiceConfig struct {
	// Clock stamps merges and events. Defaults to crm.SystemClock.
	Clock crm.Clock
	// IDs makes customer and event IDs. Defaults to crm.UUIDv7 on Clock.
	IDs crm.IDGenerator
	// PerKey is how many records of one key a check reads at most (the
	// newest), so a key shared by many records keeps checks fast. 1 to
	// [MaxPerKey]. Defaults to 50.
	PerKey int
	// Limit is how many candidates a check returns at most. Defaults to 10.
	Limit int
	// Ownership settles who owns what when customers merge, inside the
	// merge's unit of work, and undoes it with the merge. The composition
	// root (package crmkit) wires the pool package's settlement here.
	// Defaults to nil: merges leave ownership as the customers carry it.
	Ownership OwnershipSettler
}

// OwnershipSettler settles ownership when customers merge: the survivor's
// owner or pool, the losers' holdings and whatever counts them. It runs
// inside the merge's unit of work after the customers were updated, and
// returns its settlement as JSON, kept in [CustomerMerge.Ownership] so
// UndoMerge can restore it. Implementations must be safe for concurrent
// use.
type OwnershipSettler interface {
	SettleMerge(ctx context.Context, tx crm.Tx, m *CustomerMerge, actor crm.ID) (json.RawMessage, error)
	UndoMerge(ctx context.Context, tx crm.Tx, m *CustomerMerge, actor crm.ID) error
}

func (c *ServiceConfig) validate() error {
	var errs crm.ValidationErrors
	if c.PerKey < 1 || c.PerKey > MaxPerKey {
		errs = append(errs, crm.Invalid("per_key", "must be between 1 and %d, got %d", MaxPerKey, c.PerKey))
	}
	if c.Limit < 1 {
		errs = append(errs, crm.Invalid("limit", "must be positive, got %d", c.Limit))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Service checks customers against the stored ones, enters new customers
// unless they duplicate one, and merges duplicates, through a [crm.Store]
// whose units of work offer the dedupe port ([Tx]). It keeps the match
// keys of the customers it enters and merges; customers written by other
// code get theirs through [Service.IndexCustomerTx]. Every operation is one
// all-or-nothing unit of work with its events; the ...Tx variants run inside
// a unit of work the caller already holds. It is safe for concurrent use.
type Service struct {
	store crm.Store
	mt    *Matcher
	cfg   ServiceConfig
}

// NewService returns a service on store comparing customers with mt,
// whose fields must be [CustomerFields] (company, name, phone, email,
// address, in that order). A nil cfg means defaults.
func NewService(store crm.Store, mt *Matcher, cfg *ServiceConfig) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("dedupe: new service: %w", crm.Invalid("store", "is required"))
	}
	if mt == nil {
		return nil, fmt.Errorf("dedupe: new service: %w", crm.Invalid("matcher", "is required"))
	}
	if !slices.Equal(mt.Fields(), CustomerFields()) {
		return nil, fmt.Errorf("dedupe: new service: %w", crm.Invalid("matcher", "fields must be CustomerFields()"))
	}
	var c ServiceConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	if c.PerKey == 0 {
		c.PerKey = 50
	}
	if c.Limit == 0 {
		c.Limit = 10
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: new service: %w", err)
	}
	return &Service{store: store, mt: mt, cfg: c}, nil
}

// Keys returns the match keys of a customer: its company name (companies)
// or pinyin name (persons), phone, e-mail and address prefix as blocking
// keys, and as strong key the company name with the region it names
// ("company:华腾科技@北京"), or for a person the name with the phone
// ("person:李伟|+8613800138000"); a person without a phone has no strong
// key. Values are cut to [MaxKeyLength] bytes. It does not touch storage.
func (s *Service) Keys(c *crm.Customer) RecordKeys {
	rk := RecordKeys{RecordID: c.ID}
	add := func(kind, v string) {
		if v = clipKey(v); v != "" {
			rk.Keys = append(rk.Keys, Key{Kind: kind, Value: v})
		}
	}
	phone := ""
	if p, err := NormalisePhone(c.Phone, s.mt.cfg.Region); err == nil {
		phone = p.E164
	}
	if c.Kind == crm.CustomerPerson {
		name := NormaliseName(c.Name)
		add(KeyName, PinyinKey(c.Name))
		if name != "" && phone != "" {
			rk.Strong = clipKey("person:" + name + "|" + phone)
		}
	} else {
		co := NormaliseCompany(c.Name)
		if k := co.Key(); k != "" {
			add(KeyCompany, k)
			rk.Strong = clipKey("company:" + k + "@" + co.Region)
		}
	}
	add(KeyPhone, phone)
	if e := NormaliseEmail(c.Email); strings.Contains(e, "@") {
		add(KeyEmail, e)
	}
	if a := NormaliseAddress(c.Address); a != "" {
		add(KeyAddress, prefixOf(a, 10))
	}
	return rk
}

// prefixOf returns the first n characters of s.
func prefixOf(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// clipKey cuts s to MaxKeyLength bytes without splitting a character and
// drops NUL bytes, which no database text column takes.
func clipKey(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
	if len(s) <= MaxKeyLength {
		return s
	}
	cut := MaxKeyLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx, err := TxOf(t)
		if err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// Check returns the stored customers that c may duplicate, best first, in
// one read-only unit of work; see [Service.CheckTx].
func (s *Service) Check(ctx context.Context, c *crm.Customer) ([]Candidate, error) {
	var out []Candidate
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		out, err = s.CheckTx(ctx, tx, c)
		return err
	})
	return out, err
}

// CheckTx returns the stored customers that c may duplicate, best first
// (by score, then ID): those that share a key with c and score at least
// the matcher's possible-match weight, each with its score, class, reasons,
// owner and pool; at most the configured Limit. A customer with c's own ID
// is skipped, so an edited customer does not match itself; keys that point
// at a customer no longer stored are ignored. It writes nothing.
func (s *Service) CheckTx(ctx context.Context, tx crm.Tx, c *crm.Customer) ([]Candidate, error) {
	cands, _, _, err := s.check(ctx, tx, c, false)
	return cands, err
}

// DecideTx checks c like [Service.CheckTx] and decides with p what an entry
// of c would meet, writing nothing: [Block] when another customer holds c's
// strong key (that customer comes first among the candidates, whatever its
// score) or the best candidate reaches p.BlockScore, [Warn] from
// p.WarnScore, else [Allow]. Seams that ask "is this a duplicate?" from
// inside another domain's unit of work (pool anti-collision, lead
// conversion) use it, so they decide exactly as [Service.EnterTx] does.
func (s *Service) DecideTx(ctx context.Context, tx crm.Tx, c *crm.Customer, p Policy) (Action, []Candidate, error) {
	return s.decide(ctx, tx, c, p, false)
}

func (s *Service) decide(ctx context.Context, tx crm.Tx, c *crm.Customer, p Policy, stored bool) (Action, []Candidate, error) {
	if err := p.validate(); err != nil {
		return Allow, nil, fmt.Errorf("dedupe: decide: %w", err)
	}
	cands, _, strong, err := s.check(ctx, tx, c, stored)
	if err != nil {
		return Allow, nil, err
	}
	if strong != nil {
		out := make([]Candidate, 0, len(cands)+1)
		out = append(out, strong.cand)
		for _, cd := range cands {
			if cd.CustomerID != strong.cand.CustomerID {
				out = append(out, cd)
			}
		}
		return Block, out, nil
	}
	action, _ := p.Decide(cands)
	return action, cands, nil
}

// storedKeys returns the stored keys of a stored customer, nil when c is
// not stored (or stored is false) or has none.
func storedKeys(ctx context.Context, ks KeyStore, c *crm.Customer, stored bool) (*RecordKeys, error) {
	if !stored || c.ID == crm.NilID || c.Version == 0 {
		return nil, nil // not stored yet (Version 0): no keys to read
	}
	k, err := ks.Get(ctx, c.ID)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, nil
	}
	return k, err
}

// DecideStoredTx is [Service.DecideTx] for a customer as stored (a claim or
// an assignment of an existing customer): it blocks on the keys stored for
// it, which every crmkit write path keeps, instead of computing them again,
// and computes them only when it has none. Use DecideTx for a customer
// about to be stored or changed.
func (s *Service) DecideStoredTx(ctx context.Context, tx crm.Tx, c *crm.Customer, p Policy) (Action, []Candidate, error) {
	return s.decide(ctx, tx, c, p, true)
}

// found is a stored customer compared with a checked one.
type found struct {
	cand Candidate
	cust *crm.Customer
}

// check returns the candidates with their customers and, when another
// customer holds c's strong key, that customer compared with c whatever
// its score.
//
// With stored set, c is a stored customer and its stored keys, when it has
// any, are looked up instead of computed again from its fields: computing
// them normalises the phone number, which costs more than the rest of a
// check.
func (s *Service) check(ctx context.Context, tx crm.Tx, c *crm.Customer, stored bool) ([]Candidate, []*crm.Customer, *found, error) {
	if c == nil {
		return nil, nil, nil, fmt.Errorf("dedupe: check: %w", crm.Invalid("customer", "is required"))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return nil, nil, nil, err
	}
	ks := dt.DedupeKeys()
	var keys RecordKeys
	switch k, err := storedKeys(ctx, ks, c, stored); {
	case err != nil:
		return nil, nil, nil, fmt.Errorf("dedupe: check: %w", err)
	case k != nil:
		keys = *k
	default:
		keys = s.Keys(c)
	}
	ids, err := ks.Lookup(ctx, keys.Keys, s.cfg.PerKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dedupe: check: %w", err)
	}
	holder := crm.NilID
	if keys.Strong != "" {
		holder, err = ks.Holder(ctx, keys.Strong)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			holder = crm.NilID
		case err != nil:
			return nil, nil, nil, fmt.Errorf("dedupe: check: %w", err)
		case !slices.Contains(ids, holder):
			ids = append(ids, holder)
		}
	}
	return s.rank(c, ids, holder, func(id crm.ID) (*crm.Customer, error) { return tx.Customers().Get(ctx, id) })
}

// rank compares c with the customers of ids, read with get (a missing one
// is skipped), and returns the candidates that are not non-matches, best
// first and at most the configured limit, with their customers, and the
// holder of c's strong key compared with c whatever its score.
func (s *Service) rank(c *crm.Customer, ids []crm.ID, holder crm.ID, get func(crm.ID) (*crm.Customer, error)) ([]Candidate, []*crm.Customer, *found, error) {
	rec := CustomerRecord(c)
	var out []found
	var strong *found
	for _, id := range ids {
		if id == c.ID && c.ID != crm.NilID {
			continue
		}
		other, err := get(id)
		if errors.Is(err, crm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("dedupe: check: %w", err)
		}
		d, err := s.mt.Compare(rec, CustomerRecord(other))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("dedupe: check: %w", err)
		}
		f := found{cand: Candidate{ID: id.String(), CustomerID: id, Record: crm.Ref{Type: crm.TypeCustomer, ID: id}, OwnerID: other.OwnerID, PoolID: other.PoolID, Decision: d}, cust: other}
		if id == holder {
			f.cand.Strong = true
			strong = &f
		}
		if d.Class != NonMatch {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b found) int {
		switch {
		case a.cand.Score > b.cand.Score:
			return -1
		case a.cand.Score < b.cand.Score:
			return 1
		}
		return strings.Compare(a.cand.ID, b.cand.ID)
	})
	if len(out) > s.cfg.Limit {
		out = out[:s.cfg.Limit]
	}
	cands := make([]Candidate, len(out))
	custs := make([]*crm.Customer, len(out))
	for i, f := range out {
		cands[i], custs[i] = f.cand, f.cust
	}
	return cands, custs, strong, nil
}

// EntryRequest asks to enter a new customer.
type EntryRequest struct {
	// Customer is the customer to store. Required. An ID of crm.NilID gets
	// one from the configured generator. On success the stored ID, version
	// and times are written back into it; on failure it is left unchanged.
	Customer *crm.Customer
	// Policy decides what the candidates mean for this entry point.
	Policy Policy
	// ActorID is the user entering the customer, for the event; crm.NilID
	// for the system.
	ActorID crm.ID
}

// EntryResult is a customer that was entered.
type EntryResult struct {
	// Action is Allow, or Warn when the policy warned about Candidates.
	Action Action
	// Candidates are the customers it may duplicate, best first.
	Candidates []Candidate
	// Customer is the stored customer (a copy the caller owns).
	Customer *crm.Customer
}

// BlockedError reports that an entry was refused because the customer
// duplicates a stored one. It matches [crm.ErrAlreadyExists].
type BlockedError struct {
	// Best is the candidate that blocked the entry.
	Best Candidate
	// Existing is that stored customer (a copy the caller owns).
	Existing *crm.Customer
	// Candidates are all the candidates found, best first.
	Candidates []Candidate
	// StrongKey is set when the entry was blocked because Existing holds
	// the same strong key, whatever the policy.
	StrongKey bool
}

// Error implements error.
func (e *BlockedError) Error() string {
	why := fmt.Sprintf("score %.1f", e.Best.Score)
	if e.StrongKey {
		why = "same strong key"
	}
	return fmt.Sprintf("dedupe: entry blocked: duplicates customer %s %q (%s)", e.Best.ID, clipForError(e.Existing.Name), why)
}

// Is reports whether target is [crm.ErrAlreadyExists].
func (e *BlockedError) Is(target error) bool { return target == crm.ErrAlreadyExists }

// Enter checks and stores a new customer in one unit of work; see
// [Service.EnterTx].
func (s *Service) Enter(ctx context.Context, req EntryRequest) (*EntryResult, error) {
	var out *EntryResult
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		out, err = s.EnterTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	*req.Customer = *out.Customer.Clone()
	return out, nil
}

// EnterTx checks req.Customer against the stored customers and, unless the
// policy blocks it, creates it and stores its keys, inside the caller's
// unit of work. A blocked entry
// writes nothing and returns a [*BlockedError]; so does a customer whose
// strong key another customer holds, whatever the policy. Of concurrent
// entries of one customer (the same strong key) at most one commits: the
// others fail with an error matching [crm.ErrAlreadyExists] and their unit
// of work must be rolled back (returning the error from InTx does that).
// Invalid customers fail with [*crm.ValidationError] naming the field.
// req.Customer is not modified; the stored copy is in the result.
func (s *Service) EnterTx(ctx context.Context, tx crm.Tx, req EntryRequest) (*EntryResult, error) {
	ctx = crm.DefaultActor(ctx, req.ActorID, "create")
	if req.Customer == nil {
		return nil, fmt.Errorf("dedupe: enter: %w", crm.Invalid("customer", "is required"))
	}
	if err := req.Policy.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: enter: %w", err)
	}
	dt, err := TxOf(tx)
	if err != nil {
		return nil, err
	}
	c := req.Customer.Clone()
	if c.ID == crm.NilID {
		c.ID = s.cfg.IDs.NewID()
	}
	c.Normalise()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("dedupe: enter: %w", err)
	}
	cands, custs, strong, err := s.check(ctx, tx, c, false)
	if err != nil {
		return nil, err
	}
	if strong != nil {
		return nil, &BlockedError{Best: strong.cand, Existing: strong.cust, Candidates: cands, StrongKey: true}
	}
	action, best := req.Policy.Decide(cands)
	if action == Block {
		// Decide returns the first candidate, the best.
		return nil, &BlockedError{Best: *best, Existing: custs[0], Candidates: cands}
	}
	if err := tx.Customers().Create(ctx, c); err != nil {
		return nil, fmt.Errorf("dedupe: enter: %w", err)
	}
	keys := s.Keys(c)
	if err := dt.DedupeKeys().Put(ctx, &keys); err != nil {
		return nil, fmt.Errorf("dedupe: enter customer %s: %w", c.ID, err)
	}
	return &EntryResult{Action: action, Candidates: cands, Customer: c.Clone()}, nil
}

// IndexCustomerTx stores the match keys of a customer that was created or
// changed by other code (an import, an edit form), replacing its old keys,
// so later checks find it. It fails with an error matching
// [crm.ErrAlreadyExists] ([*KeyTakenError]) when another customer holds its
// strong key; merge the two instead.
func (s *Service) IndexCustomerTx(ctx context.Context, tx crm.Tx, c *crm.Customer) error {
	if c == nil || c.ID == crm.NilID {
		return fmt.Errorf("dedupe: index customer: %w", crm.Invalid("customer.id", "is required"))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return err
	}
	keys := s.Keys(c)
	if err := dt.DedupeKeys().Put(ctx, &keys); err != nil {
		return fmt.Errorf("dedupe: index customer %s: %w", c.ID, err)
	}
	return nil
}

// UnindexCustomerTx removes the match keys of a customer, for example
// before the host deletes it. A customer without keys is not an error.
func (s *Service) UnindexCustomerTx(ctx context.Context, tx crm.Tx, id crm.ID) error {
	dt, err := TxOf(tx)
	if err != nil {
		return err
	}
	if err := dt.DedupeKeys().Delete(ctx, id); err != nil {
		return fmt.Errorf("dedupe: unindex customer %s: %w", id, err)
	}
	return nil
}

func (s *Service) emit(ctx context.Context, tx crm.Tx, typ crm.EventType, id, actor crm.ID, payload any) error {
	ev, err := crm.NewEvent(s.cfg.IDs, s.cfg.Clock, typ, crm.Ref{Type: crm.TypeCustomer, ID: id}, actor, payload)
	if err != nil {
		return err
	}
	return tx.Events().Append(ctx, &ev)
}
