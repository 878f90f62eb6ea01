package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
)

// BenchmarkDedupeCheck measures one entry check against 10,000 stored
// customers on PostgreSQL: a key lookup through the index, the candidates
// loaded and scored.
func BenchmarkDedupeCheck(b *testing.B) {
	const n = 10000
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := recycledStore(b, clock)
	mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	require.NoError(b, err)
	svc, err := dedupe.NewService(store, mt, &dedupe.ServiceConfig{Clock: clock, IDs: crmtest.NewIDs()})
	require.NoError(b, err)
	ctx := context.Background()
	ids := crmtest.NewIDs()
	for start := 0; start < n; start += 500 {
		require.NoError(b, store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			for i := start; i < start+500; i++ {
				c := &crm.Customer{Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.CustomerCompany,
					Name: fmt.Sprintf("华腾%04d科技有限公司", i), Phone: fmt.Sprintf("1380013%04d", i)}
				if err := tx.Customers().Create(ctx, c); err != nil {
					return err
				}
				if err := svc.IndexCustomerTx(ctx, tx, c); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	probe := &crm.Customer{Kind: crm.CustomerCompany, Name: "华腾0042科技(北京)有限公司", Phone: "+86 138-0013-0042"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cands, err := svc.Check(ctx, probe)
		if err != nil || len(cands) != 1 {
			b.Fatalf("check: %v, %d candidates", err, len(cands))
		}
	}
}
