package workflow

import (
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// SLAPolicySpec is the JSON form of an [SLAPolicy]:
//
//	{"name": "first_response", "target": "4h", "warn": "3h", "calendar": "support",
//	 "on_breach": [{"kind": "create_task", "department": "…", "title": "Escalate"}]}
//
// Calendar names one of the calendars passed to [ParseSLAPolicies]; absent
// means every hour counts.
type SLAPolicySpec struct {
	Name     string       `json:"name"`
	Target   Duration     `json:"target"`
	Warn     Duration     `json:"warn,omitempty"`
	Calendar string       `json:"calendar,omitempty"`
	OnWarn   []ActionSpec `json:"on_warn,omitempty"`
	OnBreach []ActionSpec `json:"on_breach,omitempty"`
}

// SLAPoliciesSpec is the JSON document [ParseSLAPolicies] reads.
type SLAPoliciesSpec struct {
	Policies []SLAPolicySpec `json:"policies"`
}

// ParseSLAPolicies decodes {"policies": [...]} strictly (unknown keys are
// errors) and builds every policy with [NewSLAPolicy], resolving calendar
// names in calendars (nil: none known). Every problem is reported at once
// as [crm.ValidationErrors] naming the field, such as
// "policies[1].warn" or "policies[0].on_breach[0].department"; repeated
// names are refused.
func ParseSLAPolicies(data []byte, calendars map[string]*calendar.Calendar) ([]*SLAPolicy, error) {
	var doc SLAPoliciesSpec
	if err := decodeStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("workflow: decode sla policies: %w", err)
	}
	var probs crm.Problems
	if len(doc.Policies) == 0 {
		probs.Add("policies", "needs at least one policy")
	}
	out := make([]*SLAPolicy, 0, len(doc.Policies))
	seen := make(map[string]bool, len(doc.Policies))
	for i := range doc.Policies {
		p := fmt.Sprintf("policies[%d]", i)
		pol, err := NewSLAPolicy(&doc.Policies[i], calendars)
		if err != nil {
			probs.MergeAt(p, err)
			continue
		}
		if seen[pol.Name] {
			probs.Add(p+".name", "repeats %q", pol.Name)
			continue
		}
		seen[pol.Name] = true
		out = append(out, pol)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// NewSLAPolicy validates spec and returns the policy: a name of lower-case
// letters, digits and underscores, a positive target, a warning below the
// target, a known calendar and well-formed actions. Problems are
// [crm.ValidationErrors] naming each field ("target", "on_warn[0].kind").
func NewSLAPolicy(spec *SLAPolicySpec, calendars map[string]*calendar.Calendar) (*SLAPolicy, error) {
	if spec == nil {
		return nil, crm.Invalid("policy", "is required")
	}
	p := &SLAPolicy{Name: spec.Name, Target: time.Duration(spec.Target), Warn: time.Duration(spec.Warn)}
	var probs crm.Problems
	if err := p.validate(); err != nil {
		probs.MergeAt("", err)
	}
	if spec.Calendar != "" {
		c, ok := calendars[spec.Calendar]
		if !ok || c == nil {
			probs.Add("calendar", "unknown calendar %q", truncate(spec.Calendar))
		}
		p.Calendar = c
	}
	add := probs.Add
	for i, a := range spec.OnWarn {
		checkAction(fmt.Sprintf("on_warn[%d]", i), a, true, add)
	}
	if len(spec.OnWarn) > 0 && p.Warn == 0 {
		add("on_warn", "needs a warn time")
	}
	for i, a := range spec.OnBreach {
		checkAction(fmt.Sprintf("on_breach[%d]", i), a, true, add)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	p.OnWarn = append([]ActionSpec(nil), spec.OnWarn...)
	p.OnBreach = append([]ActionSpec(nil), spec.OnBreach...)
	return p, nil
}

// checkAction validates one action of a hand-off or (sla) an SLA policy.
func checkAction(p string, a ActionSpec, sla bool, add func(string, string, ...any)) {
	switch a.Kind {
	case ActionEscalate:
		if !sla {
			add(p+".kind", "escalate is an action of SLA policies; want create_task, notify or route")
		}
	case ActionCreateTask, ActionNotify:
		if a.Department == crm.NilID {
			add(p+".department", "is required for %s", a.Kind)
		}
	case ActionRoute:
		if a.RuleSet == "" {
			add(p+".rule_set", "is required for route")
		}
	default:
		want := "create_task, notify or route"
		if sla {
			want = "create_task, notify, route or escalate"
		}
		add(p+".kind", "unknown action %q; want %s", truncate(a.Kind), want)
	}
}
