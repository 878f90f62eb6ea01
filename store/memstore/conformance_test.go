package memstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/store/storetest"
	"github.com/crmkit/crmkit/workflow"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T, c crm.Clock) crm.Store { return memstore.New(&memstore.Config{Clock: c}) },
		// memstore has every port pgstore has, optional ones included.
		Features: storetest.AllFeatures(),
	})
}

// TestConformanceWithoutOptionalPorts runs the pool and workflow groups on
// memstore with its optional ports hidden (pool.ClaimStore, pool.BatchTx,
// pool.RequestPruner, workflow.ApprovalDeadlines, workflow.ApprovalInbox,
// and the pipeline ports),
// declaring none of them: a host's adapter without them passes, on the
// domain packages' fallbacks (claims in a unit of work, sweeps one
// customer at a time, PruneRequests, TickDue and Inbox reporting
// crm.ErrUnsupported).
func TestConformanceWithoutOptionalPorts(t *testing.T) {
	t.Run("Pool", func(t *testing.T) {
		storetest.RunPool(t, storetest.Harness{
			NewStore: func(t *testing.T, c crm.Clock) crm.Store { return plainPools(memstore.New(&memstore.Config{Clock: c})) },
			Features: storetest.Features{Pools: true},
		})
	})
	t.Run("Workflow", func(t *testing.T) {
		storetest.RunWorkflow(t, storetest.Harness{
			NewStore: func(t *testing.T, c crm.Clock) crm.Store {
				return plainWorkflow(memstore.New(&memstore.Config{Clock: c}))
			},
			Features: storetest.Features{Workflow: true},
		})
	})
	t.Run("Pipelines", func(t *testing.T) {
		storetest.RunPipelines(t, storetest.Harness{
			NewStore: func(t *testing.T, c crm.Clock) crm.Store {
				return hiding{memstore.New(&memstore.Config{Clock: c}), func(tx crm.Tx) (crm.Tx, error) { return plainTx{tx}, nil }}
			},
		})
	})
	t.Run("ApprovalInbox", func(t *testing.T) {
		storetest.RunApprovalInbox(t, storetest.Harness{
			NewStore: func(t *testing.T, c crm.Clock) crm.Store {
				return plainWorkflow(memstore.New(&memstore.Config{Clock: c}))
			},
			Features: storetest.Features{Workflow: true},
		})
	})
}

// plainTx is a unit of work with the shared repositories only.
type plainTx struct{ crm.Tx }

// hiding is memstore with crm.Store's methods only (so no
// pool.ClaimStore), whose units of work are what wrap makes of them.
type hiding struct {
	crm.Store
	wrap func(crm.Tx) (crm.Tx, error)
}

func (s hiding) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		w, err := s.wrap(tx)
		if err != nil {
			return err
		}
		return fn(ctx, w)
	})
}

// plainPools hides pool.ClaimStore, pool.BatchTx and pool.RequestPruner.
func plainPools(s crm.Store) crm.Store {
	return hiding{s, func(tx crm.Tx) (crm.Tx, error) {
		ptx, ok := tx.(pool.Tx)
		if !ok {
			return nil, fmt.Errorf("memstore tx %T has no pool ports: %w", tx, crm.ErrUnsupported)
		}
		return plainPoolTx{ptx}, nil
	}}
}

// plainPoolTx has pool.Tx's methods only, and a request port without
// pool.RequestPruner.
type plainPoolTx struct{ pool.Tx }

func (t plainPoolTx) PoolRequests() pool.Requests {
	return struct{ pool.Requests }{t.Tx.PoolRequests()}
}

// plainWorkflow hides workflow.ApprovalDeadlines and
// workflow.ApprovalInbox.
func plainWorkflow(s crm.Store) crm.Store {
	return hiding{s, func(tx crm.Tx) (crm.Tx, error) {
		wtx, ok := tx.(workflow.Tx)
		if !ok {
			return nil, fmt.Errorf("memstore tx %T has no workflow ports: %w", tx, crm.ErrUnsupported)
		}
		return noDeadlines{wtx}, nil
	}}
}

type noDeadlines struct{ workflow.Tx }

func (t noDeadlines) ApprovalInstances() workflow.ApprovalInstances {
	return struct{ workflow.ApprovalInstances }{t.Tx.ApprovalInstances()}
}
