package pgstore_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/storetest"
)

// TestConformance runs the storage contract every adapter must keep, each
// subtest on an empty, migrated schema (recycled by truncation after use).
func TestConformance(t *testing.T) {
	testPool(t)
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T, clock crm.Clock) crm.Store { return recycledStore(t, clock) },
		Features: storetest.AllFeatures(),
	})
}
