package storetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/importer"
)

// RunImports checks the optional external-ID port of imports
// ([importer.Tx], declared by [Features].Imports) and customer imports
// through the composition root on it: an external ID names one customer
// per tenant and source, a re-import changes nothing, and two imports of
// one file at once store each customer once. Without the port it checks
// that an import reports crm.ErrUnsupported.
func RunImports(t *testing.T, h Harness) {
	probe := newEnv(t, h)
	var has bool
	require.NoError(t, probe.store.InTx(probe.ctx, func(_ context.Context, tx crm.Tx) error {
		_, has = crm.As[importer.Tx](tx)
		return nil
	}))
	if !has {
		require.False(t, h.Features.Imports, "Features.Imports is declared, but the adapter's Tx does not implement importer.Tx")
		t.Run("ReportsErrUnsupportedWithoutThePort", func(t *testing.T) {
			c, err := crmkit.New(probe.store, &crmkit.Config{Clock: probe.clock, IDs: probe.ids, NoHistory: !h.Features.History})
			if errors.Is(err, crm.ErrUnsupported) {
				t.Skip("the adapter lacks ports the composition root needs")
			}
			require.NoError(t, err)
			_, err = c.ImportCustomers(probe.ctx, crmkit.ImportRequest{Source: "erp", OnDuplicate: crmkit.DuplicateBlock, Rows: importRows(importLines(1))})
			require.ErrorIs(t, err, crm.ErrUnsupported)
		})
		return
	}
	test(t, h, "ExternalIDsNameOneCustomerPerTenantAndSource", testExternalIDPort)
	test(t, h, "ReimportChangesNothing", testImportReimport)
	test(t, h, "ConcurrentImportsStoreEachCustomerOnce", testImportConcurrent)
}

func importLines(n int) []crmkit.ImportRow {
	out := make([]crmkit.ImportRow, n)
	for i := range out {
		// Persons without a phone hold no strong key: only the external
		// ID keeps two imports of them apart.
		out[i] = crmkit.ImportRow{Line: i + 2, ExternalID: fmt.Sprintf("P-%03d", i), Values: map[string]string{
			"kind": "person", "name": fmt.Sprintf("客户%03d", i), "email": fmt.Sprintf("C%03d@Example.com", i)}}
	}
	return out
}

func importRows(rs []crmkit.ImportRow) iter.Seq2[crmkit.ImportRow, error] {
	return func(yield func(crmkit.ImportRow, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func testExternalIDPort(t *testing.T, e *env) {
	a, b := e.ids.NewID(), e.ids.NewID()
	ext := func(fn func(ctx context.Context, x importer.ExternalIDs) error) error {
		return e.store.InTx(e.ctxA, func(ctx context.Context, tx crm.Tx) error {
			it, _ := crm.As[importer.Tx](tx)
			return fn(ctx, it.ExternalIDs())
		})
	}
	require.NoError(t, ext(func(ctx context.Context, x importer.ExternalIDs) error {
		return x.Put(ctx, "erp", "C-1", importer.Mapping{CustomerID: a, Digest: "d1"})
	}))
	// The same customer again replaces the digest; another is refused.
	require.NoError(t, ext(func(ctx context.Context, x importer.ExternalIDs) error {
		return x.Put(ctx, "erp", "C-1", importer.Mapping{CustomerID: a, Digest: "d2"})
	}))
	err := ext(func(ctx context.Context, x importer.ExternalIDs) error {
		return x.Put(ctx, "erp", "C-1", importer.Mapping{CustomerID: b})
	})
	var taken *importer.ExternalIDTakenError
	require.ErrorAs(t, err, &taken)
	require.ErrorIs(t, err, crm.ErrAlreadyExists)
	require.Equal(t, a, taken.CustomerID)
	// Another source, and a rolled-back put, name nothing.
	boom := errors.New("roll back")
	require.ErrorIs(t, ext(func(ctx context.Context, x importer.ExternalIDs) error {
		require.NoError(t, x.Put(ctx, "crm2", "C-1", importer.Mapping{CustomerID: b}))
		require.NoError(t, x.Put(ctx, "erp", "C-2", importer.Mapping{CustomerID: b}))
		return boom
	}), boom)
	require.NoError(t, ext(func(ctx context.Context, x importer.ExternalIDs) error {
		got, err := x.Lookup(ctx, "erp", []string{"C-1", "C-2", "C-3"})
		require.NoError(t, err)
		require.Equal(t, map[string]importer.Mapping{"C-1": {CustomerID: a, Digest: "d2"}}, got)
		got, err = x.Lookup(ctx, "crm2", []string{"C-1"})
		require.NoError(t, err)
		require.Empty(t, got)
		return nil
	}))
	// Another tenant sees nothing.
	require.NoError(t, e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error {
		it, _ := crm.As[importer.Tx](tx)
		got, err := it.ExternalIDs().Lookup(ctx, "erp", []string{"C-1"})
		require.NoError(t, err)
		require.Empty(t, got)
		return nil
	}))
	// Delete, and bad arguments.
	require.NoError(t, ext(func(ctx context.Context, x importer.ExternalIDs) error {
		require.NoError(t, x.Delete(ctx, "erp", "C-1"))
		require.NoError(t, x.Delete(ctx, "erp", "C-1"))
		got, err := x.Lookup(ctx, "erp", []string{"C-1"})
		require.NoError(t, err)
		require.Empty(t, got)
		var ve crm.ValidationErrors
		require.ErrorAs(t, x.Put(ctx, "", "", importer.Mapping{}), &ve)
		require.Equal(t, []string{"source", "external_id", "customer_id"}, ve.Fields())
		return nil
	}))
}

func testImportReimport(t *testing.T, e *env) {
	c, err := crmkit.New(e.store, &crmkit.Config{Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	lines := importLines(7)
	lines[3].Values["phone"] = "138 0013 8000"
	run := func() *crmkit.ImportSummary {
		sum, err := c.ImportCustomers(e.ctxA, crmkit.ImportRequest{Source: "erp", Rows: importRows(lines), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 3})
		require.NoError(t, err)
		return sum
	}
	first := run()
	require.Equal(t, map[crmkit.ImportOutcome]int{crmkit.ImportCreated: 7}, first.Counts)
	got, err := e.store.Customers().Get(e.ctxA, first.Results[3].CustomerID)
	require.NoError(t, err)
	require.Equal(t, "+8613800138000", got.Phone)
	require.Equal(t, "c003@example.com", got.Email)
	before, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	sum := run()
	require.Equal(t, map[crmkit.ImportOutcome]int{crmkit.ImportUnchanged: 7}, sum.Counts)
	after, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	require.Len(t, after, len(before), "a re-import appends no event")
	lines[3].Values["email"] = "new@example.com"
	sum = run()
	require.Equal(t, map[crmkit.ImportOutcome]int{crmkit.ImportUnchanged: 6, crmkit.ImportUpdated: 1}, sum.Counts)
	got, err = e.store.Customers().Get(e.ctxA, sum.Results[3].CustomerID)
	require.NoError(t, err)
	require.Equal(t, "new@example.com", got.Email)
}

func testImportConcurrent(t *testing.T, e *env) {
	c, err := crmkit.New(e.store, &crmkit.Config{Clock: e.clock})
	require.NoError(t, err)
	lines := importLines(30)
	var wg sync.WaitGroup
	sums := make([]*crmkit.ImportSummary, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			sums[i], errs[i] = c.ImportCustomers(e.ctxA, crmkit.ImportRequest{Source: "erp", Rows: importRows(lines), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 4})
		})
	}
	wg.Wait()
	for i := range 2 {
		require.NoError(t, errs[i])
	}
	for j, l := range lines {
		a, b := sums[0].Results[j], sums[1].Results[j]
		require.Equal(t, a.CustomerID, b.CustomerID, "line %d: both imports name one customer", l.Line)
		require.ElementsMatch(t, []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportUnchanged}, []crmkit.ImportOutcome{a.Outcome, b.Outcome}, "line %d", l.Line)
	}
	list, err := e.store.Customers().List(e.ctxA, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	require.Len(t, list.Items, len(lines), "one customer per external ID")
}
