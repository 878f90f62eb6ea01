package dedupe

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/crmkit/crmkit/crm"
)

// Field is one column of the records to match: its name (used in
// explanations) and its kind. Several fields may share a kind.
type Field struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Group names fields that describe one thing, so that agreeing on all
	// of them counts once: of a group's fields, only the strongest
	// agreement and the strongest disagreement count. Defaults to "place"
	// for cities, postcodes and states (a suburb lies in one postcode and
	// one state) and to none for other kinds; "-" makes a field count on
	// its own.
	Group string `json:"group,omitempty"`
}

// Record is one row to match: an identifier and one value per field of the
// [Config], in the same order. Empty values are missing and weigh nothing.
type Record struct {
	ID     string
	Values []string
}

// Class is the verdict on a pair of records.
type Class uint8

// Classes of a pair.
const (
	// NonMatch: the records are of different customers.
	NonMatch Class = iota
	// PossibleMatch: the evidence is mixed; a person should look.
	PossibleMatch
	// Match: the records are of the same customer.
	Match
)

// String returns "non_match", "possible_match" or "match".
func (c Class) String() string {
	switch c {
	case Match:
		return "match"
	case PossibleMatch:
		return "possible_match"
	}
	return "non_match"
}

// Reason is one field's contribution to a decision.
type Reason struct {
	// Field is the field's name, Kind its kind.
	Field string
	Kind  Kind
	// Level is how well the two values agree.
	Level Level
	// Weight is the evidence the field counts for in the score, in bits
	// (log2 of the likelihood ratio): positive for a match, negative
	// against, 0 when missing or when another field of its group already
	// counts the same evidence.
	Weight float64
	// Own is the field's weight taken alone, before its group is counted
	// once.
	Own float64
	// Note says how the weight was counted when not as the field alone:
	// "counted once in its group", or "matched the other name field" for
	// a given name and a family name written the other way round.
	Note string
}

// String returns "field: level (+w)", with the note when there is one.
func (r Reason) String() string {
	if r.Note != "" {
		return fmt.Sprintf("%s: %s (%+.1f, %s)", r.Field, r.Level, r.Weight, r.Note)
	}
	return fmt.Sprintf("%s: %s (%+.1f)", r.Field, r.Level, r.Weight)
}

// Decision is the verdict on a pair of records with its explanation.
type Decision struct {
	// Score is the total match weight in bits: the sum of the reasons'
	// weights. Compared with the thresholds of the [Config].
	Score float64
	// Probability is the match probability given the learnt share of
	// matches among compared pairs.
	Probability float64
	// Class is the verdict.
	Class Class
	// Reasons lists every field's contribution, in field order.
	Reasons []Reason
}

// Params are the parameters of the Fellegi-Sunter model: for every field,
// the probability of each agreement level among matching pairs (M) and
// among non-matching pairs (U), and the share of matches among compared
// pairs (Prior). [Matcher.Train] learns them from unlabelled records; they
// can be saved as JSON and given back through [Config.Params].
type Params struct {
	// Prior is the share of matches among compared pairs.
	Prior float64 `json:"prior"`
	// Fields holds one entry per field of the configuration, in order.
	Fields []FieldParams `json:"fields"`
}

// FieldParams are the probabilities of one field's agreement levels,
// ordered different, partial, close, exact.
type FieldParams struct {
	Name string     `json:"name"`
	M    [4]float64 `json:"m"`
	U    [4]float64 `json:"u"`
}

// Config configures a [Matcher].
type Config struct {
	// Fields lists the fields of every record, in order. Required.
	Fields []Field `json:"fields"`
	// Region is the ISO 3166 country assumed for phone numbers written
	// without a country code. Defaults to "CN".
	Region string `json:"region,omitempty"`
	// MatchWeight is the score (bits) from which a pair is a match.
	// Defaults to 10.
	MatchWeight float64 `json:"match_weight,omitempty"`
	// PossibleWeight is the score from which a pair is a possible match.
	// Must not exceed MatchWeight. Defaults to MatchWeight - 6.
	PossibleWeight float64 `json:"possible_weight,omitempty"`
	// Params are the model's starting parameters. Defaults to figures
	// chosen per field kind.
	Params *Params `json:"params,omitempty"`
}

// withDefaults returns a copy with defaults filled in.
func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = "CN"
	}
	if c.MatchWeight == 0 {
		c.MatchWeight = 10
	}
	if c.PossibleWeight == 0 {
		c.PossibleWeight = c.MatchWeight - 6
	}
	c.Region = strings.ToUpper(c.Region)
	return c
}

func (c Config) validate() error {
	var errs crm.ValidationErrors
	if len(c.Fields) == 0 {
		errs = append(errs, crm.Invalid("fields", "at least one field is required"))
	}
	if len(c.Fields) > 64 {
		errs = append(errs, crm.Invalid("fields", "at most 64 fields, got %d", len(c.Fields)))
	}
	seen := map[string]bool{}
	for i, f := range c.Fields {
		if strings.TrimSpace(f.Name) == "" {
			errs = append(errs, crm.Invalid(fmt.Sprintf("fields[%d].name", i), "is required"))
		} else if seen[f.Name] {
			errs = append(errs, crm.Invalid(fmt.Sprintf("fields[%d].name", i), "%q appears twice", f.Name))
		}
		seen[f.Name] = true
		if !f.Kind.Valid() {
			errs = append(errs, crm.Invalid(fmt.Sprintf("fields[%d].kind", i), "unknown kind %q", f.Kind))
		}
		if len(f.Group) > 64 || strings.ContainsFunc(f.Group, func(r rune) bool { return r < ' ' || r == utf8.RuneError }) {
			errs = append(errs, crm.Invalid(fmt.Sprintf("fields[%d].group", i), "must be at most 64 bytes of printable text"))
		}
	}
	// A region phonenumbers does not know would leave every national
	// number unparsed, so phones would silently stop matching.
	if len(c.Region) != 2 || phonenumbers.GetCountryCodeForRegion(c.Region) == 0 {
		errs = append(errs, crm.Invalid("region", "want a two-letter ISO 3166 code of a country with telephone numbers, got %q", c.Region))
	}
	if math.IsNaN(c.MatchWeight) || math.IsInf(c.MatchWeight, 0) {
		errs = append(errs, crm.Invalid("match_weight", "must be a finite number"))
	}
	if math.IsNaN(c.PossibleWeight) || c.PossibleWeight > c.MatchWeight {
		errs = append(errs, crm.Invalid("possible_weight", "must not exceed match_weight"))
	}
	if p := c.Params; p != nil {
		if len(p.Fields) != len(c.Fields) {
			errs = append(errs, crm.Invalid("params.fields", "want %d entries, one per field, got %d", len(c.Fields), len(p.Fields)))
		}
		if !(p.Prior > 0 && p.Prior < 1) {
			errs = append(errs, crm.Invalid("params.prior", "must be between 0 and 1"))
		}
		for i, fp := range p.Fields {
			for l := range 4 {
				if !(fp.M[l] >= 0 && fp.M[l] <= 1) || !(fp.U[l] >= 0 && fp.U[l] <= 1) {
					errs = append(errs, crm.Invalid(fmt.Sprintf("params.fields[%d]", i), "probabilities must be between 0 and 1"))
					break
				}
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Matcher compares records with a Fellegi-Sunter model. It is immutable
// and safe for concurrent use.
type Matcher struct {
	cfg    Config
	m, u   [][numLevels]float64
	weight [][numLevels]float64
	prior  float64

	// Early-exit scoring (see scoreAtLeast): each field's best weight
	// short of exact agreement, and the order fields are compared in.
	bestNonExact []float64
	// bestWeight is each field's highest weight, rarity included.
	bestWeight []float64
	units      []unit
	// identity is the field that names the customer (the first company
	// or full name), -1 when there is none.
	identity int
}

// NewMatcher returns a Matcher for records with the configured fields. A nil
// config is invalid: the fields are required.
func NewMatcher(cfg *Config) (*Matcher, error) {
	if cfg == nil {
		return nil, fmt.Errorf("dedupe: %w", crm.Invalid("fields", "at least one field is required"))
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: %w", err)
	}
	c.Fields = append([]Field(nil), c.Fields...)
	mt := &Matcher{cfg: c, prior: 0.01}
	mt.m = make([][numLevels]float64, len(c.Fields))
	mt.u = make([][numLevels]float64, len(c.Fields))
	for i, f := range c.Fields {
		mt.m[i], mt.u[i] = defaultProbabilities(f.Kind)
	}
	if p := c.Params; p != nil {
		mt.prior = p.Prior
		for i, fp := range p.Fields {
			copy(mt.m[i][LevelDifferent:], fp.M[:])
			copy(mt.u[i][LevelDifferent:], fp.U[:])
		}
		c.Params = nil
	}
	mt.computeWeights()
	return mt, nil
}

// Fields returns the configured fields.
func (mt *Matcher) Fields() []Field { return append([]Field(nil), mt.cfg.Fields...) }

// MatchWeight returns the score from which a pair is a match
// ([Config.MatchWeight] after defaults).
func (mt *Matcher) MatchWeight() float64 { return mt.cfg.MatchWeight }

// Region returns the country assumed for phone numbers without a country
// code ([Config.Region] after defaults).
func (mt *Matcher) Region() string { return mt.cfg.Region }

// Params returns the model's current parameters.
func (mt *Matcher) Params() Params {
	p := Params{Prior: mt.prior, Fields: make([]FieldParams, len(mt.cfg.Fields))}
	for i, f := range mt.cfg.Fields {
		p.Fields[i].Name = f.Name
		copy(p.Fields[i].M[:], mt.m[i][LevelDifferent:])
		copy(p.Fields[i].U[:], mt.u[i][LevelDifferent:])
	}
	return p
}

// withParams returns a copy of mt using new probabilities.
func (mt *Matcher) withParams(m, u [][numLevels]float64, prior float64) *Matcher {
	out := &Matcher{cfg: mt.cfg, m: m, u: u, prior: prior}
	out.computeWeights()
	return out
}

func (mt *Matcher) computeWeights() {
	mt.weight = make([][numLevels]float64, len(mt.m))
	for i := range mt.m {
		for l := LevelDifferent; l < numLevels; l++ {
			m, u := max(mt.m[i][l], 1e-6), max(mt.u[i][l], 1e-9)
			mt.weight[i][l] = clampWeight(math.Log2(m / u))
		}
	}
	mt.computeBounds()
}

// clampWeight bounds one field's weight so no single field decides alone
// against all the others.
func clampWeight(w float64) float64 { return min(max(w, -12), 20) }

// tfSpread is how far, in bits, a value's rarity may move the weight of
// exact agreement from the field's weight.
const tfSpread = 6

// termFrequencies tells how often a field's prepared value occurs among
// the records, for rarity-adjusted weights.
type termFrequencies interface {
	frequency(field int, value string) (count, total int)
}

// prepare normalises a record's values.
func (mt *Matcher) prepare(r Record) ([]normalised, error) {
	if len(r.Values) != len(mt.cfg.Fields) {
		return nil, fmt.Errorf("dedupe: record %q: %w", truncateText(r.ID),
			crm.Invalid("values", "want %d values, one per field, got %d", len(mt.cfg.Fields), len(r.Values)))
	}
	out := make([]normalised, len(r.Values))
	for i, v := range r.Values {
		out[i] = normalise(mt.cfg.Fields[i].Kind, v, mt.cfg.Region)
	}
	return out, nil
}

// levelWeight is the weight of field i agreeing at level l on value v,
// adjusted for the value's rarity when tf is given (freq is v's count in
// tf when known, 0 otherwise).
func (mt *Matcher) levelWeight(i int, l Level, v string, freq uint32, tf termFrequencies) float64 {
	w := mt.weight[i][l]
	if l != LevelExact || tf == nil || !mt.cfg.Fields[i].Kind.usesTermFrequency() {
		return w
	}
	var count, total int
	if ft, ok := tf.(*frequencyTable); ok && freq > 0 {
		count, total = int(freq), ft.total
	} else {
		count, total = tf.frequency(i, v)
	}
	if total < 2 {
		return w
	}
	// The chance that two different entities share this very value is
	// about its frequency (Splink's term-frequency adjustment).
	uValue := float64(max(count, 2)) / float64(total)
	adj := math.Log2(max(mt.m[i][LevelExact], 1e-6) / uValue)
	return min(max(adj, 0.5, w-tfSpread), w+tfSpread)
}

func (mt *Matcher) classify(score float64) Class {
	switch {
	case score >= mt.cfg.MatchWeight:
		return Match
	case score >= mt.cfg.PossibleWeight:
		return PossibleMatch
	}
	return NonMatch
}

func (mt *Matcher) probability(score float64) float64 {
	odds := math.Log2(mt.prior/(1-mt.prior)) + score
	return 1 / (1 + math.Exp2(-odds))
}

// Compare normalises two records and returns the decision on them, with
// one reason per field. Without term frequencies (see [Matcher.Cluster]
// and [Index]) exact agreement weighs the same for every value.
func (mt *Matcher) Compare(a, b Record) (Decision, error) {
	pa, err := mt.prepare(a)
	if err != nil {
		return Decision{}, err
	}
	pb, err := mt.prepare(b)
	if err != nil {
		return Decision{}, err
	}
	return mt.decide(pa, pb, nil), nil
}
