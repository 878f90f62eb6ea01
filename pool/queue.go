package pool

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// MaxFallingBackWithin bounds [FallingBackRequest.Within]: a year ahead.
const MaxFallingBackWithin = 366 * 24 * time.Hour

// FallingBackQueue is an optional port of a unit of work (memstore and
// pgstore implement it), found with [crm.As]: the work queue of customers
// about to fall back into their pools. Without it [Service.FallingBack]
// reports [crm.ErrUnsupported]: a queue read by scanning every holding
// would not be a work queue.
type FallingBackQueue interface {
	// PoolFallingBack returns one page of the context tenant's owned,
	// unlocked holdings with a non-zero DueAt at or before q.By, within
	// q.Scope (the holding's OwnerID is its owner, its OwnerDepartmentID
	// its department; DepartmentTrees are expanded as for lists, PoolIDs
	// are ignored; nil is every holding), earliest DueAt first, ties by
	// customer ID. The adapter reads the page with [ResolveFallingBackPage]
	// and makes NextCursor with [FallingBackCursor]; a cursor of another
	// query is a [*crm.ValidationError] on "page.cursor". It locks
	// nothing; the holdings are copies the caller owns.
	PoolFallingBack(ctx context.Context, q FallingBackQuery) (crm.Page[Holding], error)
}

// FallingBackQuery asks [FallingBackQueue.PoolFallingBack] for a page.
type FallingBackQuery struct {
	Scope *crm.DataScope
	// By is the latest due time listed (inclusive).
	By   time.Time
	Page crm.PageRequest
}

// fallingBackTag tags cursors of the falling-back queue.
const fallingBackTag = "pfb"

// FallingBackCursor returns the cursor that continues the queue after h.
func FallingBackCursor(h *Holding) string {
	return crm.QueueCursor(fallingBackTag, crm.QueueKey{DueAt: h.DueAt, ID: h.CustomerID})
}

// ResolveFallingBackPage validates a page of the falling-back queue and
// returns its limit and the key (due time, customer ID) after which it
// starts (nil for the first page). A bad limit is a [*crm.ValidationError]
// on "page.limit", a cursor not made by [FallingBackCursor] one on
// "page.cursor".
func ResolveFallingBackPage(p crm.PageRequest) (limit int, after *crm.QueueKey, err error) {
	return crm.ResolveQueuePage(fallingBackTag, "falling-back", p)
}

// FallingBackRequest asks for a page of customers falling back into their
// pools within a time.
type FallingBackRequest struct {
	// Actor is the user whose queue it is. Required unless Scope is set.
	Actor crm.ID
	// Team lists the team's customers instead of the actor's own: those
	// of Scope when set, otherwise those owned in the departments the
	// actor manages and the departments below them.
	Team bool
	// Scope, when set, is the team: the data scope to list (a permission
	// policy's list filter). It implies Team.
	Scope *crm.DataScope
	// Within is how far ahead to look: customers due at or before now +
	// Within, overdue ones included. Required, at most
	// [MaxFallingBackWithin].
	Within time.Duration
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// FallingBack returns a page of the owned, unlocked customers that fall
// back into their pools at or before now + req.Within, earliest first
// (ties by customer ID): the actor's own, or the team's (see
// [FallingBackRequest.Team]). It reads in a unit of work of its own and
// locks nothing. Errors: a [*crm.ValidationError] naming the field
// ("within", "actor", "page.limit", "page.cursor", "scope...."),
// [crm.ErrUnsupported] when the adapter lacks [FallingBackQueue].
func (s *Service) FallingBack(ctx context.Context, req FallingBackRequest) (crm.Page[Holding], error) {
	fail := func(err error) (crm.Page[Holding], error) {
		return crm.Page[Holding]{}, fmt.Errorf("pool: falling back: %w", err)
	}
	switch {
	case req.Within <= 0:
		return fail(crm.Invalid("within", "must be positive, got %s", req.Within))
	case req.Within > MaxFallingBackWithin:
		return fail(crm.Invalid("within", "must be at most %s, got %s", MaxFallingBackWithin, req.Within))
	case req.Scope == nil && req.Actor == crm.NilID:
		return fail(crm.Invalid("actor", "is required without a scope"))
	}
	if req.Scope != nil {
		if err := crm.ValidateScope(req.Scope); err != nil {
			return fail(err)
		}
	}
	if _, _, err := ResolveFallingBackPage(req.Page); err != nil {
		return fail(err)
	}
	by := crm.StorageTime(s.cfg.Clock.Now()).Add(req.Within)
	var page crm.Page[Holding]
	err := s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		q, ok := crm.As[FallingBackQueue](t)
		if !ok {
			return fmt.Errorf("storage adapter %T has no falling-back queue: %w", t, crm.ErrUnsupported)
		}
		scope, err := crm.QueueScope(ctx, t, req.Actor, req.Team, req.Scope)
		if err != nil {
			return err
		}
		page, err = q.PoolFallingBack(ctx, FallingBackQuery{Scope: scope, By: by, Page: req.Page})
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}
