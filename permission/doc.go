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
// custom list of departments. Optional [Conditions] narrow a rule to
// records owned in or created by some departments, sitting in some public
// pools, in some statuses, or with given field values. A matching denial
// overrides every allow; when no rule matches, the answer is deny.
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
// [crm.DataScope] (owners, departments and department subtrees) that
// storage adapters evaluate in the database. Conditions a DataScope cannot
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
