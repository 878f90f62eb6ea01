package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// entity is the pointer side of a record type T.
type entity[T any] interface {
	*T
	crm.Entity
	Clone() *T
}

// filter is the pointer side of a filter type F over records T.
type filter[T any, F any] interface {
	*F
	Validate() error
	Match(*T, crm.InTree) bool
}

// table holds the rows of one record type. All access happens under the
// store's lock.
type table[T any, PT entity[T]] struct {
	name  string
	rows  map[crm.ID]*T
	order []crm.ID
	// unique returns the row's unique key, if the type has one.
	unique func(*T) string
	keys   map[string]crm.ID
	// beforeWrite and beforeDelete enforce cross-row rules.
	beforeWrite  func(context.Context, *T) error
	beforeDelete func(*T) error
	// afterPut keeps a secondary index: called with the row before (nil
	// for an insert) and after (nil for a removal) every change.
	afterPut func(old, c *T)
}

func newTable[T any, PT entity[T]](name string) *table[T, PT] {
	return &table[T, PT]{name: name, rows: make(map[crm.ID]*T), keys: make(map[string]crm.ID)}
}

// repo is a [crm.Repository] over one table, bound to a unit of work (or to
// none, for autocommit calls).
type repo[T any, F any, PT entity[T], PF filter[T, F]] struct {
	tx tx
	t  *table[T, PT]
}

func (r repo[T, F, PT, PF]) errorf(op string, id crm.ID, err error) error {
	return fmt.Errorf("memstore: %s %s %s: %w", op, r.t.name, id, err)
}

// visible returns the stored row if it exists for the context's tenant.
func (r repo[T, F, PT, PF]) visible(ctx context.Context, id crm.ID) (*T, bool) {
	row, ok := r.t.rows[id]
	if !ok || PT(row).GetMeta().TenantID != crm.TenantFrom(ctx) {
		return nil, false
	}
	return row, true
}

func (r repo[T, F, PT, PF]) Get(ctx context.Context, id crm.ID) (*T, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, r.errorf("get", id, err)
	}
	defer unlock()
	row, ok := r.visible(ctx, id)
	if !ok {
		return nil, r.errorf("get", id, crm.ErrNotFound)
	}
	return PT(row).Clone(), nil
}

// prepare normalises and validates a copy of v for writing.
func (r repo[T, F, PT, PF]) prepare(v *T) (*T, error) {
	c := PT(v).Clone()
	PT(c).Normalise()
	if err := PT(c).Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (r repo[T, F, PT, PF]) Create(ctx context.Context, v *T) error {
	if v == nil {
		return crm.Invalid("record", "is nil")
	}
	m := PT(v).GetMeta()
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return r.errorf("create", m.ID, err)
	}
	defer unlock()
	if err := crm.ApplyTenant(ctx, m); err != nil {
		return err
	}
	c, err := r.prepare(v)
	if err != nil {
		return err
	}
	cm := PT(c).GetMeta()
	if dup, taken := r.t.rows[cm.ID]; taken {
		// IDs are unique across the store; one held by another tenant is
		// not "already exists" to this one, and says nothing of the record.
		if PT(dup).GetMeta().TenantID != cm.TenantID {
			return crm.IDTakenByAnotherTenant()
		}
		return r.errorf("create", cm.ID, crm.ErrAlreadyExists)
	}
	if err := r.tx.s.checkReferences(PT(c)); err != nil {
		return err
	}
	if err := r.checkUnique(c, crm.NilID); err != nil {
		return err
	}
	if r.t.beforeWrite != nil {
		if err := r.t.beforeWrite(ctx, c); err != nil {
			return err
		}
	}
	now := crm.StorageTime(r.tx.s.clock.Now())
	cm.Version, cm.CreatedAt, cm.UpdatedAt = 1, now, now
	r.insert(c)
	r.tx.onUndo(func() { r.remove(c) })
	*v = *PT(c).Clone()
	return nil
}

func (r repo[T, F, PT, PF]) checkUnique(c *T, self crm.ID) error {
	if r.t.unique == nil {
		return nil
	}
	if owner, taken := r.t.keys[r.t.unique(c)]; taken && owner != self {
		return r.errorf("create", PT(c).GetMeta().ID, fmt.Errorf("unique key taken by %s: %w", owner, crm.ErrAlreadyExists))
	}
	return nil
}

func (r repo[T, F, PT, PF]) insert(c *T) {
	id := PT(c).GetMeta().ID
	r.t.rows[id] = c
	r.t.order = insertSorted(r.t.order, id)
	if r.t.unique != nil {
		r.t.keys[r.t.unique(c)] = id
	}
	if r.t.afterPut != nil {
		r.t.afterPut(nil, c)
	}
}

func (r repo[T, F, PT, PF]) remove(c *T) {
	id := PT(c).GetMeta().ID
	delete(r.t.rows, id)
	r.t.order = removeSorted(r.t.order, id)
	if r.t.unique != nil {
		delete(r.t.keys, r.t.unique(c))
	}
	if r.t.afterPut != nil {
		r.t.afterPut(c, nil)
	}
}

// replace swaps a stored row for its new version in place.
func (r repo[T, F, PT, PF]) replace(old, c *T) {
	id := PT(c).GetMeta().ID
	if r.t.unique != nil {
		delete(r.t.keys, r.t.unique(old))
		r.t.keys[r.t.unique(c)] = id
	}
	r.t.rows[id] = c
	if r.t.afterPut != nil {
		r.t.afterPut(old, c)
	}
}

func (r repo[T, F, PT, PF]) Update(ctx context.Context, v *T) error {
	if v == nil {
		return crm.Invalid("record", "is nil")
	}
	m := PT(v).GetMeta()
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return r.errorf("update", m.ID, err)
	}
	defer unlock()
	old, ok := r.visible(ctx, m.ID)
	if !ok {
		return r.errorf("update", m.ID, crm.ErrNotFound)
	}
	if m.TenantID == "" {
		m.TenantID = crm.TenantFrom(ctx)
	}
	c, err := r.prepare(v)
	if err != nil {
		return err
	}
	om, cm := PT(old).GetMeta(), PT(c).GetMeta()
	if cm.TenantID != om.TenantID {
		return crm.Invalid("tenant_id", "cannot move a record to another tenant")
	}
	if cm.Version != om.Version {
		return r.errorf("update", m.ID, fmt.Errorf("version %d is stale, stored version is %d: %w", cm.Version, om.Version, crm.ErrConflict))
	}
	if err := r.checkUnique(c, cm.ID); err != nil {
		return err
	}
	if err := r.tx.s.checkReferences(PT(c)); err != nil {
		return err
	}
	if r.t.beforeWrite != nil {
		if err := r.t.beforeWrite(ctx, c); err != nil {
			return err
		}
	}
	cm.Version = om.Version + 1
	cm.CreatedAt = om.CreatedAt
	cm.UpdatedAt = crm.StorageTime(r.tx.s.clock.Now())
	r.replace(old, c)
	r.tx.onUndo(func() { r.replace(c, old) })
	*v = *PT(c).Clone()
	return nil
}

func (r repo[T, F, PT, PF]) Delete(ctx context.Context, id crm.ID, version int64) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return r.errorf("delete", id, err)
	}
	defer unlock()
	old, ok := r.visible(ctx, id)
	if !ok {
		return r.errorf("delete", id, crm.ErrNotFound)
	}
	if v := PT(old).GetMeta().Version; v != version {
		return r.errorf("delete", id, fmt.Errorf("version %d is stale, stored version is %d: %w", version, v, crm.ErrConflict))
	}
	if r.t.beforeDelete != nil {
		if err := r.t.beforeDelete(old); err != nil {
			return err
		}
	}
	r.remove(old)
	r.tx.onUndo(func() { r.insert(old) })
	return nil
}

func (r repo[T, F, PT, PF]) List(ctx context.Context, f F, page crm.PageRequest) (crm.Page[T], error) {
	limit, after, err := page.Resolve()
	if err != nil {
		return crm.Page[T]{}, err
	}
	if err := PF(&f).Validate(); err != nil {
		return crm.Page[T]{}, err
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return crm.Page[T]{}, fmt.Errorf("memstore: list %s: %w", r.t.name, err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	inTree := r.tx.s.inTree(tenant)
	start := 0
	if after != crm.NilID {
		i, found := slices.BinarySearchFunc(r.t.order, after, compareID)
		if found {
			i++
		}
		start = i
	}
	var out crm.Page[T]
	for _, id := range r.t.order[start:] {
		row := r.t.rows[id]
		if PT(row).GetMeta().TenantID != tenant || !PF(&f).Match(row, inTree) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = crm.CursorAfter(PT(out.Items[limit-1]).GetMeta().ID)
			break
		}
		out.Items = append(out.Items, PT(row).Clone())
	}
	return out, nil
}
