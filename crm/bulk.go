package crm

import (
	"context"
	"errors"
	"fmt"
)

// MaxBulk is the most records one bulk call ([BulkCreator.CreateMany],
// [BulkGetter.GetMany]) takes.
const MaxBulk = 10000

// BulkCreator is an optional extension of a [Repository] for writing many
// records at once, as an import does (pgstore implements it: the inserts
// are sent in one round trip). CreateMany stores vs as Create would one
// after the other, in order, writing back each stored copy; it is all or
// nothing only inside a unit of work, and an error leaves the unit of work
// to be rolled back. At most [MaxBulk] records.
//
// Call it through [CreateMany], which falls back to Create one by one on a
// repository without it.
type BulkCreator[T any] interface {
	CreateMany(ctx context.Context, vs []*T) error
}

// BulkGetter is an optional extension of a [Repository] for reading many
// records by ID in one step (pgstore: one query). GetMany returns the
// records of ids that exist in the context's tenant, in no particular
// order; missing IDs are left out, not an error, and an ID given twice may
// come back twice. At most [MaxBulk] IDs.
//
// Call it through [GetMany], which falls back to Get one by one.
type BulkGetter[T any] interface {
	GetMany(ctx context.Context, ids []ID) ([]*T, error)
}

// CreateMany stores vs through repo's [BulkCreator] when it has one, else
// with Create one after the other (then the records stored before a
// refused one are written back, and stay in the unit of work until it is
// rolled back).
func CreateMany[T, F any](ctx context.Context, repo Repository[T, F], vs []*T) error {
	if len(vs) > MaxBulk {
		return Invalid("records", "at most %d in one call, got %d", MaxBulk, len(vs))
	}
	if b, ok := repo.(BulkCreator[T]); ok {
		return b.CreateMany(ctx, vs)
	}
	for i, v := range vs {
		if err := repo.Create(ctx, v); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

// GetMany reads the records of ids through repo's [BulkGetter] when it has
// one, else with Get one after the other; missing IDs are left out.
func GetMany[T, F any](ctx context.Context, repo Repository[T, F], ids []ID) ([]*T, error) {
	if len(ids) > MaxBulk {
		return nil, Invalid("ids", "at most %d in one call, got %d", MaxBulk, len(ids))
	}
	if b, ok := repo.(BulkGetter[T]); ok {
		return b.GetMany(ctx, ids)
	}
	out := make([]*T, 0, len(ids))
	for _, id := range ids {
		v, err := repo.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ChangesAppender is an optional extension of [History] (pgstore
// implements it): AppendChanges stores the entries and the change events
// of many changes together, as [ChangeAppender.AppendChange] would change
// by change (pgstore: one round trip). A repeated ID is
// [ErrAlreadyExists], and on error the caller must roll back. A recorder
// (package history) uses it for a bulk create.
type ChangesAppender interface {
	AppendChanges(ctx context.Context, events []*Event, entries []*HistoryEntry) error
}
