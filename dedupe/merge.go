package dedupe

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Rule is how a field's surviving value is chosen when duplicates merge.
type Rule string

// Survivorship rules.
const (
	// MostRecent keeps the value of the most recently updated record.
	MostRecent Rule = "most_recent"
	// MostComplete keeps the longest value (the most information).
	MostComplete Rule = "most_complete"
	// SourcePriority keeps the value from the most trusted source, in the
	// order of MergeConfig.SourcePriority.
	SourcePriority Rule = "source_priority"
	// KeepAll keeps every distinct value, for multi-valued fields such as
	// phones and e-mails; the golden value is the first.
	KeepAll Rule = "keep_all"
)

// MergeSource is one duplicate to merge.
type MergeSource struct {
	Record
	// UpdatedAt is when the record last changed, for MostRecent.
	UpdatedAt time.Time
	// Source names where the record came from ("crm", "import", "web").
	Source string
}

// MergeConfig says how each field survives a merge. The zero value is the
// default.
type MergeConfig struct {
	// Rules maps a field name to its rule. Defaults to KeepAll for phone
	// and email fields and MostComplete for the others.
	Rules map[string]Rule
	// SourcePriority lists sources from the most trusted. Defaults to none
	// (SourcePriority then behaves as MostRecent).
	SourcePriority []string
}

// Value is one field value of a golden record with where it came from.
type Value struct {
	Value string
	// From is the ID of the record it came from.
	From string
}

// GoldenField is the merged value of one field.
type GoldenField struct {
	Field string
	Rule  Rule
	// Value is the surviving value ("" when every record lacked it).
	Value Value
	// Others are the other distinct values, kept by KeepAll and listed
	// for the record by the other rules, so nothing is lost.
	Others []Value
}

// MergeResult is the outcome of merging duplicates. It is pure data: the
// caller re-points what belongs to the losers and keeps the result to undo.
type MergeResult struct {
	// SurvivorID is the record that lives on: the first source.
	SurvivorID string
	// LoserIDs are the other records; their contacts, activities and
	// opportunities must be re-pointed to SurvivorID, and the records
	// marked merged rather than deleted.
	LoserIDs []string
	// Golden has one entry per field, in field order.
	Golden []GoldenField
	// Before holds every source as it was, which is what an undo restores.
	Before []MergeSource
}

// GoldenRecord returns the survivor with its merged values.
func (r *MergeResult) GoldenRecord() Record {
	vals := make([]string, len(r.Golden))
	for i, g := range r.Golden {
		vals[i] = g.Value.Value
	}
	return Record{ID: r.SurvivorID, Values: vals}
}

// Merge combines duplicates into a golden record, field by field, keeping
// where each value came from. The first source survives. It does not
// modify its inputs.
func (mt *Matcher) Merge(sources []MergeSource, cfg *MergeConfig) (*MergeResult, error) {
	if len(sources) < 2 {
		return nil, fmt.Errorf("dedupe: merge: %w", crm.Invalid("sources", "at least two records are needed"))
	}
	var c MergeConfig
	if cfg != nil {
		c = *cfg
	}
	fields := mt.cfg.Fields
	for name, rule := range c.Rules {
		if !slices.ContainsFunc(fields, func(f Field) bool { return f.Name == name }) {
			return nil, fmt.Errorf("dedupe: merge: %w", crm.Invalid("rules."+name, "no such field"))
		}
		switch rule {
		case MostRecent, MostComplete, SourcePriority, KeepAll:
		default:
			return nil, fmt.Errorf("dedupe: merge: %w", crm.Invalid("rules."+name, "unknown rule %q", rule))
		}
	}
	seenID := map[string]bool{}
	for i, s := range sources {
		if len(s.Values) != len(fields) {
			return nil, fmt.Errorf("dedupe: merge: %w", crm.Invalid(fmt.Sprintf("sources[%d].values", i), "want %d values, got %d", len(fields), len(s.Values)))
		}
		if s.ID == "" || seenID[s.ID] {
			return nil, fmt.Errorf("dedupe: merge: %w", crm.Invalid(fmt.Sprintf("sources[%d].id", i), "must be present and unique"))
		}
		seenID[s.ID] = true
	}
	res := &MergeResult{SurvivorID: sources[0].ID, Golden: make([]GoldenField, len(fields))}
	for _, s := range sources[1:] {
		res.LoserIDs = append(res.LoserIDs, s.ID)
	}
	for _, s := range sources {
		s.Values = slices.Clone(s.Values)
		res.Before = append(res.Before, s)
	}
	rank := func(src string) int {
		if i := slices.Index(c.SourcePriority, src); i >= 0 {
			return i
		}
		return len(c.SourcePriority)
	}
	for f, field := range fields {
		rule, ok := c.Rules[field.Name]
		if !ok {
			rule = MostComplete
			if field.Kind == KindPhone || field.Kind == KindEmail {
				rule = KeepAll
			}
		}
		// Candidates in preference order; ties keep source order.
		order := make([]int, len(sources))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			sa, sb := sources[a], sources[b]
			switch rule {
			case MostComplete:
				return len([]rune(strings.TrimSpace(sb.Values[f]))) - len([]rune(strings.TrimSpace(sa.Values[f])))
			case SourcePriority:
				if ra, rb := rank(sa.Source), rank(sb.Source); ra != rb {
					return ra - rb
				}
				return sb.UpdatedAt.Compare(sa.UpdatedAt)
			case MostRecent:
				return sb.UpdatedAt.Compare(sa.UpdatedAt)
			}
			return 0
		})
		g := GoldenField{Field: field.Name, Rule: rule}
		seen := map[string]bool{}
		for _, i := range order {
			v := strings.TrimSpace(sources[i].Values[f])
			if v == "" {
				continue
			}
			// Phones and e-mails written two ways are one value; any other
			// spelling is kept, since it may be what someone searches for.
			key := Fold(v)
			if field.Kind == KindPhone || field.Kind == KindEmail {
				key = normalise(field.Kind, v, mt.cfg.Region).v
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			if g.Value.Value == "" {
				g.Value = Value{Value: v, From: sources[i].ID}
			} else {
				g.Others = append(g.Others, Value{Value: v, From: sources[i].ID})
			}
		}
		res.Golden[f] = g
	}
	return res, nil
}
