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
		// memstore has every port pgstore has, optional ones included.
		Features: storetest.AllFeatures(),
	})
}
