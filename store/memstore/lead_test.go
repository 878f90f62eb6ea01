package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/memstore"
)

// The lead ports' contract is checked by storetest.Run (its "LeadStorage"
// group) in TestConformance; these tests cover what only memstore shows.

func TestLeadPortsAreOfferedInsideUnitsOfWork(t *testing.T) {
	s := memstore.New(nil)
	err := s.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		_, err := lead.TxOf(tx)
		return err
	})
	require.NoError(t, err)
}

func TestLeadPortsRefuseTheAutocommitViewInsideAUnitOfWork(t *testing.T) {
	s := memstore.New(nil)
	ids := crmtest.NewIDs()
	err := s.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		inner := func(ctx context.Context, tx crm.Tx) error {
			lt, _ := lead.TxOf(tx)
			return lt.LeadHistory().Append(ctx, &lead.HistoryEntry{ID: ids.NewID(), LeadID: ids.NewID(), From: crm.LeadNew, To: crm.LeadContacted, At: time.Now()})
		}
		return s.InTx(ctx, inner)
	})
	require.ErrorIs(t, err, crm.ErrNestedTx)
}

func BenchmarkLeadScoreSave(b *testing.B) {
	s := memstore.New(nil)
	ctx := context.Background()
	snap := &lead.ScoreSnapshot{LeadID: crmtest.SequentialID(1), ModelID: "smb", ModelVersion: 1, Fit: 40, Engagement: 20, Total: 60, Grade: "B2", ComputedAt: time.Unix(1e9, 0)}
	b.ReportAllocs()
	for b.Loop() {
		err := s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			lt, err := lead.TxOf(tx)
			if err != nil {
				return err
			}
			return lt.LeadScores().Save(ctx, snap)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
