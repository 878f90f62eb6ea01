package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// This file implements the storage ports of package lead ([lead.Tx]):
// transition history, score snapshots, and scoring-model and predictor
// documents. Units of work are serialised by the store's lock, so a
// snapshot's compare-and-swap needs no more than comparing versions.

var _ lead.Tx = tx{}

// leadKey names a lead of one tenant.
type leadKey struct {
	tenant string
	lead   crm.ID
}

// docKey names a model of one kind and tenant.
type docKey struct {
	tenant, kind, id string
}

// leadState holds the lead package's tables; guarded by Store.mu.
type leadState struct {
	// history holds each lead's entries in ID order; historyIDs every
	// entry ID, which is unique across tenants as on PostgreSQL.
	history    map[leadKey][]lead.HistoryEntry
	historyIDs map[crm.ID]struct{}
	// scores holds each lead's snapshots by model ID.
	scores map[leadKey]map[string]lead.ScoreSnapshot
	// docs holds each model's versions in ascending order.
	docs map[docKey][]lead.ModelDocument
	// rising orders the risen snapshots of open leads for the
	// rising-leads queue (queue_leads.go).
	rising map[riseModel]*riseIndexes
}

func newLeadState() *leadState {
	return &leadState{
		history:    make(map[leadKey][]lead.HistoryEntry),
		historyIDs: make(map[crm.ID]struct{}),
		scores:     make(map[leadKey]map[string]lead.ScoreSnapshot),
		docs:       make(map[docKey][]lead.ModelDocument),
		rising:     make(map[riseModel]*riseIndexes),
	}
}

func (t tx) leadState() *leadState { return extension(t.s, "lead", newLeadState) }

// LeadHistory implements [lead.Tx].
func (t tx) LeadHistory() lead.HistoryStore { return historyRepo{t} }

// LeadScores implements [lead.Tx].
func (t tx) LeadScores() lead.ScoreStore { return scoreRepo{t} }

// LeadScoringModels implements [lead.Tx].
func (t tx) LeadScoringModels() lead.ModelStore { return docRepo{t, "scoring"} }

// LeadPredictors implements [lead.Tx].
func (t tx) LeadPredictors() lead.ModelStore { return docRepo{t, "predictor"} }

type historyRepo struct{ tx tx }

func (r historyRepo) Append(ctx context.Context, e *lead.HistoryEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: append lead history %s: %w", e.ID, err)
	}
	defer unlock()
	ls := r.tx.leadState()
	if _, dup := ls.historyIDs[e.ID]; dup {
		return fmt.Errorf("memstore: append lead history %s: %w", e.ID, crm.ErrAlreadyExists)
	}
	c := *e
	c.At = crm.StorageTime(c.At)
	k := leadKey{crm.TenantFrom(ctx), c.LeadID}
	old := ls.history[k]
	i, _ := slices.BinarySearchFunc(old, c.ID, func(h lead.HistoryEntry, id crm.ID) int { return compareID(h.ID, id) })
	// Insert into a new slice, so the undo step can restore the old one.
	next := make([]lead.HistoryEntry, 0, len(old)+1)
	next = append(append(append(next, old[:i]...), c), old[i:]...)
	ls.history[k] = next
	ls.historyIDs[c.ID] = struct{}{}
	r.tx.onUndo(func() {
		if old == nil {
			delete(ls.history, k)
		} else {
			ls.history[k] = old
		}
		delete(ls.historyIDs, c.ID)
	})
	e.At = c.At
	return nil
}

func (r historyRepo) List(ctx context.Context, leadID crm.ID, page crm.PageRequest) (crm.Page[lead.HistoryEntry], error) {
	limit, after, err := page.Resolve()
	if err != nil {
		return crm.Page[lead.HistoryEntry]{}, err
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return crm.Page[lead.HistoryEntry]{}, fmt.Errorf("memstore: list lead history %s: %w", leadID, err)
	}
	defer unlock()
	entries := r.tx.leadState().history[leadKey{crm.TenantFrom(ctx), leadID}]
	start := 0
	if after != crm.NilID {
		i, found := slices.BinarySearchFunc(entries, after, func(h lead.HistoryEntry, id crm.ID) int { return compareID(h.ID, id) })
		if found {
			i++
		}
		start = i
	}
	var out crm.Page[lead.HistoryEntry]
	for i := start; i < len(entries); i++ {
		if len(out.Items) == limit {
			out.NextCursor = crm.CursorAfter(out.Items[limit-1].ID)
			break
		}
		c := entries[i]
		out.Items = append(out.Items, &c)
	}
	return out, nil
}

type scoreRepo struct{ tx tx }

func (r scoreRepo) Get(ctx context.Context, leadID crm.ID, modelID string) (*lead.ScoreSnapshot, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get lead score %s/%q: %w", leadID, modelID, err)
	}
	defer unlock()
	s, ok := r.tx.leadState().scores[leadKey{crm.TenantFrom(ctx), leadID}][modelID]
	if !ok {
		return nil, fmt.Errorf("memstore: get lead score %s/%q: %w", leadID, modelID, crm.ErrNotFound)
	}
	return &s, nil
}

func (r scoreRepo) Save(ctx context.Context, s *lead.ScoreSnapshot) error {
	if err := s.Validate(); err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: save lead score %s/%q: %w", s.LeadID, s.ModelID, err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	if s.TenantID != "" && s.TenantID != tenant {
		return crm.Invalid("tenant_id", "snapshot of tenant %q saved in the context of tenant %q", s.TenantID, tenant)
	}
	ls := r.tx.leadState()
	k := leadKey{tenant, s.LeadID}
	byModel := ls.scores[k]
	old, had := byModel[s.ModelID]
	switch {
	case !had && s.Version != 0:
		return fmt.Errorf("memstore: save lead score %s/%q: %w", s.LeadID, s.ModelID, crm.ErrNotFound)
	case had && old.Version != s.Version:
		return fmt.Errorf("memstore: save lead score %s/%q: version %d is stale, stored version is %d: %w", s.LeadID, s.ModelID, s.Version, old.Version, crm.ErrConflict)
	}
	c := *s
	c.TenantID, c.ComputedAt, c.RoseAt, c.Version = tenant, crm.StorageTime(c.ComputedAt), crm.StorageTime(c.RoseAt), s.Version+1
	if byModel == nil {
		byModel = make(map[string]lead.ScoreSnapshot)
		ls.scores[k] = byModel
	}
	var was *lead.ScoreSnapshot
	if had {
		was = &old
	}
	l := r.tx.s.storedLead(tenant, c.LeadID)
	ls.moveRise(was, l, &c, l)
	byModel[c.ModelID] = c
	r.tx.onUndo(func() {
		l := r.tx.s.storedLead(tenant, c.LeadID)
		ls.moveRise(&c, l, was, l)
		if had {
			byModel[c.ModelID] = old
		} else {
			delete(byModel, c.ModelID)
		}
	})
	*s = c
	return nil
}

func (r scoreRepo) List(ctx context.Context, leadID crm.ID) ([]*lead.ScoreSnapshot, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: list lead scores %s: %w", leadID, err)
	}
	defer unlock()
	byModel := r.tx.leadState().scores[leadKey{crm.TenantFrom(ctx), leadID}]
	out := make([]*lead.ScoreSnapshot, 0, len(byModel))
	for _, s := range byModel {
		c := s
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *lead.ScoreSnapshot) int { return cmp.Compare(a.ModelID, b.ModelID) })
	return out, nil
}

// docRepo stores model documents of one kind.
type docRepo struct {
	tx   tx
	kind string
}

func cloneDoc(d *lead.ModelDocument) *lead.ModelDocument {
	c := *d
	c.Data = bytes.Clone(d.Data)
	return &c
}

func (r docRepo) Put(ctx context.Context, d *lead.ModelDocument) error {
	if err := d.Validate(); err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: put %s model %q version %d: %w", r.kind, d.ID, d.Version, err)
	}
	defer unlock()
	ls := r.tx.leadState()
	k := docKey{crm.TenantFrom(ctx), r.kind, d.ID}
	old := ls.docs[k]
	i, found := slices.BinarySearchFunc(old, d.Version, func(x lead.ModelDocument, v int) int { return cmp.Compare(x.Version, v) })
	if found {
		if !bytes.Equal(old[i].Data, d.Data) {
			return fmt.Errorf("memstore: put %s model %q version %d: a different document is stored under this version: %w", r.kind, d.ID, d.Version, crm.ErrAlreadyExists)
		}
		d.CreatedAt = old[i].CreatedAt
		return nil
	}
	c := cloneDoc(d)
	c.CreatedAt = crm.StorageTime(r.tx.s.clock.Now())
	next := make([]lead.ModelDocument, 0, len(old)+1)
	next = append(append(append(next, old[:i]...), *c), old[i:]...)
	ls.docs[k] = next
	r.tx.onUndo(func() {
		if old == nil {
			delete(ls.docs, k)
		} else {
			ls.docs[k] = old
		}
	})
	d.CreatedAt = c.CreatedAt
	return nil
}

func (r docRepo) Get(ctx context.Context, id string, version int) (*lead.ModelDocument, error) {
	if version < 0 {
		return nil, crm.Invalid("version", "must not be negative, got %d", version)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get %s model %q version %d: %w", r.kind, id, version, err)
	}
	defer unlock()
	vs := r.tx.leadState().docs[docKey{crm.TenantFrom(ctx), r.kind, id}]
	if len(vs) > 0 {
		if version == 0 {
			return cloneDoc(&vs[len(vs)-1]), nil
		}
		if i, found := slices.BinarySearchFunc(vs, version, func(x lead.ModelDocument, v int) int { return cmp.Compare(x.Version, v) }); found {
			return cloneDoc(&vs[i]), nil
		}
	}
	return nil, fmt.Errorf("memstore: get %s model %q version %d: %w", r.kind, id, version, crm.ErrNotFound)
}

func (r docRepo) List(ctx context.Context, id string, after, limit int) ([]*lead.ModelDocument, error) {
	if limit < 1 || limit > crm.MaxPageLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, limit)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: list %s model %q: %w", r.kind, id, err)
	}
	defer unlock()
	vs := r.tx.leadState().docs[docKey{crm.TenantFrom(ctx), r.kind, id}]
	i, found := slices.BinarySearchFunc(vs, after, func(x lead.ModelDocument, v int) int { return cmp.Compare(x.Version, v) })
	if found {
		i++
	}
	out := make([]*lead.ModelDocument, 0, min(limit, len(vs)-i))
	for ; i < len(vs) && len(out) < limit; i++ {
		out = append(out, cloneDoc(&vs[i]))
	}
	return out, nil
}
