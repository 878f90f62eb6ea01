package pgstore_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/storetest"
)

// TestConformance runs the storage contract every adapter must keep, each
// subtest on a fresh, migrated schema.
func TestConformance(t *testing.T) {
	testPool(t)
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T, clock crm.Clock) crm.Store { return newStore(t, clock) },
	})
}
