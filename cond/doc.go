// Package cond is crmkit's one condition language: the JSON form every
// rule that tests a record is written in, its compiler and its evaluator.
// Lead scoring rules, routing rules, approval entry criteria, hand-off
// guards, pool entry rules and access-rule conditions all use it, so a
// host learns one form, one set of operators and one explanation format.
//
// # The form
//
// A [Condition] is a group or a test:
//
//	{"all": [...]}  {"any": [...]}  {"not": {...}}
//	{"field": "region", "equals": "cn-east"}
//	{"field": "region", "in": ["cn-east", "cn-north"]}
//	{"field": "company_size", "range": {"gte": 500, "lt": 5000}}
//	{"field": "email", "prefix": "sales@"}   {"field": "title", "contains": "manager"}
//	{"field": "owner_department", "under": ["<department id>"]}
//	{"field": "phone", "exists": true}
//	{"event": {"kind": "email_click", "min_count": 3, "within_days": 30}}
//
// Each domain declares the fields its records have as a [Schema]: names
// and kinds (string, strings, number, money, bool, id), and optionally
// custom fields under a prefix ("fields.budget") and events. [Compile]
// checks every field name, operator and literal against the schema when
// rules load, and reports every problem with its JSON path
// ("rules[2].when.all[0].in[1]: field \"region\" compares with a
// string"). Sizes are checked before anything is parsed: documents over
// [MaxDocumentBytes], nesting over [MaxDepth], more than [MaxNodes] tests,
// lists over [MaxValues] and number literals over [MaxNumberLen]
// characters are refused, and the problem list is capped at
// [crm.MaxProblems].
//
// # Meaning
//
// Text compares ignoring case. Numbers and money compare exactly, as
// decimals with up to 10 fractional digits. On a list field (tags,
// skills) a test holds when any element passes. Every test but exists is
// false on an unset field. [Predicate.Eval] is three-valued: a value the
// host marks unknown makes the tests of it [Unknown], which access rules
// use to fail closed; [Predicate.Match] is true only for [True].
//
// # Evaluating
//
// A [Record] holds one record's values by field slot; evaluating a
// [Predicate] on it does not allocate, and [Record.Reset] lets a hot path
// refill one record instead of building another. [Predicate.Explain]
// says how each test came out, in the [Explanation] format every domain
// shows.
package cond
