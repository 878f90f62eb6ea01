package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

// runHistory checks the optional crm.History port (field history) whenever
// the adapter has it, on the store itself and on its units of work (both
// implement crm.HistoryTx): entries read back exactly, each record's
// history and each actor's time window newest first in pages, tenancy,
// purges, refusals that write nothing, units of work that roll back, and
// many goroutines appending at once.
func runHistory(t *testing.T, h Harness) {
	// history returns the store's port, or nil (and checks that it was not
	// declared) when the adapter has none.
	history := func(t *testing.T, e *env) crm.History {
		t.Helper()
		ht, ok := e.store.(crm.HistoryTx)
		if !ok {
			require.False(t, h.Features.History, "Features.History is declared, but the store %T does not implement crm.HistoryTx", e.store)
			return nil
		}
		err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			_, ok := tx.(crm.HistoryTx)
			require.True(t, ok, "the store implements crm.HistoryTx, but its unit of work %T does not", tx)
			return nil
		})
		require.NoError(t, err)
		return ht.History()
	}
	htest := func(name string, fn func(t *testing.T, e *env, hist crm.History)) {
		test(t, h, name, func(t *testing.T, e *env) {
			if hist := history(t, e); hist != nil {
				fn(t, e, hist)
			}
		})
	}

	htest("AppendStoresEntriesExactly", func(t *testing.T, e *env, hist crm.History) {
		rec, actor := customerRef(e), e.ids.NewID()
		at := nanoTime(12, 345678912)
		values := []struct{ old, new string }{
			{"", `{ "b": 1, "a": [1, 2.50, "展会"], "a": null }`}, // a create: no old value; keys kept in order, repeated
			{`"B"`, `"A"`},
			{`12345678901234567890.123456789e-3`, `-0.0`},
			{`"\u00e9 \u2028 <tag> & \"q\" \\ \u0000"`, `true`},
			{`null`, `{"nested": {"deep": [[], {}]}}`},
			{`"` + strings.Repeat("x", crm.MaxHistoryValueBytes-2) + `"`, ""}, // a delete, the largest value
		}
		var all []*crm.HistoryEntry
		for i, v := range values {
			en := historyEntry(e, rec, actor, at.Add(time.Duration(i)*time.Hour))
			en.Field = fmt.Sprintf("fields.f%d", i)
			en.Old, en.New = rawOrNil(v.old), rawOrNil(v.new)
			all = append(all, en)
		}
		all[1].ActorID = crm.NilID // the system
		all[2].Operation = "claim"
		all[3].TenantID = "a" // the context's own tenant, given
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			return tx.(crm.HistoryTx).History().Append(ctx, all[:4]...)
		})
		require.NoError(t, err)
		require.NoError(t, hist.Append(e.ctxA, all[4:]...), "autocommit append")
		for i, en := range all {
			require.Positive(t, en.Seq, "Seq written back into entry %d", i)
			if i > 0 {
				require.Greater(t, en.Seq, all[i-1].Seq, "Seq increases")
			}
			require.Equal(t, "a", en.TenantID, "TenantID written back")
			require.Equal(t, crm.StorageTime(at.Add(time.Duration(i)*time.Hour)), en.At, "At written back in storage precision")
		}
		want := make([]crm.HistoryEntry, len(all))
		for i, en := range all {
			want[i] = storedHistory(en)
		}

		// Values are copied in: changing the caller's bytes changes nothing.
		all[1].New[1] = 'Z'
		got := readHistory(t, hist, e.ctxA, rec, 0)
		requireEntries(t, reversed(want), got)

		// And out.
		got[0].Old[0] = 'Z'
		got[0].Field = "changed"
		requireEntries(t, reversed(want), readHistory(t, hist, e.ctxA, rec, 0))
		requireEntries(t, reversed(want[:1]), byActor(t, hist, e.ctxA, actor, at, at.Add(time.Hour), 0), "the same entries by actor")
		requireEntries(t, want[1:2], byActor(t, hist, e.ctxA, crm.NilID, at, at.Add(24*time.Hour), 0), "the system's entry")
	})

	htest("ForRecordPagesNewestFirst", func(t *testing.T, e *env, hist crm.History) {
		rec, other, actor := customerRef(e), customerRef(e), e.ids.NewID()
		var mine []*crm.HistoryEntry
		for i := range 7 {
			en := historyEntry(e, rec, actor, e.tick())
			ot := historyEntry(e, other, actor, e.now())
			if i%2 == 0 {
				require.NoError(t, hist.Append(e.ctx, en, ot))
			} else {
				require.NoError(t, e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
					return tx.(crm.HistoryTx).History().Append(ctx, ot, en)
				}))
			}
			mine = append(mine, en)
		}
		want := make([]crm.HistoryEntry, 0, len(mine))
		for i := len(mine) - 1; i >= 0; i-- {
			want = append(want, storedHistory(mine[i]))
		}
		for _, limit := range []int{1, 3, 7, 50} {
			requireEntries(t, want, readHistory(t, hist, e.ctx, rec, limit), "pages of %d", limit)
		}
		// Walk by hand: 3, 3, then the last one without a cursor.
		p1, err := hist.ForRecord(e.ctx, rec, crm.PageRequest{Limit: 3})
		require.NoError(t, err)
		require.Equal(t, crm.SeqCursor(p1.Items[2].Seq), p1.NextCursor, "the cursor is the last entry's Seq")
		p2, err := hist.ForRecord(e.ctx, rec, crm.PageRequest{Limit: 3, Cursor: p1.NextCursor})
		require.NoError(t, err)
		require.Len(t, p2.Items, 3)
		p3, err := hist.ForRecord(e.ctx, rec, crm.PageRequest{Limit: 3, Cursor: p2.NextCursor})
		require.NoError(t, err)
		require.Len(t, p3.Items, 1)
		require.Empty(t, p3.NextCursor, "no more")
		p, err := hist.ForRecord(e.ctx, rec, crm.PageRequest{Limit: 6, Cursor: p1.NextCursor})
		require.NoError(t, err)
		require.Len(t, p.Items, 4)
		require.Empty(t, p.NextCursor, "a page that reaches the end has no cursor")
		p, err = hist.ForRecord(e.ctx, rec, crm.PageRequest{Limit: 7})
		require.NoError(t, err)
		require.Len(t, p.Items, 7)
		require.Empty(t, p.NextCursor, "a full page that reaches the end has no cursor")

		empty, err := hist.ForRecord(e.ctx, customerRef(e), crm.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, empty.Items)
		require.Empty(t, empty.NextCursor)

		for _, bad := range []string{"not a cursor", crm.CursorAfter(rec.ID), crm.SeqCursor(0), crm.SeqCursor(-5)} {
			_, err := hist.ForRecord(e.ctx, rec, crm.PageRequest{Cursor: bad})
			requireInvalid(t, err, "page.cursor")
		}
		for _, bad := range []int{-1, crm.MaxPageLimit + 1} {
			_, err := hist.ForRecord(e.ctx, rec, crm.PageRequest{Limit: bad})
			requireInvalid(t, err, "page.limit")
		}
		for _, bad := range []crm.Ref{{}, {Type: crm.TypeCustomer}, {ID: rec.ID}, {Type: "cust\x00omer", ID: rec.ID}, {Type: "\xff", ID: rec.ID}} {
			_, err := hist.ForRecord(e.ctx, bad, crm.PageRequest{})
			requireInvalid(t, err, "record")
		}
	})

	htest("TenantsSeeOnlyTheirHistory", func(t *testing.T, e *env, hist crm.History) {
		rec, actor := customerRef(e), e.ids.NewID()
		at := e.now()
		a := historyEntry(e, rec, actor, at)
		b := historyEntry(e, rec, actor, at)
		require.NoError(t, hist.Append(e.ctxA, a))
		require.NoError(t, hist.Append(e.ctxB, b))
		requireEntries(t, []crm.HistoryEntry{storedHistory(a)}, readHistory(t, hist, e.ctxA, rec, 0))
		requireEntries(t, []crm.HistoryEntry{storedHistory(b)}, readHistory(t, hist, e.ctxB, rec, 0))
		require.Empty(t, readHistory(t, hist, e.ctx, rec, 0), "the default tenant has none")
		requireEntries(t, []crm.HistoryEntry{storedHistory(b)}, byActor(t, hist, e.ctxB, actor, at, at.Add(time.Hour), 0))
		require.Empty(t, byActor(t, hist, e.ctx, actor, at, at.Add(time.Hour), 0))

		foreign := historyEntry(e, rec, actor, at)
		foreign.TenantID = "b"
		requireInvalid(t, hist.Append(e.ctxA, foreign), "tenant_id")

		n, err := hist.Purge(e.ctxA, at.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "a purge counts its own tenant's entries")
		require.Empty(t, readHistory(t, hist, e.ctxA, rec, 0))
		requireEntries(t, []crm.HistoryEntry{storedHistory(b)}, readHistory(t, hist, e.ctxB, rec, 0), "another tenant's purge touches nothing")
	})

	htest("ByActorReadsAWindowNewestFirst", func(t *testing.T, e *env, hist crm.History) {
		actor, other := e.ids.NewID(), e.ids.NewID()
		from := crm.StorageTime(nanoTime(12, 345678912))
		to := from.Add(5 * time.Hour)
		// Appended out of time order: pages are in Seq order, not At order.
		offsets := []time.Duration{
			time.Hour, 0, -time.Microsecond, 5 * time.Hour, 2 * time.Hour,
			5*time.Hour - time.Microsecond, 3 * time.Hour, 6 * time.Hour, 4 * time.Hour, 90 * time.Minute,
		}
		var in []*crm.HistoryEntry
		for _, off := range offsets {
			en := historyEntry(e, customerRef(e), actor, from.Add(off))
			require.NoError(t, hist.Append(e.ctx, en, historyEntry(e, customerRef(e), other, from.Add(off))))
			if off >= 0 && off < 5*time.Hour {
				in = append(in, en)
			}
		}
		system := historyEntry(e, customerRef(e), crm.NilID, from.Add(time.Hour))
		require.NoError(t, hist.Append(e.ctx, system))
		want := make([]crm.HistoryEntry, 0, len(in))
		for i := len(in) - 1; i >= 0; i-- {
			want = append(want, storedHistory(in[i]))
		}
		for _, limit := range []int{1, 2, 3, 7, 50} {
			requireEntries(t, want, byActor(t, hist, e.ctx, actor, from, to, limit), "from inclusive, to exclusive, pages of %d", limit)
		}
		// The bounds are read at storage precision.
		requireEntries(t, want, byActor(t, hist, e.ctx, actor, from.Add(999*time.Nanosecond), to.Add(999*time.Nanosecond), 3))
		requireEntries(t, []crm.HistoryEntry{storedHistory(system)}, byActor(t, hist, e.ctx, crm.NilID, from, to, 0), "the system is an actor")
		require.Empty(t, byActor(t, hist, e.ctx, actor, from.Add(time.Hour), from.Add(time.Hour), 0), "an empty window")
		require.Empty(t, byActor(t, hist, e.ctx, e.ids.NewID(), from, to, 0), "an actor without entries")

		for _, c := range []struct {
			field    string
			from, to time.Time
			page     crm.PageRequest
		}{
			{"from", time.Time{}, to, crm.PageRequest{}},
			{"to", from, time.Time{}, crm.PageRequest{}},
			{"to", from, from.Add(-time.Microsecond), crm.PageRequest{}},
			{"page.cursor", from, to, crm.PageRequest{Cursor: "x"}},
			{"page.limit", from, to, crm.PageRequest{Limit: crm.MaxPageLimit + 1}},
		} {
			_, err := hist.ByActor(e.ctx, actor, c.from, c.to, c.page)
			requireInvalid(t, err, c.field)
		}
	})

	htest("PurgeRemovesOlderEntriesOfTheTenant", func(t *testing.T, e *env, hist crm.History) {
		rec, rec2, actor := customerRef(e), customerRef(e), e.ids.NewID()
		base := crm.StorageTime(nanoTime(12, 345678912))
		var entries []*crm.HistoryEntry
		// Times out of Seq order.
		for i, hours := range []int{3, 0, 4, 1, 5, 2} {
			r := rec
			if i%2 == 1 {
				r = rec2
			}
			entries = append(entries, historyEntry(e, r, actor, base.Add(time.Duration(hours)*time.Hour)))
		}
		require.NoError(t, hist.Append(e.ctxA, entries...))
		_, err := hist.Purge(e.ctxA, time.Time{})
		requireInvalid(t, err, "before")

		// A purge in a unit of work that rolls back removes nothing.
		err = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			th := tx.(crm.HistoryTx).History()
			n, err := th.Purge(ctx, base.Add(3*time.Hour))
			require.NoError(t, err)
			require.Equal(t, int64(3), n)
			require.Len(t, append(readHistory(t, th, ctx, rec, 0), readHistory(t, th, ctx, rec2, 0)...), 3, "the unit of work sees its purge")
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Len(t, readHistory(t, hist, e.ctxA, rec, 0), 3)
		require.Len(t, readHistory(t, hist, e.ctxA, rec2, 0), 3)
		require.Len(t, byActor(t, hist, e.ctxA, actor, base, base.Add(time.Hour*24), 0), 6)

		n, err := hist.Purge(e.ctxA, base.Add(3*time.Hour-time.Microsecond))
		require.NoError(t, err)
		require.Equal(t, int64(3), n, "entries at 0h, 1h and 2h")
		n, err = hist.Purge(e.ctxA, base.Add(3*time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "before is exclusive: the entry at 3h stays")
		kept := func(ref crm.Ref) []crm.HistoryEntry {
			var out []crm.HistoryEntry
			for i := len(entries) - 1; i >= 0; i-- {
				if en := entries[i]; en.Record == ref && !en.At.Before(base.Add(3*time.Hour)) {
					out = append(out, storedHistory(en))
				}
			}
			return out
		}
		requireEntries(t, kept(rec), readHistory(t, hist, e.ctxA, rec, 0))
		requireEntries(t, kept(rec2), readHistory(t, hist, e.ctxA, rec2, 0))
		require.Len(t, byActor(t, hist, e.ctxA, actor, base, base.Add(time.Hour*24), 2), 3)
		require.Empty(t, byActor(t, hist, e.ctxA, actor, base, base.Add(3*time.Hour), 0))

		n, err = hist.Purge(e.ctxA, base.Add(24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		require.Empty(t, readHistory(t, hist, e.ctxA, rec, 0))
		require.Empty(t, readHistory(t, hist, e.ctxA, rec2, 0))
		more := historyEntry(e, rec, actor, base)
		require.NoError(t, hist.Append(e.ctxA, more), "appending after a purge")
		requireEntries(t, []crm.HistoryEntry{storedHistory(more)}, readHistory(t, hist, e.ctxA, rec, 0))
		require.Greater(t, more.Seq, entries[5].Seq, "Seqs are not reused")
	})

	htest("AppendRefusesInvalidEntriesAndWritesNone", func(t *testing.T, e *env, hist crm.History) {
		rec := customerRef(e)
		for _, c := range []struct {
			name  string
			field string
			edit  func(*crm.HistoryEntry)
		}{
			{"MissingID", "id", func(h *crm.HistoryEntry) { h.ID = crm.NilID }},
			{"MissingRecord", "record", func(h *crm.HistoryEntry) { h.Record.ID = crm.NilID }},
			{"BadRecordType", "record", func(h *crm.HistoryEntry) { h.Record.Type = "cust\x00omer" }},
			{"MissingField", "field", func(h *crm.HistoryEntry) { h.Field = "" }},
			{"LongField", "field", func(h *crm.HistoryEntry) { h.Field = strings.Repeat("f", 201) }},
			{"FieldNotUTF8", "field", func(h *crm.HistoryEntry) { h.Field = "le\xffvel" }},
			{"FieldWithNUL", "field", func(h *crm.HistoryEntry) { h.Field = "le\x00vel" }},
			{"NoValues", "new", func(h *crm.HistoryEntry) { h.Old, h.New = nil, nil }},
			{"OldNotJSON", "old", func(h *crm.HistoryEntry) { h.Old = json.RawMessage(`{"a":`) }},
			{"NewNotUTF8", "new", func(h *crm.HistoryEntry) { h.New = json.RawMessage("\"\xff\"") }},
			{"NewTooLarge", "new", func(h *crm.HistoryEntry) {
				h.New = json.RawMessage(`"` + strings.Repeat("x", crm.MaxHistoryValueBytes) + `"`)
			}},
			{"MissingOperation", "operation", func(h *crm.HistoryEntry) { h.Operation = "" }},
			{"OperationWithNUL", "operation", func(h *crm.HistoryEntry) { h.Operation = "up\x00date" }},
			{"MissingTime", "at", func(h *crm.HistoryEntry) { h.At = time.Time{} }},
			{"OtherTenant", "tenant_id", func(h *crm.HistoryEntry) { h.TenantID = "b" }},
		} {
			t.Run(c.name, func(t *testing.T) {
				good, bad := historyEntry(e, rec, crm.NilID, e.now()), historyEntry(e, rec, crm.NilID, e.now())
				c.edit(bad)
				requireInvalid(t, hist.Append(e.ctxA, good, bad), c.field)
				err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
					return tx.(crm.HistoryTx).History().Append(ctx, historyEntry(e, rec, crm.NilID, e.now()), bad)
				})
				requireInvalid(t, err, c.field)
				require.Zero(t, good.Seq, "nothing written back")
				require.Empty(t, readHistory(t, hist, e.ctxA, rec, 0))
			})
		}
		requireInvalid(t, hist.Append(e.ctxA, historyEntry(e, rec, crm.NilID, e.now()), nil), "entries[1]")
		require.NoError(t, hist.Append(e.ctxA), "appending nothing is fine")
		require.Empty(t, readHistory(t, hist, e.ctxA, rec, 0))
	})

	htest("EntriesOfFailedUnitsOfWorkAreNotKept", func(t *testing.T, e *env, hist crm.History) {
		rec, actor := customerRef(e), e.ids.NewID()
		kept := historyEntry(e, rec, actor, e.now())
		require.NoError(t, hist.Append(e.ctxA, kept))
		lost := historyEntry(e, rec, actor, e.now())
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			th := tx.(crm.HistoryTx).History()
			if err := th.Append(ctx, lost, historyEntry(e, customerRef(e), actor, e.now())); err != nil {
				return err
			}
			require.Len(t, readHistory(t, th, ctx, rec, 0), 2, "the unit of work sees its own entries")
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		later := historyEntry(e, rec, actor, e.now())
		require.NoError(t, hist.Append(e.ctxA, later))
		requireEntries(t, []crm.HistoryEntry{storedHistory(later), storedHistory(kept)}, readHistory(t, hist, e.ctxA, rec, 0))
		require.Len(t, byActor(t, hist, e.ctxA, actor, e.now(), e.now().Add(time.Second), 0), 2)
		// The ID of an entry that was rolled back is free again.
		lost.Seq, lost.TenantID = 0, ""
		require.NoError(t, hist.Append(e.ctxA, lost))
	})

	htest("AppendRefusesARepeatedID", func(t *testing.T, e *env, hist crm.History) {
		rec := customerRef(e)
		first := historyEntry(e, rec, crm.NilID, e.now())
		require.NoError(t, hist.Append(e.ctxA, first))
		again := historyEntry(e, rec, crm.NilID, e.now())
		again.ID = first.ID
		fresh := historyEntry(e, rec, crm.NilID, e.now())
		require.ErrorIs(t, hist.Append(e.ctxA, fresh, again), crm.ErrAlreadyExists)
		twice := historyEntry(e, rec, crm.NilID, e.now())
		require.ErrorIs(t, hist.Append(e.ctxA, twice, twice), crm.ErrAlreadyExists, "twice in one call")
		requireEntries(t, []crm.HistoryEntry{storedHistory(first)}, readHistory(t, hist, e.ctxA, rec, 0), "nothing of the refused calls")

		// A unit of work may handle the refusal and carry on; the refused
		// call stored none of its entries.
		other := historyEntry(e, rec, crm.NilID, e.now())
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			th := tx.(crm.HistoryTx).History()
			require.ErrorIs(t, th.Append(ctx, other, again), crm.ErrAlreadyExists)
			require.ErrorIs(t, th.Append(ctx, again), crm.ErrAlreadyExists)
			require.Zero(t, other.Seq, "nothing written back")
			require.Len(t, readHistory(t, th, ctx, rec, 0), 1, "the unit of work sees none of the refused entries")
			return th.Append(ctx, fresh)
		})
		require.NoError(t, err)
		requireEntries(t, []crm.HistoryEntry{storedHistory(fresh), storedHistory(first)}, readHistory(t, hist, e.ctxA, rec, 0))
		require.NoError(t, hist.Append(e.ctxA, other), "the ID of an entry of a refused call is free")
	})

	htest("AppendChangeStoresEntriesAndEventTogether", func(t *testing.T, e *env, hist crm.History) {
		if _, ok := hist.(crm.ChangeAppender); !ok {
			t.Skip("the adapter's history has no crm.ChangeAppender (optional)")
		}
		rec := customerRef(e)
		event := func() *crm.Event {
			ev, err := crm.NewEvent(e.ids, e.clock, crm.EventCustomerUpdated, rec, crm.NilID, crm.ChangedPayload{Operation: "update"})
			require.NoError(t, err)
			return &ev
		}
		first, firstEv := historyEntry(e, rec, crm.NilID, e.now()), event()
		second := historyEntry(e, rec, crm.NilID, e.now())
		err := e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			return tx.(crm.HistoryTx).History().(crm.ChangeAppender).AppendChange(ctx, firstEv, first, second)
		})
		require.NoError(t, err)
		require.Positive(t, firstEv.Seq)
		require.Equal(t, "a", firstEv.TenantID)
		require.Less(t, first.Seq, second.Seq)
		requireEntries(t, []crm.HistoryEntry{storedHistory(second), storedHistory(first)}, readHistory(t, hist, e.ctxA, rec, 0))
		pending, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
		require.NoError(t, err)
		require.Contains(t, eventIDs(pending), firstEv.ID)

		// A taken event ID stores neither the entries nor the event; so
		// does a taken entry ID, and the unit of work may carry on.
		lost, again := historyEntry(e, rec, crm.NilID, e.now()), event()
		again.ID = firstEv.ID
		taken := event()
		dup := historyEntry(e, rec, crm.NilID, e.now())
		dup.ID = first.ID
		err = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			ca := tx.(crm.HistoryTx).History().(crm.ChangeAppender)
			require.ErrorIs(t, ca.AppendChange(ctx, again, lost), crm.ErrAlreadyExists)
			require.ErrorIs(t, ca.AppendChange(ctx, taken, lost, dup), crm.ErrAlreadyExists)
			return nil
		})
		require.NoError(t, err)
		requireEntries(t, []crm.HistoryEntry{storedHistory(second), storedHistory(first)}, readHistory(t, hist, e.ctxA, rec, 0), "nothing of the refused calls")
		pending, err = e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
		require.NoError(t, err)
		require.NotContains(t, eventIDs(pending), taken.ID, "nor their events")
	})

	htest("ConcurrentAppendsKeepEveryEntryOnce", func(t *testing.T, e *env, hist crm.History) {
		rec := customerRef(e)
		const perCall = 3
		var mu sync.Mutex
		ids := map[crm.ID]int{}
		errs := race(goroutines, func(i int) error {
			batch := make([]*crm.HistoryEntry, perCall)
			mu.Lock()
			for j := range batch {
				batch[j] = historyEntry(e, rec, e.ids.NewID(), e.now())
				ids[batch[j].ID] = 0
			}
			mu.Unlock()
			var err error
			if i%2 == 0 {
				err = hist.Append(e.ctxA, batch...)
			} else {
				err = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
					return tx.(crm.HistoryTx).History().Append(ctx, batch...)
				})
			}
			if err == nil && (batch[0].Seq >= batch[1].Seq || batch[1].Seq >= batch[2].Seq) {
				err = fmt.Errorf("the Seqs of one call do not increase: %d, %d, %d", batch[0].Seq, batch[1].Seq, batch[2].Seq)
			}
			return err
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		got := readHistory(t, hist, e.ctxA, rec, 10)
		require.Len(t, got, goroutines*perCall)
		for i, en := range got {
			n, ok := ids[en.ID]
			require.True(t, ok, "an entry nobody appended: %s", en.ID)
			require.Zero(t, n, "entry %s returned twice", en.ID)
			ids[en.ID]++
			if i > 0 {
				require.Less(t, en.Seq, got[i-1].Seq, "Seqs are unique, newest first")
			}
		}
	})

	htest("MethodsReturnContextCanceledAndWriteNothing", func(t *testing.T, e *env, hist crm.History) {
		rec, actor := customerRef(e), e.ids.NewID()
		kept := historyEntry(e, rec, actor, e.now())
		require.NoError(t, hist.Append(e.ctx, kept))
		done := cancelled(e.ctx)
		require.ErrorIs(t, hist.Append(done, historyEntry(e, rec, actor, e.now())), context.Canceled)
		_, err := hist.ForRecord(done, rec, crm.PageRequest{})
		require.ErrorIs(t, err, context.Canceled)
		_, err = hist.ByActor(done, actor, e.now(), e.now().Add(time.Hour), crm.PageRequest{})
		require.ErrorIs(t, err, context.Canceled)
		_, err = hist.Purge(done, e.now().Add(time.Hour))
		require.ErrorIs(t, err, context.Canceled)
		requireEntries(t, []crm.HistoryEntry{storedHistory(kept)}, readHistory(t, hist, e.ctx, rec, 0), "nothing appended or purged")
	})
}

// historyEntry returns a valid entry of one changed field, whose values
// carry insignificant white space.
func historyEntry(e *env, record crm.Ref, actor crm.ID, at time.Time) *crm.HistoryEntry {
	return &crm.HistoryEntry{
		ID: e.ids.NewID(), Record: record, ActorID: actor, Operation: "update", At: at,
		Change: crm.Change{Field: "level", Old: json.RawMessage(`"B"`), New: json.RawMessage(`{ "level" : "A" }`)},
	}
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// storedHistory is what the history must return for en after Append wrote
// Seq, TenantID and At back: the values as compact JSON, byte for byte.
func storedHistory(en *crm.HistoryEntry) crm.HistoryEntry {
	c := *en
	c.At = crm.StorageTime(c.At)
	c.Old, c.New = compactJSON(c.Old), compactJSON(c.New)
	return c
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// requireEntries checks got against want, in order, field by field: values
// byte for byte (an absent value stays absent), times as UTC instants.
func requireEntries(t *testing.T, want []crm.HistoryEntry, got []*crm.HistoryEntry, msgAndArgs ...any) {
	t.Helper()
	msg := ""
	if len(msgAndArgs) > 0 {
		msg = fmt.Sprintf(fmt.Sprint(msgAndArgs[0]), msgAndArgs[1:]...) + ": "
	}
	require.Len(t, got, len(want), "%sentries", msg)
	for i := range want {
		w, g := want[i], *got[i]
		require.Equal(t, w.ID, g.ID, "%sentry %d", msg, i)
		require.True(t, w.At.Equal(g.At) && g.At.Location() == time.UTC, "%sentry %d: At %s, want %s in UTC", msg, i, g.At, w.At)
		require.Equal(t, w.Old == nil, g.Old == nil, "%sentry %d: Old %q, want %q", msg, i, g.Old, w.Old)
		require.Equal(t, w.New == nil, g.New == nil, "%sentry %d: New %q, want %q", msg, i, g.New, w.New)
		require.Equal(t, string(w.Old), string(g.Old), "%sentry %d: Old", msg, i)
		require.Equal(t, string(w.New), string(g.New), "%sentry %d: New", msg, i)
		w.At, g.At = time.Time{}, time.Time{}
		w.Old, w.New, g.Old, g.New = nil, nil, nil, nil
		require.Equal(t, w, g, "%sentry %d", msg, i)
	}
}

// readHistory reads record's whole history in pages of limit (0: the
// default), checking that every page but the last is full.
func readHistory(t *testing.T, hist crm.History, ctx context.Context, record crm.Ref, limit int) []*crm.HistoryEntry {
	t.Helper()
	return readPages(t, limit, func(page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
		return hist.ForRecord(ctx, record, page)
	})
}

// byActor reads actor's entries from from to to in pages of limit.
func byActor(t *testing.T, hist crm.History, ctx context.Context, actor crm.ID, from, to time.Time, limit int) []*crm.HistoryEntry {
	t.Helper()
	return readPages(t, limit, func(page crm.PageRequest) (crm.Page[crm.HistoryEntry], error) {
		return hist.ByActor(ctx, actor, from, to, page)
	})
}

func readPages(t *testing.T, limit int, read func(crm.PageRequest) (crm.Page[crm.HistoryEntry], error)) []*crm.HistoryEntry {
	t.Helper()
	full := limit
	if full == 0 {
		full = crm.DefaultPageLimit
	}
	var out []*crm.HistoryEntry
	page := crm.PageRequest{Limit: limit}
	for range 1000 {
		p, err := read(page)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Items), full, "a page holds at most its limit")
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out
		}
		require.Len(t, p.Items, full, "a page with a cursor after it is full")
		require.Equal(t, crm.SeqCursor(p.Items[len(p.Items)-1].Seq), p.NextCursor, "the cursor is the last entry's Seq")
		page.Cursor = p.NextCursor
	}
	require.Fail(t, "more than 1000 pages")
	return nil
}
