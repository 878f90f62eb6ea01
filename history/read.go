package history

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Masker says which fields of a record type a viewer may not see, as
// permission field masks do. Hidden returns a test of field paths
// ("phone", "fields.salary").
type Masker interface {
	Hidden(ctx context.Context, viewer crm.ID, rt crm.RecordType) (func(field string) bool, error)
}

// Masked is the value a hidden field's old and new values read as.
var Masked = json.RawMessage(`"***"`)

// Reader reads history as a viewer may see it: the values of fields the
// viewer may not see come back as [Masked].
type Reader struct {
	masker Masker
}

// NewReader returns a reader masking with m; a nil m masks nothing.
func NewReader(m Masker) *Reader { return &Reader{masker: m} }

// ForRecord returns a page of record's history, newest first, masked for
// viewer.
func (r *Reader) ForRecord(ctx context.Context, tx crm.Tx, viewer crm.ID, record crm.Ref, page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
	h, err := history(tx)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	p, err := h.ForRecord(ctx, record, page)
	if err != nil {
		return p, fmt.Errorf("history: read %s %s: %w", record.Type, record.ID, err)
	}
	return p, r.mask(ctx, viewer, p.Items)
}

// ByActor returns a page of the changes actor made at from or later and
// before to, newest first, masked for viewer.
func (r *Reader) ByActor(ctx context.Context, tx crm.Tx, viewer, actor crm.ID, from, to time.Time, page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
	h, err := history(tx)
	if err != nil {
		return crm.Page[crm.HistoryEntry]{}, err
	}
	p, err := h.ByActor(ctx, actor, from, to, page)
	if err != nil {
		return p, fmt.Errorf("history: read changes by %s: %w", actor, err)
	}
	return p, r.mask(ctx, viewer, p.Items)
}

// Purge removes the history older than before, for the context's tenant,
// and reports how many entries it removed.
func Purge(ctx context.Context, tx crm.Tx, before time.Time) (int64, error) {
	h, err := history(tx)
	if err != nil {
		return 0, err
	}
	return h.Purge(ctx, before)
}

func history(tx crm.Tx) (crm.History, error) {
	ht, ok := crm.As[crm.HistoryTx](tx)
	if !ok {
		return nil, fmt.Errorf("history: the unit of work %T keeps no history (crm.HistoryTx): %w", tx, crm.ErrUnsupported)
	}
	return ht.History(), nil
}

func (r *Reader) mask(ctx context.Context, viewer crm.ID, items []*crm.HistoryEntry) error {
	if r.masker == nil {
		return nil
	}
	hidden := map[crm.RecordType]func(string) bool{}
	for _, e := range items {
		test, ok := hidden[e.Record.Type]
		if !ok {
			var err error
			if test, err = r.masker.Hidden(ctx, viewer, e.Record.Type); err != nil {
				return fmt.Errorf("history: field mask: %w", err)
			}
			hidden[e.Record.Type] = test
		}
		if test != nil && test(e.Field) {
			if e.Old != nil {
				e.Old = Masked
			}
			if e.New != nil {
				e.New = Masked
			}
		}
	}
	return nil
}
