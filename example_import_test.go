package crmkit_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/store/memstore"
)

// An import upserts on the source system's IDs: the second run of the same
// rows changes nothing, and a duplicate of an earlier row is blocked.
func ExampleCRM_ImportCustomers() {
	ctx := crm.WithTenant(context.Background(), "acme")
	c, err := crmkit.New(memstore.New(nil), &crmkit.Config{IDs: crmtest.NewIDs()})
	if err != nil {
		fmt.Println(err)
		return
	}
	file := []crmkit.ImportRow{
		{Line: 2, ExternalID: "C-1", Values: map[string]string{"name": "北京华腾科技有限公司", "phone": "138 0013 8000"}},
		{Line: 3, ExternalID: "C-2", Values: map[string]string{"name": "上海明远贸易有限公司", "email": "Info@MingYuan.CN"}},
		{Line: 4, ExternalID: "C-3", Values: map[string]string{"name": "北京华腾科技有限公司"}},
	}
	for range 2 {
		sum, err := c.ImportCustomers(ctx, crmkit.ImportRequest{
			Source: "legacy_erp", Rows: slicesRows(file), OnDuplicate: crmkit.DuplicateBlock,
			Report: func(r crmkit.ImportResult) error {
				fmt.Println(r.Line, r.ExternalID, r.Outcome)
				return nil
			},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(sum.Rows, "rows")
	}
	// Output:
	// 2 C-1 created
	// 3 C-2 created
	// 4 C-3 blocked
	// 3 rows
	// 2 C-1 unchanged
	// 3 C-2 unchanged
	// 4 C-3 blocked
	// 3 rows
}

// slicesRows yields rows as an import's input.
func slicesRows(rows []crmkit.ImportRow) func(yield func(crmkit.ImportRow, error) bool) {
	return func(yield func(crmkit.ImportRow, error) bool) {
		for _, r := range slices.Clone(rows) {
			if !yield(r, nil) {
				return
			}
		}
	}
}
