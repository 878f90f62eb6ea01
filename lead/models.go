package lead

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// Models holds several scoring models side by side, such as one per product
// line or team, each in one or more versions. It is immutable and safe for
// concurrent use; build a new set to add or retire a model.
type Models struct {
	byID map[string][]*Model // versions ascending
}

// NewModels returns the set of models. Two models with the same ID and
// version are refused.
func NewModels(models ...*Model) (*Models, error) {
	s := &Models{byID: map[string][]*Model{}}
	for i, m := range models {
		if m == nil {
			return nil, fmt.Errorf("lead: models: %w", crm.Invalid(idx("models", i), "is nil"))
		}
		vs := s.byID[m.id]
		if slices.ContainsFunc(vs, func(o *Model) bool { return o.version == m.version }) {
			return nil, fmt.Errorf("lead: models: %w", crm.Invalid(idx("models", i), "repeats model %q version %d", m.id, m.version))
		}
		vs = append(vs, m)
		slices.SortFunc(vs, func(a, b *Model) int { return cmp.Compare(a.version, b.version) })
		s.byID[m.id] = vs
	}
	return s, nil
}

// Get returns model id at version, or its latest version when version is 0.
// An unknown model or version is [crm.ErrNotFound].
func (s *Models) Get(id string, version int) (*Model, error) {
	vs := s.byID[id]
	if len(vs) == 0 {
		return nil, fmt.Errorf("lead: model %q: %w", truncate(id, 64), crm.ErrNotFound)
	}
	if version == 0 {
		return vs[len(vs)-1], nil
	}
	for _, m := range vs {
		if m.version == version {
			return m, nil
		}
	}
	return nil, fmt.Errorf("lead: model %q version %d: %w", truncate(id, 64), version, crm.ErrNotFound)
}

// Latest returns the latest version of every model, ordered by ID.
func (s *Models) Latest() []*Model {
	out := make([]*Model, 0, len(s.byID))
	for _, vs := range s.byID {
		out = append(out, vs[len(vs)-1])
	}
	slices.SortFunc(out, func(a, b *Model) int { return cmp.Compare(a.id, b.id) })
	return out
}

// Versions returns every version of model id, oldest first.
func (s *Models) Versions(id string) []*Model { return slices.Clone(s.byID[id]) }
