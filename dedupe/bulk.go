package dedupe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// BulkKeyStore is an optional extension of [KeyStore] for entering many
// customers in one step ([Service.EnterManyTx]): the lookups of all their
// keys and the writes of all their keys each take one round trip instead
// of several per customer. pgstore implements it; without it EnterManyTx
// enters the customers one by one.
type BulkKeyStore interface {
	// LookupEach returns, per key, the records holding it: at most perKey
	// each, chosen as [KeyStore.Lookup] chooses them. Keys no record holds
	// are left out. At most [MaxBulkKeys] keys.
	LookupEach(ctx context.Context, keys []Key, perKey int) (map[Key][]crm.ID, error)
	// Holders returns the record holding each of the strong keys; keys no
	// record holds are left out. At most [MaxBulkKeys] keys.
	Holders(ctx context.Context, strong []string) (map[string]crm.ID, error)
	// PutNew stores the keys of records that hold none yet, as
	// [KeyStore.Put] would one by one. A strong key another record holds
	// is a [*KeyTakenError] and the unit of work must be rolled back.
	// At most [crm.MaxBulk] key sets.
	PutNew(ctx context.Context, keys []*RecordKeys) error
}

// MaxBulkKeys is the most keys one [BulkKeyStore] lookup takes.
const MaxBulkKeys = crm.MaxBulk * 8

// ValidateBulkLookup checks the arguments of [BulkKeyStore.LookupEach];
// adapters call it first.
func ValidateBulkLookup(keys []Key, perKey int) error {
	if len(keys) > MaxBulkKeys {
		return crm.Invalid("keys", "at most %d keys, got %d", MaxBulkKeys, len(keys))
	}
	if perKey < 1 || perKey > MaxPerKey {
		return crm.Invalid("per_key", "must be between 1 and %d, got %d", MaxPerKey, perKey)
	}
	for i, k := range keys {
		if err := k.validate(fmt.Sprintf("keys[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// EntryManyRequest asks to enter many new customers, in order.
type EntryManyRequest struct {
	// Customers are the customers to store, at most [crm.MaxBulk]; each is
	// entered as [EntryRequest.Customer] would be, and none is modified.
	Customers []*crm.Customer
	// Policy decides what the candidates mean for this entry point.
	Policy Policy
	// ActorID is the user entering them; crm.NilID for the system.
	ActorID crm.ID
	// Pending are customers being entered by another unit of work that
	// commits before this one (a pipelined import's previous batch):
	// invisible to this one's reads, they count as entered before
	// Customers. At most [crm.MaxBulk]. Optional.
	Pending []*crm.Customer
	// Decided, when set, is called once the customers are decided and
	// before any is stored, with the ones to be entered (stored copies to
	// be; the caller must not modify them). Optional.
	Decided func(entered []*crm.Customer)
}

// EntryOutcome is what became of one customer of [Service.EnterManyTx]:
// exactly one of Entered and Blocked is set.
type EntryOutcome struct {
	// Entered is the customer stored, as [Service.EnterTx] returns it.
	Entered *EntryResult
	// Blocked is why it was not stored, as [Service.EnterTx] returns it.
	// Its Existing may be a customer entered earlier in the same call.
	Blocked *BlockedError
}

// EnterManyTx enters req.Customers in order, inside the caller's unit of
// work, with the outcome [Service.EnterTx] would give each one after the
// other: each is checked against the stored customers and the ones entered
// before it in the call, blocked (nothing written, its outcome says why)
// or stored with its keys. An invalid customer fails the call with a
// [*crm.ValidationError] naming it ("customers[3].name"), before anything
// is written.
//
// With a key store that has [BulkKeyStore] and customers that have
// [crm.BulkCreator], the whole call takes a handful of round trips: one
// lookup of every key, one read of every candidate, one write of the
// customers and one of their keys. A customer whose candidates exceed the
// per-key limit among the stored customers and the call's may be compared
// with more of them than EnterTx would, never fewer. Without the bulk
// ports the customers are entered one by one.
//
// req.Pending, for a caller that pipelines units of work, needs the bulk
// key store: without it the call fails with [crm.ErrUnsupported].
//
// As with EnterTx, of concurrent entries of one customer at most one
// commits: the others fail with an error matching [crm.ErrAlreadyExists]
// and their unit of work must be rolled back.
func (s *Service) EnterManyTx(ctx context.Context, tx crm.Tx, req EntryManyRequest) ([]EntryOutcome, error) {
	ctx = crm.DefaultActor(ctx, req.ActorID, "create")
	if err := req.Policy.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: enter many: %w", err)
	}
	if len(req.Customers) > crm.MaxBulk {
		return nil, fmt.Errorf("dedupe: enter many: %w", crm.Invalid("customers", "at most %d, got %d", crm.MaxBulk, len(req.Customers)))
	}
	if len(req.Pending) > crm.MaxBulk {
		return nil, fmt.Errorf("dedupe: enter many: %w", crm.Invalid("pending", "at most %d, got %d", crm.MaxBulk, len(req.Pending)))
	}
	dt, err := TxOf(tx)
	if err != nil {
		return nil, err
	}
	cs := make([]*crm.Customer, len(req.Customers))
	for i, in := range req.Customers {
		if in == nil {
			return nil, fmt.Errorf("dedupe: enter many: %w", crm.Invalid(fmt.Sprintf("customers[%d]", i), "is required"))
		}
		c := in.Clone()
		if c.ID == crm.NilID {
			c.ID = s.cfg.IDs.NewID()
		}
		c.Normalise()
		if err := c.Validate(); err != nil {
			var p crm.Problems
			p.MergeAt(fmt.Sprintf("customers[%d]", i), err)
			return nil, fmt.Errorf("dedupe: enter many: %w", p.Err())
		}
		cs[i] = c
	}
	bulk, ok := dt.DedupeKeys().(BulkKeyStore)
	if !ok {
		return s.enterEach(ctx, tx, cs, req)
	}
	out, entered, keys, err := s.decideMany(ctx, tx, bulk, cs, req.Pending, req.Policy)
	if err != nil {
		return nil, err
	}
	if req.Decided != nil {
		req.Decided(entered)
	}
	if err := crm.CreateMany(ctx, tx.Customers(), entered); err != nil {
		return nil, fmt.Errorf("dedupe: enter many: %w", err)
	}
	if err := bulk.PutNew(ctx, keys); err != nil {
		return nil, fmt.Errorf("dedupe: enter many: %w", err)
	}
	for _, o := range out {
		if o.Entered != nil {
			o.Entered.Customer = o.Entered.Customer.Clone() // the stored copy, written back by CreateMany
		}
	}
	return out, nil
}

// enterEach is EnterManyTx without the bulk ports: EnterTx one by one.
func (s *Service) enterEach(ctx context.Context, tx crm.Tx, cs []*crm.Customer, req EntryManyRequest) ([]EntryOutcome, error) {
	if len(req.Pending) > 0 {
		return nil, fmt.Errorf("dedupe: enter many: pending customers need a key store with dedupe.BulkKeyStore: %w", crm.ErrUnsupported)
	}
	out := make([]EntryOutcome, len(cs))
	for i, c := range cs {
		res, err := s.EnterTx(ctx, tx, EntryRequest{Customer: c, Policy: req.Policy, ActorID: req.ActorID})
		var be *BlockedError
		switch {
		case errors.As(err, &be):
			out[i].Blocked = be
		case err != nil:
			return nil, err
		default:
			out[i].Entered = res
		}
	}
	if req.Decided != nil {
		var entered []*crm.Customer
		for _, o := range out {
			if o.Entered != nil {
				entered = append(entered, o.Entered.Customer)
			}
		}
		req.Decided(entered)
	}
	return out, nil
}

// decideMany decides every customer of cs in order, against the stored
// customers and the ones of cs entered before it, and returns the
// outcomes, the customers to store and their keys.
func (s *Service) decideMany(ctx context.Context, tx crm.Tx, bulk BulkKeyStore, cs, pending []*crm.Customer, p Policy) ([]EntryOutcome, []*crm.Customer, []*RecordKeys, error) {
	fail := func(err error) ([]EntryOutcome, []*crm.Customer, []*RecordKeys, error) {
		return nil, nil, nil, fmt.Errorf("dedupe: enter many: %w", err)
	}
	keys := make([]RecordKeys, len(cs))
	var all []Key
	var strongs []string
	seen := map[Key]bool{}
	for i, c := range cs {
		keys[i] = s.Keys(c)
		for _, k := range keys[i].Keys {
			if !seen[k] {
				seen[k] = true
				all = append(all, k)
			}
		}
		if keys[i].Strong != "" {
			strongs = append(strongs, keys[i].Strong)
		}
	}
	stored := map[Key][]crm.ID{}
	for start := 0; start < len(all); start += MaxBulkKeys {
		part, err := bulk.LookupEach(ctx, all[start:min(start+MaxBulkKeys, len(all))], s.cfg.PerKey)
		if err != nil {
			return fail(err)
		}
		maps.Copy(stored, part)
	}
	holders, err := bulk.Holders(ctx, strongs)
	if err != nil {
		return fail(err)
	}
	// Every stored customer any of them may be compared with, read once.
	var want []crm.ID
	wanted := map[crm.ID]bool{}
	addWant := func(id crm.ID) {
		if !wanted[id] {
			wanted[id] = true
			want = append(want, id)
		}
	}
	for _, ids := range stored {
		for _, id := range ids {
			addWant(id)
		}
	}
	for _, id := range holders {
		addWant(id)
	}
	custs := make(map[crm.ID]*crm.Customer, len(want))
	for start := 0; start < len(want); start += crm.MaxBulk {
		got, err := crm.GetMany(ctx, tx.Customers(), want[start:min(start+crm.MaxBulk, len(want))])
		if err != nil {
			return fail(err)
		}
		for _, c := range got {
			custs[c.ID] = c
		}
	}
	// The customers entered so far in this call, by key.
	batch := map[crm.ID]*crm.Customer{}
	byKey := map[Key][]crm.ID{}
	byStrong := map[string]crm.ID{}
	get := func(id crm.ID) (*crm.Customer, error) {
		if c, ok := batch[id]; ok {
			return c, nil
		}
		if c, ok := custs[id]; ok {
			return c, nil
		}
		return nil, crm.ErrNotFound
	}
	for _, c := range pending {
		if c == nil {
			continue
		}
		k := s.Keys(c)
		batch[c.ID] = c
		for _, key := range k.Keys {
			byKey[key] = append(byKey[key], c.ID)
		}
		if k.Strong != "" {
			byStrong[k.Strong] = c.ID
		}
	}
	out := make([]EntryOutcome, len(cs))
	var entered []*crm.Customer
	var enteredKeys []*RecordKeys
	for i, c := range cs {
		var ids []crm.ID
		for _, k := range keys[i].Keys {
			for _, id := range stored[k] {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
			for _, id := range byKey[k] {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		holder := crm.NilID
		if st := keys[i].Strong; st != "" {
			if h, ok := holders[st]; ok {
				holder = h
			} else if h, ok := byStrong[st]; ok {
				holder = h
			}
			if holder != crm.NilID && !slices.Contains(ids, holder) {
				ids = append(ids, holder)
			}
		}
		cands, found, strong, err := s.rank(c, ids, holder, get)
		if err != nil {
			return fail(err)
		}
		if strong != nil {
			out[i].Blocked = &BlockedError{Best: strong.cand, Existing: strong.cust.Clone(), Candidates: cands, StrongKey: true}
			continue
		}
		action, best := p.Decide(cands)
		if action == Block {
			out[i].Blocked = &BlockedError{Best: *best, Existing: found[0].Clone(), Candidates: cands}
			continue
		}
		out[i].Entered = &EntryResult{Action: action, Candidates: cands, Customer: c}
		batch[c.ID] = c
		for _, k := range keys[i].Keys {
			byKey[k] = append(byKey[k], c.ID)
		}
		if keys[i].Strong != "" {
			byStrong[keys[i].Strong] = c.ID
		}
		entered = append(entered, c)
		enteredKeys = append(enteredKeys, &keys[i])
	}
	return out, entered, enteredKeys, nil
}
