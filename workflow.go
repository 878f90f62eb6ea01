package crmkit

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/workflow"
)

// HandoffRequest asks to move a record to another stage of a hand-off
// state machine (a deal passing from sales to delivery, a ticket from the
// first line to the second).
type HandoffRequest struct {
	// Machine is the compiled state machine. Required.
	Machine *workflow.Machine
	// Record is the record moving. Required.
	Record crm.Ref
	// Move is the move; its Stage and History come from the store and
	// are ignored. Move.Actor, when set, needs the edit grant on the
	// record under [Config.Permissions].
	Move workflow.Move
}

// Handoff moves a record in one unit of work; see [CRM.HandoffTx].
func (c *CRM) Handoff(ctx context.Context, req HandoffRequest) (*workflow.Outcome, error) {
	return inUnit(ctx, c.store, req, c.HandoffTx)
}

// HandoffTx moves a record to another stage inside the caller's unit of
// work ([workflow.Machine.MoveTx]): the stage, its history and the event
// commit with whatever else the caller writes, or none of it. With
// [Config.Permissions] the actor needs the edit grant on the record. A
// store without the hand-off port is [crm.ErrUnsupported].
func (c *CRM) HandoffTx(ctx context.Context, tx crm.Tx, req HandoffRequest) (*workflow.Outcome, error) {
	tx, ctx = c.Join(tx), crm.DefaultActor(ctx, req.Move.Actor, "handoff")
	fail := func(err error) (*workflow.Outcome, error) {
		return nil, fmt.Errorf("crmkit: hand off %s %s: %w", req.Record.Type, req.Record.ID, err)
	}
	if req.Machine == nil {
		return fail(crm.Invalid("machine", "is required"))
	}
	ht, ok := crm.As[workflow.HandoffTx](tx)
	if !ok {
		return fail(fmt.Errorf("storage adapter %T has no hand-off port: %w", tx, crm.ErrUnsupported))
	}
	if c.cfg.Permissions != nil && req.Move.Actor != crm.NilID {
		if err := c.seams.authorizeRef(ctx, tx, req.Move.Actor, permission.ActionEdit, req.Record); err != nil {
			return fail(err)
		}
	}
	mv := req.Move
	if mv.At.IsZero() {
		mv.At = c.cfg.Clock.Now()
	}
	out, err := req.Machine.MoveTx(ctx, ht, c.cfg.IDs, req.Record.ID, &mv)
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// TickSLA fires the SLA timers due at now, at most limit of them, in one
// unit of work ([workflow.Tick]): each firing's timer update and event
// commit together, and concurrent ticks from many instances fire each due
// firing exactly once. Hosts call it from their scheduler and act on the
// returned firings. A zero now means the configured clock's time. A store
// without the timer port is [crm.ErrUnsupported].
func (c *CRM) TickSLA(ctx context.Context, now time.Time, limit int) ([]workflow.Firing, error) {
	if now.IsZero() {
		now = c.cfg.Clock.Now()
	}
	var out []workflow.Firing
	err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		tt, ok := crm.As[workflow.TickTx](tx)
		if !ok {
			return fmt.Errorf("storage adapter %T has no timer port: %w", tx, crm.ErrUnsupported)
		}
		var err error
		out, err = workflow.Tick(ctx, tt, c.cfg.IDs, now, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("crmkit: tick SLA timers: %w", err)
	}
	return out, nil
}
