// Package bench compares crmkit's permission package with Casbin
// (github.com/casbin/casbin/v2) on the same CRM policy. It lives in its own
// module so the library never depends on Casbin.
//
// # Translation
//
// [NewCasbin] expresses a permission.Document in a Casbin model: RBAC with
// domains (a user holds a role in their home department, "g, user, role,
// department") plus ABAC conditions in the matcher (scopes, owner and
// creator departments, pools, statuses) with custom functions for
// department subtrees, and deny-override effect. Field-level security has
// no Casbin counterpart and is not compared.
//
// # Differential test and benchmarks
//
// The tests run a table of scenario cases and many random requests through
// both engines and fail on any disagreement; the benchmarks run both on the
// same requests at three sizes (tens of rules; 1,000 users and ~70 rules;
// 10,000 users and ~500 rules). Run them with
//
//	cd bench && go test ./...
//	cd bench && go test -run '^$' -bench . -benchmem
package bench
