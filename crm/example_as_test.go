package crm_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
)

// tracing is a host's layer around the units of work it hands crmkit.
type tracing struct{ crm.Tx }

// Unwrap lets crm.As look through the layer.
func (t tracing) Unwrap() crm.Tx { return t.Tx }

// A port of the adapter stays reachable through the host's layer.
func ExampleAs() {
	store := memstore.New(nil)
	_ = store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		wrapped := tracing{tx}
		_, plain := crm.Tx(wrapped).(crm.HistoryTx)
		_, found := crm.As[crm.HistoryTx](wrapped)
		fmt.Println("type assertion:", plain, "crm.As:", found)
		return nil
	})
	// Output:
	// type assertion: false crm.As: true
}
