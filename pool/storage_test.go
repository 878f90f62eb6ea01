package pool_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
)

func TestStorageChecks(t *testing.T) {
	ids := crmtest.NewIDs()
	at := crmtest.Epoch()
	recycled := func() pool.Recycled {
		c := ids.NewID()
		return pool.Recycled{Holding: &pool.Holding{CustomerID: c}, Customer: pool.CustomerPlacement{PoolID: ids.NewID()},
			Entry: &pool.Entry{ID: ids.NewID(), CustomerID: c, Op: pool.OpRecycle, At: at}}
	}
	t.Run("HoldingValidateNamesEachField", func(t *testing.T) {
		var ve crm.ValidationErrors
		require.ErrorAs(t, (&pool.Holding{Locked: true}).Validate(), &ve)
		require.Equal(t, []string{"customer_id", "locked"}, ve.Fields())
		require.NoError(t, (&pool.Holding{CustomerID: ids.NewID(), OwnerID: ids.NewID(), Locked: true}).Validate())
	})
	t.Run("StorageTimesCutToMicrosecondsInUTC", func(t *testing.T) {
		due := time.Date(2026, 1, 5, 17, 4, 5, 123456789, time.FixedZone("CST", 8*3600))
		h := pool.Holding{DueAt: due, EnteredAt: due}
		h.StorageTimes()
		require.Equal(t, crm.StorageTime(due), h.DueAt)
		require.Equal(t, time.UTC, h.EnteredAt.Location())
	})
	t.Run("ValidateRecycleBatchNamesTheItem", func(t *testing.T) {
		require.NoError(t, pool.ValidateRecycleBatch([]pool.Recycled{recycled(), recycled()}))
		for name, spoil := range map[string]func(b []pool.Recycled){
			"NoEntry":        func(b []pool.Recycled) { b[1].Entry = nil },
			"OtherCustomer":  func(b []pool.Recycled) { b[1].Entry.CustomerID = ids.NewID() },
			"EntryWithoutAt": func(b []pool.Recycled) { b[1].Entry.At = time.Time{} },
			"ListedTwice": func(b []pool.Recycled) {
				b[1].Holding.CustomerID, b[1].Entry.CustomerID = b[0].Holding.CustomerID, b[0].Holding.CustomerID
			},
		} {
			b := []pool.Recycled{recycled(), recycled()}
			spoil(b)
			var ve *crm.ValidationError
			require.ErrorAs(t, pool.ValidateRecycleBatch(b), &ve, name)
			require.Equal(t, "batch[1]", ve.Field, name)
		}
		b := []pool.Recycled{recycled()}
		b[0].Holding.Locked = true
		var ve crm.ValidationErrors
		require.ErrorAs(t, pool.ValidateRecycleBatch(b), &ve)
		require.Equal(t, []string{"locked"}, ve.Fields())
	})
	t.Run("PlacementRoundTrips", func(t *testing.T) {
		p := pool.CustomerPlacement{OwnerID: ids.NewID(), DepartmentID: ids.NewID()}
		var c crm.Customer
		c.PoolID = ids.NewID()
		p.Apply(&c)
		require.Equal(t, p, pool.PlacementOf(&c))
	})
	t.Run("ClaimWriteSplicesTheSeq", func(t *testing.T) {
		w := &pool.ClaimWrite{RequestHead: []byte(`[`), RequestTail: []byte(`]`)}
		require.Equal(t, `[7]`, string(w.RequestResult(7)))
		require.Equal(t, `[`, string(w.RequestHead), "the head is not written into")
	})
	t.Run("ClaimWriteValidateNamesTheField", func(t *testing.T) {
		ctx := crm.WithTenant(context.Background(), "a")
		write := func() *pool.ClaimWrite {
			c := ids.NewID()
			return &pool.ClaimWrite{Holding: &pool.Holding{CustomerID: c, OwnerID: ids.NewID()},
				Entry:    &pool.Entry{ID: ids.NewID(), CustomerID: c, Op: pool.OpClaim, At: at},
				Counters: []pool.CounterCheck{{Key: "a", Max: 1}, {Key: "b", Max: 1}},
				Request:  &pool.Request{Key: "k", CustomerID: c}}
		}
		require.NoError(t, write().Validate(ctx))
		for field, spoil := range map[string]func(w *pool.ClaimWrite){
			"claim":           func(w *pool.ClaimWrite) { w.Holding.OwnerID = crm.NilID },
			"entry":           func(w *pool.ClaimWrite) { w.Entry.ID = crm.NilID },
			"entry.op":        func(w *pool.ClaimWrite) { w.Entry.Op = "teleport" },
			"counters[1]":     func(w *pool.ClaimWrite) { w.Counters[1].Key = "a" },
			"entry.tenant_id": func(w *pool.ClaimWrite) { w.Entry.TenantID = "b" },
			"claim.request":   func(w *pool.ClaimWrite) { w.Request.TenantID = "b" },
		} {
			w := write()
			spoil(w)
			var ve *crm.ValidationError
			require.ErrorAs(t, w.Validate(ctx), &ve, field)
			require.Equal(t, field, ve.Field)
		}
	})
}
