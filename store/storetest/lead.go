package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// RunLead checks an adapter's implementation of the lead package's storage
// ports ([lead.Tx]): transition history (order, pages, tenancy), score
// snapshots (compare-and-swap on their version), scoring-model and
// predictor documents (immutable versions, byte-exact round trips), units of
// work that fail leaving nothing, concurrency (of many simultaneous saves of
// one snapshot with the same version exactly one wins), and
// [lead.Service.Convert] on the adapter: a conversion that fails after its
// router wrote through the unit of work leaves no customer and no event, and
// of 16 concurrent conversions of one company only one creates a customer
// when the indexer keeps a strong key. Run calls it; an adapter without lead
// ports fails it.
func RunLead(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	t.Run("History", func(t *testing.T) { runLeadHistory(t, h) })
	t.Run("Scores", func(t *testing.T) { runLeadScores(t, h) })
	t.Run("Models", func(t *testing.T) {
		runLeadModels(t, h, "ScoringModels", lead.Tx.LeadScoringModels)
		runLeadModels(t, h, "Predictors", lead.Tx.LeadPredictors)
	})
	t.Run("UnitOfWork", func(t *testing.T) { runLeadUnitOfWork(t, h) })
	t.Run("Concurrency", func(t *testing.T) { runLeadConcurrency(t, h) })
	t.Run("Conversion", func(t *testing.T) { runLeadConversion(t, h) })
}

// inLeadTx runs fn in one unit of work with the lead ports.
func (e *env) inLeadTx(ctx context.Context, fn func(ctx context.Context, tx lead.Tx) error) error {
	return e.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx, err := lead.TxOf(t)
		if err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// rawTime is a time with nanoseconds in a non-UTC zone: stored, it must come
// back as its crm.StorageTime.
func (e *env) rawTime(offset time.Duration) time.Time {
	return e.clock.Now().Add(offset + 987*time.Nanosecond)
}

func (e *env) historyEntry(leadID crm.ID, reason string) *lead.HistoryEntry {
	return &lead.HistoryEntry{ID: e.ids.NewID(), LeadID: leadID, From: crm.LeadNew, To: crm.LeadContacted,
		Actor: e.ids.NewID(), At: e.rawTime(0), Reason: reason}
}

func (e *env) appendHistory(ctx context.Context, entries ...*lead.HistoryEntry) {
	e.t.Helper()
	require.NoError(e.t, e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) error {
		for _, h := range entries {
			if err := tx.LeadHistory().Append(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (e *env) listHistory(ctx context.Context, leadID crm.ID, page crm.PageRequest) crm.Page[lead.HistoryEntry] {
	e.t.Helper()
	var out crm.Page[lead.HistoryEntry]
	require.NoError(e.t, e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) (err error) {
		out, err = tx.LeadHistory().List(ctx, leadID, page)
		return err
	}))
	return out
}

// allHistory lists every entry of the lead, page by page.
func (e *env) allHistory(ctx context.Context, leadID crm.ID, limit int) []lead.HistoryEntry {
	e.t.Helper()
	var out []lead.HistoryEntry
	page := crm.PageRequest{Limit: limit}
	for range 1000 {
		p := e.listHistory(ctx, leadID, page)
		require.LessOrEqual(e.t, len(p.Items), limit)
		for _, h := range p.Items {
			out = append(out, *h)
		}
		if p.NextCursor == "" {
			return out
		}
		require.Len(e.t, p.Items, limit, "a page before the last one is full")
		page.Cursor = p.NextCursor
	}
	e.t.Fatal("history pages do not end")
	return nil
}

func storedEntry(h lead.HistoryEntry) lead.HistoryEntry {
	h.At = crm.StorageTime(h.At)
	return h
}

func runLeadHistory(t *testing.T, h Harness) {
	test(t, h, "ListsEntriesInIDOrderPageByPage", func(t *testing.T, e *env) {
		leadID, other := e.ids.NewID(), e.ids.NewID()
		var entries []*lead.HistoryEntry
		for i := range 7 {
			entries = append(entries, e.historyEntry(leadID, fmt.Sprintf("step %d", i)))
		}
		// Appended out of ID order, listed in ID order.
		shuffled := []*lead.HistoryEntry{entries[3], entries[0], entries[6], entries[1], entries[5], entries[2], entries[4]}
		e.appendHistory(e.ctx, shuffled...)
		e.appendHistory(e.ctx, e.historyEntry(other, "another lead"))
		for _, h := range entries {
			require.Equal(t, crm.StorageTime(h.At), h.At, "Append writes the stored time back")
		}
		want := make([]lead.HistoryEntry, len(entries))
		for i, h := range entries {
			want[i] = storedEntry(*h)
		}
		for _, limit := range []int{1, 3, 7, 50} {
			requireSame(t, want, e.allHistory(e.ctx, leadID, limit), "limit %d", limit)
		}
		p := e.listHistory(e.ctx, leadID, crm.PageRequest{Limit: 7})
		require.Empty(t, p.NextCursor, "a page that holds the rest has no cursor")
	})

	test(t, h, "KeepsTenantsApart", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		a := e.historyEntry(leadID, "a")
		e.appendHistory(e.ctxA, a)
		require.Empty(t, e.listHistory(e.ctxB, leadID, crm.PageRequest{}).Items)
		require.Empty(t, e.listHistory(e.ctx, leadID, crm.PageRequest{}).Items)
		require.Len(t, e.listHistory(e.ctxA, leadID, crm.PageRequest{}).Items, 1)
	})

	test(t, h, "ReturnsEmptyHistoryForAnUnknownLead", func(t *testing.T, e *env) {
		p := e.listHistory(e.ctx, e.ids.NewID(), crm.PageRequest{})
		require.Empty(t, p.Items)
		require.Empty(t, p.NextCursor)
	})

	test(t, h, "RefusesARepeatedID", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		first := e.historyEntry(leadID, "first")
		e.appendHistory(e.ctx, first)
		again := *first
		again.Reason = "again"
		err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error { return tx.LeadHistory().Append(ctx, &again) })
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		requireSame(t, []lead.HistoryEntry{storedEntry(*first)}, e.allHistory(e.ctx, leadID, 10))
	})

	test(t, h, "RefusesInvalidEntriesNamingTheField", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		cases := map[string]func(*lead.HistoryEntry){
			"id":      func(h *lead.HistoryEntry) { h.ID = crm.NilID },
			"lead_id": func(h *lead.HistoryEntry) { h.LeadID = crm.NilID },
			"to":      func(h *lead.HistoryEntry) { h.To = "hot" },
			"at":      func(h *lead.HistoryEntry) { h.At = time.Time{} },
		}
		for field, edit := range cases {
			bad := e.historyEntry(leadID, "")
			edit(bad)
			err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error { return tx.LeadHistory().Append(ctx, bad) })
			requireInvalid(t, err, field)
		}
		require.Empty(t, e.listHistory(e.ctx, leadID, crm.PageRequest{}).Items)
	})

	test(t, h, "RefusesABadPageRequest", func(t *testing.T, e *env) {
		err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
			_, err := tx.LeadHistory().List(ctx, e.ids.NewID(), crm.PageRequest{Limit: crm.MaxPageLimit + 1})
			return err
		})
		requireInvalid(t, err, "page.limit")
	})

	test(t, h, "ReturnsCopiesTheCallerOwns", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		h := e.historyEntry(leadID, "original")
		e.appendHistory(e.ctx, h)
		h.Reason = "changed after append"
		got := e.listHistory(e.ctx, leadID, crm.PageRequest{})
		require.Equal(t, "original", got.Items[0].Reason)
		got.Items[0].Reason = "changed after list"
		require.Equal(t, "original", e.listHistory(e.ctx, leadID, crm.PageRequest{}).Items[0].Reason)
	})

	test(t, h, "StopsOnACancelledContext", func(t *testing.T, e *env) {
		err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			err := tx.LeadHistory().Append(ctx, e.historyEntry(e.ids.NewID(), ""))
			require.ErrorIs(t, err, context.Canceled)
			return err
		})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func (e *env) snapshot(leadID crm.ID, modelID string) *lead.ScoreSnapshot {
	return &lead.ScoreSnapshot{LeadID: leadID, ModelID: modelID, ModelVersion: 3,
		Fit: 42.125, Engagement: 17.300000000000001, Total: 59.425000000000004, Grade: "B3",
		Stage: crm.LeadMQL, ComputedAt: e.rawTime(0)}
}

func (e *env) saveSnapshot(ctx context.Context, s *lead.ScoreSnapshot) error {
	return e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) error { return tx.LeadScores().Save(ctx, s) })
}

func (e *env) getSnapshot(ctx context.Context, leadID crm.ID, modelID string) (*lead.ScoreSnapshot, error) {
	var out *lead.ScoreSnapshot
	err := e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) (err error) {
		out, err = tx.LeadScores().Get(ctx, leadID, modelID)
		return err
	})
	return out, err
}

func (e *env) listSnapshots(ctx context.Context, leadID crm.ID) []*lead.ScoreSnapshot {
	e.t.Helper()
	var out []*lead.ScoreSnapshot
	require.NoError(e.t, e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) (err error) {
		out, err = tx.LeadScores().List(ctx, leadID)
		return err
	}))
	return out
}

func runLeadScores(t *testing.T, h Harness) {
	test(t, h, "CreatesAndReplacesWithVersions", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		s := e.snapshot(leadID, "smb")
		raw := s.ComputedAt
		require.NoError(t, e.saveSnapshot(e.ctxA, s))
		require.Equal(t, int64(1), s.Version)
		require.Equal(t, "a", s.TenantID)
		require.Equal(t, crm.StorageTime(raw), s.ComputedAt, "Save writes the stored time back")
		got, err := e.getSnapshot(e.ctxA, leadID, "smb")
		require.NoError(t, err)
		requireSame(t, s, got)

		next := *got
		next.Fit, next.Total, next.Grade, next.Stage, next.ModelVersion = -5.5, 11.8, "D4", "", 4
		next.ComputedAt = e.tick()
		require.NoError(t, e.saveSnapshot(e.ctxA, &next))
		require.Equal(t, int64(2), next.Version)
		got, err = e.getSnapshot(e.ctxA, leadID, "smb")
		require.NoError(t, err)
		requireSame(t, &next, got)
	})

	test(t, h, "RefusesAStaleOrMissingVersion", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		s := e.snapshot(leadID, "smb")
		require.NoError(t, e.saveSnapshot(e.ctx, s))
		stale := *s
		stale.Version = 0
		require.ErrorIs(t, e.saveSnapshot(e.ctx, &stale), crm.ErrConflict, "creating over an existing snapshot")
		stale.Version = 7
		require.ErrorIs(t, e.saveSnapshot(e.ctx, &stale), crm.ErrConflict, "a version that is not the stored one")
		missing := e.snapshot(leadID, "other")
		missing.Version = 1
		require.ErrorIs(t, e.saveSnapshot(e.ctx, missing), crm.ErrNotFound, "replacing a snapshot that does not exist")
		got, err := e.getSnapshot(e.ctx, leadID, "smb")
		require.NoError(t, err)
		requireSame(t, s, got, "refused saves change nothing")
		require.Len(t, e.listSnapshots(e.ctx, leadID), 1)
	})

	test(t, h, "ListsOneSnapshotPerModelInModelIDOrder", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		var want []*lead.ScoreSnapshot
		for _, m := range []string{"b-model", "a-model", "c-model"} {
			s := e.snapshot(leadID, m)
			require.NoError(t, e.saveSnapshot(e.ctx, s))
			want = append(want, s)
		}
		require.NoError(t, e.saveSnapshot(e.ctx, e.snapshot(e.ids.NewID(), "a-model")))
		want[0], want[1] = want[1], want[0]
		requireSame(t, want, e.listSnapshots(e.ctx, leadID))
		require.Empty(t, e.listSnapshots(e.ctx, e.ids.NewID()))
	})

	test(t, h, "KeepsTenantsApart", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		require.NoError(t, e.saveSnapshot(e.ctxA, e.snapshot(leadID, "smb")))
		_, err := e.getSnapshot(e.ctxB, leadID, "smb")
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.Empty(t, e.listSnapshots(e.ctxB, leadID))
		// Tenant b's first snapshot of the same lead and model is its own.
		b := e.snapshot(leadID, "smb")
		require.NoError(t, e.saveSnapshot(e.ctxB, b))
		require.Equal(t, int64(1), b.Version)
		wrong := e.snapshot(leadID, "other")
		wrong.TenantID = "a"
		requireInvalid(t, e.saveSnapshot(e.ctxB, wrong), "tenant_id")
	})

	test(t, h, "RefusesInvalidSnapshotsNamingTheField", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		cases := map[string]func(*lead.ScoreSnapshot){
			"lead_id":       func(s *lead.ScoreSnapshot) { s.LeadID = crm.NilID },
			"model_id":      func(s *lead.ScoreSnapshot) { s.ModelID = "" },
			"model_version": func(s *lead.ScoreSnapshot) { s.ModelVersion = 0 },
			"stage":         func(s *lead.ScoreSnapshot) { s.Stage = "hot" },
			"computed_at":   func(s *lead.ScoreSnapshot) { s.ComputedAt = time.Time{} },
		}
		for field, edit := range cases {
			bad := e.snapshot(leadID, "smb")
			edit(bad)
			requireInvalid(t, e.saveSnapshot(e.ctx, bad), field)
		}
		require.Empty(t, e.listSnapshots(e.ctx, leadID))
	})

	test(t, h, "ReturnsCopiesTheCallerOwns", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		s := e.snapshot(leadID, "smb")
		require.NoError(t, e.saveSnapshot(e.ctx, s))
		s.Grade = "A1"
		got, err := e.getSnapshot(e.ctx, leadID, "smb")
		require.NoError(t, err)
		require.Equal(t, "B3", got.Grade)
		got.Grade = "A1"
		e.listSnapshots(e.ctx, leadID)[0].Grade = "A1"
		got, err = e.getSnapshot(e.ctx, leadID, "smb")
		require.NoError(t, err)
		require.Equal(t, "B3", got.Grade)
	})
}

func runLeadModels(t *testing.T, h Harness, name string, port func(lead.Tx) lead.ModelStore) {
	doc := func(id string, version int, data string) *lead.ModelDocument {
		return &lead.ModelDocument{ID: id, Version: version, Data: []byte(data)}
	}
	put := func(e *env, ctx context.Context, d *lead.ModelDocument) error {
		return e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) error { return port(tx).Put(ctx, d) })
	}
	get := func(e *env, ctx context.Context, id string, version int) (*lead.ModelDocument, error) {
		var out *lead.ModelDocument
		err := e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) (err error) {
			out, err = port(tx).Get(ctx, id, version)
			return err
		})
		return out, err
	}
	list := func(e *env, ctx context.Context, id string, after, limit int) []*lead.ModelDocument {
		e.t.Helper()
		var out []*lead.ModelDocument
		require.NoError(e.t, e.inLeadTx(ctx, func(ctx context.Context, tx lead.Tx) (err error) {
			out, err = port(tx).List(ctx, id, after, limit)
			return err
		}))
		return out
	}
	versions := func(ds []*lead.ModelDocument) []int {
		out := make([]int, len(ds))
		for i, d := range ds {
			out[i] = d.Version
		}
		return out
	}
	t.Run(name, func(t *testing.T) {
		test(t, h, "StoresVersionsAndListsThemAscending", func(t *testing.T, e *env) {
			// Whitespace and key order are kept byte for byte.
			v1 := doc("smb", 1, `{"b": 1,  "a": [1, 2.50]}`)
			require.NoError(t, put(e, e.ctx, v1))
			require.Equal(t, e.now(), v1.CreatedAt)
			e.tick()
			require.NoError(t, put(e, e.ctx, doc("smb", 3, `{"v":3}`)))
			require.NoError(t, put(e, e.ctx, doc("smb", 2, `{"v":2}`)))
			require.NoError(t, put(e, e.ctx, doc("smb-2", 9, `{"other":true}`)))

			got, err := get(e, e.ctx, "smb", 1)
			require.NoError(t, err)
			requireSame(t, v1, got)
			require.Equal(t, `{"b": 1,  "a": [1, 2.50]}`, string(got.Data))
			latest, err := get(e, e.ctx, "smb", 0)
			require.NoError(t, err)
			require.Equal(t, 3, latest.Version)
			require.Equal(t, `{"v":3}`, string(latest.Data))

			require.Equal(t, []int{1, 2}, versions(list(e, e.ctx, "smb", 0, 2)))
			require.Equal(t, []int{3}, versions(list(e, e.ctx, "smb", 2, 2)))
			require.Empty(t, list(e, e.ctx, "smb", 3, 2))
			require.Equal(t, `{"v":2}`, string(list(e, e.ctx, "smb", 1, 1)[0].Data))
			require.Empty(t, list(e, e.ctx, "unknown", 0, 10))
		})

		test(t, h, "KeepsAStoredVersionImmutable", func(t *testing.T, e *env) {
			first := doc("smb", 1, `{"v":1}`)
			require.NoError(t, put(e, e.ctx, first))
			e.tick()
			same := doc("smb", 1, `{"v":1}`)
			require.NoError(t, put(e, e.ctx, same), "storing the same content again succeeds")
			require.Equal(t, first.CreatedAt, same.CreatedAt, "and reports when it was first stored")
			require.ErrorIs(t, put(e, e.ctx, doc("smb", 1, `{"v":2}`)), crm.ErrAlreadyExists)
			require.ErrorIs(t, put(e, e.ctx, doc("smb", 1, `{"v": 1}`)), crm.ErrAlreadyExists, "content is compared byte for byte")
			got, err := get(e, e.ctx, "smb", 1)
			require.NoError(t, err)
			requireSame(t, first, got)
		})

		test(t, h, "ReportsMissingModelsAndVersions", func(t *testing.T, e *env) {
			require.NoError(t, put(e, e.ctx, doc("smb", 2, `{}`)))
			for _, v := range []int{1, 3} {
				_, err := get(e, e.ctx, "smb", v)
				require.ErrorIs(t, err, crm.ErrNotFound)
			}
			_, err := get(e, e.ctx, "unknown", 0)
			require.ErrorIs(t, err, crm.ErrNotFound)
		})

		test(t, h, "KeepsTenantsApart", func(t *testing.T, e *env) {
			require.NoError(t, put(e, e.ctxA, doc("smb", 1, `{"tenant":"a"}`)))
			_, err := get(e, e.ctxB, "smb", 0)
			require.ErrorIs(t, err, crm.ErrNotFound)
			require.NoError(t, put(e, e.ctxB, doc("smb", 1, `{"tenant":"b"}`)), "each tenant has its own versions")
			got, err := get(e, e.ctxA, "smb", 1)
			require.NoError(t, err)
			require.Equal(t, `{"tenant":"a"}`, string(got.Data))
		})

		test(t, h, "RefusesInvalidDocumentsNamingTheField", func(t *testing.T, e *env) {
			requireInvalid(t, put(e, e.ctx, doc("", 1, `{}`)), "id")
			requireInvalid(t, put(e, e.ctx, doc("smb", 0, `{}`)), "version")
			requireInvalid(t, put(e, e.ctx, doc("smb", 1, `{"unterminated":`)), "data")
			requireInvalid(t, put(e, e.ctx, doc("smb", 1, ``)), "data")
			_, err := get(e, e.ctx, "smb", 0)
			require.ErrorIs(t, err, crm.ErrNotFound)
			_, err = get(e, e.ctx, "smb", -1)
			requireInvalid(t, err, "version")
			err = e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
				_, err := port(tx).List(ctx, "smb", 0, 0)
				return err
			})
			requireInvalid(t, err, "limit")
		})

		test(t, h, "ReturnsCopiesTheCallerOwns", func(t *testing.T, e *env) {
			d := doc("smb", 1, `{"v":1}`)
			require.NoError(t, put(e, e.ctx, d))
			d.Data[2] = 'X'
			got, err := get(e, e.ctx, "smb", 1)
			require.NoError(t, err)
			require.Equal(t, `{"v":1}`, string(got.Data))
			got.Data[2] = 'X'
			list(e, e.ctx, "smb", 0, 10)[0].Data[2] = 'X'
			got, err = get(e, e.ctx, "smb", 0)
			require.NoError(t, err)
			require.Equal(t, `{"v":1}`, string(got.Data))
		})
	})
}

func runLeadUnitOfWork(t *testing.T, h Harness) {
	test(t, h, "AFailedUnitOfWorkLeavesNothing", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		kept := e.snapshot(leadID, "kept")
		require.NoError(t, e.saveSnapshot(e.ctx, kept))
		err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
			if err := tx.LeadHistory().Append(ctx, e.historyEntry(leadID, "rolled back")); err != nil {
				return err
			}
			if err := tx.LeadScores().Save(ctx, e.snapshot(leadID, "new")); err != nil {
				return err
			}
			changed := *kept
			changed.Fit = 99
			if err := tx.LeadScores().Save(ctx, &changed); err != nil {
				return err
			}
			if err := tx.LeadScoringModels().Put(ctx, &lead.ModelDocument{ID: "smb", Version: 1, Data: []byte(`{}`)}); err != nil {
				return err
			}
			if err := tx.LeadPredictors().Put(ctx, &lead.ModelDocument{ID: "smb", Version: 1, Data: []byte(`{}`)}); err != nil {
				return err
			}
			// Reads inside the unit of work see its writes.
			p, err := tx.LeadHistory().List(ctx, leadID, crm.PageRequest{})
			if err != nil {
				return err
			}
			if len(p.Items) != 1 {
				return fmt.Errorf("history inside the unit of work has %d entries, want 1", len(p.Items))
			}
			if _, err := tx.LeadPredictors().Get(ctx, "smb", 1); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Empty(t, e.listHistory(e.ctx, leadID, crm.PageRequest{}).Items)
		requireSame(t, []*lead.ScoreSnapshot{kept}, e.listSnapshots(e.ctx, leadID))
		err = e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
			if _, err := tx.LeadScoringModels().Get(ctx, "smb", 0); !errors.Is(err, crm.ErrNotFound) {
				return fmt.Errorf("scoring model after rollback: %v, want ErrNotFound", err)
			}
			if _, err := tx.LeadPredictors().Get(ctx, "smb", 0); !errors.Is(err, crm.ErrNotFound) {
				return fmt.Errorf("predictor after rollback: %v, want ErrNotFound", err)
			}
			return nil
		})
		require.NoError(t, err)
		// The same IDs and versions are free again.
		require.NoError(t, e.saveSnapshot(e.ctx, e.snapshot(leadID, "new")))
	})

	test(t, h, "ScoringAndPredictorDocumentsAreSeparate", func(t *testing.T, e *env) {
		err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
			if err := tx.LeadScoringModels().Put(ctx, &lead.ModelDocument{ID: "smb", Version: 1, Data: []byte(`{"rules":1}`)}); err != nil {
				return err
			}
			if _, err := tx.LeadPredictors().Get(ctx, "smb", 1); !errors.Is(err, crm.ErrNotFound) {
				return fmt.Errorf("predictor port sees a scoring model: %v", err)
			}
			return tx.LeadPredictors().Put(ctx, &lead.ModelDocument{ID: "smb", Version: 1, Data: []byte(`{"trees":1}`)})
		})
		require.NoError(t, err)
	})
}

func runLeadConcurrency(t *testing.T, h Harness) {
	const workers = 16
	race := func(fn func(i int) error) []error {
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = fn(i)
			}()
		}
		close(start)
		wg.Wait()
		return errs
	}
	oneWinner := func(t *testing.T, errs []error, loser error) int {
		t.Helper()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "workers %d and %d both succeeded", winner, i)
				winner = i
				continue
			}
			require.ErrorIs(t, err, loser)
		}
		require.NotEqual(t, -1, winner, "no worker succeeded")
		return winner
	}

	test(t, h, "OneOfManySavesWithTheSameVersionWins", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		base := e.snapshot(leadID, "smb")
		require.NoError(t, e.saveSnapshot(e.ctx, base))
		snaps := make([]*lead.ScoreSnapshot, workers)
		errs := race(func(i int) error {
			s := *base
			s.Fit = float64(i)
			snaps[i] = &s
			return e.saveSnapshot(e.ctx, &s)
		})
		w := oneWinner(t, errs, crm.ErrConflict)
		got, err := e.getSnapshot(e.ctx, leadID, "smb")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, float64(w), got.Fit, "the winner's snapshot is stored")
	})

	test(t, h, "OneOfManyFirstSavesWins", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		errs := race(func(i int) error {
			s := e.snapshot(leadID, "smb")
			s.Fit = float64(i)
			return e.saveSnapshot(e.ctx, s)
		})
		w := oneWinner(t, errs, crm.ErrConflict)
		got, err := e.getSnapshot(e.ctx, leadID, "smb")
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		require.Equal(t, float64(w), got.Fit)
	})

	test(t, h, "OneOfManyDifferentDocumentsForOneVersionIsKept", func(t *testing.T, e *env) {
		errs := race(func(i int) error {
			return e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
				return tx.LeadScoringModels().Put(ctx, &lead.ModelDocument{ID: "smb", Version: 1, Data: fmt.Appendf(nil, `{"worker":%d}`, i)})
			})
		})
		w := oneWinner(t, errs, crm.ErrAlreadyExists)
		err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error {
			d, err := tx.LeadScoringModels().Get(ctx, "smb", 0)
			if err != nil {
				return err
			}
			if want := fmt.Sprintf(`{"worker":%d}`, w); string(d.Data) != want {
				return fmt.Errorf("stored %s, want the winner's %s", d.Data, want)
			}
			return nil
		})
		require.NoError(t, err)
	})

	test(t, h, "ConcurrentAppendsAreAllKept", func(t *testing.T, e *env) {
		leadID := e.ids.NewID()
		errs := race(func(i int) error {
			for j := range 4 {
				h := e.historyEntry(leadID, fmt.Sprintf("%d.%d", i, j))
				if err := e.inLeadTx(e.ctx, func(ctx context.Context, tx lead.Tx) error { return tx.LeadHistory().Append(ctx, h) }); err != nil {
					return err
				}
			}
			return nil
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		all := e.allHistory(e.ctx, leadID, 10)
		require.Len(t, all, workers*4)
		for i := 1; i < len(all); i++ {
			require.Negative(t, compareIDs(all[i-1].ID, all[i].ID), "entries in ID order")
		}
	})
}
