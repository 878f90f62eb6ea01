package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
)

// RunDedupe checks an adapter's implementation of the dedupe package's
// storage port ([dedupe.Tx]): putting, replacing, reading and deleting a
// record's normalised keys, lookups bounded per key, tenant isolation, the
// uniqueness of strong keys (a clash is [crm.ErrAlreadyExists] naming the
// holder), units of work that fail leaving nothing, and, through
// [dedupe.Service], that of 16 simultaneous entries of one customer exactly
// one is stored, that a duplicate is blocked without a write, and that a
// merge and its undo round-trip through storage. Run calls it; an adapter
// without the dedupe port fails it.
func RunDedupe(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	t.Run("Keys", func(t *testing.T) { runDedupeKeys(t, h) })
	t.Run("Service", func(t *testing.T) { runDedupeService(t, h) })
	t.Run("Contacts", func(t *testing.T) { runDedupeContacts(t, h) })
}

// inDedupeTx runs fn in one unit of work with the dedupe port.
func (e *env) inDedupeTx(ctx context.Context, fn func(ctx context.Context, ks dedupe.KeyStore) error) error {
	return e.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx, err := dedupe.TxOf(t)
		if err != nil {
			return err
		}
		return fn(ctx, tx.DedupeKeys())
	})
}

func (e *env) putKeys(ctx context.Context, keys *dedupe.RecordKeys) error {
	return e.inDedupeTx(ctx, func(ctx context.Context, ks dedupe.KeyStore) error { return ks.Put(ctx, keys) })
}

func (e *env) getKeys(ctx context.Context, id crm.ID) (*dedupe.RecordKeys, error) {
	var out *dedupe.RecordKeys
	err := e.inDedupeTx(ctx, func(ctx context.Context, ks dedupe.KeyStore) (err error) {
		out, err = ks.Get(ctx, id)
		return err
	})
	return out, err
}

func (e *env) lookup(ctx context.Context, perKey int, keys ...dedupe.Key) []crm.ID {
	e.t.Helper()
	var out []crm.ID
	require.NoError(e.t, e.inDedupeTx(ctx, func(ctx context.Context, ks dedupe.KeyStore) (err error) {
		out, err = ks.Lookup(ctx, keys, perKey)
		return err
	}))
	return out
}

func phoneKey(v string) dedupe.Key   { return dedupe.Key{Kind: "phone", Value: v} }
func companyKey(v string) dedupe.Key { return dedupe.Key{Kind: "company", Value: v} }

func runDedupeKeys(t *testing.T, h Harness) {
	test(t, h, "PutThenGetReturnsTheKeysSortedWithoutRepeats", func(t *testing.T, e *env) {
		id := e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: id, Strong: "company:华腾科技@北京", Keys: []dedupe.Key{
			phoneKey("+8613800138000"), companyKey("华腾科技"), phoneKey("+8613800138000"),
		}}))
		got, err := e.getKeys(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, &dedupe.RecordKeys{RecordID: id, Strong: "company:华腾科技@北京", Keys: []dedupe.Key{
			companyKey("华腾科技"), phoneKey("+8613800138000"),
		}}, got)
		require.Equal(t, []crm.ID{id}, e.lookup(e.ctx, 10, companyKey("华腾科技")))
		_, err = e.getKeys(e.ctx, e.ids.NewID())
		require.ErrorIs(t, err, crm.ErrNotFound)
	})

	test(t, h, "PutReplacesEveryKeyOfTheRecord", func(t *testing.T, e *env) {
		id := e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: id, Strong: "s1", Keys: []dedupe.Key{phoneKey("1"), companyKey("a")}}))
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: id, Strong: "s2", Keys: []dedupe.Key{phoneKey("2")}}))
		require.Empty(t, e.lookup(e.ctx, 10, phoneKey("1"), companyKey("a")))
		require.Equal(t, []crm.ID{id}, e.lookup(e.ctx, 10, phoneKey("2")))
		var holder crm.ID
		require.NoError(t, e.inDedupeTx(e.ctx, func(ctx context.Context, ks dedupe.KeyStore) (err error) {
			if _, err := ks.Holder(ctx, "s1"); !errors.Is(err, crm.ErrNotFound) {
				return errors.New("old strong key still held")
			}
			holder, err = ks.Holder(ctx, "s2")
			return err
		}))
		require.Equal(t, id, holder)
		// A record may put its own strong key again.
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: id, Strong: "s2"}))
		got, err := e.getKeys(e.ctx, id)
		require.NoError(t, err)
		require.Empty(t, got.Keys)
	})

	test(t, h, "DeleteRemovesEveryKeyAndAcceptsARecordWithout", func(t *testing.T, e *env) {
		id := e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: id, Strong: "s", Keys: []dedupe.Key{phoneKey("1")}}))
		for range 2 {
			require.NoError(t, e.inDedupeTx(e.ctx, func(ctx context.Context, ks dedupe.KeyStore) error { return ks.Delete(ctx, id) }))
		}
		require.Empty(t, e.lookup(e.ctx, 10, phoneKey("1")))
		_, err := e.getKeys(e.ctx, id)
		require.ErrorIs(t, err, crm.ErrNotFound)
		// The strong key is free again.
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: e.ids.NewID(), Strong: "s"}))
	})

	test(t, h, "LookupReadsAtMostPerKeyOfTheNewestRecordsOfEachKey", func(t *testing.T, e *env) {
		var ids []crm.ID
		for range 6 {
			id := e.ids.NewID()
			ids = append(ids, id)
			require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: id, Keys: []dedupe.Key{phoneKey("hot")}}))
		}
		rare := e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: rare, Keys: []dedupe.Key{companyKey("rare"), phoneKey("other")}}))
		require.Equal(t, ids[3:], e.lookup(e.ctx, 3, phoneKey("hot")))
		// One result per record, in ID order, across keys.
		require.Equal(t, append(ids[4:], rare), e.lookup(e.ctx, 2, companyKey("rare"), phoneKey("hot"), phoneKey("other")))
		require.Empty(t, e.lookup(e.ctx, 3, companyKey("hot")), "kinds never match each other")
		require.Empty(t, e.lookup(e.ctx, 3))
	})

	test(t, h, "TenantsSeeOnlyTheirOwnKeys", func(t *testing.T, e *env) {
		a, b := e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctxA, &dedupe.RecordKeys{RecordID: a, Strong: "s", Keys: []dedupe.Key{phoneKey("1")}}))
		require.Empty(t, e.lookup(e.ctxB, 10, phoneKey("1")))
		_, err := e.getKeys(e.ctxB, a)
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.NoError(t, e.putKeys(e.ctxB, &dedupe.RecordKeys{RecordID: b, Strong: "s", Keys: []dedupe.Key{phoneKey("1")}}),
			"a strong key is unique per tenant only")
		require.Equal(t, []crm.ID{a}, e.lookup(e.ctxA, 10, phoneKey("1")))
		require.Equal(t, []crm.ID{b}, e.lookup(e.ctxB, 10, phoneKey("1")))
		require.NoError(t, e.inDedupeTx(e.ctxB, func(ctx context.Context, ks dedupe.KeyStore) error { return ks.Delete(ctx, a) }))
		require.Equal(t, []crm.ID{a}, e.lookup(e.ctxA, 10, phoneKey("1")), "a delete in another tenant changes nothing")
	})

	test(t, h, "AStrongKeyHeldByAnotherRecordIsErrAlreadyExistsNamingTheHolder", func(t *testing.T, e *env) {
		holder, other := e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: holder, Strong: "company:华腾科技@北京"}))
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: other, Keys: []dedupe.Key{phoneKey("1")}}))
		err := e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: other, Strong: "company:华腾科技@北京", Keys: []dedupe.Key{phoneKey("2")}})
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		var taken *dedupe.KeyTakenError
		require.ErrorAs(t, err, &taken)
		require.Equal(t, holder, taken.HolderID)
		got, err := e.getKeys(e.ctx, other)
		require.NoError(t, err)
		require.Equal(t, []dedupe.Key{phoneKey("1")}, got.Keys, "a refused put changes nothing")
		require.Empty(t, got.Strong)
	})

	test(t, h, "OfSixteenConcurrentPutsOfOneStrongKeyExactlyOneCommits", func(t *testing.T, e *env) {
		const n = 16
		ids := make([]crm.ID, n)
		for i := range ids {
			ids[i] = e.ids.NewID()
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.putKeys(e.ctxA, &dedupe.RecordKeys{RecordID: ids[i], Strong: "company:华腾科技@北京", Keys: []dedupe.Key{phoneKey("1")}})
			}()
		}
		wg.Wait()
		winner := crm.NilID
		for i, err := range errs {
			if err == nil {
				require.Equal(t, crm.NilID, winner, "two puts of one strong key committed")
				winner = ids[i]
				continue
			}
			var taken *dedupe.KeyTakenError
			require.ErrorAs(t, err, &taken)
			require.ErrorIs(t, err, crm.ErrAlreadyExists)
			defer func() { require.Equal(t, winner, taken.HolderID) }()
		}
		require.NotEqual(t, crm.NilID, winner)
		require.Equal(t, []crm.ID{winner}, e.lookup(e.ctxA, 100, phoneKey("1")), "the losers' blocking keys were not stored")
	})

	test(t, h, "BadInputIsRefusedNamingTheField", func(t *testing.T, e *env) {
		requireInvalid(t, e.putKeys(e.ctx, &dedupe.RecordKeys{}), "record_id")
		requireInvalid(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: e.ids.NewID(), Keys: []dedupe.Key{{Kind: dedupe.StrongKind, Value: "x"}}}), "keys[0].kind")
		requireInvalid(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: e.ids.NewID(), Keys: []dedupe.Key{{Kind: "phone", Value: "a\x00b"}}}), "keys[0].value")
		requireInvalid(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: e.ids.NewID(), Strong: string(make([]byte, dedupe.MaxKeyLength+1))}), "strong")
		err := e.inDedupeTx(e.ctx, func(ctx context.Context, ks dedupe.KeyStore) error {
			_, err := ks.Lookup(ctx, []dedupe.Key{phoneKey("1")}, 0)
			return err
		})
		requireInvalid(t, err, "per_key")
	})

	test(t, h, "AUnitOfWorkThatFailsLeavesNoKeyChanged", func(t *testing.T, e *env) {
		kept, gone := e.ids.NewID(), e.ids.NewID()
		require.NoError(t, e.putKeys(e.ctx, &dedupe.RecordKeys{RecordID: kept, Strong: "s1", Keys: []dedupe.Key{phoneKey("1")}}))
		err := e.inDedupeTx(e.ctx, func(ctx context.Context, ks dedupe.KeyStore) error {
			if err := ks.Put(ctx, &dedupe.RecordKeys{RecordID: kept, Strong: "s2", Keys: []dedupe.Key{phoneKey("2")}}); err != nil {
				return err
			}
			if err := ks.Put(ctx, &dedupe.RecordKeys{RecordID: gone, Strong: "s1", Keys: []dedupe.Key{phoneKey("1")}}); err != nil {
				return err
			}
			if err := ks.Delete(ctx, gone); err != nil {
				return err
			}
			if err := ks.Put(ctx, &dedupe.RecordKeys{RecordID: gone, Strong: "s3"}); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		got, err := e.getKeys(e.ctx, kept)
		require.NoError(t, err)
		require.Equal(t, &dedupe.RecordKeys{RecordID: kept, Strong: "s1", Keys: []dedupe.Key{phoneKey("1")}}, got)
		_, err = e.getKeys(e.ctx, gone)
		require.ErrorIs(t, err, crm.ErrNotFound)
		require.Equal(t, []crm.ID{kept}, e.lookup(e.ctx, 10, phoneKey("1"), phoneKey("2")))
	})

	test(t, h, "ADoneContextIsRefused", func(t *testing.T, e *env) {
		err := e.inDedupeTx(e.ctx, func(ctx context.Context, ks dedupe.KeyStore) error {
			return ks.Put(cancelled(ctx), &dedupe.RecordKeys{RecordID: e.ids.NewID(), Strong: "s"})
		})
		require.ErrorIs(t, err, context.Canceled)
	})
}

// dedupeService returns a service over e's store with its clock and IDs.
func (e *env) dedupeService(t *testing.T) *dedupe.Service {
	t.Helper()
	mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	require.NoError(t, err)
	svc, err := dedupe.NewService(e.store, mt, &dedupe.ServiceConfig{Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	return svc
}

func (e *env) countCustomers(t *testing.T, ctx context.Context) int {
	t.Helper()
	p, err := e.store.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return len(p.Items)
}

func runDedupeService(t *testing.T, h Harness) {
	test(t, h, "OfSixteenConcurrentEntriesOfOneCustomerExactlyOneIsStored", func(t *testing.T, e *env) {
		svc := e.dedupeService(t)
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Written differently by each rep; the same strong key.
				name, phone := "北京华腾科技有限公司", "13800138000"
				if i%2 == 1 {
					name, phone = "华腾科技(北京)有限公司", "+86 138-0013-8000"
				}
				_, errs[i] = svc.Enter(e.ctxA, dedupe.EntryRequest{
					Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: name, Phone: phone},
					Policy:   dedupe.Policy{}, // never blocks on score: only the strong key stops duplicates
				})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.ErrorIs(t, err, crm.ErrAlreadyExists)
		}
		require.Equal(t, 1, ok)
		require.Equal(t, 1, e.countCustomers(t, e.ctxA))
	})

	test(t, h, "ABlockedEntryNamesTheExistingCustomerAndWritesNothing", func(t *testing.T, e *env) {
		svc := e.dedupeService(t)
		owner := e.ids.NewID()
		first, err := svc.Enter(e.ctx, dedupe.EntryRequest{
			Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Phone: "13800138000", OwnerID: owner},
		})
		require.NoError(t, err)
		policy := dedupe.Policy{BlockScore: 10, WarnScore: 4}
		// No region in the name: another strong key, so the score decides.
		dup := &crm.Customer{Kind: crm.CustomerCompany, Name: "华腾科技有限公司", Phone: "+86 138-0013-8000"}
		_, err = svc.Enter(e.ctx, dedupe.EntryRequest{Customer: dup, Policy: policy})
		require.ErrorIs(t, err, crm.ErrAlreadyExists)
		var blocked *dedupe.BlockedError
		require.ErrorAs(t, err, &blocked)
		require.Equal(t, first.Customer.ID.String(), blocked.Best.ID)
		require.Equal(t, owner, blocked.Best.OwnerID)
		require.Equal(t, "北京华腾科技有限公司", blocked.Existing.Name)
		require.False(t, blocked.StrongKey)
		require.Equal(t, crm.NilID, dup.ID, "a blocked entry leaves the caller's customer alone")
		require.Equal(t, 1, e.countCustomers(t, e.ctx))

		cands, err := svc.Check(e.ctx, dup)
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, dedupe.Match, cands[0].Class)

		other, err := svc.Enter(e.ctx, dedupe.EntryRequest{
			Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "Acme Widgets Ltd.", Phone: "+44 20 7946 0958"}, Policy: policy,
		})
		require.NoError(t, err)
		require.Equal(t, dedupe.Allow, other.Action)
		require.Empty(t, other.Candidates)
	})

	test(t, h, "AMergeAndItsUndoRoundTripThroughStorage", func(t *testing.T, e *env) {
		svc := e.dedupeService(t)
		ctx := e.ctxA
		enter := func(c *crm.Customer) *crm.Customer {
			res, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: c})
			require.NoError(t, err)
			return res.Customer
		}
		survivor := enter(&crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Phone: "13800138000", Level: "A"})
		loser := enter(&crm.Customer{Kind: crm.CustomerCompany, Name: "华腾科技有限公司", Phone: "+86 138-0013-8000",
			Email: "info@huateng.example", Industry: "software"})
		contact := crmtest.Contact(e.ids, loser.ID)
		opp := crmtest.Opportunity(e.ids, loser.ID)
		act := crmtest.Activity(e.ids, crm.Ref{Type: crm.TypeCustomer, ID: loser.ID}, e.ids.NewID())
		require.NoError(t, e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			return errors.Join(tx.Contacts().Create(ctx, contact), tx.Opportunities().Create(ctx, opp), tx.Activities().Create(ctx, act))
		}))
		keysBefore := map[crm.ID]*dedupe.RecordKeys{}
		for _, id := range []crm.ID{survivor.ID, loser.ID} {
			k, err := e.getKeys(ctx, id)
			require.NoError(t, err)
			keysBefore[id] = k
		}

		m, err := svc.Merge(ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}})
		require.NoError(t, err)
		gotSurvivor, err := e.store.Customers().Get(ctx, survivor.ID)
		require.NoError(t, err)
		require.Equal(t, "北京华腾科技有限公司", gotSurvivor.Name)
		require.Equal(t, "info@huateng.example", gotSurvivor.Email, "the loser's e-mail survives")
		require.Equal(t, "software", gotSurvivor.Industry, "the survivor takes what it lacks")
		require.Equal(t, "A", gotSurvivor.Level)
		gotLoser, err := e.store.Customers().Get(ctx, loser.ID)
		require.NoError(t, err)
		mark, _ := gotLoser.Fields[dedupe.MergedIntoField].Str()
		require.Equal(t, survivor.ID.String(), mark)
		_, err = e.getKeys(ctx, loser.ID)
		require.ErrorIs(t, err, crm.ErrNotFound, "a merged customer has no keys")
		gotContact, err := e.store.Contacts().Get(ctx, contact.ID)
		require.NoError(t, err)
		require.Equal(t, survivor.ID, gotContact.CustomerID)
		gotOpp, err := e.store.Opportunities().Get(ctx, opp.ID)
		require.NoError(t, err)
		require.Equal(t, survivor.ID, gotOpp.CustomerID)
		gotAct, err := e.store.Activities().Get(ctx, act.ID)
		require.NoError(t, err)
		require.Equal(t, survivor.ID, gotAct.Subject.ID)
		require.Len(t, m.Repointed, 3)
		cands, err := svc.Check(ctx, &crm.Customer{Kind: crm.CustomerCompany, Name: "华腾科技(北京)有限公司", Phone: "13800138000"})
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, survivor.ID.String(), cands[0].ID)
		_, err = svc.Merge(ctx, dedupe.MergeRequest{SurvivorID: survivor.ID, LoserIDs: []crm.ID{loser.ID}})
		require.ErrorIs(t, err, crm.ErrFailedPrecondition, "a merged customer cannot merge again")

		require.NoError(t, svc.Undo(ctx, m, crm.NilID))
		for _, want := range []*crm.Customer{survivor, loser} {
			got, err := e.store.Customers().Get(ctx, want.ID)
			require.NoError(t, err)
			w := want.Clone()
			w.Version, w.UpdatedAt = got.Version, got.UpdatedAt
			requireSame(t, w, got)
			k, err := e.getKeys(ctx, want.ID)
			require.NoError(t, err)
			require.Equal(t, keysBefore[want.ID], k)
		}
		gotContact, err = e.store.Contacts().Get(ctx, contact.ID)
		require.NoError(t, err)
		require.Equal(t, loser.ID, gotContact.CustomerID)
		gotOpp, err = e.store.Opportunities().Get(ctx, opp.ID)
		require.NoError(t, err)
		require.Equal(t, loser.ID, gotOpp.CustomerID)
		gotAct, err = e.store.Activities().Get(ctx, act.ID)
		require.NoError(t, err)
		require.Equal(t, loser.ID, gotAct.Subject.ID)
		require.ErrorIs(t, svc.Undo(ctx, m, crm.NilID), crm.ErrConflict, "a merge is undone once")

		pending, err := e.store.Outbox().Pending(e.ctx, 100)
		require.NoError(t, err)
		var types []crm.EventType
		for _, ev := range pending {
			types = append(types, ev.Type)
		}
		require.Subset(t, types, []crm.EventType{dedupe.EventCustomerMerged, dedupe.EventCustomerMergeUndone})
	})

	test(t, h, "AMergeThatFailsLeavesEverythingAsItWas", func(t *testing.T, e *env) {
		svc := e.dedupeService(t)
		a, err := svc.Enter(e.ctx, dedupe.EntryRequest{Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "华腾科技有限公司", Phone: "13800138000"}})
		require.NoError(t, err)
		b, err := svc.Enter(e.ctx, dedupe.EntryRequest{Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司"}})
		require.NoError(t, err)
		contact := crmtest.Contact(e.ids, b.Customer.ID)
		require.NoError(t, e.store.Contacts().Create(e.ctx, contact))
		err = e.store.InTx(e.ctx, func(ctx context.Context, tx crm.Tx) error {
			if _, err := svc.MergeTx(ctx, tx, dedupe.MergeRequest{SurvivorID: a.Customer.ID, LoserIDs: []crm.ID{b.Customer.ID}}); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		for _, c := range []*crm.Customer{a.Customer, b.Customer} {
			got, err := e.store.Customers().Get(e.ctx, c.ID)
			require.NoError(t, err)
			requireSame(t, c, got)
		}
		gotContact, err := e.store.Contacts().Get(e.ctx, contact.ID)
		require.NoError(t, err)
		require.Equal(t, b.Customer.ID, gotContact.CustomerID)
		_, err = e.getKeys(e.ctx, b.Customer.ID)
		require.NoError(t, err)
		_, err = svc.Merge(e.ctx, dedupe.MergeRequest{SurvivorID: a.Customer.ID, LoserIDs: []crm.ID{e.ids.NewID()}})
		require.ErrorIs(t, err, crm.ErrNotFound)
		_, err = svc.Merge(e.ctx, dedupe.MergeRequest{SurvivorID: a.Customer.ID})
		requireInvalid(t, err, "loser_ids")
	})
}
