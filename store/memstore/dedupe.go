package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
)

// This file implements the storage port of package dedupe ([dedupe.Tx]):
// the normalised match keys of records. Units of work are serialised by the
// store's lock, so the uniqueness of strong keys needs only a map lookup.

var _ dedupe.Tx = tx{}

// dedupeKeyOf names one blocking key of one tenant.
type dedupeKeyOf struct {
	tenant, kind, value string
}

// dedupeStrongOf names one strong key of one tenant.
type dedupeStrongOf struct {
	tenant, value string
}

// dedupeRecordOf names one record of one tenant.
type dedupeRecordOf struct {
	tenant string
	id     crm.ID
}

// dedupeState holds the key tables; guarded by Store.mu.
type dedupeState struct {
	// postings holds, per key, the IDs of the records holding it in
	// ascending order, so a lookup takes the newest from the end.
	postings map[dedupeKeyOf][]crm.ID
	// strong maps each strong key to the record holding it.
	strong map[dedupeStrongOf]crm.ID
	// records holds each record's keys as put (blocking keys sorted and
	// without repeats).
	records map[dedupeRecordOf]dedupe.RecordKeys
}

func newDedupeState() *dedupeState {
	return &dedupeState{
		postings: make(map[dedupeKeyOf][]crm.ID),
		strong:   make(map[dedupeStrongOf]crm.ID),
		records:  make(map[dedupeRecordOf]dedupe.RecordKeys),
	}
}

func (t tx) dedupeState() *dedupeState { return extension(t.s, "dedupe", newDedupeState) }

// DedupeKeys implements [dedupe.Tx].
func (t tx) DedupeKeys() dedupe.KeyStore { return dedupeKeyRepo{t} }

type dedupeKeyRepo struct{ tx tx }

// set replaces the keys of rec with keys (nil removes them) and returns what
// it had, which set restores when the unit of work rolls back.
func (st *dedupeState) set(tenant string, id crm.ID, keys *dedupe.RecordKeys) (old *dedupe.RecordKeys) {
	rk := dedupeRecordOf{tenant, id}
	if prev, ok := st.records[rk]; ok {
		old = &prev
		for _, k := range prev.Keys {
			pk := dedupeKeyOf{tenant, k.Kind, k.Value}
			if p := removeSorted(st.postings[pk], id); len(p) == 0 {
				delete(st.postings, pk)
			} else {
				st.postings[pk] = p
			}
		}
		if prev.Strong != "" {
			delete(st.strong, dedupeStrongOf{tenant, prev.Strong})
		}
		delete(st.records, rk)
	}
	if keys == nil {
		return old
	}
	for _, k := range keys.Keys {
		pk := dedupeKeyOf{tenant, k.Kind, k.Value}
		st.postings[pk] = insertSorted(st.postings[pk], id)
	}
	if keys.Strong != "" {
		st.strong[dedupeStrongOf{tenant, keys.Strong}] = id
	}
	st.records[rk] = *keys
	return old
}

// canonicalKeys copies keys with the blocking keys sorted and without
// repeats, the form Get returns on every adapter.
func canonicalKeys(keys *dedupe.RecordKeys) dedupe.RecordKeys {
	out := dedupe.RecordKeys{RecordID: keys.RecordID, Strong: keys.Strong, Keys: slices.Clone(keys.Keys)}
	slices.SortFunc(out.Keys, func(a, b dedupe.Key) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
	out.Keys = slices.Compact(out.Keys)
	if len(out.Keys) == 0 {
		out.Keys = nil
	}
	return out
}

func (r dedupeKeyRepo) Put(ctx context.Context, keys *dedupe.RecordKeys) error {
	if keys == nil {
		return fmt.Errorf("memstore: put dedupe keys: %w", crm.Invalid("keys", "is required"))
	}
	if err := keys.Validate(); err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: put dedupe keys of %s: %w", keys.RecordID, err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	st := r.tx.dedupeState()
	if keys.Strong != "" {
		if holder, ok := st.strong[dedupeStrongOf{tenant, keys.Strong}]; ok && holder != keys.RecordID {
			return &dedupe.KeyTakenError{Key: keys.Strong, HolderID: holder}
		}
	}
	c := canonicalKeys(keys)
	old := st.set(tenant, c.RecordID, &c)
	r.tx.onUndo(func() { st.set(tenant, c.RecordID, old) })
	return nil
}

func (r dedupeKeyRepo) Get(ctx context.Context, id crm.ID) (*dedupe.RecordKeys, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get dedupe keys of %s: %w", id, err)
	}
	defer unlock()
	k, ok := r.tx.dedupeState().records[dedupeRecordOf{crm.TenantFrom(ctx), id}]
	if !ok {
		return nil, fmt.Errorf("memstore: get dedupe keys of %s: %w", id, crm.ErrNotFound)
	}
	out := canonicalKeys(&k)
	return &out, nil
}

func (r dedupeKeyRepo) Delete(ctx context.Context, id crm.ID) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: delete dedupe keys of %s: %w", id, err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	st := r.tx.dedupeState()
	if old := st.set(tenant, id, nil); old != nil {
		r.tx.onUndo(func() { st.set(tenant, id, old) })
	}
	return nil
}

func (r dedupeKeyRepo) Lookup(ctx context.Context, keys []dedupe.Key, perKey int) ([]crm.ID, error) {
	if err := dedupe.ValidateLookup(keys, perKey); err != nil {
		return nil, err
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: look up dedupe keys: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	st := r.tx.dedupeState()
	var out []crm.ID
	for _, k := range keys {
		p := st.postings[dedupeKeyOf{tenant, k.Kind, k.Value}]
		if len(p) > perKey {
			p = p[len(p)-perKey:]
		}
		out = append(out, p...)
	}
	slices.SortFunc(out, compareID)
	return slices.Compact(out), nil
}

func (r dedupeKeyRepo) Holder(ctx context.Context, strong string) (crm.ID, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return crm.NilID, fmt.Errorf("memstore: find holder of strong key: %w", err)
	}
	defer unlock()
	id, ok := r.tx.dedupeState().strong[dedupeStrongOf{crm.TenantFrom(ctx), strong}]
	if !ok {
		return crm.NilID, fmt.Errorf("memstore: find holder of strong key: %w", crm.ErrNotFound)
	}
	return id, nil
}
