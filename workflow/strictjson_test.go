package workflow_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// Every workflow loader decodes with crm.DecodeStrict: a key repeated in
// one object is refused with its path, never resolved to the last value.
func TestLoadersRefuseARepeatedKey(t *testing.T) {
	t.Parallel()
	schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)
	doc := []byte(`{"name":"a","name":"b"}`)
	for name, load := range map[string]func([]byte) error{
		"ParseRuleSet":     func(b []byte) error { _, err := workflow.ParseRuleSet(b); return err },
		"ParseCondition":   func(b []byte) error { _, err := cond.Parse(schema, b); return err },
		"ParseDefinition":  func(b []byte) error { _, err := workflow.ParseDefinition(schema, nil, b); return err },
		"ParseMachine":     func(b []byte) error { _, err := workflow.ParseMachine(schema, nil, b); return err },
		"ParseSLAPolicies": func(b []byte) error { _, err := workflow.ParseSLAPolicies(b, nil); return err },
		"calendar.Parse":   func(b []byte) error { _, err := calendar.Parse(b); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := load(doc)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			require.ErrorContains(t, err, "name: key repeated")
		})
	}
}
