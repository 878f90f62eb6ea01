package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

var _ crm.EventLog = tx{}

// SubjectEvents implements [crm.EventLog]: each subject's events are a
// chain, newest first (outbox.lastOf, outbox.prevOf); a page merges the
// chains' heads, so its cost follows the page and the number of
// subjects.
func (t tx) SubjectEvents(ctx context.Context, q crm.EventQuery) (crm.Page[crm.Event], error) {
	limit, below, err := q.Resolve()
	if err != nil {
		return crm.Page[crm.Event]{}, fmt.Errorf("memstore: subject events: %w", err)
	}
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return crm.Page[crm.Event]{}, fmt.Errorf("memstore: subject events: %w", err)
	}
	defer unlock()
	ob := &t.s.outbox
	tenant := crm.TenantFrom(ctx)
	h := make(chainHeads, 0, len(q.SubjectIDs))
	seen := make(map[crm.ID]bool, len(q.SubjectIDs))
	for _, id := range q.SubjectIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		i, ok := ob.lastOf[id]
		for ok && i >= 0 && below > 0 && ob.events[i].e.Seq >= below {
			i = ob.prevOf[i]
		}
		if ok && i >= 0 {
			h = append(h, i)
		}
	}
	heap.Init(&h)
	var out crm.Page[crm.Event]
	for h.Len() > 0 {
		i := h[0]
		if p := ob.prevOf[i]; p >= 0 {
			h[0] = p
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		e := &ob.events[i].e
		if e.TenantID != tenant || (len(q.Types) > 0 && !slices.Contains(q.Types, e.Type)) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = crm.EventLogCursor(out.Items[limit-1].Seq)
			break
		}
		c := *e
		c.Payload = slices.Clone(e.Payload)
		out.Items = append(out.Items, &c)
	}
	return out, nil
}

// chainHeads is a max-heap of outbox indexes: the newest event first.
type chainHeads []int

func (h chainHeads) Len() int           { return len(h) }
func (h chainHeads) Less(i, j int) bool { return h[i] > h[j] }
func (h chainHeads) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *chainHeads) Push(x any)        { *h = append(*h, x.(int)) }
func (h *chainHeads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
