package memstore_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T, c crm.Clock) crm.Store { return memstore.New(&memstore.Config{Clock: c}) },
		Features: memstoreFeatures(),
	})
}

// memstoreFeatures is every optional capability but one-write claims:
// memstore's units of work are cheap, so claims need no single-write path.
func memstoreFeatures() storetest.Features {
	f := storetest.AllFeatures()
	f.OneWriteClaims = false
	return f
}
