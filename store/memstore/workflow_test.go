package memstore_test

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/store/storetest"
)

// TestWorkflowConformance runs the workflow ports' part of the storage
// contract.
func TestWorkflowConformance(t *testing.T) {
	storetest.RunWorkflow(t, storetest.Harness{NewStore: func(t *testing.T, c crm.Clock) crm.Store { return memstore.New(&memstore.Config{Clock: c}) }})
}
