package storetest

import "testing"

// RunPermission runs the "Permission" group: the permission package's list
// filters evaluated by the adapter. A [permission.Filter]'s scope, with
// [permission.Filter.PostFilter] honoured, must list exactly the records
// [permission.Policy.Check] allows, also after departments and records
// changed since the policy was compiled. It needs only [crm.Store].
func RunPermission(t *testing.T, h Harness) {
	if h.NewStore == nil {
		t.Fatal("storetest: Harness.NewStore is required")
	}
	test(t, h, "ListFilterAgreesWithCheckAfterTheTreeDrifts", testPermissionDrift)
}
