package lead

import (
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// ModelSpec is the JSON form of a rule-based scoring model. Load one with
// [ParseModel] or compile one built in Go with [Compile]; both validate it
// and report every problem with the path of the bad field.
//
// A model has two sections. Fit rules look at who the lead is (industry,
// region, company size, title, custom fields); engagement rules look at what
// the lead did ([Engagement] events) and lose value with age according to
// Decay. Each section's points are capped per group and per section, then
// graded (A..D for fit, 1..4 for engagement) and mapped to a suggested
// lifecycle stage.
type ModelSpec struct {
	// ID names the model, e.g. "smb-inbound": 1 to 64 lower-case letters,
	// digits, '-', '_' or '.'.
	ID string `json:"id"`
	// Version numbers revisions of one model, starting at 1; [Models] keeps
	// several side by side.
	Version int `json:"version"`
	// Name and Description are for people.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Fit holds rules over lead fields; event tests are not allowed here.
	Fit SectionSpec `json:"fit"`
	// Engagement holds rules over engagement events (and lead fields).
	Engagement SectionSpec `json:"engagement"`
	// TotalCap, when set, caps fit + engagement; at most [MaxScoreBound] in
	// absolute value, like every cap, threshold and stage bound.
	TotalCap *float64 `json:"total_cap,omitempty"`
	// Decay ages engagement points; nil means they never decay.
	Decay *DecaySpec `json:"decay,omitempty"`
	// Grades sets the thresholds of the grade letters and digits; nil means
	// [DefaultGradeThresholds] for both.
	Grades *GradeSpec `json:"grades,omitempty"`
	// Stages map scores to a suggested lifecycle stage; the first stage whose
	// conditions hold (its required stages' included) wins.
	Stages []StageSpec `json:"stages,omitempty"`
}

// SectionSpec is the fit or the engagement half of a model.
type SectionSpec struct {
	// Cap, when set, caps the section's points.
	Cap *float64 `json:"cap,omitempty"`
	// Groups are scored in order; each may cap its own points.
	Groups []GroupSpec `json:"groups,omitempty"`
}

// GroupSpec is a named set of rules whose points are summed and capped
// together, such as "industry" or "email activity".
type GroupSpec struct {
	Name string `json:"name"`
	// Cap, when set, caps the group's points from above.
	Cap   *float64   `json:"cap,omitempty"`
	Rules []RuleSpec `json:"rules"`
}

// RuleSpec gives points when its condition holds.
type RuleSpec struct {
	// ID names the rule in explanations; unique within the model.
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	// When is the condition, in crmkit's one condition language
	// ([cond.Condition]) over a lead ([cond.LeadSchema]):
	//
	//	{"all": [{"field": "industry", "in": ["manufacturing", "retail"]},
	//	         {"field": "company_size", "range": {"gte": 200}}]}
	//
	// Event tests ({"event": {"kind": "web_visit", "within_days": 30}})
	// belong in the engagement section. It is required.
	When *cond.Condition `json:"when"`
	// Points is what the rule gives (negative to take points away), at
	// most [MaxRulePoints] in absolute value. In the engagement section
	// they decay with the age of the most recent event that matched the
	// condition.
	Points float64 `json:"points,omitempty"`
	// PointsEach, engagement only, gives points for every counted event
	// unit (an event's Count, or 1) instead of once, each decayed by its own
	// age; at most [MaxRulePoints] in absolute value. When must then be a
	// single event test.
	PointsEach float64 `json:"points_each,omitempty"`
	// MaxPoints, when set, caps what the rule gives (after decay); at most
	// [MaxRulePoints] in absolute value.
	MaxPoints *float64 `json:"max_points,omitempty"`
}

// DecaySpec ages engagement points: either a half-life (points halve every
// HalfLifeDays) or a step-down (points are multiplied by StepFactor after
// every full StepDays).
type DecaySpec struct {
	HalfLifeDays float64 `json:"half_life_days,omitempty"`
	StepDays     float64 `json:"step_days,omitempty"`
	// StepFactor is in (0, 1); defaults to 0.5 when StepDays is set.
	StepFactor float64 `json:"step_factor,omitempty"`
}

// GradeSpec holds three strictly descending thresholds for each axis: fit
// >= Fit[0] is "A", >= Fit[1] "B", >= Fit[2] "C", else "D"; engagement >=
// Engagement[0] is "1" and so on down to "4".
type GradeSpec struct {
	Fit        []float64 `json:"fit,omitempty"`
	Engagement []float64 `json:"engagement,omitempty"`
}

// DefaultGradeThresholds are the grade thresholds used when a model sets
// none: 75, 50 and 25 points.
func DefaultGradeThresholds() []float64 { return []float64{75, 50, 25} }

// StageSpec suggests a lifecycle stage when every set bound holds.
type StageSpec struct {
	Stage         crm.LeadStatus `json:"stage"`
	MinFit        *float64       `json:"min_fit,omitempty"`
	MinEngagement *float64       `json:"min_engagement,omitempty"`
	MinTotal      *float64       `json:"min_total,omitempty"`
	MaxTotal      *float64       `json:"max_total,omitempty"`
	// Grades, when set, requires the combined grade to be one of these
	// (such as "A1").
	Grades []string `json:"grades,omitempty"`
	// Requires names other stages of this model whose conditions must hold
	// too, e.g. sales_qualified requires marketing_qualified. Cycles are
	// refused on load.
	Requires []crm.LeadStatus `json:"requires,omitempty"`
}
