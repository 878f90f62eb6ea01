package workflow

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// Strategy chooses one member of a team.
type Strategy string

// Routing strategies. Every strategy breaks ties in round-robin order,
// starting after the member chosen last by the same rule, so no member is
// favoured for being first in the team.
const (
	// RoundRobin takes the next available member after the last one chosen.
	RoundRobin Strategy = "round_robin"
	// Weighted spreads work in proportion to capacity: it takes the member
	// with the lowest open items per unit of weight ([Member.Weight], else
	// [Member.Capacity], else 1).
	Weighted Strategy = "weighted"
	// LeastLoaded takes the member with the fewest open items.
	LeastLoaded Strategy = "least_loaded"
	// SkillsMatch takes the member whose skills cover most of the skills the
	// record asks for ([Rule.SkillsField]); members with none are skipped.
	// Ties go to the least loaded.
	SkillsMatch Strategy = "skills"
)

func (s Strategy) valid() bool {
	switch s {
	case RoundRobin, Weighted, LeastLoaded, SkillsMatch:
		return true
	}
	return false
}

// Limits on the routing strings that key stored state (the rule set and
// rule names key cursors, loads and daily counts) or that a host stores
// beside the record (queues), in characters. [NewRouter] refuses longer
// names, and names that are not valid UTF-8 or hold control characters
// such as NUL, with a [*crm.ValidationError] naming the JSON field, so
// every adapter gives the same answer and no database index sees them.
const (
	// MaxRuleSetNameLen bounds [RuleSet.Name].
	MaxRuleSetNameLen = 64
	// MaxRuleNameLen bounds [Rule.Name], which is also restricted to
	// lower-case letters, digits and underscores, starting with a letter.
	MaxRuleNameLen = 64
	// MaxQueueLen bounds queue names: [Target.Queue], [Rule.FallbackQueue]
	// and [RuleSet.FallbackQueue].
	MaxQueueLen = 64
	// MaxSkillLen bounds each of [Rule.RequireSkills].
	MaxSkillLen = 64
)

// routingText reports what is wrong with a routing string that keys state
// or is stored by hosts, or "" when it is fine: it must be valid UTF-8,
// hold no control character (NUL included) and have at most max
// characters. Emptiness is checked by the caller.
func routingText(s string, max int) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	n := 0
	for _, c := range s {
		if unicode.IsControl(c) {
			return fmt.Sprintf("contains the control character %U", c)
		}
		n++
	}
	if n > max {
		return fmt.Sprintf("is %d characters, more than %d", n, max)
	}
	return ""
}

// Target is where a rule sends a record: exactly one of a user, a team or a
// queue. A queue name is at most [MaxQueueLen] characters of valid UTF-8
// without control characters.
type Target struct {
	User  crm.ID `json:"user,omitzero"`
	Team  crm.ID `json:"team,omitzero"`
	Queue string `json:"queue,omitempty"`
}

// Rule is one routing rule: when the record matches When, it goes to Target.
type Rule struct {
	// Name identifies the rule in explanations and keys its round-robin
	// cursor; unique within the rule set: 1 to [MaxRuleNameLen] lower-case
	// letters, digits or underscores, starting with a letter.
	Name string `json:"name"`
	// When selects records; absent matches every record.
	When *cond.Condition `json:"when,omitempty"`
	// Target is the user, team or queue that gets matching records.
	Target Target `json:"target"`
	// Strategy chooses a team member. Defaults to round_robin.
	Strategy Strategy `json:"strategy,omitempty"`
	// Sticky gives the record to the owner of the existing account
	// ([Request.Owner]) when that owner is available, before the strategy
	// runs.
	Sticky bool `json:"sticky,omitempty"`
	// RequireSkills are skills a member must all have to be considered;
	// each at most [MaxSkillLen] characters.
	RequireSkills []string `json:"require_skills,omitempty"`
	// SkillsField names a string or strings field of the record holding the
	// skills it asks for (such as "language" or "products"), used by the
	// skills strategy.
	SkillsField string `json:"skills_field,omitempty"`
	// FallbackQueue receives the record when nobody in the target fits; at
	// most [MaxQueueLen] characters. Defaults to the rule set's
	// FallbackQueue.
	FallbackQueue string `json:"fallback_queue,omitempty"`
}

// RuleSet is an ordered list of routing rules for one record type, as stored
// in JSON. The first rule whose condition matches decides.
type RuleSet struct {
	// Name identifies the rule set; persisted state is keyed by it. At
	// most [MaxRuleSetNameLen] characters of valid UTF-8 without control
	// characters.
	Name string `json:"name"`
	// RecordType is the kind of record routed, such as "lead" or "ticket".
	RecordType crm.RecordType `json:"record_type"`
	// Version increases with every change of the rules.
	Version int64  `json:"version"`
	Rules   []Rule `json:"rules"`
	// FallbackQueue receives records no rule matched or nobody fits. At
	// most [MaxQueueLen] characters of valid UTF-8 without control
	// characters.
	FallbackQueue string `json:"fallback_queue"`
	// TimeZone is the IANA zone whose calendar days reset daily quotas.
	// Defaults to UTC.
	TimeZone string `json:"time_zone,omitempty"`
}

// ParseRuleSet decodes a JSON rule set strictly; unknown keys are errors.
// Validation against a schema and a roster happens in [NewRouter].
func ParseRuleSet(data []byte) (*RuleSet, error) {
	var rs RuleSet
	if err := decodeStrict(data, &rs); err != nil {
		return nil, fmt.Errorf("workflow: decode rule set: %w", err)
	}
	return &rs, nil
}

// Absence is a period a member is away, start inclusive, end exclusive.
type Absence struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Member is one person routing may choose, with what availability depends
// on.
type Member struct {
	UserID crm.ID `json:"user_id"`
	// Name is shown in explanations.
	Name string `json:"name,omitempty"`
	// Active is false for people who left or are suspended.
	Active bool `json:"active"`
	// Capacity is the most open items the member may hold; 0 means no limit.
	Capacity int `json:"capacity,omitempty"`
	// DailyQuota is the most records routed to the member per day; 0 means
	// no limit.
	DailyQuota int `json:"daily_quota,omitempty"`
	// Weight is the member's share under the weighted strategy. Defaults to
	// Capacity, or 1 when Capacity is 0.
	Weight int      `json:"weight,omitempty"`
	Skills []string `json:"skills,omitempty"`
	// Calendar holds the member's working hours; nil means always on duty.
	Calendar *calendar.Calendar `json:"-"`
	Absences []Absence          `json:"absences,omitempty"`
}

// MemberFromUser returns the routing view of a [crm.User]: ID, name, active
// flag, capacity and skills. Hosts add quotas, calendars and absences.
func MemberFromUser(u *crm.User) Member {
	return Member{UserID: u.ID, Name: u.Name, Active: u.Active, Capacity: u.Capacity, Skills: slices.Clone(u.Skills)}
}

// Team groups members a rule can target. Member order does not matter:
// routing orders members by ID so that fairness does not depend on it.
type Team struct {
	ID      crm.ID   `json:"id"`
	Name    string   `json:"name,omitempty"`
	Members []crm.ID `json:"members"`
}

// TeamFromCRM returns the routing view of a [crm.Team].
func TeamFromCRM(t *crm.Team) Team {
	return Team{ID: t.ID, Name: t.Name, Members: slices.Clone(t.MemberIDs)}
}

// SkipReason says why a candidate was not chosen.
type SkipReason uint8

// Reasons a candidate is skipped.
const (
	NotSkipped SkipReason = iota
	SkipInactive
	SkipAbsent
	SkipOffDuty
	SkipAtCapacity
	SkipDailyQuota
	SkipMissingSkill
	SkipNoMatchingSkill
	SkipOutranked
	// SkipNotNextInRotation: a round robin chose an earlier member in the
	// rotation; this one's turn comes later.
	SkipNotNextInRotation
)

var skipNames = [...]string{"", "inactive", "absent", "off duty", "at capacity", "daily quota reached", "missing a required skill", "no matching skill", "another candidate ranked higher", "not next in the rotation"}

// String describes the reason.
func (r SkipReason) String() string {
	if int(r) < len(skipNames) {
		return skipNames[r]
	}
	return "unknown"
}

type compiledRule struct {
	name     string
	when     *cond.Predicate
	kind     targetKind
	user     int32 // member index
	team     int32 // team index
	queue    string
	strategy Strategy
	sticky   bool
	require  []string
	skills   int32 // slot of the skills field, -1 if none
	fallback string
}

type targetKind uint8

const (
	targetQueue targetKind = iota
	targetUser
	targetTeam
)

type member struct {
	Member
	hi, lo uint64 // the ID as two integers, for ordering without allocating
	weight int64
}

// Router decides where records go: it holds a compiled rule set and the
// roster of members and teams. Build a new Router when rules or the roster
// change. It is immutable and safe for concurrent use; per-decision state
// lives in [State].
type Router struct {
	set     RuleSet
	schema  *cond.Schema
	rules   []compiledRule
	ruleIdx map[string]int
	members []member
	byUser  map[crm.ID]int32
	teams   [][]int32 // member indices ordered by ID
	teamIdx map[crm.ID]int32
	loc     *time.Location
}

// NewRouter validates set against schema (fields named by conditions and
// skills fields) and the roster (targeted users and teams, team members),
// and compiles it. Every problem is reported as [crm.ValidationErrors]
// naming the field, such as "rules[3].when.field" or "rules[0].target.team".
func NewRouter(schema *cond.Schema, set *RuleSet, members []Member, teams []Team) (*Router, error) {
	if schema == nil {
		return nil, crm.Invalid("schema", "is required")
	}
	if set == nil {
		return nil, crm.Invalid("rule_set", "is required")
	}
	var probs crm.Problems
	add := probs.Add
	r := &Router{set: cloneRuleSet(set), schema: schema, ruleIdx: map[string]int{}, byUser: map[crm.ID]int32{}, teamIdx: map[crm.ID]int32{}, loc: time.UTC}
	if strings.TrimSpace(set.Name) == "" {
		add("name", "is required")
	} else if why := routingText(set.Name, MaxRuleSetNameLen); why != "" {
		add("name", "%s", why)
	}
	// The record type names routing events ("lead.routed").
	if !crm.ValidName(string(set.RecordType)) {
		add("record_type", "must be 1-64 lower-case letters, digits or underscores, starting with a letter, got %q", truncate(string(set.RecordType)))
	}
	if strings.TrimSpace(set.FallbackQueue) == "" {
		add("fallback_queue", "is required: records nobody fits must go somewhere")
	} else if why := routingText(set.FallbackQueue, MaxQueueLen); why != "" {
		add("fallback_queue", "%s", why)
	}
	if set.TimeZone != "" {
		loc, err := time.LoadLocation(set.TimeZone)
		if err != nil {
			add("time_zone", "unknown time zone %q", truncate(set.TimeZone))
		} else {
			r.loc = loc
		}
	}
	for i, m := range members {
		p := fmt.Sprintf("members[%d]", i)
		if m.UserID == crm.NilID {
			add(p+".user_id", "is required")
			continue
		}
		if _, dup := r.byUser[m.UserID]; dup {
			add(p+".user_id", "repeats %s", m.UserID)
			continue
		}
		if m.Capacity < 0 || m.DailyQuota < 0 || m.Weight < 0 {
			add(p, "capacity, daily_quota and weight must not be negative")
		}
		for j, a := range m.Absences {
			if !a.To.After(a.From) {
				add(fmt.Sprintf("%s.absences[%d].to", p, j), "must be after from")
			}
		}
		mm := member{Member: m, hi: binary.BigEndian.Uint64(m.UserID[:8]), lo: binary.BigEndian.Uint64(m.UserID[8:])}
		mm.Skills = slices.Clone(m.Skills)
		mm.Absences = slices.Clone(m.Absences)
		switch {
		case m.Weight > 0:
			mm.weight = int64(m.Weight)
		case m.Capacity > 0:
			mm.weight = int64(m.Capacity)
		default:
			mm.weight = 1
		}
		r.byUser[m.UserID] = int32(len(r.members))
		r.members = append(r.members, mm)
	}
	for i, t := range teams {
		p := fmt.Sprintf("teams[%d]", i)
		if t.ID == crm.NilID {
			add(p+".id", "is required")
			continue
		}
		if _, dup := r.teamIdx[t.ID]; dup {
			add(p+".id", "repeats %s", t.ID)
			continue
		}
		idx := make([]int32, 0, len(t.Members))
		for j, u := range t.Members {
			mi, ok := r.byUser[u]
			if !ok {
				add(fmt.Sprintf("%s.members[%d]", p, j), "unknown member %s", u)
				continue
			}
			if slices.Contains(idx, mi) {
				add(fmt.Sprintf("%s.members[%d]", p, j), "repeats %s", u)
				continue
			}
			idx = append(idx, mi)
		}
		slices.SortFunc(idx, func(a, b int32) int { return r.cmpMember(a, b) })
		r.teamIdx[t.ID] = int32(len(r.teams))
		r.teams = append(r.teams, idx)
	}
	for i := range set.Rules {
		r.compileRule(i, &set.Rules[i], &probs)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Router) compileRule(i int, in *Rule, probs *crm.Problems) {
	p := fmt.Sprintf("rules[%d]", i)
	add := probs.Add
	cr := compiledRule{name: in.Name, strategy: in.Strategy, sticky: in.Sticky, require: slices.Clone(in.RequireSkills), skills: -1, fallback: in.FallbackQueue}
	if !crm.ValidName(in.Name) {
		add(p+".name", "must be 1-%d lower-case letters, digits or underscores, starting with a letter, got %q", MaxRuleNameLen, truncate(in.Name))
	} else if _, dup := r.ruleIdx[in.Name]; dup {
		add(p+".name", "repeats %q", in.Name)
	}
	when, err := cond.Compile(r.schema, p+".when", in.When)
	probs.Merge(err)
	cr.when = when
	t := in.Target
	n := 0
	if t.User != crm.NilID {
		n++
		cr.kind = targetUser
		if mi, ok := r.byUser[t.User]; ok {
			cr.user = mi
		} else {
			add(p+".target.user", "unknown member %s", t.User)
		}
	}
	if t.Team != crm.NilID {
		n++
		cr.kind = targetTeam
		if ti, ok := r.teamIdx[t.Team]; ok {
			cr.team = ti
		} else {
			add(p+".target.team", "unknown team %s", t.Team)
		}
	}
	if t.Queue != "" {
		n++
		cr.kind, cr.queue = targetQueue, t.Queue
		if why := routingText(t.Queue, MaxQueueLen); why != "" {
			add(p+".target.queue", "%s", why)
		}
	}
	if in.FallbackQueue != "" {
		if why := routingText(in.FallbackQueue, MaxQueueLen); why != "" {
			add(p+".fallback_queue", "%s", why)
		}
	}
	for j, skill := range in.RequireSkills {
		if why := routingText(skill, MaxSkillLen); why != "" {
			add(fmt.Sprintf("%s.require_skills[%d]", p, j), "%s", why)
		}
	}
	if n != 1 {
		add(p+".target", "set exactly one of user, team or queue")
	}
	if cr.strategy == "" {
		cr.strategy = RoundRobin
	}
	if !cr.strategy.valid() {
		add(p+".strategy", "unknown strategy %q; want round_robin, weighted, least_loaded or skills", truncate(string(in.Strategy)))
	}
	if in.SkillsField != "" {
		f, ok := r.schema.Field(in.SkillsField)
		switch {
		case !ok:
			add(p+".skills_field", "unknown field %q", truncate(in.SkillsField))
		case f.Kind != cond.KindString && f.Kind != cond.KindStrings:
			add(p+".skills_field", "field %q is %s; want string or strings", f.Name, f.Kind)
		default:
			slot, _ := r.schema.Slot(in.SkillsField)
			cr.skills = int32(slot)
		}
	}
	if cr.strategy == SkillsMatch && in.SkillsField == "" {
		add(p+".skills_field", "is required by the skills strategy")
	}
	if cr.fallback == "" {
		cr.fallback = r.set.FallbackQueue
	}
	r.ruleIdx[in.Name] = i
	r.rules = append(r.rules, cr)
}

func (r *Router) cmpMember(a, b int32) int {
	x, y := &r.members[a], &r.members[b]
	switch {
	case x.hi != y.hi:
		return cmpU64(x.hi, y.hi)
	default:
		return cmpU64(x.lo, y.lo)
	}
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// RuleSet returns a copy of the rule set the router was built from.
func (r *Router) RuleSet() RuleSet { return cloneRuleSet(&r.set) }

// Day returns the quota day of now ("2006-01-02" in the rule set's zone):
// daily counters in [State] count routings on that day. [Router.Route]
// refuses a now outside the years 0001 to 9999, whose day would not have
// this form.
func (r *Router) Day(now time.Time) string { return now.In(r.loc).Format(time.DateOnly) }

func cloneRuleSet(s *RuleSet) RuleSet {
	out := *s
	out.Rules = slices.Clone(s.Rules)
	for i := range out.Rules {
		out.Rules[i].RequireSkills = slices.Clone(out.Rules[i].RequireSkills)
	}
	return out
}

// Schema returns the schema rules were validated against; build routed
// records from it.
func (r *Router) Schema() *cond.Schema { return r.schema }
