package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// This file implements the storage ports of package pool ([pool.Tx]). The
// store's single lock serialises units of work, which gives the ports'
// locking contract (Holdings.Get and Counters.Add lock until the unit of
// work ends) for free.

var _ pool.Tx = tx{}

// poolState holds the pool package's tables; guarded by Store.mu.
type poolState struct {
	pools     map[crm.ID]*pool.Pool
	poolOrder []crm.ID
	holdings  map[crm.ID]*pool.Holding
	// due indexes owned, unlocked holdings by due time. Entries go stale
	// when a holding changes; Due drops stale entries as it meets them and
	// compactDue rebuilds the heap when stale entries pile up.
	due dueHeap
	// popped holds the entries the last Due call handed out. They are
	// pushed back by the next Due call if their holdings still have the
	// same due time, so a batch that recycles its holdings costs one heap
	// pop per customer, not a pop, a push and a pop of a stale entry.
	popped []dueEntry
	// ledger indexes the outbox's ledger entries in Seq order: each entry
	// is stored once, as part of the outbox record of its event
	// (outboxEvent.entry), and appears here too.
	ledger []*pool.Entry
	// lastOf is the index in ledger of each customer's latest entry and
	// prevOf[i] the index of the entry before ledger[i] of the same
	// customer (-1: none): a chain per customer without a slice each.
	lastOf   map[crm.ID]int
	prevOf   []int
	counters map[string]int64
	requests map[string]*pool.Request
	// byOwner and byDept order the queued holdings (queue.go) of each
	// owner and each owner department by due time.
	byOwner, byDept map[crm.ID]*queueIndex
}

func newPoolState() *poolState {
	return &poolState{
		pools:    make(map[crm.ID]*pool.Pool),
		holdings: make(map[crm.ID]*pool.Holding),
		lastOf:   make(map[crm.ID]int),
		counters: make(map[string]int64),
		requests: make(map[string]*pool.Request),
		byOwner:  make(map[crm.ID]*queueIndex),
		byDept:   make(map[crm.ID]*queueIndex),
	}
}

func (t tx) poolState() *poolState { return extension(t.s, "pool", newPoolState) }

// Pools implements [pool.Tx].
func (t tx) Pools() pool.Pools { return poolRepo{t} }

// PoolHoldings implements [pool.Tx].
func (t tx) PoolHoldings() pool.Holdings { return holdingRepo{t} }

// PoolLedger implements [pool.Tx].
func (t tx) PoolLedger() pool.Ledger { return ledgerRepo{t} }

// PoolCounters implements [pool.Tx].
func (t tx) PoolCounters() pool.Counters { return counterRepo{t} }

// PoolRequests implements [pool.Tx].
func (t tx) PoolRequests() pool.Requests { return requestRepo{t} }

type poolRepo struct{ tx tx }

func (r poolRepo) Get(ctx context.Context, id crm.ID) (*pool.Pool, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get pool %s: %w", id, err)
	}
	defer unlock()
	p, ok := r.tx.poolState().pools[id]
	if !ok || p.TenantID != crm.TenantFrom(ctx) {
		return nil, fmt.Errorf("memstore: get pool %s: %w", id, crm.ErrNotFound)
	}
	return p.Clone(), nil
}

func (r poolRepo) Create(ctx context.Context, p *pool.Pool) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: create pool %s: %w", p.ID, err)
	}
	defer unlock()
	m := crm.Meta{TenantID: p.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	st := r.tx.poolState()
	if old, dup := st.pools[p.ID]; dup {
		if old.TenantID != m.TenantID {
			return crm.IDTakenByAnotherTenant() // reveals nothing of the other tenant
		}
		return fmt.Errorf("memstore: create pool %s: %w", p.ID, crm.ErrAlreadyExists)
	}
	now := crm.StorageTime(r.tx.s.clock.Now())
	c := p.Clone()
	c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt = m.TenantID, 1, now, now
	st.pools[c.ID] = c
	st.poolOrder = insertSorted(st.poolOrder, c.ID)
	r.tx.onUndo(func() {
		delete(st.pools, c.ID)
		st.poolOrder = removeSorted(st.poolOrder, c.ID)
	})
	*p = *c.Clone()
	return nil
}

func (r poolRepo) Update(ctx context.Context, p *pool.Pool) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: update pool %s: %w", p.ID, err)
	}
	defer unlock()
	st := r.tx.poolState()
	old, ok := st.pools[p.ID]
	if !ok || old.TenantID != crm.TenantFrom(ctx) {
		return fmt.Errorf("memstore: update pool %s: %w", p.ID, crm.ErrNotFound)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Version != old.Version {
		return fmt.Errorf("memstore: update pool %s: version %d is stale, stored version is %d: %w", p.ID, p.Version, old.Version, crm.ErrConflict)
	}
	c := p.Clone()
	c.TenantID, c.Version, c.CreatedAt = old.TenantID, old.Version+1, old.CreatedAt
	c.UpdatedAt = crm.StorageTime(r.tx.s.clock.Now())
	st.pools[c.ID] = c
	r.tx.onUndo(func() { st.pools[c.ID] = old })
	*p = *c.Clone()
	return nil
}

func (r poolRepo) List(ctx context.Context, after crm.ID, limit int) ([]*pool.Pool, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: list pools: %w", err)
	}
	defer unlock()
	st := r.tx.poolState()
	start := 0
	if after != crm.NilID {
		i, found := slices.BinarySearchFunc(st.poolOrder, after, compareID)
		if found {
			i++
		}
		start = i
	}
	tenant := crm.TenantFrom(ctx)
	var out []*pool.Pool
	for _, id := range st.poolOrder[start:] {
		if p := st.pools[id]; p.TenantID == tenant {
			out = append(out, p.Clone())
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

type holdingRepo struct{ tx tx }

func (r holdingRepo) Get(ctx context.Context, id crm.ID) (*pool.Holding, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get holding %s: %w", id, err)
	}
	defer unlock()
	h, ok := r.tx.poolState().holdings[id]
	if !ok || h.TenantID != crm.TenantFrom(ctx) {
		return nil, fmt.Errorf("memstore: get holding %s: %w", id, crm.ErrNotFound)
	}
	c := *h
	return &c, nil
}

func (r holdingRepo) Create(ctx context.Context, h *pool.Holding) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: create holding %s: %w", h.CustomerID, err)
	}
	defer unlock()
	m := crm.Meta{TenantID: h.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	st := r.tx.poolState()
	if _, dup := st.holdings[h.CustomerID]; dup {
		return fmt.Errorf("memstore: create holding %s: %w", h.CustomerID, crm.ErrAlreadyExists)
	}
	c := *h
	c.StorageTimes()
	now := crm.StorageTime(r.tx.s.clock.Now())
	c.TenantID, c.Version, c.CreatedAt, c.UpdatedAt = m.TenantID, 1, now, now
	st.putHolding(&c)
	r.tx.onUndo(func() {
		st.indexQueues(st.holdings[c.CustomerID], nil)
		delete(st.holdings, c.CustomerID)
	})
	*h = c
	return nil
}

func (r holdingRepo) Update(ctx context.Context, h *pool.Holding) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: update holding %s: %w", h.CustomerID, err)
	}
	defer unlock()
	st := r.tx.poolState()
	old, ok := st.holdings[h.CustomerID]
	if !ok || old.TenantID != crm.TenantFrom(ctx) {
		return fmt.Errorf("memstore: update holding %s: %w", h.CustomerID, crm.ErrNotFound)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if h.Version != old.Version {
		return fmt.Errorf("memstore: update holding %s: version %d is stale, stored version is %d: %w", h.CustomerID, h.Version, old.Version, crm.ErrConflict)
	}
	c := *h
	c.StorageTimes()
	c.TenantID, c.Version, c.CreatedAt = old.TenantID, old.Version+1, old.CreatedAt
	c.UpdatedAt = crm.StorageTime(r.tx.s.clock.Now())
	st.putHolding(&c)
	r.tx.onUndo(func() { st.putHolding(old) })
	*h = c
	return nil
}

// putHolding stores h and indexes its due time.
func (st *poolState) putHolding(h *pool.Holding) {
	st.indexQueues(st.holdings[h.CustomerID], h)
	st.holdings[h.CustomerID] = h
	if dueIndexed(h) {
		st.due.push(dueEntry{at: dueKey(h.DueAt), id: h.CustomerID})
	}
	if len(st.due) > 2*len(st.holdings)+1024 {
		st.compactDue()
	}
}

func dueIndexed(h *pool.Holding) bool { return h.Owned() && !h.Locked && !h.DueAt.IsZero() }

// compactDue rebuilds the due index from the holdings, dropping stale
// entries.
func (st *poolState) compactDue() {
	st.due, st.popped = st.due[:0], st.popped[:0]
	for _, h := range st.holdings {
		if dueIndexed(h) {
			st.due = append(st.due, dueEntry{at: dueKey(h.DueAt), id: h.CustomerID})
		}
	}
	st.due.init()
}

func (r holdingRepo) Due(ctx context.Context, now time.Time, limit int) ([]*pool.Holding, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: due holdings: %w", err)
	}
	defer unlock()
	st := r.tx.poolState()
	st.repush()
	tenant := crm.TenantFrom(ctx)
	var out []*pool.Holding
	var slab []pool.Holding
	cut := dueKey(now)
	var last dueEntry
	for len(out) < limit && len(st.due) > 0 && st.due[0].at <= cut {
		e := st.due.pop()
		// Repeated entries are equal, so they pop one after the other.
		if len(st.popped) > 0 && e == last {
			continue
		}
		last = e
		h, ok := st.holdings[e.id]
		if !ok || !dueIndexed(h) || dueKey(h.DueAt) != e.at {
			continue // stale entry: drop it
		}
		st.popped = append(st.popped, e)
		if h.TenantID == tenant {
			if slab == nil {
				slab = make([]pool.Holding, 0, min(limit, 1024))
			}
			if len(slab) == cap(slab) {
				slab = make([]pool.Holding, 0, cap(slab))
			}
			slab = append(slab, *h)
			out = append(out, &slab[len(slab)-1])
		}
	}
	return out, nil
}

// repush returns to the due index the entries the last Due call popped
// whose holdings are still due at the same time (not recycled, not
// rescheduled, or restored by a rollback), so they stay indexed until their
// holdings change.
func (st *poolState) repush() {
	for _, e := range st.popped {
		if h, ok := st.holdings[e.id]; ok && dueIndexed(h) && dueKey(h.DueAt) == e.at {
			st.due.push(e)
		}
	}
	st.popped = st.popped[:0]
}

// dueEntry is one due index entry. The time is kept as Unix microseconds
// (storage precision), so the heap holds no pointers and the garbage
// collector never scans it.
type dueEntry struct {
	at int64
	id crm.ID
}

func dueKey(t time.Time) int64 { return crm.StorageTime(t).UnixMicro() }

func (a dueEntry) less(b dueEntry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

// dueHeap is a binary min-heap of due entries (typed, so no boxing).
type dueHeap []dueEntry

func (h *dueHeap) init() {
	for i := len(*h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *dueHeap) push(e dueEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *dueHeap) pop() dueEntry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
	return top
}

func (h *dueHeap) down(i int) {
	s := *h
	for {
		l := 2*i + 1
		if l >= len(s) {
			return
		}
		m := l
		if r := l + 1; r < len(s) && s[r].less(s[l]) {
			m = r
		}
		if !s[m].less(s[i]) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}

type ledgerRepo struct{ tx tx }

func (r ledgerRepo) Append(ctx context.Context, e *pool.Entry) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: append ledger entry: %w", err)
	}
	defer unlock()
	m := crm.Meta{TenantID: e.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	st := r.tx.poolState()
	c := *e
	c.TenantID, c.At, c.Rule = m.TenantID, crm.StorageTime(e.At), bytes.Clone(e.Rule)
	if err := r.tx.appendEntries(st, []*pool.Entry{&c}); err != nil {
		return err
	}
	e.Seq, e.TenantID = c.Seq, c.TenantID
	return nil
}

// appendEntries stores each entry (validated, tenant and time set) and the
// event it is as one outbox record, assigning Seqs in order, all or none,
// with one undo step. The caller holds the write lock.
func (t tx) appendEntries(st *poolState, entries []*pool.Entry) error {
	ob := &t.s.outbox
	n, seq, ledgerLen := len(ob.events), ob.seq, len(st.ledger)
	undo := func() {
		st.truncateLedger(ledgerLen)
		ob.truncate(n, seq)
	}
	ob.events = growDoubling(ob.events, len(entries))
	st.ledger, st.prevOf = growDoubling(st.ledger, len(entries)), growDoubling(st.prevOf, len(entries))
	for _, e := range entries {
		if _, dup := ob.ids[e.ID]; dup {
			undo()
			return fmt.Errorf("memstore: append ledger entry %s: %w", e.ID, crm.ErrAlreadyExists)
		}
		e.Seq = ob.seq + 1
		ev, err := e.Event()
		if err != nil {
			undo()
			return err
		}
		ob.seq++
		ob.push(outboxEvent{e: ev, entry: e})
		st.appendEntry(e)
	}
	t.onUndo(undo)
	return nil
}

func (r ledgerRepo) List(ctx context.Context, customerID crm.ID, afterSeq int64, limit int) ([]*pool.Entry, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: list ledger: %w", err)
	}
	defer unlock()
	st := r.tx.poolState()
	tenant := crm.TenantFrom(ctx)
	var out []*pool.Entry
	add := func(e *pool.Entry) bool {
		if e.Seq > afterSeq && e.TenantID == tenant {
			c := *e
			c.Rule = bytes.Clone(e.Rule)
			out = append(out, &c)
		}
		return len(out) < limit
	}
	if customerID != crm.NilID {
		var chain []int
		i, ok := st.lastOf[customerID]
		for ok && i >= 0 && st.ledger[i].Seq > afterSeq {
			chain = append(chain, i)
			i = st.prevOf[i]
		}
		for j := len(chain) - 1; j >= 0; j-- {
			if !add(st.ledger[chain[j]]) {
				break
			}
		}
		return out, nil
	}
	start, _ := slices.BinarySearchFunc(st.ledger, afterSeq+1, func(e *pool.Entry, seq int64) int { return cmp.Compare(e.Seq, seq) })
	for _, e := range st.ledger[start:] {
		if !add(e) {
			break
		}
	}
	return out, nil
}

// appendEntry appends e to the ledger and its customer's chain.
func (st *poolState) appendEntry(e *pool.Entry) {
	prev, ok := st.lastOf[e.CustomerID]
	if !ok {
		prev = -1
	}
	st.ledger = append(st.ledger, e)
	st.prevOf = append(st.prevOf, prev)
	st.lastOf[e.CustomerID] = len(st.ledger) - 1
}

// truncateLedger undoes the appends after the first n entries, newest
// first.
func (st *poolState) truncateLedger(n int) {
	for i := len(st.ledger) - 1; i >= n; i-- {
		id := st.ledger[i].CustomerID
		if p := st.prevOf[i]; p >= 0 {
			st.lastOf[id] = p
		} else {
			delete(st.lastOf, id)
		}
	}
	clear(st.ledger[n:])
	st.ledger, st.prevOf = st.ledger[:n], st.prevOf[:n]
}

// growDoubling makes room for n more elements, at least doubling the
// capacity when it grows: the large append-only tables (ledger, outbox)
// then copy each element about once as they grow, not four times as
// append's 1.25 growth of large slices does.
func growDoubling[S ~[]E, E any](s S, n int) S {
	if cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, max(n, len(s)))
}

type counterRepo struct{ tx tx }

func (r counterRepo) Add(ctx context.Context, key string, delta, max int64) (int64, bool, error) {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return 0, false, fmt.Errorf("memstore: add to counter %q: %w", key, err)
	}
	defer unlock()
	st := r.tx.poolState()
	k := crm.TenantFrom(ctx) + "\x00" + key
	old, had := st.counters[k]
	n := old + delta
	if delta > 0 && (n > max || n < old) {
		return old, false, nil
	}
	n = clampZero(n)
	st.counters[k] = n
	r.tx.onUndo(func() {
		if had {
			st.counters[k] = old
		} else {
			delete(st.counters, k)
		}
	})
	return n, true, nil
}

func clampZero(n int64) int64 {
	if n < 0 {
		return 0
	}
	return n
}

func (r counterRepo) Get(ctx context.Context, key string) (int64, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return 0, fmt.Errorf("memstore: get counter %q: %w", key, err)
	}
	defer unlock()
	return r.tx.poolState().counters[crm.TenantFrom(ctx)+"\x00"+key], nil
}

type requestRepo struct{ tx tx }

var _ pool.RequestPruner = requestRepo{}

// Prune implements [pool.RequestPruner].
func (r requestRepo) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("memstore: prune requests: %w", err)
	}
	defer unlock()
	prefix := crm.TenantFrom(ctx) + "\x00"
	st := r.tx.poolState()
	n := 0
	for k, req := range st.requests {
		if n == limit {
			break
		}
		if !strings.HasPrefix(k, prefix) || !req.CreatedAt.Before(before) {
			continue
		}
		delete(st.requests, k)
		r.tx.onUndo(func() { st.requests[k] = req })
		n++
	}
	return n, nil
}

func (r requestRepo) Get(ctx context.Context, key string) (*pool.Request, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get request: %w", err)
	}
	defer unlock()
	got, ok := r.tx.poolState().requests[crm.TenantFrom(ctx)+"\x00"+key]
	if !ok {
		return nil, fmt.Errorf("memstore: get request %q: %w", key, crm.ErrNotFound)
	}
	c := *got
	c.Result = bytes.Clone(got.Result)
	return &c, nil
}

func (r requestRepo) Put(ctx context.Context, req *pool.Request) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: put request: %w", err)
	}
	defer unlock()
	m := crm.Meta{TenantID: req.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if req.Key == "" {
		return crm.Invalid("key", "is required")
	}
	st := r.tx.poolState()
	k := m.TenantID + "\x00" + req.Key
	if _, dup := st.requests[k]; dup {
		return fmt.Errorf("memstore: put request %q: %w", req.Key, crm.ErrAlreadyExists)
	}
	c := *req
	c.TenantID, c.Result = m.TenantID, bytes.Clone(req.Result)
	c.CreatedAt = crm.StorageTime(r.tx.s.clock.Now())
	st.requests[k] = &c
	r.tx.onUndo(func() { delete(st.requests, k) })
	req.TenantID, req.CreatedAt = c.TenantID, c.CreatedAt
	return nil
}

var _ pool.BatchTx = tx{}

// PoolCustomers implements [pool.BatchTx].
func (t tx) PoolCustomers(ctx context.Context, ids []crm.ID) ([]*crm.Customer, error) {
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get customers: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	rows := t.s.customers.rows
	out := make([]*crm.Customer, 0, len(ids))
	// One slab for the copies and one for their time pointers, instead of
	// up to four allocations per customer.
	slab := make([]crm.Customer, len(ids))
	times := make([]time.Time, 0, 2*len(ids))
	for _, id := range ids {
		c, ok := rows[id]
		if !ok || c.TenantID != tenant {
			continue
		}
		d := &slab[len(out)]
		*d = *c
		if c.LastFollowUpAt != nil {
			times = append(times, *c.LastFollowUpAt)
			d.LastFollowUpAt = &times[len(times)-1]
		}
		if c.LastDealAt != nil {
			times = append(times, *c.LastDealAt)
			d.LastDealAt = &times[len(times)-1]
		}
		d.Fields = c.Fields.Clone()
		out = append(out, d)
	}
	return out, nil
}

// PoolRecycleBatch implements [pool.BatchTx]. It checks the whole batch
// before changing anything, then writes straight into the tables with one
// undo step for the batch. Stored customers are immutable values (every
// write replaces the row), so the new row may share the old one's maps.
func (t tx) PoolRecycleBatch(ctx context.Context, batch []pool.Recycled) error {
	unlock, err := t.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: recycle batch: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	st := t.poolState()
	rows := t.s.customers.rows
	n := len(batch)
	if err := pool.ValidateRecycleBatch(batch); err != nil {
		return err
	}
	// The check keeps the rows it found, so the writes look nothing up
	// again.
	oldHoldings := make([]*pool.Holding, n)
	oldCustomers := make([]*crm.Customer, n)
	for i, r := range batch {
		h := r.Holding
		old, ok := st.holdings[h.CustomerID]
		if !ok || old.TenantID != tenant {
			return fmt.Errorf("memstore: recycle batch: holding %s: %w", h.CustomerID, crm.ErrNotFound)
		}
		if old.Version != h.Version {
			return fmt.Errorf("memstore: recycle batch: holding %s changed since it was read: %w", h.CustomerID, crm.ErrConflict)
		}
		c, ok := rows[h.CustomerID]
		if !ok || c.TenantID != tenant {
			return fmt.Errorf("memstore: recycle batch: customer %s: %w", h.CustomerID, crm.ErrNotFound)
		}
		if c.Version != r.CustomerVersion {
			return fmt.Errorf("memstore: recycle batch: customer %s changed since it was read: %w", h.CustomerID, crm.ErrConflict)
		}
		oldHoldings[i], oldCustomers[i] = old, c
	}
	now := crm.StorageTime(t.s.clock.Now())
	newHoldings := make([]pool.Holding, n)
	newCustomers := make([]crm.Customer, n)
	entries := make([]pool.Entry, n)
	ptrs := make([]*pool.Entry, n)
	// Entries of one batch share few rule snapshots; each is copied once.
	var lastRule, lastCopy []byte
	for i, r := range batch {
		e := &entries[i]
		*e = *r.Entry
		if len(e.Rule) > 0 {
			if len(lastRule) == 0 || &e.Rule[0] != &lastRule[0] || len(e.Rule) != len(lastRule) {
				lastRule, lastCopy = e.Rule, bytes.Clone(e.Rule)
			}
			e.Rule = lastCopy
		}
		e.TenantID, e.At = tenant, crm.StorageTime(e.At)
		ptrs[i] = e
	}
	// First, as it is the one write that can still fail (a repeated ID).
	if err := t.appendEntries(st, ptrs); err != nil {
		return err
	}
	for i, r := range batch {
		id := r.Holding.CustomerID
		old := oldHoldings[i]
		h := &newHoldings[i]
		*h = *r.Holding
		h.StorageTimes()
		h.TenantID, h.Version, h.CreatedAt, h.UpdatedAt = old.TenantID, old.Version+1, old.CreatedAt, now
		st.putHolding(h)
		*r.Holding = *h

		oc := oldCustomers[i]
		c := &newCustomers[i]
		*c = *oc
		r.Customer.Apply(c)
		c.Version, c.UpdatedAt = oc.Version+1, now
		rows[id] = c

		r.Entry.Seq, r.Entry.TenantID = entries[i].Seq, tenant
	}
	t.onUndo(func() {
		for i := n - 1; i >= 0; i-- {
			old := oldHoldings[i]
			st.putHolding(old)
			rows[old.CustomerID] = oldCustomers[i]
		}
	})
	return nil
}
