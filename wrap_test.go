package crmkit_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// tracingTx is a host's layer over crmkit's units of work: it counts the
// customer writes and wraps everything else.
type tracingTx struct {
	crm.Tx
	writes *atomic.Int64
}

func (t tracingTx) Unwrap() crm.Tx { return t.Tx }

func (t tracingTx) Customers() crm.CustomerRepository {
	t.writes.Add(1)
	return t.Tx.Customers()
}

// A host that wraps the unit of work it hands crmkit keeps every domain
// port: they are found through the wrapper (crm.As).
func TestAWrappedUnitOfWorkKeepsEveryPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(nil)
	c, err := crmkit.New(store, &crmkit.Config{IDs: crmtest.NewIDs()})
	require.NoError(t, err)
	var writes atomic.Int64
	var res *crmkit.CustomerResult
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		wrapped := tracingTx{Tx: tx, writes: &writes}
		_, isPool := crm.As[pool.Tx](wrapped)
		_, isDedupe := crm.As[dedupe.Tx](wrapped)
		require.True(t, isPool && isDedupe)
		var err error
		res, err = c.CreateCustomerTx(ctx, wrapped, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司", Phone: "13800138000"}})
		return err
	})
	require.NoError(t, err)
	require.NotZero(t, writes.Load(), "the write went through the host's layer")
	// The duplicate check (a dedupe port) ran through the wrapper: the
	// same company is now refused.
	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		_, err := c.CreateCustomerTx(ctx, tracingTx{Tx: tx, writes: &writes}, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司", Phone: "13800138000"}})
		return err
	})
	require.Error(t, err)
	require.NotNil(t, res)
}
