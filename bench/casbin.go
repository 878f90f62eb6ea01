package bench

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
)

// casbinModel is the CRM policy as a Casbin model: RBAC with domains for
// who holds which role where, ABAC conditions on the record in the matcher,
// and deny overriding allow.
const casbinModel = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, typ, act, scope, depts, owner, creator, pools, statuses, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.obj.Type == p.typ && r.act == p.act && \
  (p.scope == "all" || (p.scope == "own" && r.obj.Owner == r.sub) || (p.scope == "department" && r.obj.Dept == r.dom) || \
   (p.scope == "department_tree" && inTree(r.obj.Dept, r.dom)) || (p.scope == "custom" && inAny(r.obj.Dept, p.depts))) && \
  (p.owner == "-" || inAny(r.obj.Dept, p.owner)) && (p.creator == "-" || inAny(r.obj.Creator, p.creator)) && \
  (p.pools == "-" || inList(r.obj.Pool, p.pools)) && (p.statuses == "-" || inList(r.obj.Status, p.statuses))
`

// Object is the record attributes Casbin's matcher reads.
type Object struct {
	Type, Owner, Dept, Creator, Pool, Status string
}

// Casbin enforces a translated policy with a Casbin enforcer. It is not
// safe for concurrent use (the enforcer is used without its synchronised
// wrapper, which is Casbin's fastest configuration).
type Casbin struct {
	e      *casbin.Enforcer
	parent map[string]string
}

// NewCasbin translates doc, the departments and the users' role holdings
// into a Casbin enforcer. Roles are granted in a user's home department
// ("g, user, role, department") when held by name or by binding, and only
// where the role applies, mirroring the permission package's semantics.
// Field conditions are not supported.
func NewCasbin(doc *permission.Document, depts []crm.Department, users []*crm.User) (*Casbin, error) {
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		return nil, fmt.Errorf("bench: casbin model: %w", err)
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("bench: casbin enforcer: %w", err)
	}
	c := &Casbin{e: e, parent: make(map[string]string, len(depts))}
	for _, d := range depts {
		c.parent[str(d.ID)] = str(d.ParentID)
	}
	e.AddFunction("inTree", func(args ...any) (any, error) {
		return c.inTree(args[0].(string), args[1].(string)), nil
	})
	e.AddFunction("inAny", func(args ...any) (any, error) {
		return c.inAny(args[0].(string), args[1].(string)), nil
	})
	e.AddFunction("inList", func(args ...any) (any, error) {
		v := args[0].(string)
		return v != "" && containsPipe(args[1].(string), v), nil
	})

	var rules [][]string
	for _, role := range doc.Roles {
		for _, ru := range role.Rules {
			w, err := flatten(ru.When)
			if err != nil {
				return nil, err
			}
			eft := "allow"
			if ru.Effect == permission.Deny {
				eft = "deny"
			}
			depts := "-"
			if ru.Scope == permission.ScopeCustom {
				depts = deptSpec(ru.Departments, ru.IncludeSubtrees)
			}
			owner, creator, pools, statuses := "-", "-", "-", "-"
			if len(w.owner) > 0 {
				owner = deptSpec(w.owner, true)
			}
			if len(w.creator) > 0 {
				creator = deptSpec(w.creator, true)
			}
			if len(w.pools) > 0 {
				pools = idList(w.pools)
			}
			if len(w.statuses) > 0 {
				statuses = strings.Join(w.statuses, "|")
			}
			for _, a := range ru.Actions {
				rules = append(rules, []string{role.Name, string(ru.RecordType), a.String(), string(ru.Scope), depts, owner, creator, pools, statuses, eft})
			}
		}
	}
	if _, err := e.AddPolicies(rules); err != nil {
		return nil, fmt.Errorf("bench: casbin policies: %w", err)
	}
	where := make(map[string][]crm.ID, len(doc.Roles))
	for _, role := range doc.Roles {
		where[role.Name] = role.Departments
	}
	applies := func(role, dept string) bool {
		ds, ok := where[role]
		if !ok {
			return false
		}
		if len(ds) == 0 {
			return true
		}
		for _, d := range ds {
			if c.inTree(dept, str(d)) {
				return true
			}
		}
		return false
	}
	var groups [][]string
	for _, u := range users {
		dept := str(u.DepartmentID)
		if dept == "" || !u.Active {
			continue
		}
		held := map[string]bool{}
		for _, r := range u.Roles {
			held[r] = true
		}
		for _, b := range doc.Bindings {
			if dept == str(b.Department) || b.Subtree && c.inTree(dept, str(b.Department)) {
				for _, r := range b.Roles {
					held[r] = true
				}
			}
		}
		for r := range held {
			if applies(r, dept) {
				groups = append(groups, []string{str(u.ID), r, dept})
			}
		}
	}
	if len(groups) > 0 {
		if _, err := e.AddGroupingPolicies(groups); err != nil {
			return nil, fmt.Errorf("bench: casbin groupings: %w", err)
		}
	}
	return c, nil
}

// Enforce asks Casbin whether user may perform a on r.
func (c *Casbin) Enforce(user, dept crm.ID, a permission.Action, r *permission.Resource) (bool, error) {
	return c.e.Enforce(str(user), str(dept), Object{
		Type: string(r.Type), Owner: str(r.OwnerID), Dept: str(r.DepartmentID),
		Creator: str(r.CreatorDepartmentID), Pool: str(r.PoolID), Status: r.Status,
	}, a.String())
}

// inTree reports whether dept is root or below it, walking up parents.
func (c *Casbin) inTree(dept, root string) bool {
	for depth := 0; dept != "" && depth < 1000; depth++ {
		if dept == root {
			return true
		}
		p, ok := c.parent[dept]
		if !ok {
			return false
		}
		dept = p
	}
	return false
}

// inAny evaluates a department spec: "eq:a|b" (one of) or "tree:a|b" (in
// the subtree of one of).
func (c *Casbin) inAny(dept, spec string) bool {
	if dept == "" {
		return false
	}
	kind, list, _ := strings.Cut(spec, ":")
	for _, d := range strings.Split(list, "|") {
		if d == dept || kind == "tree" && c.inTree(dept, d) {
			return true
		}
	}
	return false
}

func deptSpec(ids []crm.ID, tree bool) string {
	if tree {
		return "tree:" + idList(ids)
	}
	return "eq:" + idList(ids)
}

func idList(ids []crm.ID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, "|")
}

func containsPipe(list, v string) bool {
	for _, x := range strings.Split(list, "|") {
		if x == v {
			return true
		}
	}
	return false
}

// str renders an ID for Casbin, with "" for NilID.
func str(id crm.ID) string {
	if id == crm.NilID {
		return ""
	}
	return id.String()
}

// flatConditions are the parts of a rule condition the casbin model
// expresses: an "all" of department, creator department, pool and status
// tests.
type flatConditions struct {
	owner, creator, pools []crm.ID
	statuses              []string
}

func flatten(w *cond.Condition) (flatConditions, error) {
	var out flatConditions
	if w == nil {
		return out, nil
	}
	parts := []cond.Condition{*w}
	if w.All != nil {
		parts = w.All
	}
	for _, p := range parts {
		lits := p.In
		if p.Under != nil {
			lits = p.Under
		}
		var vals []string
		for _, raw := range lits {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return out, fmt.Errorf("bench: literal %s is not translated to casbin", raw)
			}
			vals = append(vals, v)
		}
		ids := func() ([]crm.ID, error) {
			out := make([]crm.ID, len(vals))
			for i, v := range vals {
				id, err := crm.ParseID("", v)
				if err != nil {
					return nil, err
				}
				out[i] = id
			}
			return out, nil
		}
		var err error
		switch {
		case p.Field == "department_id" && p.Under != nil:
			out.owner, err = ids()
		case p.Field == "creator_department_id" && p.Under != nil:
			out.creator, err = ids()
		case p.Field == "pool_id" && p.In != nil:
			out.pools, err = ids()
		case p.Field == "status" && p.In != nil:
			out.statuses = vals
		default:
			return out, fmt.Errorf("bench: condition on %q is not translated to casbin", p.Field)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
