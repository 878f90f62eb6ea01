package crm_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestProblemsKeepsTheFirstAndCountsTheRest(t *testing.T) {
	t.Parallel()
	var p crm.Problems
	require.NoError(t, p.Err())
	p.Prefix = "rules."
	for i := range crm.MaxProblems + 7 {
		p.Add(fmt.Sprint(i), "bad")
	}
	require.Equal(t, crm.MaxProblems+7, p.Len())
	var es crm.ValidationErrors
	require.ErrorAs(t, p.Err(), &es)
	require.Len(t, es, crm.MaxProblems+1)
	require.Equal(t, "rules.0", es[0].Field)
	require.Equal(t, "and 7 more problems", es[crm.MaxProblems].Reason)
	require.ErrorIs(t, p.Err(), crm.ErrInvalidArgument)
}

func TestProblemsMergesNestedChecksUnderItsPrefix(t *testing.T) {
	t.Parallel()
	p := crm.Problems{Prefix: "steps[1]."}
	p.Merge(nil)
	p.Merge(crm.Invalid("name", "is required"))
	p.Merge(crm.ValidationErrors{crm.Invalid("a", "x"), crm.Invalid("b", "y")})
	p.Merge(errors.New("boom"))
	var es crm.ValidationErrors
	require.ErrorAs(t, p.Err(), &es)
	require.Equal(t, []string{"steps[1].name", "steps[1].a", "steps[1].b", "steps[1]"}, es.Fields())
}
