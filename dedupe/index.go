package dedupe

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/crm"
)

// Entry is a record kept in an [Index] with who holds the customer, so a
// check can say "this looks like X, owned by Y".
type Entry struct {
	Record
	// OwnerID is the owning user, crm.NilID when none.
	OwnerID crm.ID
	// PoolID is the public pool holding the customer, crm.NilID when none.
	PoolID crm.ID
}

// Candidate is an existing record that a checked record may duplicate.
type Candidate struct {
	// ID is the matching entry's ID: for [Index] the ID it was added
	// under, for [Service] the customer's ID in text.
	ID string
	// CustomerID is the matching customer, set by [Service] checks
	// (crm.NilID for [Index] entries, whose IDs are free text, and for
	// leads and contacts).
	CustomerID crm.ID
	// Record is the matching stored record, set by [Service] checks: a
	// customer, a lead ([Service.CaptureLeadTx]) or a contact
	// ([Service.EnterContactTx]); the zero Ref for [Index] entries.
	Record crm.Ref
	// Strong is set by [Service] checks when this customer holds the
	// checked customer's strong key: the two cannot both be stored.
	Strong  bool
	OwnerID crm.ID
	PoolID  crm.ID
	Decision
}

// IndexConfig tunes an [Index]. The zero value is the default.
type IndexConfig struct {
	// MaxPostings bounds how many records of one blocking key a check
	// looks at (the most recently added), keeping a check fast however
	// common a key is. Defaults to 200.
	MaxPostings int
	// Limit is how many candidates a check returns at most. Defaults to 10.
	Limit int
	// MaxCandidates bounds how many indexed records one check scores in
	// all. Keys are visited rarest first (a shared phone number before a
	// shared surname), so the budget goes to the records most likely to
	// be duplicates. Defaults to 300.
	MaxCandidates int
}

// Index holds existing records in memory and finds the ones a new record
// may duplicate. It is safe for concurrent use: Check runs in parallel with
// other checks; Add and Remove take a write lock.
type Index struct {
	mt          *Matcher
	rules       []blockRule
	maxPostings int
	limit       int
	maxCands    int
	// scratch holds *checkScratch buffers so a check does not allocate
	// its working sets.
	scratch sync.Pool

	mu    sync.RWMutex
	slots []indexSlot
	// The data a check reads for every candidate, apart from the slots:
	// prepared values in pages of slotPage slots (a record's fields side
	// by side, pages never move) and a live flag per slot.
	prepPages [][]normalised
	live      []bool
	free      []int32
	byID      map[string]int32
	postings  map[uint64][]int32
}

type indexSlot struct {
	entry Entry
	keys  []uint64
}

// slotPage is how many slots' prepared values share one page.
const slotPage = 4096

// prepOf returns the prepared values of a slot.
func (ix *Index) prepOf(slot int32) []normalised {
	nf := len(ix.mt.cfg.Fields)
	o := int(slot%slotPage) * nf
	return ix.prepPages[slot/slotPage][o : o+nf : o+nf]
}

// NewIndex returns an empty index comparing records with mt.
func NewIndex(mt *Matcher, cfg *IndexConfig) (*Index, error) {
	if mt == nil {
		return nil, fmt.Errorf("dedupe: %w", crm.Invalid("matcher", "is required"))
	}
	var c IndexConfig
	if cfg != nil {
		c = *cfg
	}
	if c.MaxPostings == 0 {
		c.MaxPostings = 200
	}
	if c.Limit == 0 {
		c.Limit = 10
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = 300
	}
	if c.MaxPostings < 1 {
		return nil, fmt.Errorf("dedupe: %w", crm.Invalid("max_postings", "must be positive"))
	}
	if c.Limit < 1 {
		return nil, fmt.Errorf("dedupe: %w", crm.Invalid("limit", "must be positive"))
	}
	if c.MaxCandidates < 1 {
		return nil, fmt.Errorf("dedupe: %w", crm.Invalid("max_candidates", "must be positive"))
	}
	ix := &Index{mt: mt, rules: defaultRules(mt.cfg.Fields), maxPostings: c.MaxPostings, limit: c.Limit,
		maxCands: c.MaxCandidates, byID: map[string]int32{}, postings: map[uint64][]int32{}}
	ix.scratch.New = func() any { return &checkScratch{seen: map[int32]struct{}{}} }
	return ix, nil
}

// checkScratch is the working memory of one check.
type checkScratch struct {
	keys  []uint64
	lists [][]int32
	seen  map[int32]struct{}
	found []scoredSlot
}

// scoredSlot is an indexed record that scored at least the possible-match
// weight.
type scoredSlot struct {
	slot  int32
	score float64
}

// appendKeys appends the blocking keys of a prepared record to out.
func (ix *Index) appendKeys(out []uint64, prep []normalised) []uint64 {
	for r, rule := range ix.rules {
		if k := rule.key(r, prep); k != 0 {
			out = append(out, k)
		}
	}
	return out
}

func (ix *Index) keys(prep []normalised) []uint64 {
	return ix.appendKeys(make([]uint64, 0, len(ix.rules)), prep)
}

// Add puts a record in the index, replacing any record with the same ID.
// The record's ID is required.
func (ix *Index) Add(e Entry) error {
	if strings.TrimSpace(e.ID) == "" {
		return fmt.Errorf("dedupe: index add: %w", crm.Invalid("id", "is required"))
	}
	prep, err := ix.mt.prepare(e.Record)
	if err != nil {
		return err
	}
	keys := ix.keys(prep)
	size := 0
	for _, n := range prep {
		size += len(n.v) + len(n.alt)
	}
	packStrings(prep, size)
	e.Values = slices.Clone(e.Values)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(e.ID)
	var slot int32
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		slot = int32(len(ix.slots))
		ix.slots = append(ix.slots, indexSlot{})
		ix.live = append(ix.live, false)
		if int(slot)/slotPage == len(ix.prepPages) {
			ix.prepPages = append(ix.prepPages, make([]normalised, slotPage*len(prep)))
		}
	}
	ix.slots[slot] = indexSlot{entry: e, keys: keys}
	copy(ix.prepOf(slot), prep)
	ix.live[slot] = true
	ix.byID[e.ID] = slot
	for _, k := range keys {
		ix.postings[k] = append(ix.postings[k], slot)
	}
	return nil
}

// Remove takes the record with the given ID out of the index and reports
// whether it was there.
func (ix *Index) Remove(id string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.removeLocked(id)
}

func (ix *Index) removeLocked(id string) bool {
	slot, ok := ix.byID[id]
	if !ok {
		return false
	}
	s := &ix.slots[slot]
	for _, k := range s.keys {
		p := ix.postings[k]
		if i := slices.Index(p, slot); i >= 0 {
			p = slices.Delete(p, i, i+1)
		}
		if len(p) == 0 {
			delete(ix.postings, k)
		} else {
			ix.postings[k] = p
		}
	}
	*s = indexSlot{}
	clear(ix.prepOf(slot))
	ix.live[slot] = false
	delete(ix.byID, id)
	ix.free = append(ix.free, slot)
	return true
}

// Len returns how many records the index holds.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

// Check returns the indexed records that r may duplicate, best first:
// those scoring at least the possible-match weight, each with its score,
// class and per-field reasons. A record with r's own ID is skipped, so an
// edited record does not match itself.
//
// A check looks at the records sharing a blocking key with r, rarest key
// first, at most [IndexConfig.MaxPostings] per key (the most recently
// added) and [IndexConfig.MaxCandidates] in all.
func (ix *Index) Check(r Record) ([]Candidate, error) {
	prep, err := ix.mt.prepare(r)
	if err != nil {
		return nil, err
	}
	sc := ix.scratch.Get().(*checkScratch)
	defer ix.scratch.Put(sc)
	sc.keys = ix.appendKeys(sc.keys[:0], prep)
	sc.found = sc.found[:0]
	clear(sc.seen)

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	sc.lists = sc.lists[:0]
	for _, k := range sc.keys {
		if p := ix.postings[k]; len(p) > 0 {
			if len(p) > ix.maxPostings {
				p = p[len(p)-ix.maxPostings:]
			}
			sc.lists = append(sc.lists, p)
		}
	}
	// Rarest first: a key few records share says more than a common one.
	// A handful of keys: insertion sort, stable and allocation free.
	for i := 1; i < len(sc.lists); i++ {
		for j := i; j > 0 && len(sc.lists[j]) < len(sc.lists[j-1]); j-- {
			sc.lists[j], sc.lists[j-1] = sc.lists[j-1], sc.lists[j]
		}
	}
	budget := ix.maxCands
	threshold := ix.mt.cfg.PossibleWeight
lists:
	for _, p := range sc.lists {
		for _, slot := range p {
			if _, dup := sc.seen[slot]; dup {
				continue
			}
			if budget == 0 {
				break lists
			}
			budget--
			sc.seen[slot] = struct{}{}
			if !ix.live[slot] || (r.ID != "" && ix.slots[slot].entry.ID == r.ID) {
				continue
			}
			if score, ok := ix.mt.scoreAtLeast(prep, ix.prepOf(slot), nil, threshold); ok {
				sc.found = append(sc.found, scoredSlot{slot, score})
			}
		}
	}
	found := sc.found
	slices.SortFunc(found, func(a, b scoredSlot) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(ix.slots[a.slot].entry.ID, ix.slots[b.slot].entry.ID)
	})
	if len(found) > ix.limit {
		found = found[:ix.limit]
	}
	out := make([]Candidate, len(found))
	for i, f := range found {
		s := &ix.slots[f.slot]
		out[i] = Candidate{ID: s.entry.ID, OwnerID: s.entry.OwnerID, PoolID: s.entry.PoolID,
			Decision: ix.mt.decide(prep, ix.prepOf(f.slot), nil)}
	}
	return out, nil
}

// CustomerFields are the fields of [CustomerRecord]: company, contact
// name, phone, e-mail and address.
func CustomerFields() []Field {
	return []Field{
		{Name: "company", Kind: KindCompany},
		{Name: "name", Kind: KindName},
		{Name: "phone", Kind: KindPhone},
		{Name: "email", Kind: KindEmail},
		{Name: "address", Kind: KindAddress},
	}
}

// CustomerRecord turns a customer into a record with [CustomerFields]:
// the name goes to "company" for a company and to "name" for a person.
func CustomerRecord(c *crm.Customer) Record {
	company, person := c.Name, ""
	if c.Kind == crm.CustomerPerson {
		company, person = "", c.Name
	}
	return Record{ID: c.ID.String(), Values: []string{company, person, c.Phone, c.Email, c.Address}}
}

// CustomerEntry is [CustomerRecord] with the customer's owner and pool.
func CustomerEntry(c *crm.Customer) Entry {
	return Entry{Record: CustomerRecord(c), OwnerID: c.OwnerID, PoolID: c.PoolID}
}

// Action is what an entry point does with a record that may be a duplicate.
type Action uint8

// Actions, from the mildest.
const (
	// Allow saves the record.
	Allow Action = iota
	// Warn saves the record after showing the candidates.
	Warn
	// Block refuses the record.
	Block
)

// String returns "allow", "warn" or "block".
func (a Action) String() string {
	switch a {
	case Warn:
		return "warn"
	case Block:
		return "block"
	}
	return "allow"
}

// Policy decides, for one entry point (a web form, an import, an API
// client), what to do with the candidates of a check: block from
// BlockScore, warn from WarnScore, allow below. [Service.Enter] refuses a
// policy whose scores are not finite or whose WarnScore is above its
// BlockScore, since such a threshold would silently never apply. Safe for
// concurrent use.
type Policy struct {
	// BlockScore is the score from which entry is refused. Zero means
	// never block.
	BlockScore float64 `json:"block_score,omitempty"`
	// WarnScore is the score from which the user is warned. Zero means
	// never warn.
	WarnScore float64 `json:"warn_score,omitempty"`
}

// validate refuses thresholds that would silently never apply: NaN or
// infinite scores, and a warning above the block score (every such score
// blocks, so the warning could never show).
func (p Policy) validate() error {
	var errs crm.ValidationErrors
	for _, f := range []struct {
		name string
		v    float64
	}{{"policy.block_score", p.BlockScore}, {"policy.warn_score", p.WarnScore}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			errs = append(errs, crm.Invalid(f.name, "must be a finite number (zero for never)"))
		}
	}
	if len(errs) == 0 && p.BlockScore != 0 && p.WarnScore != 0 && p.WarnScore > p.BlockScore {
		errs = append(errs, crm.Invalid("policy.warn_score", "must not be above policy.block_score"))
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Decide returns the action for the best candidate (candidates come best
// first from [Index.Check]) and that candidate, nil when allowed.
func (p Policy) Decide(cands []Candidate) (Action, *Candidate) {
	if len(cands) == 0 {
		return Allow, nil
	}
	best := &cands[0]
	switch {
	case p.BlockScore != 0 && best.Score >= p.BlockScore:
		return Block, best
	case p.WarnScore != 0 && best.Score >= p.WarnScore:
		return Warn, best
	}
	return Allow, nil
}
