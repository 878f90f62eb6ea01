package permission

import (
	"bytes"
	"math/bits"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// Filter is a list filter compiled for one subject, record type and
// action, for storage adapters to push down to the database (see
// [crm.DataScope]: owner in ..., department in ..., pool in ...).
//
// Scope never lets through a record that [Policy.Check] denies unless
// PostFilter is true. An "all" rule conditioned only on pools becomes
// [crm.DataScope.PoolIDs]. Rule conditions a [crm.DataScope] cannot express
// (creator department, status, field values, a pool combined with another
// condition or scope; a denial carved out of
// an "own" or "all" scope) are over-approximated: Scope then covers every
// allowed record and some denied ones, and PostFilter tells the caller to
// run Check on each listed record and drop the denied ones. A caller that
// cannot post-filter should refuse to list when PostFilter is set rather
// than show Scope as is. A Filter is a fresh value owned by the caller.
type Filter struct {
	// Scope is the pushdown scope: never nil; a non-nil empty scope
	// matches nothing.
	Scope *crm.DataScope
	// PostFilter is true when Scope is wider than the policy and each
	// record must also pass Check.
	PostFilter bool
}

// ListFilter compiles the records of type rt on which s may perform a
// (usually [ActionView] or [ActionExport]) into a [Filter]. Department
// rules become the IDs of the departments of the policy's compiled tree
// that they cover, never subtree roots for the adapter to expand with the
// stored tree, so a department added or moved since compiling is listed
// exactly when Check allows it (see "Department drift" in the package
// documentation); more than 1000 departments become an "all" scope with
// PostFilter. A subject every check would deny (unresolved, inactive,
// without a department) gets an empty scope.
func (p *Policy) ListFilter(s *Subject, rt crm.RecordType, a Action) Filter {
	none := Filter{Scope: &crm.DataScope{}}
	if s == nil {
		return none
	}
	if _, ok := p.precheck(s, a); !ok {
		return none
	}
	t := p.typeIndex(rt)
	if t < 0 {
		return none
	}
	var (
		all, own, post bool
		spans          []span
		pools          []crm.ID
		denies         []*rule
	)
	nT := len(p.types)
	for w, word := range s.roles {
		for word != 0 {
			ri := w<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			b := (ri*nT+t)*numActions + int(a)
			for _, idx := range p.ruleIdx[p.ruleOff[b]:p.ruleOff[b+1]] {
				ru := &p.rules[idx]
				if ru.deny {
					denies = append(denies, ru)
					continue
				}
				if ru.scope == ScopeAll && ru.cond != nil && ru.cond.poolsOnly() {
					// "Any record in these pools" pushes down as pool IDs.
					pools = append(pools, ru.cond.pools...)
					continue
				}
				if ru.cond != nil && ru.cond.unpushable() {
					// Dropping a condition widens the rule: over-approximate.
					post = true
				}
				var owner []span
				if ru.cond != nil {
					owner = ru.cond.owner
				}
				switch ru.scope {
				case ScopeOwn:
					own = true
					if owner != nil {
						post = true
					}
				case ScopeAll:
					if owner != nil {
						spans = append(spans, owner...)
					} else {
						all = true
					}
				default:
					sp := p.scopeSpans(ru, s)
					if owner != nil {
						sp = intersect(sp, owner)
					}
					spans = append(spans, sp...)
				}
			}
		}
	}
	spans = normalise(spans)
	for _, ru := range denies {
		if ru.cond != nil && ru.cond.unpushable() {
			// Ignoring a denial widens the result: over-approximate.
			post = true
			continue
		}
		var owner []span
		if ru.cond != nil {
			owner = ru.cond.owner
		}
		switch ru.scope {
		case ScopeAll:
			if owner == nil {
				return none
			}
			spans = subtract(spans, normalise(slices.Clone(owner)))
			if all || own {
				post = true
			}
		case ScopeOwn:
			if owner != nil || all || len(spans) > 0 {
				post = true
			}
			if owner == nil {
				own = false
			}
		default:
			sp := p.scopeSpans(ru, s)
			if owner != nil {
				sp = intersect(sp, owner)
			}
			spans = subtract(spans, normalise(sp))
			if all || own {
				post = true
			}
		}
	}
	if all {
		return Filter{Scope: &crm.DataScope{All: true}, PostFilter: post}
	}
	if len(pools) > 0 && len(denies) > 0 {
		// Denials are subtracted from departments, not from pools: a pooled
		// record could still be denied, so check each one.
		post = true
	}
	scope := &crm.DataScope{}
	if len(pools) > 0 {
		slices.SortFunc(pools, func(a, b crm.ID) int { return bytes.Compare(a[:], b[:]) })
		scope.PoolIDs = slices.Compact(pools)
	}
	if own {
		scope.OwnerIDs = []crm.ID{s.user}
	}
	// Departments are listed one by one, never as subtree roots: the
	// adapter would expand a root with the stored tree, which may have
	// gained, lost or moved departments since the policy was compiled, and
	// list rows Check denies (or miss rows it allows). The compiled tree
	// decides here as it does in Check.
	for _, sp := range spans {
		for i := sp.lo; i < sp.hi; i++ {
			scope.DepartmentIDs = append(scope.DepartmentIDs, p.preorder[i])
		}
	}
	if len(scope.DepartmentIDs) > maxScopeValues || len(scope.DepartmentTrees) > maxScopeValues || len(scope.PoolIDs) > maxScopeValues {
		// Too many values for a storage filter: fall back to a superset.
		return Filter{Scope: &crm.DataScope{All: true}, PostFilter: true}
	}
	return Filter{Scope: scope, PostFilter: post}
}

// maxScopeValues is the most values [crm.DataScope] lists may hold.
const maxScopeValues = 1000

// unpushable reports whether the condition tests something a
// [crm.DataScope] cannot express alongside a scope.
func (c *condition) unpushable() bool { return c.other || c.pools != nil }

// poolsOnly reports whether the condition tests the pool and nothing else.
func (c *condition) poolsOnly() bool { return c.pools != nil && c.owner == nil && !c.other }

// scopeSpans returns the departments a department-based scope covers.
func (p *Policy) scopeSpans(ru *rule, s *Subject) []span {
	switch ru.scope {
	case ScopeDepartment:
		return []span{{s.lo, s.lo + 1}}
	case ScopeDepartmentTree:
		return []span{{s.lo, s.hi}}
	case ScopeCustom:
		return slices.Clone(ru.spans)
	}
	return nil
}

// normalise sorts spans and merges overlapping and adjacent ones.
func normalise(sp []span) []span {
	if len(sp) < 2 {
		return sp
	}
	slices.SortFunc(sp, func(a, b span) int { return int(a.lo - b.lo) })
	out := sp[:1]
	for _, s := range sp[1:] {
		last := &out[len(out)-1]
		if s.lo <= last.hi {
			last.hi = max(last.hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

// intersect returns the parts of a inside b.
func intersect(a, b []span) []span {
	var out []span
	for _, x := range a {
		for _, y := range b {
			lo, hi := max(x.lo, y.lo), min(x.hi, y.hi)
			if lo < hi {
				out = append(out, span{lo, hi})
			}
		}
	}
	return out
}

// subtract returns the parts of a (normalised) outside b (normalised).
func subtract(a, b []span) []span {
	for _, y := range b {
		var out []span
		for _, x := range a {
			if y.hi <= x.lo || y.lo >= x.hi {
				out = append(out, x)
				continue
			}
			if x.lo < y.lo {
				out = append(out, span{x.lo, y.lo})
			}
			if y.hi < x.hi {
				out = append(out, span{y.hi, x.hi})
			}
		}
		a = out
	}
	return a
}
