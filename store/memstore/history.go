package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
)

var (
	_ crm.HistoryTx = tx{}
	_ crm.HistoryTx = (*Store)(nil)
)

// history holds the field history (crm.History). Every entry is one
// private copy, indexed four ways so that no call scans the whole history:
// by ID, by record (Seq order: ForRecord reads a tail), by actor and by
// tenant (both in (At, Seq) order: ByActor reads one time window, Purge a
// prefix). Guarded by Store.mu like the tables.
type history struct {
	seq     int64
	ids     map[crm.ID]*crm.HistoryEntry
	records map[historyRecord][]*crm.HistoryEntry
	actors  map[historyActor][]*crm.HistoryEntry
	tenants map[string][]*crm.HistoryEntry
}

type historyRecord struct {
	tenant string
	ref    crm.Ref
}

type historyActor struct {
	tenant string
	actor  crm.ID
}

func (h *history) init() {
	if h.ids == nil {
		h.ids = make(map[crm.ID]*crm.HistoryEntry)
		h.records = make(map[historyRecord][]*crm.HistoryEntry)
		h.actors = make(map[historyActor][]*crm.HistoryEntry)
		h.tenants = make(map[string][]*crm.HistoryEntry)
	}
}

func recordOf(e *crm.HistoryEntry) historyRecord { return historyRecord{e.TenantID, e.Record} }
func actorOf(e *crm.HistoryEntry) historyActor   { return historyActor{e.TenantID, e.ActorID} }

// byTime orders entries by At, then Seq.
func byTime(a, b *crm.HistoryEntry) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

func bySeq(a, b *crm.HistoryEntry) int { return cmp.Compare(a.Seq, b.Seq) }

func insertOrdered(list []*crm.HistoryEntry, e *crm.HistoryEntry, order func(a, b *crm.HistoryEntry) int) []*crm.HistoryEntry {
	if len(list) == 0 || order(list[len(list)-1], e) < 0 {
		return append(list, e) // the usual case: entries come in time order
	}
	i, _ := slices.BinarySearchFunc(list, e, order)
	return slices.Insert(list, i, e)
}

func removeOrdered(list []*crm.HistoryEntry, e *crm.HistoryEntry, order func(a, b *crm.HistoryEntry) int) []*crm.HistoryEntry {
	if i, ok := slices.BinarySearchFunc(list, e, order); ok {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// add indexes e, whose Seq is assigned.
func (h *history) add(e *crm.HistoryEntry) {
	h.ids[e.ID] = e
	rk := recordOf(e)
	h.records[rk] = insertOrdered(h.records[rk], e, bySeq) // at the end: e has the highest Seq
	ak := actorOf(e)
	h.actors[ak] = insertOrdered(h.actors[ak], e, byTime)
	h.tenants[e.TenantID] = insertOrdered(h.tenants[e.TenantID], e, byTime)
}

// drop removes e from every index.
func (h *history) drop(e *crm.HistoryEntry) {
	delete(h.ids, e.ID)
	rk, ak := recordOf(e), actorOf(e)
	setOrDelete(h.records, rk, removeOrdered(h.records[rk], e, bySeq))
	setOrDelete(h.actors, ak, removeOrdered(h.actors[ak], e, byTime))
	setOrDelete(h.tenants, e.TenantID, removeOrdered(h.tenants[e.TenantID], e, byTime))
}

func setOrDelete[K comparable, V any](m map[K][]V, k K, list []V) {
	if len(list) == 0 {
		delete(m, k)
		return
	}
	m[k] = list
}

// historyPort implements [crm.History] in a unit of work (or autocommit).
type historyPort struct{ tx tx }

// History implements [crm.HistoryTx].
func (t tx) History() crm.History { return historyPort{t} }

// History returns the autocommit history port: each call is a unit of work
// of its own.
func (s *Store) History() crm.History { return tx{s: s}.History() }

// Append implements [crm.History]: every entry or none, undone with the
// unit of work.
func (p historyPort) Append(ctx context.Context, entries ...*crm.HistoryEntry) error {
	unlock, err := p.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: append history: %w", err)
	}
	defer unlock()
	h := &p.tx.s.history
	h.init()
	prepared := make([]*crm.HistoryEntry, len(entries))
	seen := make(map[crm.ID]bool, len(entries))
	for i, e := range entries {
		c, err := crm.StorableHistoryEntry(ctx, i, e)
		if err != nil {
			return err
		}
		if _, dup := h.ids[c.ID]; dup || seen[c.ID] {
			return fmt.Errorf("memstore: append history entry %s: %w", c.ID, crm.ErrAlreadyExists)
		}
		seen[c.ID] = true
		prepared[i] = &c
	}
	for _, c := range prepared {
		h.seq++
		c.Seq = h.seq
		h.add(c)
	}
	p.tx.onUndo(func() {
		for i := len(prepared) - 1; i >= 0; i-- {
			h.drop(prepared[i])
		}
	})
	for i, e := range entries {
		e.Seq, e.TenantID, e.At = prepared[i].Seq, prepared[i].TenantID, prepared[i].At
	}
	return nil
}

// cloneEntry is the copy a caller gets.
func cloneEntry(e *crm.HistoryEntry) *crm.HistoryEntry {
	c := *e
	c.Old, c.New = slices.Clone(e.Old), slices.Clone(e.New)
	return &c
}

// ForRecord implements [crm.History]: a binary search for the cursor in
// the record's entries, then the page below it.
func (p historyPort) ForRecord(ctx context.Context, record crm.Ref, page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
	if err := crm.CheckHistoryRecord(record); err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	limit, below, err := page.ResolveSeq()
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	unlock, err := p.tx.begin(ctx, false)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, fmt.Errorf("memstore: history of %s %s: %w", record.Type, record.ID, err)
	}
	defer unlock()
	list := p.tx.s.history.records[historyRecord{crm.TenantFrom(ctx), record}]
	end := len(list)
	if below > 0 {
		end, _ = slices.BinarySearchFunc(list, below, func(e *crm.HistoryEntry, seq int64) int { return cmp.Compare(e.Seq, seq) })
	}
	var out crm.Page[crm.HistoryEntry]
	for i := end - 1; i >= 0 && len(out.Items) < limit; i-- {
		out.Items = append(out.Items, cloneEntry(list[i]))
	}
	if end > limit {
		out.NextCursor = crm.SeqCursor(out.Items[limit-1].Seq)
	}
	return out, nil
}

// ByActor implements [crm.History]: two binary searches find the window
// in the actor's entries (ordered by At), and a heap of limit+1 entries
// keeps the highest Seqs below the cursor. The cost grows with the
// window, not with the history.
func (p historyPort) ByActor(ctx context.Context, actor crm.ID, from, to time.Time, page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
	from, to, err := crm.HistoryWindow(from, to)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	limit, below, err := page.ResolveSeq()
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	unlock, err := p.tx.begin(ctx, false)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, fmt.Errorf("memstore: history by actor %s: %w", actor, err)
	}
	defer unlock()
	list := p.tx.s.history.actors[historyActor{crm.TenantFrom(ctx), actor}]
	at := func(e *crm.HistoryEntry, t time.Time) int { return e.At.Compare(t) }
	lo, _ := slices.BinarySearchFunc(list, from, at)
	hi, _ := slices.BinarySearchFunc(list, to, at)
	top := seqHeap(make([]*crm.HistoryEntry, 0, min(limit+1, max(hi-lo, 0))))
	for i := hi - 1; i >= lo; i-- {
		if e := list[i]; below == 0 || e.Seq < below {
			top.offer(e, limit+1)
		}
	}
	slices.SortFunc(top, func(a, b *crm.HistoryEntry) int { return cmp.Compare(b.Seq, a.Seq) })
	var out crm.Page[crm.HistoryEntry]
	for _, e := range top[:min(len(top), limit)] {
		out.Items = append(out.Items, cloneEntry(e))
	}
	if len(top) > limit {
		out.NextCursor = crm.SeqCursor(out.Items[limit-1].Seq)
	}
	return out, nil
}

// seqHeap is a min-heap on Seq: it keeps the n highest Seqs offered.
type seqHeap []*crm.HistoryEntry

func (h *seqHeap) offer(e *crm.HistoryEntry, n int) {
	s := *h
	if len(s) < n {
		s = append(s, e)
		for i := len(s) - 1; i > 0; { // sift up
			parent := (i - 1) / 2
			if s[parent].Seq <= s[i].Seq {
				break
			}
			s[parent], s[i] = s[i], s[parent]
			i = parent
		}
		*h = s
		return
	}
	if e.Seq <= s[0].Seq {
		return
	}
	s[0] = e
	for i := 0; ; { // sift down
		least := i
		if l := 2*i + 1; l < len(s) && s[l].Seq < s[least].Seq {
			least = l
		}
		if r := 2*i + 2; r < len(s) && s[r].Seq < s[least].Seq {
			least = r
		}
		if least == i {
			return
		}
		s[least], s[i] = s[i], s[least]
		i = least
	}
}

// Purge implements [crm.History]: the entries before before are a prefix
// of the tenant's entries and of each of its actors' entries (all ordered
// by At); each record they belong to is filtered once. Undone with the
// unit of work.
func (p historyPort) Purge(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, crm.Invalid("before", "is required")
	}
	before = crm.StorageTime(before)
	unlock, err := p.tx.begin(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("memstore: purge history: %w", err)
	}
	defer unlock()
	h := &p.tx.s.history
	h.init()
	tenant := crm.TenantFrom(ctx)
	list := h.tenants[tenant]
	n, _ := slices.BinarySearchFunc(list, before, func(e *crm.HistoryEntry, t time.Time) int { return e.At.Compare(t) })
	if n == 0 {
		return 0, nil
	}
	removed := slices.Clone(list[:n])
	setOrDelete(h.tenants, tenant, slices.Clone(list[n:]))
	// Each actor's and each record's purged entries, in (At, Seq) order.
	byActor := map[historyActor][]*crm.HistoryEntry{}
	byRecord := map[historyRecord][]*crm.HistoryEntry{}
	for _, e := range removed {
		delete(h.ids, e.ID)
		ak, rk := actorOf(e), recordOf(e)
		byActor[ak] = append(byActor[ak], e)
		byRecord[rk] = append(byRecord[rk], e)
	}
	for ak, as := range byActor {
		setOrDelete(h.actors, ak, slices.Clone(h.actors[ak][len(as):]))
	}
	for rk, rs := range byRecord {
		setOrDelete(h.records, rk, slices.DeleteFunc(h.records[rk], func(e *crm.HistoryEntry) bool { return e.At.Before(before) }))
		slices.SortFunc(rs, bySeq)
	}
	p.tx.onUndo(func() {
		for _, e := range removed {
			h.ids[e.ID] = e
		}
		h.tenants[tenant] = append(removed, h.tenants[tenant]...)
		for ak, as := range byActor {
			h.actors[ak] = append(as, h.actors[ak]...)
		}
		for rk, rs := range byRecord {
			h.records[rk] = mergeBySeq(rs, h.records[rk])
		}
	})
	return int64(n), nil
}

// mergeBySeq merges two lists ordered by Seq.
func mergeBySeq(a, b []*crm.HistoryEntry) []*crm.HistoryEntry {
	out := make([]*crm.HistoryEntry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Seq < b[0].Seq {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
