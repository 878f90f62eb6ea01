package crmkit_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
)

// importWorld is a CRM in memory for imports.
type importWorld struct {
	ctx   context.Context
	store *memstore.Store
	crm   *crmkit.CRM
}

func newImportWorld(t *testing.T) *importWorld {
	t.Helper()
	w := &importWorld{ctx: crm.WithTenant(context.Background(), "acme")}
	clock := crmtest.NewClock(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))
	w.store = memstore.New(&memstore.Config{Clock: clock})
	var err error
	w.crm, err = crmkit.New(w.store, &crmkit.Config{Clock: clock, IDs: crmtest.NewIDs()})
	require.NoError(t, err)
	return w
}

// rows yields rows as an import's input.
func rows(rs ...crmkit.ImportRow) iter.Seq2[crmkit.ImportRow, error] {
	return func(yield func(crmkit.ImportRow, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func row(line int, id string, kv ...string) crmkit.ImportRow {
	r := crmkit.ImportRow{Line: line, ExternalID: id, Values: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Values[kv[i]] = kv[i+1]
	}
	return r
}

func (w *importWorld) run(t *testing.T, mode crmkit.OnDuplicate, rs ...crmkit.ImportRow) []crmkit.ImportResult {
	t.Helper()
	sum, err := w.crm.ImportCustomers(w.ctx, crmkit.ImportRequest{Source: "erp", Rows: rows(rs...), OnDuplicate: mode, BatchSize: 2,
		Columns: map[string]string{"phone": "电话", "external_id": "编号"}})
	require.NoError(t, err)
	require.Len(t, sum.Results, len(rs))
	return sum.Results
}

func outcomes(rs []crmkit.ImportResult) []crmkit.ImportOutcome {
	out := make([]crmkit.ImportOutcome, len(rs))
	for i, r := range rs {
		out[i] = r.Outcome
	}
	return out
}

func (w *importWorld) pending(t *testing.T) int {
	t.Helper()
	evs, err := w.store.Outbox().Pending(w.ctx, 1000)
	require.NoError(t, err)
	return len(evs)
}

func (w *importWorld) history(t *testing.T, id crm.ID) []*crm.HistoryEntry {
	t.Helper()
	page, err := w.crm.History.ForRecord(w.ctx, w.crm.Store(), crm.NilID, crm.Ref{Type: crm.TypeCustomer, ID: id}, crm.PageRequest{Limit: 100})
	require.NoError(t, err)
	return page.Items
}

func TestImportCustomersStandardisesAndUpsertsOnTheExternalID(t *testing.T) {
	w := newImportWorld(t)
	file := []crmkit.ImportRow{
		row(2, "C-1", "name", "北京华腾科技有限公司", "phone", "１３８ ００１３ ８０００", "email", " Sales@HuaTeng.CN ", "custom.signed_on", "2024年3月5日"),
		row(3, "C-2", "name", "ＡＣＭＥ Widgets Ltd", "kind", "公司", "phone", "not a phone", "level", "B"),
		row(4, "C-3", "name", "李伟", "kind", "个人", "phone", "+86 139-0013-9000", "contact", "李伟"),
	}
	res := w.run(t, crmkit.DuplicateBlock, file...)
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportCreated, crmkit.ImportCreated}, outcomes(res))
	require.Contains(t, res[1].Reason, `column "电话": not a valid phone number`)

	c1, err := w.store.Customers().Get(w.ctx, res[0].CustomerID)
	require.NoError(t, err)
	require.Equal(t, "+8613800138000", c1.Phone)
	require.Equal(t, "sales@huateng.cn", c1.Email)
	require.Equal(t, crm.String("2024-03-05"), c1.Fields["signed_on"])
	require.Equal(t, crm.String("１３８ ００１３ ８０００"), c1.Fields["typed_phone"], "what was typed is kept beside the standardised value")
	require.Equal(t, crm.String("Sales@HuaTeng.CN"), c1.Fields["typed_email"])
	require.Equal(t, crm.String("2024年3月5日"), c1.Fields["typed_signed_on"])
	require.NotContains(t, c1.Fields, "typed_name", "a value standardising left alone keeps no typed copy")
	c2, err := w.store.Customers().Get(w.ctx, res[1].CustomerID)
	require.NoError(t, err)
	require.Equal(t, "ACME Widgets Ltd", c2.Name, "full-width letters are folded")
	require.Equal(t, "not a phone", c2.Phone)
	c3, err := w.store.Customers().Get(w.ctx, res[2].CustomerID)
	require.NoError(t, err)
	require.Equal(t, crm.CustomerPerson, c3.Kind)
	require.Equal(t, crm.String("李伟"), c3.Fields["contact"])

	// The same file again changes nothing: no event, no history.
	events, hist := w.pending(t), len(w.history(t, c1.ID))
	again := w.run(t, crmkit.DuplicateBlock, file...)
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportUnchanged, crmkit.ImportUnchanged, crmkit.ImportUnchanged}, outcomes(again))
	for i := range again {
		require.Equal(t, res[i].CustomerID, again[i].CustomerID)
	}
	require.Equal(t, events, w.pending(t))
	require.Len(t, w.history(t, c1.ID), hist)

	// A changed row updates its customer, with history and an event.
	changed := row(2, "C-1", "name", "北京华腾科技有限公司", "phone", "13800138001", "email", "sales@huateng.cn", "custom.signed_on", "2024-03-05")
	upd := w.run(t, crmkit.DuplicateBlock, changed)
	require.Equal(t, crmkit.ImportUpdated, upd[0].Outcome)
	require.Equal(t, c1.ID, upd[0].CustomerID)
	got, err := w.store.Customers().Get(w.ctx, c1.ID)
	require.NoError(t, err)
	require.Equal(t, "+8613800138001", got.Phone)
	require.NotContains(t, got.Fields, "typed_email", "a value typed as stored drops the old typed copy")
	require.Greater(t, w.pending(t), events)
	var phoneChanged bool
	for _, h := range w.history(t, c1.ID) {
		if h.Field == "phone" && h.Operation == "import" {
			phoneChanged = true
		}
	}
	require.True(t, phoneChanged, "the update is in the history, made by the import")
	// ... and importing the changed row again is unchanged.
	require.Equal(t, crmkit.ImportUnchanged, w.run(t, crmkit.DuplicateBlock, changed)[0].Outcome)
}

func TestImportCustomersOnDuplicate(t *testing.T) {
	stored := &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Phone: "13800138000", Level: "A"}
	dup := row(7, "E-9", "name", "北京华腾科技有限公司", "phone", "010-8888 6666", "industry", "软件")
	for _, tc := range []struct {
		mode    crmkit.OnDuplicate
		outcome crmkit.ImportOutcome
		mapped  bool // the external ID names the stored customer afterwards
	}{
		{crmkit.DuplicateBlock, crmkit.ImportBlocked, false},
		{crmkit.DuplicateWarn, crmkit.ImportBlocked, false}, // same strong key: never stored twice
		{crmkit.DuplicateAttach, crmkit.ImportAttached, true},
		{crmkit.DuplicateMerge, crmkit.ImportMerged, true},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			w := newImportWorld(t)
			c, err := w.crm.CreateCustomer(w.ctx, crmkit.CreateCustomerRequest{Customer: stored.Clone()})
			require.NoError(t, err)
			res := w.run(t, tc.mode, dup)
			require.Equal(t, tc.outcome, res[0].Outcome, res[0].Reason)
			require.Equal(t, c.Customer.ID, res[0].CustomerID)
			require.Contains(t, res[0].Reason, "duplicates customer "+c.Customer.ID.String())
			list, err := w.store.Customers().List(w.ctx, crm.CustomerFilter{}, crm.PageRequest{})
			require.NoError(t, err)
			live := 0
			for _, cu := range list.Items {
				if _, merged := cu.MergedInto(); !merged {
					live++
				}
			}
			require.Equal(t, 1, live, "one live customer")
			again := w.run(t, tc.mode, dup)
			if tc.mapped {
				require.Equal(t, crmkit.ImportUnchanged, again[0].Outcome, "the row now names the customer")
				require.Equal(t, c.Customer.ID, again[0].CustomerID)
			} else {
				require.Equal(t, tc.outcome, again[0].Outcome)
			}
			got, err := w.store.Customers().Get(w.ctx, c.Customer.ID)
			require.NoError(t, err)
			switch tc.mode {
			case crmkit.DuplicateMerge:
				require.Equal(t, "软件", got.Industry, "the survivor takes what it lacked from the row")
				require.Equal(t, "A", got.Level)
			default:
				require.Empty(t, got.Industry, "the stored customer is left as it was")
			}
		})
	}
}

func TestImportCustomersWarnsAboutADuplicateWithinTheFile(t *testing.T) {
	// Two people of one name and e-mail with different phones: no shared
	// strong key, but a match.
	a := row(2, "P-1", "kind", "person", "name", "王芳", "phone", "13800138000", "email", "wangfang@example.com", "address", "北京市朝阳区建国路88号")
	b := row(3, "P-2", "kind", "person", "name", "王芳", "phone", "13900139000", "email", "wangfang@example.com", "address", "北京市朝阳区建国路88号")
	w := newImportWorld(t)
	res := w.run(t, crmkit.DuplicateWarn, a, b)
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportWarned}, outcomes(res), res[1].Reason)
	require.NotEqual(t, res[0].CustomerID, res[1].CustomerID)
	require.Contains(t, res[1].Reason, "duplicates customer "+res[0].CustomerID.String())

	w = newImportWorld(t)
	res = w.run(t, crmkit.DuplicateBlock, a, b)
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportBlocked}, outcomes(res))
	require.Equal(t, res[0].CustomerID, res[1].CustomerID, "a blocked row names the customer it duplicates")
}

func TestImportCustomersReportsBadRowsAndGoesOn(t *testing.T) {
	w := newImportWorld(t)
	res := w.run(t, crmkit.DuplicateBlock,
		row(2, "", "name", "甲公司"),
		row(3, "X-1", "name", ""),
		row(4, "X-2", "name", "乙公司", "kind", "alien"),
		row(5, "X-3", "name", "丙公司"),
		row(6, "X-3", "name", "丙公司"),
		crmkit.ImportRow{Line: 7, ExternalID: "X-4", Problem: `column "备注": value of 70000 bytes, at most 65536`},
		row(8, "X-5", "name", "丁公司", "custom.Bad Key", "v"),
	)
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportInvalid, crmkit.ImportInvalid, crmkit.ImportInvalid, crmkit.ImportCreated,
		crmkit.ImportInvalid, crmkit.ImportInvalid, crmkit.ImportInvalid}, outcomes(res))
	require.Contains(t, res[0].Reason, `column "编号": external ID is required`)
	require.Contains(t, res[1].Reason, "field name: is required")
	require.Contains(t, res[2].Reason, "must be company or person")
	require.Contains(t, res[4].Reason, "repeats line 5")
	require.Contains(t, res[5].Reason, "备注")
	require.Contains(t, res[6].Reason, "custom field")
}

func TestImportCustomersRefusesABadRequest(t *testing.T) {
	w := newImportWorld(t)
	_, err := w.crm.ImportCustomers(w.ctx, crmkit.ImportRequest{Source: "", OnDuplicate: "skip", BatchSize: -1})
	var ve crm.ValidationErrors
	require.ErrorAs(t, err, &ve)
	require.ElementsMatch(t, []string{"source", "rows", "on_duplicate", "batch_size"}, ve.Fields())
}

func TestImportCustomersKeepsNothingOfAFailedBatch(t *testing.T) {
	w := newImportWorld(t)
	boom := errors.New("disk on fire")
	failing := &commitFailingStore{Store: w.store, failAfter: 2, err: boom}
	c, err := crmkit.New(failing, &crmkit.Config{IDs: crmtest.NewIDs()})
	require.NoError(t, err)
	failing.armed = true
	var reported []crmkit.ImportResult
	sum, err := c.ImportCustomers(w.ctx, crmkit.ImportRequest{Source: "erp", OnDuplicate: crmkit.DuplicateBlock, BatchSize: 2,
		Rows:   rows(row(2, "A", "name", "甲公司"), row(3, "B", "name", "乙公司"), row(4, "C", "name", "丙公司"), row(5, "D", "name", "丁公司")),
		Report: func(r crmkit.ImportResult) error { reported = append(reported, r); return nil }})
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), "lines 4-5")
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportCreated, crmkit.ImportCreated, crmkit.ImportFailed, crmkit.ImportFailed}, outcomes(reported))
	require.Equal(t, 2, sum.Counts[crmkit.ImportFailed])
	list, err := w.store.Customers().List(w.ctx, crm.CustomerFilter{}, crm.PageRequest{})
	require.NoError(t, err)
	require.Len(t, list.Items, 2, "the failed batch left nothing")

	// Run again: the first batch is unchanged, the rest is imported once.
	failing.armed = false
	sum, err = c.ImportCustomers(w.ctx, crmkit.ImportRequest{Source: "erp", OnDuplicate: crmkit.DuplicateBlock, BatchSize: 2,
		Rows: rows(row(2, "A", "name", "甲公司"), row(3, "B", "name", "乙公司"), row(4, "C", "name", "丙公司"), row(5, "D", "name", "丁公司"))})
	require.NoError(t, err)
	require.Equal(t, []crmkit.ImportOutcome{crmkit.ImportUnchanged, crmkit.ImportUnchanged, crmkit.ImportCreated, crmkit.ImportCreated}, outcomes(sum.Results))
	list, err = w.store.Customers().List(w.ctx, crm.CustomerFilter{}, crm.PageRequest{})
	require.NoError(t, err)
	require.Len(t, list.Items, 4)
}

// commitFailingStore fails every unit of work after the first failAfter while
// armed, after fn ran: the writes fn made must be undone.
type commitFailingStore struct {
	crm.Store
	armed     bool
	failAfter int
	n         int
	err       error
}

func (s *commitFailingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if s.armed {
			s.n++
			if s.n > s.failAfter {
				return fmt.Errorf("commit: %w", s.err)
			}
		}
		return nil
	})
}

func (s *commitFailingStore) Unwrap() crm.Store { return s.Store }
