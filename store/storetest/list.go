package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// Sizes of the differential list check: modest, so the suite stays quick on
// a database adapter too.
const (
	listRecordsA  = 150 // records in tenant "a", the one listed
	listRecordsB  = 40  // records in tenant "b", which must never show up
	randomFilters = 60
)

func runKindList[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF]) {
	test(t, h, "ListMatchesTheFilterSemantics", func(t *testing.T, e *env) {
		testListDifferential(t, e, k)
	})
	test(t, h, "ListWalksEveryRecordOnceInIDOrder", func(t *testing.T, e *env) {
		w := newWorld(t, e, seedOf(k.name)+1)
		want := createRandom(t, e, w, k, "a", 23)
		createRandom(t, e, w, k, "b", 5)
		for _, limit := range []int{1, 2, 5, 22, 23, 24, 0, crm.MaxPageLimit} {
			got := listAll[T, F, PT](t, e.ctxA, k.repo(e.store), *new(F), limit)
			requireSameIDs(t, ids[T, PT](want), ids[T, PT](got), fmt.Sprintf("limit %d", limit))
		}
	})
	test(t, h, "ListDefaultsToFiftyRecordsPerPage", func(t *testing.T, e *env) {
		w := newWorld(t, e, seedOf(k.name)+2)
		want := createRandom(t, e, w, k, "a", crm.DefaultPageLimit+3)
		page, err := k.repo(e.store).List(e.ctxA, *new(F), crm.PageRequest{})
		require.NoError(t, err)
		require.Len(t, page.Items, crm.DefaultPageLimit)
		require.Equal(t, ids[T, PT](want[:crm.DefaultPageLimit]), ids[T, PT](page.Items))
		require.NotEmpty(t, page.NextCursor)
		page, err = k.repo(e.store).List(e.ctxA, *new(F), crm.PageRequest{Limit: 1000, Cursor: page.NextCursor})
		require.NoError(t, err)
		require.Equal(t, ids[T, PT](want[crm.DefaultPageLimit:]), ids[T, PT](page.Items))
		require.Empty(t, page.NextCursor)
	})
	test(t, h, "ListRefusesBadPageRequests", func(t *testing.T, e *env) {
		k.create(t, e.ctx, e.store, k.minimal(e, e.ctx))
		for _, c := range []struct {
			name  string
			page  crm.PageRequest
			field string
		}{
			{"NegativeLimit", crm.PageRequest{Limit: -1}, "page.limit"},
			{"LimitAboveMax", crm.PageRequest{Limit: crm.MaxPageLimit + 1}, "page.limit"},
			{"GarbageCursor", crm.PageRequest{Cursor: "not a cursor!"}, "page.cursor"},
			{"ShortCursor", crm.PageRequest{Cursor: "AAAA"}, "page.cursor"},
		} {
			_, err := k.repo(e.store).List(e.ctx, *new(F), c.page)
			requireInvalid(t, err, c.field)
		}
	})
	if len(k.badFilters) > 0 {
		test(t, h, "ListRefusesInvalidFilters", func(t *testing.T, e *env) {
			for _, c := range k.badFilters {
				_, err := k.repo(e.store).List(e.ctx, c.filter, crm.PageRequest{})
				requireInvalid(t, err, c.field)
			}
		})
	}
	test(t, h, "ListContinuesAfterARecordDeletedBetweenPages", func(t *testing.T, e *env) {
		w := newWorld(t, e, seedOf(k.name)+3)
		want := createRandom(t, e, w, k, "a", 9)
		repo := k.repo(e.store)
		page, err := repo.List(e.ctxA, *new(F), crm.PageRequest{Limit: 4})
		require.NoError(t, err)
		require.Equal(t, ids[T, PT](want[:4]), ids[T, PT](page.Items))
		last := k.meta(page.Items[3])
		if k.name == "department" {
			// Only a leaf may go; re-parent its children first.
			for _, child := range listAll[T, F, PT](t, e.ctxA, repo, *new(F), 0) {
				if d, ok := any(child).(*crm.Department); ok && d.ParentID == last.ID {
					d.ParentID = crm.NilID
					require.NoError(t, repo.Update(e.ctxA, child))
				}
			}
		}
		require.NoError(t, repo.Delete(e.ctxA, last.ID, last.Version))
		page, err = repo.List(e.ctxA, *new(F), crm.PageRequest{Limit: 100, Cursor: page.NextCursor})
		require.NoError(t, err)
		require.Equal(t, ids[T, PT](want[4:]), ids[T, PT](page.Items))
	})
}

func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// createRandom stores n random records in tenant in one unit of work and
// returns, in ID order, what the adapter must list for tenant (including
// records the world seeded).
func createRandom[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, e *env, w *world, k kind[T, F, PT, PF], tenant string, n int) []*T {
	t.Helper()
	ctx := crm.WithTenant(e.ctx, tenant)
	var seeded []*T
	if k.seeded != nil {
		for _, v := range k.seeded(w, tenant) {
			seeded = append(seeded, k.stored(v))
		}
	}
	var out []*T
	err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		made := make([]*T, 0, n)
		for range n {
			v := k.random(w, tenant)
			k.meta(v).ID = w.randomID()
			if err := k.repo(tx).Create(ctx, v); err != nil {
				return err
			}
			made = append(made, k.stored(v))
		}
		out = append(slices.Clip(seeded), made...) // a retried fn starts over
		return nil
	})
	require.NoError(t, err)
	slices.SortFunc(out, func(a, b *T) int { return compareIDs(PT(a).GetMeta().ID, PT(b).GetMeta().ID) })
	return out
}

// testListDifferential stores a few hundred random records in two tenants
// and checks, for fixed and random filters and page sizes, that walking
// every page of List returns exactly the records the filter's Match method
// selects, in ID order, with every field intact.
func testListDifferential[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, e *env, k kind[T, F, PT, PF]) {
	seed := seedOf(k.name)
	t.Logf("seed %d", seed)
	w := newWorld(t, e, seed)
	all := createRandom(t, e, w, k, "a", listRecordsA)
	createRandom(t, e, w, k, "b", listRecordsB)
	// A department is in its own subtree even when it is not (or not in
	// this tenant) a stored department: crm.InTree is "dept is root or
	// below it", and the adapters agree on that reading.
	tree := w.tree(t, "a")
	inTree := func(root, dept crm.ID) bool { return dept == root || tree.Contains(root, dept) }

	filters := k.fixedFilters(w)
	nFixed := len(filters)
	for range randomFilters {
		filters = append(filters, k.randomFilter(w))
	}
	limits := []int{3, 10, 0, 77, crm.MaxPageLimit}
	narrowed, selected := 0, 0
	for i, f := range filters {
		require.NoError(t, PF(&f).Validate(), "the suite built an invalid filter %d", i)
		var want []*T
		for _, v := range all {
			if PF(&f).Match(v, inTree) {
				want = append(want, v)
			}
		}
		limit := limits[i%len(limits)]
		got := listAll[T, F, PT](t, e.ctxA, k.repo(e.store), f, limit)
		desc := fmt.Sprintf("filter %d (limit %d): %s", i, limit, describe(f))
		if i < nFixed {
			desc = "fixed " + desc
		}
		requireSameIDs(t, ids[T, PT](want), ids[T, PT](got), desc)
		for j := range want {
			requireSame(t, want[j], got[j], desc)
		}
		if len(want) > 0 && len(want) < len(all) {
			narrowed++
		}
		if len(want) > 0 {
			selected++
		}
	}
	// Guard against a generator that only ever selects everything or nothing.
	require.GreaterOrEqual(t, narrowed, len(filters)/4, "too few filters select a proper subset")
	require.GreaterOrEqual(t, selected, len(filters)/4, "too few filters select anything")
}

// requireSameIDs compares two ID lists and reports the missing and extra IDs
// rather than two long dumps.
func requireSameIDs(t *testing.T, want, got []crm.ID, desc string) {
	t.Helper()
	if slices.Equal(want, got) {
		return
	}
	var missing, extra []string
	for _, id := range want {
		if !slices.Contains(got, id) {
			missing = append(missing, id.String())
		}
	}
	for _, id := range got {
		if !slices.Contains(want, id) {
			extra = append(extra, id.String())
		}
	}
	require.Failf(t, "list returned the wrong records",
		"%s\nwant %d records, got %d\nmissing: %v\nunexpected: %v\n(same set in another order when both are empty)",
		desc, len(want), len(got), missing, extra)
}

// describe prints a filter with its data scope spelled out.
func describe(f any) string {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Sprintf("%+v", f)
	}
	return string(b)
}
