package pool

import (
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Errors of pool operations. Each matches a crm sentinel too, so callers may
// test either: errors.Is(err, pool.ErrTaken) or errors.Is(err,
// crm.ErrFailedPrecondition).
var (
	// ErrNotInPool: the customer is not in a pool (claim, assign) or not
	// tracked by the pool package at all.
	ErrNotInPool = fmt.Errorf("%w: customer is not in a pool", crm.ErrFailedPrecondition)
	// ErrTaken: the customer already has an owner, for example because
	// another user claimed it first.
	ErrTaken = fmt.Errorf("%w: customer is already owned", crm.ErrFailedPrecondition)
	// ErrNotOwned: the operation needs an owned customer (release,
	// transfer, lock).
	ErrNotOwned = fmt.Errorf("%w: customer has no owner", crm.ErrFailedPrecondition)
	// ErrLocked: a locked customer must be unlocked first.
	ErrLocked = fmt.Errorf("%w: customer is locked", crm.ErrFailedPrecondition)
	// ErrCooldown: the actor may not claim the customer yet; see
	// [*CooldownError].
	ErrCooldown = fmt.Errorf("%w: claim cooldown", crm.ErrFailedPrecondition)
	// ErrCollision: the customer looks like one someone else owns; see
	// [*CollisionError].
	ErrCollision = fmt.Errorf("%w: collides with a customer owned by someone else", crm.ErrFailedPrecondition)
	// ErrNoMatchingPool: no pool's entry rule selects the customer.
	ErrNoMatchingPool = fmt.Errorf("%w: no pool's entry rule matches the customer", crm.ErrFailedPrecondition)
	// ErrMerged: the customer was merged into another one
	// ([crm.Customer.MergedInto]); act on the survivor instead.
	ErrMerged = fmt.Errorf("%w: customer was merged into another", crm.ErrFailedPrecondition)
	// ErrKeyReused: an idempotency key came back with a different request.
	ErrKeyReused = fmt.Errorf("%w: idempotency key was used for a different request", crm.ErrInvalidArgument)
)

// Cooldown kinds.
const (
	CooldownNewEntry      = "new_entry"
	CooldownPreviousOwner = "previous_owner"
)

// CooldownError says which cooldown refused a claim and when it ends. It
// matches [ErrCooldown] and [crm.ErrFailedPrecondition].
type CooldownError struct {
	// Kind is [CooldownNewEntry] or [CooldownPreviousOwner].
	Kind  string
	Until time.Time
}

// Error implements error. It carries no package prefix: the [Service]
// always returns it wrapped in "pool: <operation> <customer>: ".
func (e *CooldownError) Error() string {
	return fmt.Sprintf("%s cooldown until %s", e.Kind, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap returns [ErrCooldown].
func (e *CooldownError) Unwrap() error { return ErrCooldown }

// CollisionError lists the customers an operation collided with, each
// described only as far as the actor may see. It matches [ErrCollision] and
// [crm.ErrFailedPrecondition].
type CollisionError struct {
	Collisions []Standing
}

// Error implements error, without a package prefix like [CooldownError].
func (e *CollisionError) Error() string {
	parts := make([]string, len(e.Collisions))
	for i, c := range e.Collisions {
		parts[i] = c.String()
	}
	return "collides with " + strings.Join(parts, ", ")
}

// Unwrap returns [ErrCollision].
func (e *CollisionError) Unwrap() error { return ErrCollision }
