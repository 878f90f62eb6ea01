package pipeline

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Kind is what reaching a stage means for the deal.
type Kind string

// Stage kinds.
const (
	// KindOpen: the deal is still being worked.
	KindOpen Kind = "open"
	// KindWon: the deal is won and closed; the stage's probability is 100.
	KindWon Kind = "won"
	// KindLost: the deal is lost and closed, with a reason from the
	// stage's list; the stage's probability is 0.
	KindLost Kind = "lost"
)

// Closed reports whether reaching a stage of kind k closes the deal.
func (k Kind) Closed() bool { return k == KindWon || k == KindLost }

// Limits of one pipeline.
const (
	// MaxStages bounds the stages of a pipeline.
	MaxStages = 50
	// MaxRequired bounds the required fields of a stage.
	MaxRequired = 20
	// MaxLostReasons bounds the lost reasons of a stage.
	MaxLostReasons = 100
	// MaxPipelines bounds the pipelines of a [Set].
	MaxPipelines = 100
)

// The opportunity fields a stage may require. A custom field is named
// "fields.<key>" with key a lower-case identifier.
var requirable = []string{"amount", "expected_close", "owner_id", "department_id"}

// Stage is one step of a pipeline.
type Stage struct {
	// Name identifies the stage in its pipeline and is what
	// crm.Opportunity.Stage holds: a lower-case identifier.
	Name crm.OpportunityStage `json:"name"`
	// Label is the name people read; optional.
	Label string `json:"label,omitempty"`
	// Order places the stage in the pipeline: unique, at least 1, and
	// every open stage comes before every won or lost stage.
	Order int `json:"order"`
	// Kind is open, won or lost.
	Kind Kind `json:"kind"`
	// Probability is the default chance of winning in percent, 0 to 100:
	// 100 for a won stage, 0 for a lost one.
	Probability int `json:"probability"`
	// Required lists the opportunity fields a deal must have to enter the
	// stage: "amount" (an amount: not the zero Money), "expected_close",
	// "owner_id", "department_id", or "fields.<key>" (a custom field
	// that is set and, for a string or list, not empty).
	Required []string `json:"required,omitempty"`
	// LostReasons is the list a lost deal's reason is taken from:
	// required, and only allowed, on a lost stage. Each is a lower-case
	// identifier the host labels.
	LostReasons []string `json:"lost_reasons,omitempty"`
}

// Pipeline is an ordered set of stages a tenant's deals move through.
// A valid Pipeline (from [Parse], [Load] or [Default]) is immutable and
// safe for concurrent use.
type Pipeline struct {
	// Key identifies the pipeline in its tenant and is what
	// crm.Opportunity.Pipeline holds: a lower-case identifier; "" only for
	// the built-in pipeline ([Default]).
	Key string `json:"key"`
	// Name is the name people read; optional.
	Name string `json:"name,omitempty"`
	// Stages, in Order once parsed. At least one open, one won and one
	// lost stage.
	Stages []Stage `json:"stages"`
}

// DefaultLostReasons are the lost reasons of the built-in pipeline's
// lost stage.
var DefaultLostReasons = []string{"price", "competitor", "no_budget", "no_decision", "timing", "other"}

// Default returns the built-in pipeline, key "": the six stages of
// package crm in their order, qualification (10%), needs_analysis (20%),
// proposal (50%), negotiation (75%), won (100%) and lost (0%, with
// [DefaultLostReasons]); no stage requires a field. Deals whose Pipeline
// is empty run in it.
func Default() *Pipeline {
	return &Pipeline{Key: "", Name: "Default", Stages: []Stage{
		{Name: crm.StageQualification, Order: 1, Kind: KindOpen, Probability: 10},
		{Name: crm.StageNeedsAnalysis, Order: 2, Kind: KindOpen, Probability: 20},
		{Name: crm.StageProposal, Order: 3, Kind: KindOpen, Probability: 50},
		{Name: crm.StageNegotiation, Order: 4, Kind: KindOpen, Probability: 75},
		{Name: crm.StageWon, Order: 5, Kind: KindWon, Probability: 100},
		{Name: crm.StageLost, Order: 6, Kind: KindLost, Probability: 0, LostReasons: slices.Clone(DefaultLostReasons)},
	}}
}

// Parse reads one pipeline from JSON (strictly: unknown keys, repeated
// keys and wrong types are refused) and validates it. Every problem is
// reported at once, as [crm.ValidationErrors] naming the fields
// ("stages[2].probability"). The stages of the result are in Order.
func Parse(data []byte) (*Pipeline, error) {
	var p Pipeline
	if err := crm.DecodeStrict(data, &p); err != nil {
		return nil, fmt.Errorf("pipeline: parse: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline: parse: %w", err)
	}
	p.sort()
	return &p, nil
}

// Validate reports every problem of p, naming the field:
//
//   - key: not a lower-case identifier (a-z, 0-9, _; at most 64);
//   - stages: none, more than [MaxStages], or no open, no won or no lost
//     stage;
//   - stages[i].name: not an identifier, or the name of an earlier stage;
//   - stages[i].order: below 1, the order of an earlier stage, or an open
//     stage ordered after a won or lost one;
//   - stages[i].kind: not open, won or lost;
//   - stages[i].probability: outside 0 to 100, not 100 for a won stage, not
//     0 for a lost one;
//   - stages[i].required[j]: not a requirable field, or repeated;
//   - stages[i].lost_reasons: missing on a lost stage or present on
//     another; stages[i].lost_reasons[j]: not an identifier, or repeated.
func (p *Pipeline) Validate() error {
	var v crm.Problems
	if !crm.IsIdentifier(p.Key) {
		v.Add("key", "must be a lower-case identifier (a-z, 0-9, _; starting with a letter; at most 64), got %q", clip(p.Key))
	}
	if len(p.Name) > 200 {
		v.Add("name", "longer than 200 bytes")
	}
	p.validateStages(&v)
	return v.Err()
}

func (p *Pipeline) validateStages(v *crm.Problems) {
	switch {
	case len(p.Stages) == 0:
		v.Add("stages", "is required")
		return
	case len(p.Stages) > MaxStages:
		v.Add("stages", "has %d stages, more than %d", len(p.Stages), MaxStages)
		return
	}
	names := map[crm.OpportunityStage]int{}
	orders := map[int]int{}
	kinds := map[Kind]int{}
	firstClosed := 0 // lowest order of a won or lost stage
	for _, s := range p.Stages {
		if s.Kind.Closed() && s.Order >= 1 && (firstClosed == 0 || s.Order < firstClosed) {
			firstClosed = s.Order
		}
	}
	for i, s := range p.Stages {
		at := fmt.Sprintf("stages[%d].", i)
		if !s.Name.WellFormed() {
			v.Add(at+"name", "must be a lower-case identifier (a-z, 0-9, _; starting with a letter; at most 64), got %q", clip(string(s.Name)))
		} else if j, dup := names[s.Name]; dup {
			v.Add(at+"name", "duplicates stages[%d].name %q", j, s.Name)
		} else {
			names[s.Name] = i
		}
		if len(s.Label) > 200 {
			v.Add(at+"label", "longer than 200 bytes")
		}
		switch {
		case s.Order < 1:
			v.Add(at+"order", "must be at least 1, got %d", s.Order)
		case orders[s.Order] != 0:
			v.Add(at+"order", "duplicates the order %d of stages[%d]", s.Order, orders[s.Order]-1)
		case s.Kind == KindOpen && firstClosed != 0 && s.Order > firstClosed:
			v.Add(at+"order", "an open stage must come before every won and lost stage: %d is after %d", s.Order, firstClosed)
		}
		if s.Order >= 1 && orders[s.Order] == 0 {
			orders[s.Order] = i + 1
		}
		switch s.Kind {
		case KindOpen, KindWon, KindLost:
			kinds[s.Kind]++
		default:
			v.Add(at+"kind", "must be open, won or lost, got %q", clip(string(s.Kind)))
		}
		switch {
		case s.Probability < 0 || s.Probability > 100:
			v.Add(at+"probability", "must be between 0 and 100, got %d", s.Probability)
		case s.Kind == KindWon && s.Probability != 100:
			v.Add(at+"probability", "must be 100 in a won stage, got %d", s.Probability)
		case s.Kind == KindLost && s.Probability != 0:
			v.Add(at+"probability", "must be 0 in a lost stage, got %d", s.Probability)
		}
		validateRequired(v, at, s.Required)
		validateReasons(v, at, s)
	}
	for _, k := range []Kind{KindOpen, KindWon, KindLost} {
		if kinds[k] == 0 {
			v.Add("stages", "has no %s stage: a pipeline needs at least one open, one won and one lost stage", k)
		}
	}
}

func validateRequired(v *crm.Problems, at string, req []string) {
	if len(req) > MaxRequired {
		v.Add(at+"required", "has %d fields, more than %d", len(req), MaxRequired)
		return
	}
	for j, f := range req {
		field := fmt.Sprintf("%srequired[%d]", at, j)
		switch {
		case !Requirable(f):
			v.Add(field, "must be one of %s or \"fields.<key>\" with key a lower-case identifier, got %q", strings.Join(requirable, ", "), clip(f))
		case slices.Index(req, f) < j:
			v.Add(field, "repeats %q", f)
		}
	}
}

func validateReasons(v *crm.Problems, at string, s Stage) {
	switch {
	case s.Kind == KindLost && len(s.LostReasons) == 0:
		v.Add(at+"lost_reasons", "is required in a lost stage: a lost deal takes a reason from it")
	case s.Kind != KindLost && len(s.LostReasons) > 0:
		v.Add(at+"lost_reasons", "is allowed only in a lost stage")
	case len(s.LostReasons) > MaxLostReasons:
		v.Add(at+"lost_reasons", "has %d reasons, more than %d", len(s.LostReasons), MaxLostReasons)
	default:
		for j, r := range s.LostReasons {
			field := fmt.Sprintf("%slost_reasons[%d]", at, j)
			switch {
			case !crm.IsIdentifier(r):
				v.Add(field, "must be a lower-case identifier (a-z, 0-9, _; starting with a letter; at most 64), got %q", clip(r))
			case slices.Index(s.LostReasons, r) < j:
				v.Add(field, "repeats %q", r)
			}
		}
	}
}

// Requirable reports whether a stage may require field f: one of
// "amount", "expected_close", "owner_id", "department_id", or
// "fields.<key>" with key a lower-case identifier.
func Requirable(f string) bool {
	if key, ok := strings.CutPrefix(f, "fields."); ok {
		return crm.IsIdentifier(key)
	}
	return slices.Contains(requirable, f)
}

func (p *Pipeline) sort() {
	slices.SortStableFunc(p.Stages, func(a, b Stage) int { return a.Order - b.Order })
}

// Stage returns the stage named name.
func (p *Pipeline) Stage(name crm.OpportunityStage) (Stage, bool) {
	for _, s := range p.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// First returns the first open stage, where new deals start.
func (p *Pipeline) First() Stage {
	for _, s := range p.Stages {
		if s.Kind == KindOpen {
			return s
		}
	}
	return p.Stages[0]
}

// StagesOf returns the names of the stages of kind k, in order.
func (p *Pipeline) StagesOf(k Kind) []crm.OpportunityStage {
	var out []crm.OpportunityStage
	for _, s := range p.Stages {
		if s.Kind == k {
			out = append(out, s.Name)
		}
	}
	return out
}

// Set is the pipelines of one tenant, by key. The built-in pipeline
// ([Default], key "") is always in it. A Set is immutable and safe for
// concurrent use.
type Set struct {
	byKey map[string]*Pipeline
	keys  []string
}

// NewSet returns the set of the built-in pipeline and ps, which must be
// valid and have distinct keys (as [Load] checks).
func NewSet(ps ...*Pipeline) (*Set, error) {
	s := &Set{byKey: map[string]*Pipeline{"": Default()}, keys: []string{""}}
	var v crm.Problems
	if len(ps) > MaxPipelines {
		v.Add("pipelines", "has %d pipelines, more than %d", len(ps), MaxPipelines)
		return nil, v.Err()
	}
	for i, p := range ps {
		at := fmt.Sprintf("pipelines[%d]", i)
		if p == nil {
			v.Add(at, "is required")
			continue
		}
		if err := p.Validate(); err != nil {
			v.MergeAt(at, err)
			continue
		}
		if _, dup := s.byKey[p.Key]; dup {
			v.Add(at+".key", "repeats the key %q of another pipeline", p.Key)
			continue
		}
		c := &Pipeline{Key: p.Key, Name: p.Name, Stages: slices.Clone(p.Stages)}
		c.sort()
		s.byKey[p.Key] = c
		s.keys = append(s.keys, p.Key)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reads a tenant's pipelines from a JSON document
// {"pipelines": [<pipeline>, ...]} and validates them all, reporting every
// problem at once with its path ("pipelines[1].stages[0].kind"); keys
// must be distinct. The built-in pipeline is added under key "".
func Load(r io.Reader) (*Set, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("pipeline: load: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("pipeline: load: %w", crm.Invalid("pipelines", "document larger than 1 MiB"))
	}
	var doc struct {
		Pipelines []*Pipeline `json:"pipelines"`
	}
	if err := crm.DecodeStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("pipeline: load: %w", err)
	}
	s, err := NewSet(doc.Pipelines...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: load: %w", err)
	}
	return s, nil
}

// Pipeline returns the pipeline of key ("" is the built-in one).
func (s *Set) Pipeline(key string) (*Pipeline, bool) {
	if s == nil {
		if key == "" {
			return Default(), true
		}
		return nil, false
	}
	p, ok := s.byKey[key]
	return p, ok
}

// Keys returns the keys of the set's pipelines: "" first, then in the
// order they were given.
func (s *Set) Keys() []string {
	if s == nil {
		return []string{""}
	}
	return slices.Clone(s.keys)
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
