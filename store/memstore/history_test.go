package memstore_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
)

// TestHistoryIndexesAgreeWithAScan runs random appends and purges, some in
// units of work that roll back, and checks after each step that the
// indexed reads return what a scan of every kept entry finds.
func TestHistoryIndexesAgreeWithAScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := memstore.New(nil)
	ids := crmtest.NewIDs()
	rnd := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tenants := []string{"", "a"}
	records := []crm.Ref{{Type: crm.TypeCustomer, ID: ids.NewID()}, {Type: crm.TypeLead, ID: ids.NewID()}, {Type: crm.TypeCustomer, ID: ids.NewID()}}
	actors := []crm.ID{crm.NilID, ids.NewID(), ids.NewID()}
	var kept []crm.HistoryEntry
	errRollback := errors.New("roll back")

	for step := range 300 {
		tctx := crm.WithTenant(ctx, tenants[rnd.IntN(len(tenants))])
		rollback := rnd.IntN(4) == 0
		var added []crm.HistoryEntry
		var purgedBefore time.Time
		err := s.InTx(tctx, func(ctx context.Context, tx crm.Tx) error {
			h := tx.(crm.HistoryTx).History()
			if rnd.IntN(6) == 0 {
				purgedBefore = base.Add(time.Duration(rnd.IntN(100)) * time.Minute)
				if _, err := h.Purge(ctx, purgedBefore); err != nil {
					return err
				}
			}
			batch := make([]*crm.HistoryEntry, rnd.IntN(4))
			for i := range batch {
				batch[i] = &crm.HistoryEntry{
					ID: ids.NewID(), Record: records[rnd.IntN(len(records))], ActorID: actors[rnd.IntN(len(actors))],
					Change:    crm.Change{Field: "level", New: json.RawMessage(`"A"`)},
					Operation: "update", At: base.Add(time.Duration(rnd.IntN(100)) * time.Minute),
				}
			}
			if err := h.Append(ctx, batch...); err != nil {
				return err
			}
			for _, e := range batch {
				added = append(added, *e)
			}
			if rollback {
				return errRollback
			}
			return nil
		})
		if rollback {
			require.ErrorIs(t, err, errRollback)
		} else {
			require.NoError(t, err)
			tenant := crm.TenantFrom(tctx)
			if !purgedBefore.IsZero() {
				kept = slices.DeleteFunc(kept, func(e crm.HistoryEntry) bool { return e.TenantID == tenant && e.At.Before(purgedBefore) })
			}
			kept = append(kept, added...)
		}

		for _, tenant := range tenants {
			tctx := crm.WithTenant(ctx, tenant)
			for _, rec := range records {
				want := scan(kept, func(e crm.HistoryEntry) bool { return e.TenantID == tenant && e.Record == rec })
				require.Equal(t, want, readAll(t, func(p crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
					return s.History().ForRecord(tctx, rec, p)
				}), "step %d: history of %v in tenant %q", step, rec, tenant)
			}
			for _, actor := range actors {
				from := base.Add(time.Duration(rnd.IntN(100)) * time.Minute)
				to := from.Add(time.Duration(rnd.IntN(60)) * time.Minute)
				want := scan(kept, func(e crm.HistoryEntry) bool {
					return e.TenantID == tenant && e.ActorID == actor && !e.At.Before(from) && e.At.Before(to)
				})
				require.Equal(t, want, readAll(t, func(p crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
					return s.History().ByActor(tctx, actor, from, to, p)
				}), "step %d: entries of %s in tenant %q", step, actor, tenant)
			}
		}
	}
}

// scan returns the IDs of the entries that match, newest first.
func scan(all []crm.HistoryEntry, match func(crm.HistoryEntry) bool) []crm.ID {
	var sel []crm.HistoryEntry
	for _, e := range all {
		if match(e) {
			sel = append(sel, e)
		}
	}
	slices.SortFunc(sel, func(a, b crm.HistoryEntry) int { return cmp.Compare(b.Seq, a.Seq) })
	out := make([]crm.ID, len(sel))
	for i, e := range sel {
		out[i] = e.ID
	}
	return out
}

func readAll(t *testing.T, read func(crm.PageRequest) (crm.Page[crm.HistoryEntry], error)) []crm.ID {
	t.Helper()
	out := make([]crm.ID, 0)
	page := crm.PageRequest{Limit: 2}
	for {
		p, err := read(page)
		require.NoError(t, err)
		for _, e := range p.Items {
			out = append(out, e.ID)
		}
		if p.NextCursor == "" {
			return out
		}
		page.Cursor = p.NextCursor
	}
}
