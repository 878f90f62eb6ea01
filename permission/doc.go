// Package permission decides who may do what with which CRM records: roles
// granted per department, grants with data scopes, conditions on the
// record, explicit denials, field-level security, list filters that storage
// adapters push down to the database, and an audit trail of policy
// changes.
//
// # Policies are data
//
// A policy is a JSON [Document]: record types and their fields, roles with
// rules and field restrictions, and bindings that give roles to whole
// departments. [Load] (or [New] for a Document built in code) validates it
// against the organisation's departments ([crm.Department], checked for
// cycles by [crm.NewDepartmentTree]) and reports every problem at once as
// [crm.ValidationErrors] whose fields are paths into the document, such as
// "roles[2].rules[0].scope". The result is a compiled, immutable [Policy].
//
// # Rules
//
// A rule allows (or, with effect "deny", denies) a set of [Action] values
// on one record type within a [Scope]: own records, the subject's
// department, the department and everything below it, all records, or a
// custom list of departments. An optional condition ([RuleDoc.When]), in
// crmkit's one condition language (package
// [github.com/crmkit/crmkit/cond]), narrows a rule to some records. It
// tests the record's "owner_id", "department_id" and
// "creator_department_id" (department IDs; under holds for a department
// and every one below it in the compiled tree), "pool_id", "status" and
// the fields its record type declares as "fields.<name>":
//
//	{"all": [{"field": "department_id", "under": ["<Sales>"]},
//	         {"field": "status", "in": ["lost", "disqualified"]}]}
//
// A matching denial overrides every allow; when no rule matches, the
// answer is deny.
//
// Conditions fail closed. A test that cannot be evaluated on a record — a
// declared field that is absent, or holds a number, bool or time where the
// rule has text; an empty status; a creator department the caller did not
// know (NilID); a department the compiled tree does not know (see below)
// — is unknown, and the condition is evaluated in three-valued logic
// ([cond.Truth]): an unknown condition holds for a denial, so the denial
// applies, and fails for an allow, so the allow does not. The rule's
// other tests still decide: a denial for status "lost" does not apply to
// an "open" record whatever its fields. A record without a department
// (NilID) or without a pool is outside every department and pool; that is
// known, not unknown. Text compares ignoring case (Unicode case folding)
// for allows and denials alike: hosts store free-text values in any case,
// and a denial written "East" must not be dodged by storing "EAST". A
// list field holds when one of its elements does.
//
// A user holds the roles named in [crm.User.Roles] and those bound to their
// home department, each only where the role applies
// ([RoleDoc.Departments]): a "sales_manager" role limited to Sales grants
// nothing to a marketing user who happens to carry the name.
//
// # Decisions
//
// Resolve a user once per request with [Policy.Subject], then ask
// [Policy.Check] with a [Resource] describing the record. The [Decision]
// says whether the action is allowed, which rule decided ([Decision.Rule])
// and why ([Decision.Reason], a sentence built only when asked for).
// Anything malformed — a subject without a department, an inactive user,
// an undeclared record type, an invalid action, a subject resolved by
// another policy — is denied with a reason, never allowed and never a
// panic. Check is compiled to indexed tables (per role, record type and
// action, with departments as pre-order intervals) and does not allocate.
//
// # Department drift
//
// A Policy places departments with the tree it was compiled against
// ([Policy.Departments]); the stored organisation moves on when
// departments are added, moved or removed. crmkit fails closed against
// the compiled tree rather than recompiling before each decision: Check
// is pure logic with no context and no storage, and must not allocate, so
// it cannot read the store's tree, and a per-decision recompile would cost
// a department read and a compile on every request. So:
//
//   - A department the compiled tree does not know ([Policy.KnowsDepartment]
//     is false; typically one created since compiling) is inside every
//     department scope and condition of a denial and outside every one of
//     an allow, so it is denied whenever a rule's outcome depends on where
//     it sits: a department_tree or custom scope, or an owner or creator
//     department condition. "allow all" plus "deny owned in HR" denies a
//     record of a sub-department of HR created after compiling. A
//     department scope compares IDs and needs no tree: an unknown
//     department is certainly not the subject's home. A subject whose home
//     department is unknown is denied everything.
//   - [Policy.ListFilter] lists allowed departments by ID
//     ([crm.DataScope.DepartmentIDs]) and never as subtree roots
//     ([crm.DataScope.DepartmentTrees]), which the adapter would expand
//     with the stored tree: a root may have gained unknown departments, or
//     departments moved in or out, since compiling. So a filter lists
//     exactly what Check allows, whatever the tree's age (or, with
//     PostFilter, a superset Check trims). A scope of more than 1000
//     departments becomes "all" with PostFilter.
//   - Known departments that moved are placed where the compiled tree
//     has them until the policy is recompiled: decisions and lists agree
//     with each other but follow the old organisation. [Registry.Sync]
//     recompiles when the store's department-tree version
//     ([crm.DepartmentTreeVersions]) has moved and the departments differ;
//     the composition root (package crmkit) syncs a Registry before every
//     decision it asks for, so a department moved into a denied subtree is
//     denied at once. A host deciding with a Policy of its own calls Sync
//     (or [Registry.Reorganise]) itself. The conformance suite's
//     "Permission" group checks lists against Check after drift.
//
// # Field-level security
//
// Field rules make fields of a record type hidden or read-only for a role;
// within a role a named field overrides "*", and across roles the most
// restrictive access wins. [Policy.FieldMask] returns the fields a subject
// may see or write; [Policy.CheckField] and [Policy.CheckFields] decide a
// particular change ("sales may change follow_up_status only").
//
// # List filters
//
// [Policy.ListFilter] compiles what a subject may list into a
// [crm.DataScope] (owners, departments, pools) that storage adapters
// evaluate in the database. Conditions a DataScope cannot
// express are never silently dropped: the filter then over-approximates
// and sets [Filter.PostFilter], telling the caller to check each listed
// record.
//
// # Audit and integration
//
// A [Registry] holds the current policy, swaps it atomically on change and
// records every change (actor, before, after, time) with an [AuditSink]
// before it takes effect. A [DecisionSink] in [Config] receives every
// decision; when unset it costs nothing. Other packages ask permission
// through the small [Authorizer] interface, whose errors match
// [crm.ErrPermissionDenied] and carry the reason ([DeniedError]).
//
// # Concurrency
//
// [Policy], [Subject], [Decision] and [FieldMask] are immutable values safe
// for concurrent use; [Registry] is safe for concurrent use.
package permission
