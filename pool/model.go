package pool

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Pool is one public customer pool (公海): who may claim from it, which
// customers enter it, how neglected customers fall back into it and which
// fields stay hidden while a customer sits in it. A Pool is plain data,
// usually stored as JSON; [ParsePool] and [Pool.Validate] check it. Safe for
// concurrent reads.
type Pool struct {
	ID       crm.ID `json:"id"`
	TenantID string `json:"tenant_id,omitempty"`
	// Version is the optimistic-concurrency version, owned by the store.
	Version int64  `json:"version"`
	Name    string `json:"name"`
	// Priority decides between several pools whose entry rules match one
	// customer: the highest priority wins, ties go to the lowest pool ID, so
	// the choice never depends on storage order.
	Priority int `json:"priority"`
	// TimeZone is the IANA zone in which daily claim limits reset at
	// midnight. Defaults to "UTC".
	TimeZone string `json:"time_zone,omitempty"`
	// Admins may assign, move, enter and release any customer of the pool.
	Admins []crm.ID `json:"admins,omitempty"`
	// Members may claim from the pool.
	Members Members `json:"members"`
	// Entry selects the customers that enter this pool by rule, a
	// condition on [cond.CustomerSchema] such as
	// {"all": [{"field": "region", "in": ["cn-east"]}, {"field": "level", "equals": "C"}]};
	// nil means customers enter only by hand.
	Entry *cond.Condition `json:"entry,omitempty"`
	// HiddenFields are customer fields masked for everyone but the owner
	// (see [Pool.Mask]): "phone", "email", "address", "website" or
	// "fields.<name>".
	HiddenFields []string `json:"hidden_fields,omitempty"`
	// Recycle holds the recycling rule and its past and future versions,
	// each taking effect at its EffectiveFrom. Empty means customers claimed
	// from this pool are never recycled.
	Recycle []RecycleRule `json:"recycle,omitempty"`
	// Limits are the pool's daily claim limits (kind "daily_claims").
	Limits []Limit `json:"limits,omitempty"`
	// PreviousOwnerCooldownDays stops the last owner from re-claiming a
	// customer for that many days after it left them. 0 means no cooldown.
	PreviousOwnerCooldownDays int `json:"previous_owner_cooldown_days,omitempty"`
	// NewEntryCooldownHours stops everyone from claiming a customer for that
	// many hours after it entered the pool. 0 means no cooldown.
	NewEntryCooldownHours int `json:"new_entry_cooldown_hours,omitempty"`
	// ProtectionDays protects a customer from recycling for that many days
	// after it was claimed, assigned, transferred or created. 0 means no
	// protection period.
	ProtectionDays int `json:"protection_days,omitempty"`
	// NoticeDays is how many days before an owned customer falls back
	// ([Holding.DueAt]) its owner is told so: the reminder sweep (package
	// remind, kind pool.notice) fires once per due time that is at most
	// this many days ahead. 0 means no notices; at most 365.
	NoticeDays int `json:"notice_days,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Members says who may claim from a pool. A user is a member when All is
// set, the user is listed, the user's home department is listed, or it lies
// in the subtree of a listed department tree.
type Members struct {
	All             bool     `json:"all,omitempty"`
	Users           []crm.ID `json:"users,omitempty"`
	Departments     []crm.ID `json:"departments,omitempty"`
	DepartmentTrees []crm.ID `json:"department_trees,omitempty"`
}

// ConditionKind names a recycling condition.
type ConditionKind string

// Recycling conditions. Each counts days from the later of the event it
// names and the moment the current owner got the customer, so a fresh claim
// always has the full period.
const (
	// NoFollowUp: no follow-up ([crm.Customer.LastFollowUpAt]) for N days.
	NoFollowUp ConditionKind = "no_follow_up"
	// NoDeal: no deal ([crm.Customer.LastDealAt]) for N days.
	NoDeal ConditionKind = "no_deal"
	// NoOpportunity: no opportunity created for N days.
	NoOpportunity ConditionKind = "no_opportunity"
	// ProtectionExpired: the protection period ([Pool.ProtectionDays]) has
	// ended; Days must be omitted.
	ProtectionExpired ConditionKind = "protection_expired"
)

// Condition is one recycling condition.
type Condition struct {
	Kind ConditionKind `json:"kind"`
	// Days is the period for every customer level not in LevelDays. It
	// must be at least 1 (0 is refused, never read as "off").
	Days int `json:"days,omitempty"`
	// LevelDays overrides Days per [crm.Customer.Level], e.g. {"A": 60}.
	LevelDays map[string]int `json:"level_days,omitempty"`
}

// Combine says how conditions combine.
type Combine string

// Combinations.
const (
	// All recycles when every condition holds (AND): the latest due time.
	All Combine = "all"
	// Any recycles when one condition holds (OR): the earliest due time.
	Any Combine = "any"
)

// Exclusions keep customers out of recycling. Locked customers are always
// excluded.
type Exclusions struct {
	// Dealt excludes customers whose status is [crm.CustomerDealt].
	Dealt bool `json:"dealt,omitempty"`
	// OpenOpportunity excludes customers with at least one opportunity in an
	// open stage ([crm.OpportunityStage.Open]); won, lost and deleted
	// opportunities do not count.
	OpenOpportunity bool `json:"open_opportunity,omitempty"`
}

// RecycleRule is one version of a pool's recycling rule.
type RecycleRule struct {
	// ID names the rule version; it is recorded in ledger entries.
	ID string `json:"id"`
	// EffectiveFrom is when this version replaces the previous one. A
	// customer is never recycled by a version before it takes effect.
	EffectiveFrom time.Time `json:"effective_from"`
	// Combine is "all" (AND) or "any" (OR). Defaults to "any".
	Combine    Combine     `json:"combine,omitempty"`
	Conditions []Condition `json:"conditions"`
	Exclude    Exclusions  `json:"exclude"`
}

// LimitKind names a limit.
type LimitKind string

// Limit kinds.
const (
	// OwnedCustomers caps how many customers a user owns (service-wide).
	OwnedCustomers LimitKind = "owned_customers"
	// LockedCustomers caps how many customers a user keeps locked
	// (service-wide).
	LockedCustomers LimitKind = "locked_customers"
	// DailyClaims caps claims per user and pool per calendar day in the
	// pool's time zone. Every claim counts, also ones released again.
	DailyClaims LimitKind = "daily_claims"
)

// Limit caps one quantity for the users it applies to: everyone when Users,
// Departments and Roles are all empty, else the users listed, in a listed
// home department, or holding a listed role.
//
// Resolution, the one documented way: every applicable limit of a kind must
// hold, so the strictest wins. An Exception limit names users explicitly and
// replaces, for them, every non-exception limit of its kind, whether higher
// or lower.
type Limit struct {
	Kind LimitKind `json:"kind"`
	// Max is the cap, 0 or more; 0 allows none.
	Max int `json:"max"`
	// CountDealt counts dealt customers against an owned_customers cap;
	// when false only customers not yet dealt count.
	CountDealt  bool     `json:"count_dealt,omitempty"`
	Users       []crm.ID `json:"users,omitempty"`
	Departments []crm.ID `json:"departments,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	// Exception makes this a per-user exception; it must list Users only.
	Exception bool `json:"exception,omitempty"`
}

// applies reports whether the limit covers u.
func (l *Limit) applies(u *crm.User) bool {
	if len(l.Users) == 0 && len(l.Departments) == 0 && len(l.Roles) == 0 {
		return true
	}
	if slices.Contains(l.Users, u.ID) || (u.DepartmentID != crm.NilID && slices.Contains(l.Departments, u.DepartmentID)) {
		return true
	}
	for _, r := range l.Roles {
		if u.HasRole(r) {
			return true
		}
	}
	return false
}

// resolveLimits returns the limits of kind that bind u: the exceptions
// naming u if there are any, else every applicable limit.
func resolveLimits(limits []Limit, kind LimitKind, u *crm.User) []*Limit {
	var out, exceptions []*Limit
	for i := range limits {
		l := &limits[i]
		if l.Kind != kind || !l.applies(u) {
			continue
		}
		if l.Exception {
			exceptions = append(exceptions, l)
		} else {
			out = append(out, l)
		}
	}
	if len(exceptions) > 0 {
		return exceptions
	}
	return out
}

// ParsePool decodes and validates a pool from JSON with
// [cond.DecodeStrict]: unknown fields, repeated keys, wrong types and
// trailing data are refused with their JSON paths, so a misspelt setting is
// never silently ignored, and an entry rule in the retired
// {"match": [...]} form is refused with the form to write instead.
func ParsePool(data []byte) (*Pool, error) {
	var p Pool
	if err := cond.DecodeStrict(data, &p); err != nil {
		return nil, fmt.Errorf("pool: parse pool: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// ParseLimits decodes and validates a JSON array of service-wide limits
// (owned_customers, locked_customers) for [Config.Limits], with
// [cond.DecodeStrict], the one strict decoder of rule documents.
func ParseLimits(data []byte) ([]Limit, error) {
	var ls []Limit
	if err := cond.DecodeStrict(data, &ls); err != nil {
		return nil, fmt.Errorf("pool: parse limits: %w", err)
	}
	var v crm.Problems
	validateLimits(&v, "", ls, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return ls, nil
}

const (
	maxName     = 200
	maxList     = 1000
	maxDays     = 3650
	maxHours    = 24 * 365
	maxRuleVers = 100
	// MaxNoticeDays bounds [Pool.NoticeDays].
	MaxNoticeDays = 365
)

// Validate reports every invalid field as [crm.ValidationErrors].
func (p *Pool) Validate() error {
	var v crm.Problems
	if p.ID == crm.NilID {
		v.Add("id", "is required")
	}
	if strings.TrimSpace(p.Name) == "" {
		v.Add("name", "is required")
	} else if !storableText(p.Name) || utf8.RuneCountInString(p.Name) > maxName {
		v.Add("name", "must be valid UTF-8 without control characters, of at most %d characters", maxName)
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
			v.Add("time_zone", "unknown time zone %q", trunc(p.TimeZone))
		}
	}
	idList(&v, "admins", p.Admins)
	idList(&v, "members.users", p.Members.Users)
	idList(&v, "members.departments", p.Members.Departments)
	idList(&v, "members.department_trees", p.Members.DepartmentTrees)
	if p.Entry != nil {
		v.Merge(cond.Check(cond.CustomerSchema(), "entry", p.Entry))
	}
	for i, f := range p.HiddenFields {
		if !hideable(f) || !storableText(f) {
			v.Add(fmt.Sprintf("hidden_fields[%d]", i), "unknown or unmaskable customer field %q", trunc(f))
		}
	}
	if len(p.Recycle) > maxRuleVers {
		v.Add("recycle", "more than %d rule versions", maxRuleVers)
	}
	ruleIDs := make(map[string]bool, len(p.Recycle))
	for i := range p.Recycle {
		r := &p.Recycle[i]
		f := fmt.Sprintf("recycle[%d]", i)
		r.validate(&v, f, p.ProtectionDays)
		if ruleIDs[r.ID] {
			v.Add(f+".id", "repeats %q", trunc(r.ID))
		}
		ruleIDs[r.ID] = true
		if i > 0 && !r.EffectiveFrom.After(p.Recycle[i-1].EffectiveFrom) {
			v.Add(f+".effective_from", "must be after the previous version's")
		}
	}
	validateLimits(&v, "limits", p.Limits, true)
	nonNegative(&v, "previous_owner_cooldown_days", p.PreviousOwnerCooldownDays, maxDays)
	nonNegative(&v, "new_entry_cooldown_hours", p.NewEntryCooldownHours, maxHours)
	nonNegative(&v, "protection_days", p.ProtectionDays, maxDays)
	nonNegative(&v, "notice_days", p.NoticeDays, MaxNoticeDays)
	return v.Err()
}

// storableText reports whether s is valid UTF-8 without control
// characters: text every adapter stores alike (PostgreSQL refuses NUL in
// text and jsonb).
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

func (r *RecycleRule) validate(v *crm.Problems, f string, protectionDays int) {
	if strings.TrimSpace(r.ID) == "" || len(r.ID) > 64 || !utf8.ValidString(r.ID) || strings.ContainsFunc(r.ID, unicode.IsControl) {
		// The ID is stored in holdings and ledger entries as text.
		v.Add(f+".id", "is required, at most 64 bytes of UTF-8 without control characters")
	}
	if r.EffectiveFrom.IsZero() {
		v.Add(f+".effective_from", "is required")
	}
	if r.Combine != "" && r.Combine != All && r.Combine != Any {
		v.Add(f+".combine", "must be \"all\" or \"any\", got %q", trunc(string(r.Combine)))
	}
	if len(r.Conditions) == 0 {
		v.Add(f+".conditions", "is empty")
	}
	seen := map[ConditionKind]bool{}
	for j, c := range r.Conditions {
		cf := fmt.Sprintf("%s.conditions[%d]", f, j)
		switch c.Kind {
		case NoFollowUp, NoDeal, NoOpportunity:
			if c.Days < 1 || c.Days > maxDays {
				v.Add(cf+".days", "must be between 1 and %d, got %d", maxDays, c.Days)
			}
			for lvl, d := range c.LevelDays {
				if d < 1 || d > maxDays {
					v.Add(cf+".level_days."+trunc(lvl), "must be between 1 and %d, got %d", maxDays, d)
				}
			}
		case ProtectionExpired:
			if c.Days != 0 || len(c.LevelDays) > 0 {
				v.Add(cf+".days", "protection_expired takes its period from protection_days")
			}
			if protectionDays == 0 {
				v.Add(cf+".kind", "protection_expired needs protection_days to be set")
			}
		default:
			v.Add(cf+".kind", "unknown condition %q", trunc(string(c.Kind)))
		}
		if seen[c.Kind] {
			v.Add(cf+".kind", "repeats %q", c.Kind)
		}
		seen[c.Kind] = true
	}
}

func validateLimits(v *crm.Problems, prefix string, ls []Limit, inPool bool) {
	if len(ls) > maxList {
		v.Add(prefix, "more than %d limits", maxList)
	}
	for i, l := range ls {
		f := fmt.Sprintf("[%d]", i)
		if prefix != "" {
			f = prefix + f
		}
		switch {
		case l.Kind == DailyClaims && !inPool:
			v.Add(f+".kind", "daily_claims limits belong to a pool")
		case (l.Kind == OwnedCustomers || l.Kind == LockedCustomers) && inPool:
			v.Add(f+".kind", "%s limits are service-wide; set them in Config.Limits", l.Kind)
		case l.Kind != DailyClaims && l.Kind != OwnedCustomers && l.Kind != LockedCustomers:
			v.Add(f+".kind", "unknown limit %q", trunc(string(l.Kind)))
		}
		if l.Max < 0 {
			v.Add(f+".max", "must not be negative, got %d", l.Max)
		}
		if l.CountDealt && l.Kind != OwnedCustomers {
			v.Add(f+".count_dealt", "applies to owned_customers only")
		}
		if l.Exception && (len(l.Users) == 0 || len(l.Departments) > 0 || len(l.Roles) > 0) {
			v.Add(f+".users", "an exception must name users and nothing else")
		}
		idList(v, f+".users", l.Users)
		idList(v, f+".departments", l.Departments)
	}
}

func idList(v *crm.Problems, field string, ids []crm.ID) {
	if len(ids) > maxList {
		v.Add(field, "has more than %d values", maxList)
	}
	for i, id := range ids {
		if id == crm.NilID {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "is the nil ID")
		}
	}
}

func nonNegative(v *crm.Problems, field string, n, max int) {
	if n < 0 || n > max {
		v.Add(field, "must be between 0 and %d, got %d", max, n)
	}
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Location returns the pool's time zone (UTC when unset or unknown).
func (p *Pool) Location() *time.Location {
	if p.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Clone returns a deep copy.
func (p *Pool) Clone() *Pool {
	out := *p
	out.Admins = slices.Clone(p.Admins)
	out.Members.Users = slices.Clone(p.Members.Users)
	out.Members.Departments = slices.Clone(p.Members.Departments)
	out.Members.DepartmentTrees = slices.Clone(p.Members.DepartmentTrees)
	out.Entry = p.Entry.Clone()
	out.HiddenFields = slices.Clone(p.HiddenFields)
	out.Recycle = make([]RecycleRule, len(p.Recycle))
	for i, r := range p.Recycle {
		r.Conditions = slices.Clone(r.Conditions)
		for j := range r.Conditions {
			if r.Conditions[j].LevelDays != nil {
				m := make(map[string]int, len(r.Conditions[j].LevelDays))
				for k, d := range r.Conditions[j].LevelDays {
					m[k] = d
				}
				r.Conditions[j].LevelDays = m
			}
		}
		out.Recycle[i] = r
	}
	if p.Recycle == nil {
		out.Recycle = nil
	}
	out.Limits = make([]Limit, len(p.Limits))
	for i, l := range p.Limits {
		l.Users, l.Departments, l.Roles = slices.Clone(l.Users), slices.Clone(l.Departments), slices.Clone(l.Roles)
		out.Limits[i] = l
	}
	if p.Limits == nil {
		out.Limits = nil
	}
	return &out
}

func hideable(f string) bool {
	switch f {
	case "phone", "email", "address", "website":
		return true
	}
	name, ok := strings.CutPrefix(f, "fields.")
	return ok && crm.ValidName(name)
}

// Matches reports whether the pool's entry rule selects c. A pool without an
// entry rule, or with one that does not compile, matches nothing. It
// compiles the rule on every call; [Service] keeps each pool version's
// compiled rule instead.
func (p *Pool) Matches(c *crm.Customer) bool {
	pred, err := p.EntryPredicate()
	if err != nil || pred == nil {
		return false
	}
	r := cond.CustomerSchema().NewRecord()
	if err := cond.FillCustomer(r, c); err != nil {
		return false
	}
	return pred.Match(r)
}

// EntryPredicate compiles the pool's entry rule against
// [cond.CustomerSchema]; it returns nil for a pool without one.
func (p *Pool) EntryPredicate() (*cond.Predicate, error) {
	if p.Entry == nil {
		return nil, nil
	}
	return cond.Compile(cond.CustomerSchema(), "entry", p.Entry)
}

// Mask returns a copy of c with the pool's hidden fields masked: phone
// numbers keep their first three and last four digits ("138****5678"),
// everything else becomes "***".
func (p *Pool) Mask(c *crm.Customer) *crm.Customer {
	out := c.Clone()
	for _, f := range p.HiddenFields {
		switch f {
		case "phone":
			out.Phone = maskPhone(out.Phone)
		case "email":
			out.Email = maskAll(out.Email)
		case "address":
			out.Address = maskAll(out.Address)
		case "website":
			out.Website = maskAll(out.Website)
		default:
			name, _ := strings.CutPrefix(f, "fields.")
			if _, ok := out.Fields[name]; ok {
				out.Fields[name] = crm.String("***")
			}
		}
	}
	return out
}

func maskAll(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

func maskPhone(s string) string {
	r := []rune(s)
	if len(r) < 8 {
		return maskAll(s)
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}
