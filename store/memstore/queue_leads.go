package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// This file serves the rising-leads queue ([lead.RisingQueue]): per
// tenant and model, ordered indexes of the risen snapshots of open leads,
// one for the whole tenant, one per lead owner and one per lead
// department, kept by the snapshot's save and by every change of a lead
// (scoreRepo.Save, Store.leadChanged), so a page is a binary search and a
// merge of the scope's indexes, as for the other work queues.

var _ lead.RisingQueue = tx{}

// riseModel names the rising-leads indexes of one tenant's model.
type riseModel struct {
	tenant, model string
}

// riseIndexes are the rising-leads indexes of one tenant's model.
type riseIndexes struct {
	all             queueIndex
	byOwner, byDept map[crm.ID]*queueIndex
}

// riseEntry is a snapshot's place in the rising-leads indexes. The queue
// is newest first and a queueIndex ascends, so the key is the rise time
// negated and the lead ID with its bits flipped: ascending on those is
// descending on (RoseAt, lead ID).
func riseEntry(at time.Time, leadID crm.ID) queueEntry {
	return queueEntry{at: -at.UnixMicro(), id: flipID(leadID)}
}

// flipID flips every bit of id; flipping twice gives id back.
func flipID(id crm.ID) crm.ID {
	for i := range id {
		id[i] = ^id[i]
	}
	return id
}

// moveRise moves the queue entries of a snapshot from its old place (old
// of lead oldL) to its new one (s of lead l); a nil snapshot or lead, a
// snapshot without a rise or a lead that is not open has no place.
// Callers hold the lock.
func (ls *leadState) moveRise(old *lead.ScoreSnapshot, oldL *crm.Lead, s *lead.ScoreSnapshot, l *crm.Lead) {
	if old != nil && oldL != nil && !old.RoseAt.IsZero() && lead.Open(oldL) {
		if ri := ls.rising[riseModel{old.TenantID, old.ModelID}]; ri != nil {
			e := riseEntry(old.RoseAt, old.LeadID)
			ri.all.remove(e)
			if x := ri.byOwner[oldL.OwnerID]; x != nil {
				x.remove(e)
			}
			if x := ri.byDept[oldL.DepartmentID]; x != nil {
				x.remove(e)
			}
		}
	}
	if s != nil && l != nil && !s.RoseAt.IsZero() && lead.Open(l) {
		k := riseModel{s.TenantID, s.ModelID}
		ri := ls.rising[k]
		if ri == nil {
			ri = &riseIndexes{byOwner: make(map[crm.ID]*queueIndex), byDept: make(map[crm.ID]*queueIndex)}
			ls.rising[k] = ri
		}
		e := riseEntry(s.RoseAt, s.LeadID)
		ri.all.insert(e)
		if l.OwnerID != crm.NilID {
			indexOf(ri.byOwner, l.OwnerID).insert(e)
		}
		if l.DepartmentID != crm.NilID {
			indexOf(ri.byDept, l.DepartmentID).insert(e)
		}
	}
}

// storedLead returns the tenant's stored lead id, or nil. Callers hold
// the lock.
func (s *Store) storedLead(tenant string, id crm.ID) *crm.Lead {
	if l := s.leads.rows[id]; l != nil && l.TenantID == tenant {
		return l
	}
	return nil
}

// leadChanged moves the rising-leads entries of a lead's snapshots from
// its old owner, department and status to its new ones (old is nil for
// a new lead, c for a removed one): the lead table's afterPut. Callers
// hold the lock.
func (s *Store) leadChanged(old, c *crm.Lead) {
	if old != nil && c != nil && old.OwnerID == c.OwnerID && old.DepartmentID == c.DepartmentID && lead.Open(old) == lead.Open(c) {
		return
	}
	l := c
	if l == nil {
		l = old
	}
	ls := extension(s, "lead", newLeadState)
	for _, snap := range ls.scores[leadKey{l.TenantID, l.ID}] {
		ls.moveRise(&snap, old, &snap, c)
	}
}

// LeadsRising implements [lead.RisingQueue]: it merges the indexes of the
// scope's owners and departments (the tenant's whole index for a nil or
// All scope).
func (t tx) LeadsRising(ctx context.Context, q lead.RisingQuery) (crm.Page[lead.RisingLead], error) {
	limit, after, since, err := lead.ResolveRisingQuery(q)
	if err != nil {
		return crm.Page[lead.RisingLead]{}, fmt.Errorf("memstore: leads rising: %w", err)
	}
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return crm.Page[lead.RisingLead]{}, fmt.Errorf("memstore: leads rising: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	ls := t.leadState()
	var out crm.Page[lead.RisingLead]
	ri := ls.rising[riseModel{tenant, q.ModelID}]
	if ri == nil {
		return out, nil
	}
	idx := []*queueIndex{&ri.all}
	if q.Scope != nil && !q.Scope.All {
		idx = t.s.queueIndexes(tenant, q.Scope, ri.byOwner, ri.byDept)
	}
	var from *queueEntry
	if after != nil {
		e := riseEntry(after.DueAt, after.ID)
		from = &e
	}
	mergeEntries(idx, from, -since.UnixMicro(), limit+1, func(e queueEntry) bool {
		id := flipID(e.id)
		snap, ok := ls.scores[leadKey{tenant, id}][q.ModelID]
		l := t.s.storedLead(tenant, id)
		if !ok || l == nil {
			return false
		}
		out.Items = append(out.Items, &lead.RisingLead{Lead: l.Clone(), Score: &snap})
		return true
	})
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = lead.RisingCursor(out.Items[limit-1])
	}
	return out, nil
}
