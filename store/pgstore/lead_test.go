package pgstore_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/storetest"
)

// TestLeadConformance runs the lead ports' part of the storage contract, each
// subtest on a fresh, migrated schema.
func TestLeadConformance(t *testing.T) {
	storetest.RunLead(t, storetest.Harness{NewStore: func(t *testing.T, clock crm.Clock) crm.Store {
		return newStore(t, clock)
	}})
}
