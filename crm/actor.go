package crm

import "context"

type actorKey struct{}

// actorOp is who makes the changes of a context and why.
type actorOp struct {
	actor    ID
	op       string
	hasActor bool
}

// WithActor returns a context that names who makes the changes done with
// it and why: actor (NilID for the system) in operation op ("claim",
// "convert", "merge", "import"; empty for a plain create, update or
// delete). A recording unit of work (package history) records every
// change made with the context as made by actor in op, and crmkit's
// services keep what it names ([DefaultActor]): a host importing
// customers names the import once, and every change the import causes is
// recorded as the import's.
func WithActor(ctx context.Context, actor ID, op string) context.Context {
	return context.WithValue(ctx, actorKey{}, actorOp{actor: actor, op: op, hasActor: true})
}

// DefaultActor returns ctx naming actor and op where ctx names none: an
// actor ctx names is kept, and so is an operation. crmkit's services call
// it on entry, so the outermost operation names a change: a customer
// created by a lead's conversion is recorded in "convert", not in the
// "create" of the pool that stores it. It returns ctx itself when ctx
// names both already.
func DefaultActor(ctx context.Context, actor ID, op string) context.Context {
	cur, _ := ctx.Value(actorKey{}).(actorOp)
	next := cur
	if !cur.hasActor {
		next.actor, next.hasActor = actor, true
	}
	if cur.op == "" {
		next.op = op
	}
	if next == cur {
		return ctx
	}
	return context.WithValue(ctx, actorKey{}, next)
}

// ActorOf returns the actor and operation ctx names ([WithActor],
// [DefaultActor]), and whether it names an actor; without one the actor
// is NilID (the system).
func ActorOf(ctx context.Context) (actor ID, op string, ok bool) {
	a, _ := ctx.Value(actorKey{}).(actorOp)
	return a.actor, a.op, a.hasActor
}
