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
	test(t, h, "BatchingChangesNoOutcome", testImportBatchingChangesNoOutcome)
	test(t, h, "StoppedMidwayContinues", testImportStoppedMidwayContinues)
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
	// Each created customer has its history, one row per field set, under
	// the import's operation, and its customer.created event.
	hist, err := c.History.ForRecord(e.ctxA, e.store, crm.NilID, crm.Ref{Type: crm.TypeCustomer, ID: first.Results[3].CustomerID}, crm.PageRequest{Limit: 100})
	require.NoError(t, err)
	fields := map[string]string{}
	for _, en := range hist.Items {
		fields[en.Field] = en.Operation
	}
	require.Equal(t, "import", fields["phone"], "history of an imported customer: %v", fields)
	require.Equal(t, "import", fields["email"])
	require.Equal(t, "import", fields["name"])
	created, err := e.store.Outbox().Pending(e.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	n := 0
	for _, ev := range created {
		if ev.Type == crm.EventCustomerCreated {
			n++
		}
	}
	require.Equal(t, 7, n, "one customer.created event per created customer")
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

// dupLines is a file whose rows duplicate a stored customer (the seed)
// and each other, within a batch and across batches, by strong key and
// by score.
func dupLines() []crmkit.ImportRow {
	r := func(line int, id string, kv ...string) crmkit.ImportRow {
		v := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			v[kv[i]] = kv[i+1]
		}
		return crmkit.ImportRow{Line: line, ExternalID: id, Values: v}
	}
	return []crmkit.ImportRow{
		r(2, "E1", "name", "腾讯科技有限公司", "region", "深圳", "phone", "0755 8601 3388"),
		r(3, "E2", "name", "腾讯科技有限公司", "region", "深圳", "email", "ir@tencent.example"), // strong key of line 2
		r(4, "E3", "name", "华为技术有限公司", "region", "深圳"),                                // strong key of the seed
		r(5, "E4", "kind", "person", "name", "张三", "phone", "138 0013 8000"),
		r(6, "E5", "kind", "person", "name", "张三", "phone", "+86 13800138000"), // strong key of line 5
		r(7, "E6", "kind", "person", "name", "李四", "phone", "139 0013 9000", "email", "lisi@example.com"),
		r(8, "E7", "kind", "person", "name", "李 四", "email", "LiSi@Example.com"), // by score: line 7
		r(9, "E8", "name", "阿里巴巴网络技术有限公司", "region", "杭州"),
		r(10, "E9", "name", "华为技术有限公司", "region", "深圳", "phone", "0755 2878 0808"), // the seed again
		r(11, "E10", "name", "字节跳动有限公司", "region", "北京"),
	}
}

// testImportBatchingChangesNoOutcome imports one file with duplicates in
// batches of one row and in batches of four, under each duplicate mode:
// the outcomes are the same, and each row ends up as the customer of the
// same line (a batch enters its new rows together, checking each against
// the stored customers and the rows before it).
func testImportBatchingChangesNoOutcome(t *testing.T, e *env) {
	c, err := crmkit.New(e.store, &crmkit.Config{Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	type row struct {
		outcome crmkit.ImportOutcome
		of      string // the external ID (or "seed") of the customer the row ended up as
	}
	run := func(tenant string, mode crmkit.OnDuplicate, batch int) []row {
		ctx := crm.WithTenant(context.Background(), tenant)
		seed, err := c.ImportCustomers(ctx, crmkit.ImportRequest{Source: "seed", OnDuplicate: crmkit.DuplicateBlock,
			Rows: importRows([]crmkit.ImportRow{{Line: 2, ExternalID: "S1", Values: map[string]string{"name": "华为技术有限公司", "region": "深圳"}}})})
		require.NoError(t, err)
		require.Equal(t, crmkit.ImportCreated, seed.Results[0].Outcome)
		names := map[crm.ID]string{seed.Results[0].CustomerID: "seed"}
		sum, err := c.ImportCustomers(ctx, crmkit.ImportRequest{Source: "erp", Rows: importRows(dupLines()), OnDuplicate: mode, BatchSize: batch})
		require.NoError(t, err)
		out := make([]row, len(sum.Results))
		for _, res := range sum.Results {
			if res.Outcome == crmkit.ImportCreated || res.Outcome == crmkit.ImportWarned {
				names[res.CustomerID] = res.ExternalID
			}
		}
		for i, res := range sum.Results {
			out[i] = row{outcome: res.Outcome, of: names[res.CustomerID]}
			require.NotEqual(t, crm.NilID, res.CustomerID, "line %d (%s): %s", res.Line, res.Outcome, res.Reason)
		}
		return out
	}
	want := map[crmkit.OnDuplicate][]crmkit.ImportOutcome{
		crmkit.DuplicateBlock:  {"created", "blocked", "blocked", "created", "blocked", "created", "blocked", "created", "blocked", "created"},
		crmkit.DuplicateAttach: {"created", "attached", "attached", "created", "attached", "created", "attached", "created", "attached", "created"},
		crmkit.DuplicateMerge:  {"created", "merged", "merged", "created", "merged", "created", "merged", "created", "merged", "created"},
	}
	for _, mode := range []crmkit.OnDuplicate{crmkit.DuplicateBlock, crmkit.DuplicateWarn, crmkit.DuplicateAttach, crmkit.DuplicateMerge} {
		one := run("one-"+string(mode), mode, 1)
		four := run("four-"+string(mode), mode, 4)
		require.Equal(t, one, four, "mode %s: batches of one and of four", mode)
		if w, ok := want[mode]; ok {
			got := make([]crmkit.ImportOutcome, len(one))
			for i, r := range one {
				got[i] = r.outcome
			}
			require.Equal(t, w, got, "mode %s", mode)
		}
		// Whatever the mode, the duplicates of line 2, the seed and line 5
		// end up as those customers.
		for i, of := range map[int]string{1: "E1", 2: "seed", 4: "E4", 8: "seed"} {
			if one[i].outcome != crmkit.ImportWarned {
				require.Equal(t, of, one[i].of, "mode %s, line %d", mode, i+2)
			}
		}
	}
}

// testImportStoppedMidwayContinues ends an import midway (its context
// ends while later batches may be in flight) and imports the file again:
// every row ends up as exactly one customer, none imported twice, and
// what the first run reported as created is what the second finds
// unchanged.
func testImportStoppedMidwayContinues(t *testing.T, e *env) {
	c, err := crmkit.New(e.store, &crmkit.Config{Clock: e.clock, IDs: e.ids})
	require.NoError(t, err)
	lines := importLines(40)
	ctx, cancel := context.WithCancel(e.ctxA)
	defer cancel()
	firstRun := map[string]crmkit.ImportOutcome{}
	_, err = c.ImportCustomers(ctx, crmkit.ImportRequest{Source: "erp", Rows: importRows(lines), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 3,
		Report: func(r crmkit.ImportResult) error {
			firstRun[r.ExternalID] = r.Outcome
			if r.Line == 12 {
				cancel()
			}
			return nil
		}})
	require.Error(t, err, "the import stops when its context ends")
	sum, err := c.ImportCustomers(e.ctxA, crmkit.ImportRequest{Source: "erp", Rows: importRows(lines), OnDuplicate: crmkit.DuplicateBlock, BatchSize: 3})
	require.NoError(t, err)
	ids := map[crm.ID]bool{}
	for _, r := range sum.Results {
		switch firstRun[r.ExternalID] {
		case crmkit.ImportCreated:
			require.Equal(t, crmkit.ImportUnchanged, r.Outcome, "line %d was created by the first run", r.Line)
		default:
			require.Contains(t, []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportUnchanged}, r.Outcome, "line %d", r.Line)
		}
		ids[r.CustomerID] = true
	}
	require.Len(t, ids, len(lines), "one customer per row")
	list, err := e.store.Customers().List(e.ctxA, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	require.Len(t, list.Items, len(lines), "no row imported twice")
}
