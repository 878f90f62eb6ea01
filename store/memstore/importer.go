package memstore

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/importer"
)

// This file implements the optional storage port of imports
// ([importer.Tx]): external IDs by (tenant, source system, external ID).
// Units of work are serialised by the store's lock, so uniqueness needs
// only a map lookup.

var _ importer.Tx = tx{}

// externalIDOf names one external ID of one source system of one tenant.
type externalIDOf struct {
	tenant, source, id string
}

// externalIDState holds the mapping; guarded by Store.mu.
type externalIDState struct {
	ids map[externalIDOf]importer.Mapping
}

func newExternalIDState() *externalIDState {
	return &externalIDState{ids: make(map[externalIDOf]importer.Mapping)}
}

func (t tx) externalIDState() *externalIDState {
	return extension(t.s, "external_ids", newExternalIDState)
}

// ExternalIDs implements [importer.Tx].
func (t tx) ExternalIDs() importer.ExternalIDs { return externalIDRepo{t} }

type externalIDRepo struct{ tx tx }

func (r externalIDRepo) Lookup(ctx context.Context, source string, ids []string) (map[string]importer.Mapping, error) {
	if err := importer.ValidateLookup(source, ids); err != nil {
		return nil, err
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: look up external IDs: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	st := r.tx.externalIDState()
	out := make(map[string]importer.Mapping, len(ids))
	for _, id := range ids {
		if c, ok := st.ids[externalIDOf{tenant, source, id}]; ok {
			out[id] = c
		}
	}
	return out, nil
}

func (r externalIDRepo) Put(ctx context.Context, source, id string, m importer.Mapping) error {
	if err := importer.ValidatePut(source, id, m); err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: put external ID: %w", err)
	}
	defer unlock()
	k := externalIDOf{crm.TenantFrom(ctx), source, id}
	st := r.tx.externalIDState()
	held, ok := st.ids[k]
	if ok && held.CustomerID != m.CustomerID {
		return &importer.ExternalIDTakenError{Source: source, ExternalID: id, CustomerID: held.CustomerID}
	}
	st.ids[k] = m
	r.tx.onUndo(func() {
		if ok {
			st.ids[k] = held
		} else {
			delete(st.ids, k)
		}
	})
	return nil
}

func (r externalIDRepo) Delete(ctx context.Context, source, id string) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: delete external ID: %w", err)
	}
	defer unlock()
	k := externalIDOf{crm.TenantFrom(ctx), source, id}
	st := r.tx.externalIDState()
	if held, ok := st.ids[k]; ok {
		delete(st.ids, k)
		r.tx.onUndo(func() { st.ids[k] = held })
	}
	return nil
}
