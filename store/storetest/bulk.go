package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/importer"
)

// RunBulkPorts checks the optional bulk ports an import writes through,
// each on an adapter whose unit of work has it (found by type assertion,
// as [crm.CreateMany], [crm.GetMany], [dedupe.Service.EnterManyTx] and
// [importer.PutMany] find them), and skips it on one without (those
// callers then fall back to the one-by-one methods the rest of the suite
// checks):
//
//   - [crm.BulkCreator] (CreateMany) and [crm.BulkGetter] (GetMany) on every
//     record type's repository: records stored with Version 1 and the
//     adapter's time, written back and read back equal; a taken or repeated
//     ID refused as Create refuses it, leaving nothing once the unit of
//     work rolls back; bad input a [*crm.ValidationError]; at most
//     [crm.MaxBulk]; reads leave out missing IDs and other tenants'.
//   - [crm.ChangesAppender] (AppendChanges) on the history port: entries
//     and events readable afterwards; a repeated ID [crm.ErrAlreadyExists],
//     leaving nothing once the unit of work rolls back.
//   - [dedupe.BulkKeyStore] (LookupEach, Holders, PutNew) on the key store:
//     stored keys found by every lookup, the per-key limit, a taken strong
//     key a [*dedupe.KeyTakenError] naming the holder, tenants isolated, and
//     of eight units of work putting the same strong keys at once exactly
//     one commits them.
//   - [importer.BulkExternalIDs] (PutMany) on the external-ID port: mappings
//     read back, digests replaced for the same customer, another customer's
//     ID an [*importer.ExternalIDTakenError] naming it and keeping nothing of
//     the call, a repeated ID a [*crm.ValidationError], tenants isolated.
//
// The ports declare no [Features] flag: like task.CalendarLocker, each is
// checked whenever present. Run calls it as "BulkPorts".
func RunBulkPorts(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	ports := probeBulkPorts(t, newEnv(t, h))
	t.Run("Records", func(t *testing.T) {
		runBulkRecords(t, h, leadKind(), bulkRef[crm.Lead]{"owner_id", crm.TypeUser, func(v *crm.Lead, id crm.ID) { v.OwnerID = id }})
		runBulkRecords(t, h, customerKind(), bulkRef[crm.Customer]{"owner_id", crm.TypeUser, func(v *crm.Customer, id crm.ID) { v.OwnerID = id }})
		runBulkRecords(t, h, contactKind(), bulkRef[crm.Contact]{"owner_id", crm.TypeUser, func(v *crm.Contact, id crm.ID) { v.OwnerID = id }})
		runBulkRecords(t, h, opportunityKind(), bulkRef[crm.Opportunity]{"owner_id", crm.TypeUser, func(v *crm.Opportunity, id crm.ID) { v.OwnerID = id }})
		runBulkRecords(t, h, activityKind(), bulkRef[crm.Activity]{})
		runBulkRecords(t, h, ticketKind(), bulkRef[crm.Ticket]{})
		runBulkRecords(t, h, userKind(), bulkRef[crm.User]{})
		runBulkRecords(t, h, departmentKind(), bulkRef[crm.Department]{"parent_id", crm.TypeDepartment, func(v *crm.Department, id crm.ID) { v.ParentID = id }})
		runBulkRecords(t, h, teamKind(), bulkRef[crm.Team]{"lead_id", crm.TypeUser, func(v *crm.Team, id crm.ID) { v.LeadID = id }})
		runBulkRecords(t, h, taskKind(), bulkRef[crm.Task]{"created_by", crm.TypeUser, func(v *crm.Task, id crm.ID) { v.CreatedBy = id }})
	})
	t.Run("AppendChanges", func(t *testing.T) {
		if !ports.changes {
			t.Skip("the adapter's history port has no crm.ChangesAppender: AppendChange and Append are used one change at a time")
		}
		runBulkChanges(t, h)
	})
	t.Run("DedupeKeys", func(t *testing.T) {
		if !ports.keys {
			t.Skip("the adapter's dedupe key store has no dedupe.BulkKeyStore: EnterManyTx enters customers one by one")
		}
		runBulkKeys(t, h)
	})
	t.Run("ExternalIDs", func(t *testing.T) {
		if !ports.externalIDs {
			t.Skip("the adapter's external-ID port has no importer.BulkExternalIDs: importer.PutMany puts one by one")
		}
		runBulkExternalIDs(t, h)
	})
}

// bulkPorts tells which optional bulk ports an adapter's unit of work has.
type bulkPorts struct {
	changes, keys, externalIDs bool
}

func probeBulkPorts(t *testing.T, e *env) bulkPorts {
	var p bulkPorts
	require.NoError(t, e.store.InTx(e.ctx, func(_ context.Context, tx crm.Tx) error {
		if ht, ok := crm.As[crm.HistoryTx](tx); ok {
			_, p.changes = ht.History().(crm.ChangesAppender)
		}
		if dt, err := dedupe.TxOf(tx); err == nil {
			_, p.keys = dt.DedupeKeys().(dedupe.BulkKeyStore)
		}
		if it, ok := crm.As[importer.Tx](tx); ok {
			_, p.externalIDs = it.ExternalIDs().(importer.BulkExternalIDs)
		}
		return nil
	}))
	return p
}

// requireInvalidAt checks that err is a [*crm.ValidationError] naming one
// of fields (a bulk call may name the field alone or under the record's
// index).
func requireInvalidAt(t *testing.T, err error, fields ...string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve), "errors.As finds no *crm.ValidationError in %v", err)
	got := []string{ve.Field}
	var all crm.ValidationErrors
	if errors.As(err, &all) {
		got = all.Fields()
	}
	for _, f := range fields {
		if slices.Contains(got, f) {
			return
		}
	}
	require.Failf(t, "wrong field", "error %q names %v, want one of %v", err, got, fields)
}

// bulkCreate calls repo's [crm.BulkCreator], failing when it has none.
func bulkCreate[T any, F any](ctx context.Context, repo crm.Repository[T, F], vs []*T) error {
	b, ok := repo.(crm.BulkCreator[T])
	if !ok {
		return fmt.Errorf("storetest: repository %T has no crm.BulkCreator", repo)
	}
	return b.CreateMany(ctx, vs)
}

// bulkGet calls repo's [crm.BulkGetter], failing when it has none.
func bulkGet[T any, F any](ctx context.Context, repo crm.Repository[T, F], ids []crm.ID) ([]*T, error) {
	b, ok := repo.(crm.BulkGetter[T])
	if !ok {
		return nil, fmt.Errorf("storetest: repository %T has no crm.BulkGetter", repo)
	}
	return b.GetMany(ctx, ids)
}

// bulkRef is a reference field of records T, pointed with set at a record
// of type target; the zero value checks none.
type bulkRef[T any] struct {
	field  string
	target crm.RecordType
	set    func(v *T, id crm.ID)
}

// runBulkRecords checks CreateMany and GetMany on the repository of one
// record type, each skipped when the repository lacks it.
func runBulkRecords[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF], ref bulkRef[T]) {
	t.Run(k.name, func(t *testing.T) {
		has := func(t *testing.T, e *env) (creator, getter bool) {
			require.NoError(t, e.store.InTx(e.ctx, func(_ context.Context, tx crm.Tx) error {
				_, creator = k.repo(tx).(crm.BulkCreator[T])
				_, getter = k.repo(tx).(crm.BulkGetter[T])
				return nil
			}))
			return creator, getter
		}
		ctest := func(name string, fn func(t *testing.T, e *env)) {
			test(t, h, name, func(t *testing.T, e *env) {
				if c, _ := has(t, e); !c {
					t.Skipf("the %s repository has no crm.BulkCreator: crm.CreateMany falls back to Create", k.name)
				}
				fn(t, e)
			})
		}
		gtest := func(name string, fn func(t *testing.T, e *env)) {
			test(t, h, name, func(t *testing.T, e *env) {
				if _, g := has(t, e); !g {
					t.Skipf("the %s repository has no crm.BulkGetter: crm.GetMany falls back to Get", k.name)
				}
				fn(t, e)
			})
		}

		ctest("CreateManyStoresEveryRecordAndWritesBackVersionOneAndTimes", func(t *testing.T, e *env) {
			for _, inTx := range []bool{true, false} {
				vs := []*T{k.full(e, e.ctxA), k.minimal(e, e.ctxA), k.full(e, e.ctxA)}
				want := make([]*T, len(vs))
				for i, v := range vs {
					k.meta(v).Version = 0
					want[i] = k.stored(v)
					m := k.meta(want[i])
					m.TenantID, m.Version, m.CreatedAt, m.UpdatedAt = "a", 1, e.now(), e.now()
				}
				var err error
				if inTx {
					err = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error { return bulkCreate(ctx, k.repo(tx), vs) })
				} else {
					err = bulkCreate(e.ctxA, k.repo(e.store), vs)
				}
				require.NoError(t, err, "in a unit of work: %v", inTx)
				for i, v := range vs {
					requireSame(t, want[i], v, "record %d written back (in a unit of work: %v)", i, inTx)
					requireSame(t, want[i], k.get(t, e.ctxA, e.store, k.meta(v).ID), "record %d read back (in a unit of work: %v)", i, inTx)
				}
				// The caller's memory is not kept.
				want0 := k.stored(vs[0])
				k.scribble(vs[0])
				requireSame(t, want0, k.get(t, e.ctxA, e.store, k.meta(want0).ID))
				e.tick()
			}
			require.NoError(t, bulkCreate[T, F](e.ctx, k.repo(e.store), nil), "an empty call")
		})

		ctest("CreateManyRefusesATakenOrRepeatedIDAsCreateDoesAndTheUnitOfWorkKeepsNothing", func(t *testing.T, e *env) {
			mine := k.create(t, e.ctxB, e.store, k.full(e, e.ctxB))
			secret := crm.WithTenant(e.ctx, secretTenant)
			theirs := k.create(t, secret, e.store, k.minimal(e, secret))
			wantMine, wantTheirs := k.stored(mine), k.stored(theirs)
			cases := []struct {
				name  string
				id    func(fresh []*T) crm.ID
				check func(t *testing.T, err error)
			}{
				{"AStoredRecordsID", func([]*T) crm.ID { return k.meta(mine).ID }, func(t *testing.T, err error) {
					require.ErrorIs(t, err, crm.ErrAlreadyExists)
				}},
				{"AnIDEarlierInTheCall", func(fresh []*T) crm.ID { return k.meta(fresh[0]).ID }, func(t *testing.T, err error) {
					require.ErrorIs(t, err, crm.ErrAlreadyExists)
				}},
				{"AnotherTenantsID", func([]*T) crm.ID { return k.meta(theirs).ID }, func(t *testing.T, err error) {
					// As Create: the ID is not available, and nothing says why.
					requireInvalidAt(t, err, "id", "records[1].id")
					require.NotErrorIs(t, err, crm.ErrAlreadyExists)
					require.NotContains(t, err.Error(), secretTenant)
				}},
			}
			for _, c := range cases {
				fresh := []*T{k.minimal(e, e.ctxB), k.minimal(e, e.ctxB), k.minimal(e, e.ctxB)}
				k.meta(fresh[1]).ID = c.id(fresh)
				err := e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error { return bulkCreate(ctx, k.repo(tx), fresh) })
				t.Run(c.name, func(t *testing.T) { c.check(t, err) })
				for _, v := range []*T{fresh[0], fresh[2]} {
					k.requireMissing(t, e.ctxB, e.store, k.meta(v).ID)
				}
				requireSame(t, wantMine, k.get(t, e.ctxB, e.store, k.meta(mine).ID), "%s: the stored record is unchanged", c.name)
				requireSame(t, wantTheirs, k.get(t, secret, e.store, k.meta(theirs).ID), "%s: the other tenant's record is unchanged", c.name)
			}
		})

		if ref.set != nil {
			ctest("CreateManyRefusesAReferenceToAnotherTenantsRecordAsCreateDoes", func(t *testing.T, e *env) {
				foreign := storeTarget(t, e, e.ctxA, ref.target)
				vs := []*T{k.minimal(e, e.ctxB), k.minimal(e, e.ctxB), k.minimal(e, e.ctxB)}
				ref.set(vs[1], foreign)
				err := e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error { return bulkCreate(ctx, k.repo(tx), vs) })
				requireInvalidAt(t, err, ref.field, "records[1]."+ref.field)
				for _, v := range vs {
					k.requireMissing(t, e.ctxB, e.store, k.meta(v).ID)
				}
			})
		}

		ctest("CreateManyRefusesBadInputWithAValidationErrorBeforeWriting", func(t *testing.T, e *env) {
			bad := k.minimal(e, e.ctx)
			set(k.fields(bad), "Bad-Name", crm.Bool(true))
			cases := []struct {
				name   string
				vs     func(first *T) []*T
				fields []string
			}{
				{"ANilRecord", func(first *T) []*T { return []*T{first, nil} }, []string{"records[1]", "record"}},
				{"AnInvalidRecord", func(first *T) []*T { return []*T{first, bad} }, []string{"fields.Bad-Name", "records[1].fields.Bad-Name"}},
				{"MoreThanMaxBulk", func(first *T) []*T {
					vs := make([]*T, crm.MaxBulk+1)
					vs[0] = first
					return vs
				}, []string{"records"}},
			}
			for _, c := range cases {
				first := k.minimal(e, e.ctx)
				err := e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error { return bulkCreate(ctx, k.repo(tx), c.vs(first)) })
				t.Run(c.name, func(t *testing.T) { requireInvalidAt(t, err, c.fields...) })
				k.requireMissing(t, e.ctx, e.store, k.meta(first).ID)
			}
			// Autocommit refuses them the same way.
			requireInvalidAt(t, bulkCreate(e.ctx, k.repo(e.store), make([]*T, crm.MaxBulk+1)), "records")
		})

		gtest("GetManyReturnsTheTenantsStoredRecordsAndLeavesOutTheRest", func(t *testing.T, e *env) {
			var mine []*T
			for range 3 {
				mine = append(mine, k.create(t, e.ctxA, e.store, k.full(e, e.ctxA)))
			}
			theirs := k.create(t, e.ctxB, e.store, k.minimal(e, e.ctxB))
			ids := []crm.ID{k.meta(mine[2]).ID, e.ids.NewID(), k.meta(theirs).ID, k.meta(mine[0]).ID, k.meta(mine[1]).ID}
			for _, inTx := range []bool{true, false} {
				var got []*T
				var err error
				if inTx {
					err = e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) (err error) {
						got, err = bulkGet(ctx, k.repo(tx), ids)
						return err
					})
				} else {
					got, err = bulkGet(e.ctxA, k.repo(e.store), ids)
				}
				require.NoError(t, err)
				require.Len(t, got, len(mine), "in a unit of work: %v", inTx)
				slices.SortFunc(got, func(a, b *T) int { return compareIDs(k.meta(a).ID, k.meta(b).ID) })
				for i, v := range mine {
					requireSame(t, k.stored(v), got[i], "record %d (in a unit of work: %v)", i, inTx)
				}
				// A copy the caller owns.
				k.scribble(got[0])
			}
			got, err := bulkGet(e.ctxB, k.repo(e.store), ids)
			require.NoError(t, err)
			require.Len(t, got, 1)
			requireSame(t, k.stored(theirs), got[0])
			got, err = bulkGet(e.ctxA, k.repo(e.store), nil)
			require.NoError(t, err)
			require.Empty(t, got, "no IDs, no records")
			got, err = bulkGet(e.ctxA, k.repo(e.store), []crm.ID{e.ids.NewID()})
			require.NoError(t, err)
			require.Empty(t, got, "a missing ID is left out")
			_, err = bulkGet(e.ctxA, k.repo(e.store), make([]crm.ID, crm.MaxBulk+1))
			requireInvalidAt(t, err, "ids")
		})
	})
}

// inChanges runs fn in one unit of work with the history port's
// [crm.ChangesAppender].
func (e *env) inChanges(ctx context.Context, fn func(ctx context.Context, ca crm.ChangesAppender) error) error {
	return e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		ht, ok := crm.As[crm.HistoryTx](tx)
		if !ok {
			return errors.New("storetest: the unit of work lost crm.HistoryTx")
		}
		ca, ok := ht.History().(crm.ChangesAppender)
		if !ok {
			return errors.New("storetest: the history port lost crm.ChangesAppender")
		}
		return fn(ctx, ca)
	})
}

// historyOf reads a record's whole history, newest first, in a unit of
// work.
func (e *env) historyOf(t *testing.T, ctx context.Context, rec crm.Ref) []*crm.HistoryEntry {
	t.Helper()
	var out []*crm.HistoryEntry
	require.NoError(t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		ht, _ := crm.As[crm.HistoryTx](tx)
		out = readHistory(t, ht.History(), ctx, rec, 0)
		return nil
	}))
	return out
}

// pendingOf returns the pending events among ids, lowest Seq first.
func pendingOf(t *testing.T, e *env, ids ...crm.ID) []crm.Event {
	t.Helper()
	var out []crm.Event
	for _, ev := range pendingAll(t, e) {
		if slices.Contains(ids, ev.ID) {
			out = append(out, ev)
		}
	}
	return out
}

func runBulkChanges(t *testing.T, h Harness) {
	test(t, h, "AppendChangesStoresEveryEntryAndEvent", func(t *testing.T, e *env) {
		a, b := customerRef(e), customerRef(e)
		actor := e.ids.NewID()
		events := []*crm.Event{newEvent(e, "customer.created"), newEvent(e, "customer.created")}
		events[0].Subject, events[1].Subject = a, b
		entries := []*crm.HistoryEntry{historyEntry(e, a, actor, e.tick()), historyEntry(e, b, actor, e.now()), historyEntry(e, a, crm.NilID, e.tick())}
		entries[0].Field, entries[0].Old = "name", nil
		require.NoError(t, e.inChanges(e.ctxA, func(ctx context.Context, ca crm.ChangesAppender) error {
			return ca.AppendChanges(ctx, events, entries)
		}))
		for i, en := range entries {
			require.Equal(t, "a", en.TenantID, "TenantID written back into entry %d", i)
		}
		for i, ev := range events {
			require.Equal(t, "a", ev.TenantID, "TenantID written back into event %d", i)
		}
		// The adapter may leave Seq unwritten; the stored entries have one.
		withSeq := func(want crm.HistoryEntry, got *crm.HistoryEntry) crm.HistoryEntry {
			require.Positive(t, got.Seq, "entry %s has a Seq", got.ID)
			want.Seq = got.Seq
			return want
		}
		gotA := e.historyOf(t, e.ctxA, a)
		require.Len(t, gotA, 2)
		requireEntries(t, []crm.HistoryEntry{withSeq(storedHistory(entries[2]), gotA[0]), withSeq(storedHistory(entries[0]), gotA[1])}, gotA)
		require.Greater(t, gotA[0].Seq, gotA[1].Seq, "entries get Seqs in order")
		gotB := e.historyOf(t, e.ctxA, b)
		require.Len(t, gotB, 1)
		requireEntries(t, []crm.HistoryEntry{withSeq(storedHistory(entries[1]), gotB[0])}, gotB)
		require.Empty(t, e.historyOf(t, e.ctxB, a), "another tenant sees none of them")

		pending := pendingOf(t, e, events[0].ID, events[1].ID)
		require.Len(t, pending, 2)
		for i, ev := range events {
			require.Positive(t, pending[i].Seq, "event %d has a Seq", i)
			want := storedEvent(ev)
			want.Seq = pending[i].Seq
			requireSame(t, want, pending[i], "event %d, in order", i)
		}

		require.NoError(t, e.inChanges(e.ctx, func(ctx context.Context, ca crm.ChangesAppender) error {
			return ca.AppendChanges(ctx, nil, nil)
		}), "an empty call")
	})

	test(t, h, "AppendChangesOutsideAUnitOfWorkIsAllOrNothing", func(t *testing.T, e *env) {
		ht, ok := e.store.(crm.HistoryTx)
		if !ok {
			t.Skip("the store has no autocommit history port")
		}
		ca, ok := ht.History().(crm.ChangesAppender)
		if !ok {
			t.Skip("the store's autocommit history port has no crm.ChangesAppender")
		}
		rec, actor := customerRef(e), e.ids.NewID()
		kept := historyEntry(e, rec, actor, e.tick())
		keptEvent := newEvent(e, "customer.updated")
		require.NoError(t, ca.AppendChanges(e.ctx, []*crm.Event{keptEvent}, []*crm.HistoryEntry{kept}))
		got := e.historyOf(t, e.ctx, rec)
		require.Len(t, got, 1)
		require.Equal(t, kept.ID, got[0].ID)
		require.Len(t, pendingOf(t, e, keptEvent.ID), 1)

		fresh := historyEntry(e, rec, actor, e.tick())
		ev := newEvent(e, "customer.updated")
		again := newEvent(e, "customer.updated")
		again.ID = keptEvent.ID
		require.ErrorIs(t, ca.AppendChanges(e.ctx, []*crm.Event{ev, again}, []*crm.HistoryEntry{fresh}), crm.ErrAlreadyExists)
		require.Len(t, e.historyOf(t, e.ctx, rec), 1, "no entry of the refused call kept")
		require.Empty(t, pendingOf(t, e, ev.ID), "no event of the refused call kept")
	})

	test(t, h, "AppendChangesRefusesARepeatedIDAndTheUnitOfWorkKeepsNothing", func(t *testing.T, e *env) {
		rec, actor := customerRef(e), e.ids.NewID()
		kept := historyEntry(e, rec, actor, e.tick())
		keptEvent := newEvent(e, "customer.updated")
		require.NoError(t, e.inChanges(e.ctx, func(ctx context.Context, ca crm.ChangesAppender) error {
			return ca.AppendChanges(ctx, []*crm.Event{keptEvent}, []*crm.HistoryEntry{kept})
		}))
		before := e.historyOf(t, e.ctx, rec)
		require.Len(t, before, 1)
		cases := []struct {
			name string
			edit func(events []*crm.Event, entries []*crm.HistoryEntry)
		}{
			{"AStoredEntrysID", func(_ []*crm.Event, entries []*crm.HistoryEntry) { entries[1].ID = kept.ID }},
			{"AnEntryIDEarlierInTheCall", func(_ []*crm.Event, entries []*crm.HistoryEntry) { entries[1].ID = entries[0].ID }},
			{"AStoredEventsID", func(events []*crm.Event, _ []*crm.HistoryEntry) { events[1].ID = keptEvent.ID }},
			{"AnEventIDEarlierInTheCall", func(events []*crm.Event, _ []*crm.HistoryEntry) { events[1].ID = events[0].ID }},
		}
		for _, c := range cases {
			events := []*crm.Event{newEvent(e, "customer.updated"), newEvent(e, "customer.updated")}
			entries := []*crm.HistoryEntry{historyEntry(e, rec, actor, e.tick()), historyEntry(e, rec, actor, e.now())}
			fresh := []crm.ID{events[0].ID, events[1].ID}
			c.edit(events, entries)
			err := e.inChanges(e.ctx, func(ctx context.Context, ca crm.ChangesAppender) error {
				return ca.AppendChanges(ctx, events, entries)
			})
			t.Run(c.name, func(t *testing.T) { require.ErrorIs(t, err, crm.ErrAlreadyExists) })
			requireEntries(t, []crm.HistoryEntry{*before[0]}, e.historyOf(t, e.ctx, rec), "%s: no entry kept", c.name)
			require.Empty(t, pendingOf(t, e, fresh...), "%s: no event kept", c.name)
			require.Len(t, pendingOf(t, e, keptEvent.ID), 1, "%s: the stored event is still pending", c.name)
		}
	})

	test(t, h, "AppendChangesRefusesBadInputWithAValidationError", func(t *testing.T, e *env) {
		rec := customerRef(e)
		good := historyEntry(e, rec, crm.NilID, e.tick())
		badEntry := historyEntry(e, rec, crm.NilID, e.now())
		badEntry.Field = ""
		badEvent := newEvent(e, "")
		for _, c := range []struct {
			name    string
			events  []*crm.Event
			entries []*crm.HistoryEntry
		}{
			{"ANilEvent", []*crm.Event{newEvent(e, "customer.updated"), nil}, []*crm.HistoryEntry{good}},
			{"ANilEntry", []*crm.Event{newEvent(e, "customer.updated")}, []*crm.HistoryEntry{good, nil}},
			{"AnInvalidEntry", []*crm.Event{newEvent(e, "customer.updated")}, []*crm.HistoryEntry{good, badEntry}},
			{"AnInvalidEvent", []*crm.Event{badEvent}, []*crm.HistoryEntry{good}},
		} {
			err := e.inChanges(e.ctx, func(ctx context.Context, ca crm.ChangesAppender) error {
				return ca.AppendChanges(ctx, c.events, c.entries)
			})
			t.Run(c.name, func(t *testing.T) {
				require.ErrorIs(t, err, crm.ErrInvalidArgument)
				var ve *crm.ValidationError
				require.True(t, errors.As(err, &ve), "errors.As finds no *crm.ValidationError in %v", err)
			})
			require.Empty(t, e.historyOf(t, e.ctx, rec), "%s: nothing kept", c.name)
		}
	})
}

// inBulkKeys runs fn in one unit of work with the key store's
// [dedupe.BulkKeyStore].
func (e *env) inBulkKeys(ctx context.Context, fn func(ctx context.Context, ks dedupe.KeyStore, bk dedupe.BulkKeyStore) error) error {
	return e.inDedupeTx(ctx, func(ctx context.Context, ks dedupe.KeyStore) error {
		bk, ok := ks.(dedupe.BulkKeyStore)
		if !ok {
			return fmt.Errorf("storetest: key store %T lost dedupe.BulkKeyStore", ks)
		}
		return fn(ctx, ks, bk)
	})
}

func (e *env) putNew(ctx context.Context, keys ...*dedupe.RecordKeys) error {
	return e.inBulkKeys(ctx, func(ctx context.Context, _ dedupe.KeyStore, bk dedupe.BulkKeyStore) error {
		return bk.PutNew(ctx, keys)
	})
}

func (e *env) lookupEach(t *testing.T, ctx context.Context, perKey int, keys ...dedupe.Key) map[dedupe.Key][]crm.ID {
	t.Helper()
	var out map[dedupe.Key][]crm.ID
	require.NoError(t, e.inBulkKeys(ctx, func(ctx context.Context, _ dedupe.KeyStore, bk dedupe.BulkKeyStore) (err error) {
		out, err = bk.LookupEach(ctx, keys, perKey)
		return err
	}))
	for k := range out {
		slices.SortFunc(out[k], compareIDs) // in no particular order
	}
	return out
}

func (e *env) holders(t *testing.T, ctx context.Context, strong ...string) map[string]crm.ID {
	t.Helper()
	var out map[string]crm.ID
	require.NoError(t, e.inBulkKeys(ctx, func(ctx context.Context, _ dedupe.KeyStore, bk dedupe.BulkKeyStore) (err error) {
		out, err = bk.Holders(ctx, strong)
		return err
	}))
	return out
}

// requireKeyTaken checks that err is a [*dedupe.KeyTakenError] of key held
// by holder.
func requireKeyTaken(t *testing.T, err error, key string, holder crm.ID) {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrAlreadyExists)
	var taken *dedupe.KeyTakenError
	require.True(t, errors.As(err, &taken), "errors.As finds no *dedupe.KeyTakenError in %v", err)
	require.Equal(t, key, taken.Key)
	require.Equal(t, holder, taken.HolderID, "the error names the holder")
}

func runBulkKeys(t *testing.T, h Harness) {
	test(t, h, "PutNewStoresKeysThatEveryLookupFinds", func(t *testing.T, e *env) {
		a, b, c := e.ids.NewID(), e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putNew(e.ctx,
			&dedupe.RecordKeys{RecordID: a, Strong: "company:华腾科技@北京", Keys: []dedupe.Key{companyKey("华腾科技"), phoneKey("+8613800138000"), phoneKey("+8613800138000")}},
			&dedupe.RecordKeys{RecordID: b, Keys: []dedupe.Key{companyKey("华腾科技")}},
			&dedupe.RecordKeys{RecordID: c, Strong: "person:李伟|+8613900139000"},
		))
		got, err := e.getKeys(e.ctx, a)
		require.NoError(t, err)
		require.Equal(t, &dedupe.RecordKeys{RecordID: a, Strong: "company:华腾科技@北京", Keys: []dedupe.Key{
			companyKey("华腾科技"), phoneKey("+8613800138000"),
		}}, got, "a repeated key is stored once")
		require.Equal(t, []crm.ID{a, b}, e.lookup(e.ctx, 10, companyKey("华腾科技"), phoneKey("+8613800138000")))
		require.Equal(t, map[dedupe.Key][]crm.ID{
			companyKey("华腾科技"):         {a, b},
			phoneKey("+8613800138000"): {a},
		}, e.lookupEach(t, e.ctx, 10, companyKey("华腾科技"), phoneKey("+8613800138000"), phoneKey("+1"), companyKey("+8613800138000")),
			"keys no record holds are left out; kinds never match each other")
		require.Equal(t, map[string]crm.ID{"company:华腾科技@北京": a, "person:李伟|+8613900139000": c},
			e.holders(t, e.ctx, "company:华腾科技@北京", "nobody", "person:李伟|+8613900139000"))
		require.Empty(t, e.lookupEach(t, e.ctx, 10))
		require.Empty(t, e.holders(t, e.ctx))
		require.NoError(t, e.putNew(e.ctx), "an empty call")
	})

	test(t, h, "LookupEachReadsAtMostPerKeyOfTheNewestRecordsOfEachKey", func(t *testing.T, e *env) {
		var hot []*dedupe.RecordKeys
		for range 6 {
			hot = append(hot, &dedupe.RecordKeys{RecordID: e.ids.NewID(), Keys: []dedupe.Key{phoneKey("hot")}})
		}
		rare := e.ids.NewID()
		hot = append(hot, &dedupe.RecordKeys{RecordID: rare, Keys: []dedupe.Key{companyKey("rare"), phoneKey("hot")}})
		require.NoError(t, e.putNew(e.ctx, hot...))
		for _, perKey := range []int{1, 3, 7, 100} {
			got := e.lookupEach(t, e.ctx, perKey, phoneKey("hot"), companyKey("rare"))
			require.Equal(t, e.lookup(e.ctx, perKey, phoneKey("hot")), got[phoneKey("hot")], "per key %d: as Lookup chooses them", perKey)
			require.Len(t, got[phoneKey("hot")], min(perKey, 7))
			require.Equal(t, []crm.ID{rare}, got[companyKey("rare")])
		}
		for _, c := range []struct {
			name   string
			keys   []dedupe.Key
			perKey int
			field  string
		}{
			{"PerKeyZero", []dedupe.Key{phoneKey("hot")}, 0, "per_key"},
			{"PerKeyPastTheMaximum", []dedupe.Key{phoneKey("hot")}, dedupe.MaxPerKey + 1, "per_key"},
			{"TheStrongKind", []dedupe.Key{phoneKey("hot"), {Kind: dedupe.StrongKind, Value: "x"}}, 1, "keys[1].kind"},
			{"AnEmptyValue", []dedupe.Key{phoneKey("")}, 1, "keys[0].value"},
			{"TooManyKeys", make([]dedupe.Key, dedupe.MaxBulkKeys+1), 1, "keys"},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := e.inBulkKeys(e.ctx, func(ctx context.Context, _ dedupe.KeyStore, bk dedupe.BulkKeyStore) error {
					_, err := bk.LookupEach(ctx, c.keys, c.perKey)
					return err
				})
				requireInvalid(t, err, c.field)
			})
		}
		err := e.inBulkKeys(e.ctx, func(ctx context.Context, _ dedupe.KeyStore, bk dedupe.BulkKeyStore) error {
			_, err := bk.Holders(ctx, make([]string, dedupe.MaxBulkKeys+1))
			return err
		})
		requireInvalid(t, err, "strong")
	})

	test(t, h, "LookupEachAnswersAKeyAskedForTwiceOnce", func(t *testing.T, e *env) {
		var ids []crm.ID
		for range 3 {
			id := e.ids.NewID()
			ids = append(ids, id)
			require.NoError(t, e.putNew(e.ctx, &dedupe.RecordKeys{RecordID: id, Keys: []dedupe.Key{phoneKey("hot")}}))
		}
		got := e.lookupEach(t, e.ctx, 2, phoneKey("hot"), companyKey("x"), phoneKey("hot"))
		require.Equal(t, map[dedupe.Key][]crm.ID{phoneKey("hot"): ids[1:]}, got, "at most per key, each record once")
	})

	test(t, h, "PutNewRefusesAStrongKeyAnotherRecordHoldsAndTheUnitOfWorkKeepsNothing", func(t *testing.T, e *env) {
		holder := e.ids.NewID()
		require.NoError(t, e.putNew(e.ctx, &dedupe.RecordKeys{RecordID: holder, Strong: "s1", Keys: []dedupe.Key{phoneKey("1")}}))
		fresh, late := e.ids.NewID(), e.ids.NewID()
		for _, c := range []struct {
			name   string
			keys   []*dedupe.RecordKeys
			key    string
			holder crm.ID
		}{
			{"AStoredStrongKey", []*dedupe.RecordKeys{
				{RecordID: fresh, Strong: "s2", Keys: []dedupe.Key{phoneKey("2")}},
				{RecordID: late, Strong: "s1", Keys: []dedupe.Key{phoneKey("3")}},
			}, "s1", holder},
			{"TheSameStrongKeyTwiceInTheCall", []*dedupe.RecordKeys{
				{RecordID: fresh, Strong: "s2", Keys: []dedupe.Key{phoneKey("2")}},
				{RecordID: late, Strong: "s2", Keys: []dedupe.Key{phoneKey("3")}},
			}, "s2", fresh},
		} {
			err := e.putNew(e.ctx, c.keys...)
			t.Run(c.name, func(t *testing.T) { requireKeyTaken(t, err, c.key, c.holder) })
			require.Empty(t, e.lookupEach(t, e.ctx, 10, phoneKey("2"), phoneKey("3")), "%s: no blocking key kept", c.name)
			require.Equal(t, map[string]crm.ID{"s1": holder}, e.holders(t, e.ctx, "s1", "s2"), "%s: no strong key kept", c.name)
			for _, id := range []crm.ID{fresh, late} {
				_, err := e.getKeys(e.ctx, id)
				require.ErrorIs(t, err, crm.ErrNotFound, "%s: no keys of %s kept", c.name, id)
			}
		}
		// The holder may take the rest afterwards.
		require.NoError(t, e.putNew(e.ctx, &dedupe.RecordKeys{RecordID: fresh, Strong: "s2", Keys: []dedupe.Key{phoneKey("2")}}))
	})

	test(t, h, "PutNewRefusesBadInputWithAValidationErrorBeforeWriting", func(t *testing.T, e *env) {
		first := e.ids.NewID()
		good := &dedupe.RecordKeys{RecordID: first, Strong: "s", Keys: []dedupe.Key{phoneKey("1")}}
		for _, c := range []struct {
			name  string
			keys  []*dedupe.RecordKeys
			field string
		}{
			{"ANilKeySet", []*dedupe.RecordKeys{good, nil}, "keys[1]"},
			{"NoRecordID", []*dedupe.RecordKeys{good, {Keys: []dedupe.Key{phoneKey("2")}}}, "keys[1].record_id"},
			{"TheStrongKind", []*dedupe.RecordKeys{good, {RecordID: e.ids.NewID(), Keys: []dedupe.Key{{Kind: dedupe.StrongKind, Value: "2"}}}}, "keys[1].keys[0].kind"},
			{"MoreThanMaxBulk", make([]*dedupe.RecordKeys, crm.MaxBulk+1), "keys"},
		} {
			err := e.putNew(e.ctx, c.keys...)
			t.Run(c.name, func(t *testing.T) { requireInvalid(t, err, c.field) })
			require.Empty(t, e.lookupEach(t, e.ctx, 10, phoneKey("1"), phoneKey("2")), "%s: nothing kept", c.name)
		}
	})

	test(t, h, "TenantsSeeOnlyTheirOwnKeys", func(t *testing.T, e *env) {
		a, b := e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putNew(e.ctxA, &dedupe.RecordKeys{RecordID: a, Strong: "s", Keys: []dedupe.Key{phoneKey("1")}}))
		require.Empty(t, e.lookupEach(t, e.ctxB, 10, phoneKey("1")))
		require.Empty(t, e.holders(t, e.ctxB, "s"))
		require.NoError(t, e.putNew(e.ctxB, &dedupe.RecordKeys{RecordID: b, Strong: "s", Keys: []dedupe.Key{phoneKey("1")}}),
			"a strong key is unique per tenant only")
		require.Equal(t, map[dedupe.Key][]crm.ID{phoneKey("1"): {a}}, e.lookupEach(t, e.ctxA, 10, phoneKey("1")))
		require.Equal(t, map[dedupe.Key][]crm.ID{phoneKey("1"): {b}}, e.lookupEach(t, e.ctxB, 10, phoneKey("1")))
		require.Equal(t, map[string]crm.ID{"s": a}, e.holders(t, e.ctxA, "s"))
		require.Equal(t, map[string]crm.ID{"s": b}, e.holders(t, e.ctxB, "s"))
	})

	test(t, h, "OfConcurrentPutNewsOfOneStrongKeyExactlyOneCommits", func(t *testing.T, e *env) {
		const workers, rounds = 8, 3
		strongs := []string{"s1", "s2", "s3"}
		for round := range rounds {
			// Each worker puts the same strong keys for records of its own.
			recs := make([][]*dedupe.RecordKeys, workers)
			for w := range recs {
				for i, s := range strongs {
					recs[w] = append(recs[w], &dedupe.RecordKeys{RecordID: e.ids.NewID(), Strong: fmt.Sprintf("%s/%d", s, round),
						Keys: []dedupe.Key{phoneKey(fmt.Sprintf("%d/%d", round, i))}})
				}
			}
			errs := make([]error, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[w] = e.putNew(e.ctx, recs[w]...)
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for w, err := range errs {
				if err == nil {
					require.Equal(t, -1, winner, "round %d: workers %d and %d both committed", round, winner, w)
					winner = w
				}
			}
			require.NotEqual(t, -1, winner, "round %d: no worker committed: %v", round, errs)
			for w, err := range errs {
				if w == winner {
					continue
				}
				var taken *dedupe.KeyTakenError
				require.True(t, errors.As(err, &taken), "round %d, worker %d: errors.As finds no *dedupe.KeyTakenError in %v", round, w, err)
				i := slices.IndexFunc(recs[w], func(rk *dedupe.RecordKeys) bool { return rk.Strong == taken.Key })
				require.GreaterOrEqual(t, i, 0, "round %d, worker %d: the error names key %q, not one of its own", round, w, taken.Key)
				require.Equal(t, recs[winner][i].RecordID, taken.HolderID, "round %d, worker %d: the error names the winner's record", round, w)
			}
			var keys []string
			want := map[string]crm.ID{}
			for _, rk := range recs[winner] {
				keys = append(keys, rk.Strong)
				want[rk.Strong] = rk.RecordID
			}
			require.Equal(t, want, e.holders(t, e.ctx, keys...), "round %d", round)
			got := e.lookupEach(t, e.ctx, dedupe.MaxPerKey, phoneKey(fmt.Sprintf("%d/0", round)))
			require.Equal(t, []crm.ID{recs[winner][0].RecordID}, got[phoneKey(fmt.Sprintf("%d/0", round))], "round %d: only the winner's keys", round)
		}
	})
}

// inBulkExternalIDs runs fn in one unit of work with the external-ID
// port's [importer.BulkExternalIDs].
func (e *env) inBulkExternalIDs(ctx context.Context, fn func(ctx context.Context, x importer.ExternalIDs, b importer.BulkExternalIDs) error) error {
	return e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		it, ok := crm.As[importer.Tx](tx)
		if !ok {
			return errors.New("storetest: the unit of work lost importer.Tx")
		}
		b, ok := it.ExternalIDs().(importer.BulkExternalIDs)
		if !ok {
			return fmt.Errorf("storetest: external-ID port %T lost importer.BulkExternalIDs", it.ExternalIDs())
		}
		return fn(ctx, it.ExternalIDs(), b)
	})
}

func (e *env) putMany(ctx context.Context, source string, ids []string, ms []importer.Mapping) error {
	return e.inBulkExternalIDs(ctx, func(ctx context.Context, _ importer.ExternalIDs, b importer.BulkExternalIDs) error {
		return b.PutMany(ctx, source, ids, ms)
	})
}

func (e *env) lookupExternal(t *testing.T, ctx context.Context, source string, ids ...string) map[string]importer.Mapping {
	t.Helper()
	var out map[string]importer.Mapping
	require.NoError(t, e.inBulkExternalIDs(ctx, func(ctx context.Context, x importer.ExternalIDs, _ importer.BulkExternalIDs) (err error) {
		out, err = x.Lookup(ctx, source, ids)
		return err
	}))
	return out
}

func runBulkExternalIDs(t *testing.T, h Harness) {
	test(t, h, "PutManyRecordsMappingsAndReplacesTheDigestOfTheSameCustomer", func(t *testing.T, e *env) {
		a, b := e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putMany(e.ctxA, "erp", []string{"C-1", "C-2", "C-3"},
			[]importer.Mapping{{CustomerID: a, Digest: "d1"}, {CustomerID: b}, {CustomerID: a, Digest: "d3"}}))
		want := map[string]importer.Mapping{"C-1": {CustomerID: a, Digest: "d1"}, "C-2": {CustomerID: b}, "C-3": {CustomerID: a, Digest: "d3"}}
		require.Equal(t, want, e.lookupExternal(t, e.ctxA, "erp", "C-1", "C-2", "C-3", "C-4"))
		require.Empty(t, e.lookupExternal(t, e.ctxA, "crm", "C-1"), "sources are apart")

		// The same customers again: digests replaced; a new ID added.
		require.NoError(t, e.putMany(e.ctxA, "erp", []string{"C-2", "C-1", "C-4"},
			[]importer.Mapping{{CustomerID: b, Digest: "new"}, {CustomerID: a, Digest: ""}, {CustomerID: b, Digest: "d4"}}))
		want["C-1"], want["C-2"], want["C-4"] = importer.Mapping{CustomerID: a}, importer.Mapping{CustomerID: b, Digest: "new"}, importer.Mapping{CustomerID: b, Digest: "d4"}
		require.Equal(t, want, e.lookupExternal(t, e.ctxA, "erp", "C-1", "C-2", "C-3", "C-4"))
		require.NoError(t, e.putMany(e.ctxA, "erp", nil, nil), "an empty call")
	})

	// refusal stores two mappings, then makes a call that would add two,
	// replace a digest and take another customer's ID.
	refusal := func(e *env) (want map[string]importer.Mapping, ids []string, ms []importer.Mapping, check func(t *testing.T, err error)) {
		a, b := e.ids.NewID(), e.ids.NewID()
		require.NoError(e.t, e.putMany(e.ctx, "erp", []string{"C-1", "C-2"}, []importer.Mapping{{CustomerID: a, Digest: "d1"}, {CustomerID: b, Digest: "d2"}}))
		want = map[string]importer.Mapping{"C-1": {CustomerID: a, Digest: "d1"}, "C-2": {CustomerID: b, Digest: "d2"}}
		ids = []string{"C-1", "N-1", "C-2", "N-2"}
		ms = []importer.Mapping{{CustomerID: a, Digest: "changed"}, {CustomerID: a}, {CustomerID: a, Digest: "x"}, {CustomerID: b}}
		check = func(t *testing.T, err error) {
			t.Helper()
			require.ErrorIs(t, err, crm.ErrAlreadyExists)
			var taken *importer.ExternalIDTakenError
			require.True(t, errors.As(err, &taken), "errors.As finds no *importer.ExternalIDTakenError in %v", err)
			require.Equal(t, importer.ExternalIDTakenError{Source: "erp", ExternalID: "C-2", CustomerID: b}, *taken, "the error names the holder")
		}
		return want, ids, ms, check
	}

	test(t, h, "PutManyRefusesAnIDOfAnotherCustomerAndTheUnitOfWorkKeepsNothing", func(t *testing.T, e *env) {
		want, ids, ms, check := refusal(e)
		check(t, e.putMany(e.ctx, "erp", ids, ms))
		require.Equal(t, want, e.lookupExternal(t, e.ctx, "erp", ids...), "the unit of work rolled back keeps nothing")
	})

	// BulkExternalIDs promises that a refused call keeps nothing, and Put
	// that a refusal leaves the unit of work usable: a caller that goes
	// on and commits keeps nothing of the refused call.
	test(t, h, "PutManyRefusedKeepsNothingOfTheCallWhenTheUnitOfWorkGoesOnAndCommits", func(t *testing.T, e *env) {
		want, ids, ms, check := refusal(e)
		err := e.inBulkExternalIDs(e.ctx, func(ctx context.Context, _ importer.ExternalIDs, b importer.BulkExternalIDs) error {
			check(t, b.PutMany(ctx, "erp", ids, ms))
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, want, e.lookupExternal(t, e.ctx, "erp", ids...), "a refused PutMany keeps nothing of the call")
	})

	test(t, h, "PutManyRefusesBadInputWithAValidationError", func(t *testing.T, e *env) {
		a := e.ids.NewID()
		long := make([]string, importer.MaxLookup+1)
		for i := range long {
			long[i] = fmt.Sprintf("L-%d", i)
		}
		for _, c := range []struct {
			name  string
			ids   []string
			ms    []importer.Mapping
			field string
		}{
			{"ARepeatedID", []string{"C-1", "C-1"}, []importer.Mapping{{CustomerID: a}, {CustomerID: a}}, "ids[1]"},
			{"NoCustomer", []string{"C-1", "C-2"}, []importer.Mapping{{CustomerID: a}, {}}, "ids[1].customer_id"},
			{"AnEmptyID", []string{"C-1", ""}, []importer.Mapping{{CustomerID: a}, {CustomerID: a}}, "ids[1].external_id"},
			{"MoreMappingsThanIDs", []string{"C-1"}, []importer.Mapping{{CustomerID: a}, {CustomerID: a}}, "mappings"},
			{"MoreThanMaxLookup", long, make([]importer.Mapping, len(long)), "ids"},
		} {
			err := e.putMany(e.ctx, "erp", c.ids, c.ms)
			t.Run(c.name, func(t *testing.T) { requireInvalid(t, err, c.field) })
			require.Empty(t, e.lookupExternal(t, e.ctx, "erp", "C-1", "C-2", "L-0"), "%s: nothing kept", c.name)
		}
		requireInvalid(t, e.putMany(e.ctx, "", []string{"C-1"}, []importer.Mapping{{CustomerID: a}}), "ids[0].source")
	})

	test(t, h, "TenantsSeeOnlyTheirOwnMappings", func(t *testing.T, e *env) {
		a, b := e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putMany(e.ctxA, "erp", []string{"C-1"}, []importer.Mapping{{CustomerID: a, Digest: "a"}}))
		require.Empty(t, e.lookupExternal(t, e.ctxB, "erp", "C-1"))
		require.NoError(t, e.putMany(e.ctxB, "erp", []string{"C-1"}, []importer.Mapping{{CustomerID: b, Digest: "b"}}),
			"an external ID names one customer per tenant")
		require.Equal(t, map[string]importer.Mapping{"C-1": {CustomerID: a, Digest: "a"}}, e.lookupExternal(t, e.ctxA, "erp", "C-1"))
		require.Equal(t, map[string]importer.Mapping{"C-1": {CustomerID: b, Digest: "b"}}, e.lookupExternal(t, e.ctxB, "erp", "C-1"))
	})
}
