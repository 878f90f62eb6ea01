package cond_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// Hostile condition documents are refused cheaply: sizes are checked
// before anything expensive is parsed, and the problem list is capped.
func TestConditionLoadersRefuseHostileDocumentsCheaply(t *testing.T) {
	t.Parallel()
	schema, err := cond.NewSchema(cond.Field{Name: "amount", Kind: cond.KindNumber}, cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)

	t.Run("AHugeNumberLiteralIsRefusedUnparsed", func(t *testing.T) {
		doc := `{"field":"amount","equals":` + "1" + strings.Repeat("0", 1_000_000) + `}`
		_, err := cond.Parse(schema, []byte(doc))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		var all crm.ValidationErrors
		require.ErrorAs(t, err, &all)
		require.Len(t, all, 1)
		require.Contains(t, all[0].Error(), "longer than 40 characters")
	})
	t.Run("ADocumentOverTheSizeLimitIsRefusedUnread", func(t *testing.T) {
		doc := `{"any":[` + strings.Repeat(`{"field":"region","equals":"x"},`, cond.MaxDocumentBytes/30) + `{"field":"region","equals":"x"}]}`
		_, err := cond.Parse(schema, []byte(doc))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.ErrorContains(t, err, "more than 1048576")
	})
	t.Run("TheProblemListIsCapped", func(t *testing.T) {
		doc := `{"any":[` + strings.Repeat(`{"field":"nope","equals":"x"},`, 5000) + `{"field":"nope","equals":"x"}]}`
		_, err := cond.Parse(schema, []byte(doc))
		var all crm.ValidationErrors
		require.ErrorAs(t, err, &all)
		require.Len(t, all, 101)
		require.Contains(t, all[100].Error(), "and 4901 more problems")
		require.Less(t, len(err.Error()), 20_000)
	})
	t.Run("DeepNestingIsRefusedWithoutOverflowingTheStack", func(t *testing.T) {
		doc := strings.Repeat(`{"not":`, 100_000) + `{"field":"region","equals":"x"}` + strings.Repeat(`}`, 100_000)
		_, err := cond.Parse(schema, []byte(doc))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.ErrorContains(t, err, "nested more than")
	})
}

// Numbers JSON cannot hold, and numbers too large to compare exactly, are
// refused with their paths, cheaply.
func TestConditionNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	schema, err := cond.NewSchema(cond.Field{Name: "amount", Kind: cond.KindNumber})
	require.NoError(t, err)
	for _, tc := range []struct{ doc, field, msg string }{
		{`{"field":"amount","equals":NaN}`, "equals", "no NaN or Infinity"},
		{`{"all":[{"field":"amount","range":{"gt":-Infinity}}]}`, "all[0].range.gt", "no NaN or Infinity"},
		{`{"field":"amount","equals":"NaN"}`, "equals", "compares with a decimal number"},
		{`{"field":"amount","in":[1,"Infinity"]}`, "in[1]", "compares with a decimal number"},
		{`{"field":"amount","equals":1e99999999}`, "equals", "compares with a decimal number"},
		{`{"field":"amount","equals":1e9999}`, "equals", "out of range"},
		{`{"field":"amount","range":{"lt":"1e-999"}}`, "range.lt", "out of range"},
	} {
		_, err := cond.Parse(schema, []byte(tc.doc))
		require.ErrorIs(t, err, crm.ErrInvalidArgument, tc.doc)
		var all crm.ValidationErrors
		require.ErrorAs(t, err, &all)
		require.Equal(t, tc.field, all[0].Field, tc.doc)
		require.ErrorContains(t, err, tc.msg, tc.doc)
	}
}

// A condition built in Go that contains itself is refused by Compile and
// walked and copied in finite time, never overflowing the stack.
func TestConditionThatContainsItself(t *testing.T) {
	t.Parallel()
	schema, err := cond.NewSchema(cond.Field{Name: "region", Kind: cond.KindString})
	require.NoError(t, err)
	loop := &cond.Condition{}
	loop.Not = loop
	require.False(t, loop.HasEvent())
	require.NotNil(t, loop.Clone())
	_, err = cond.Compile(schema, "when", loop)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, "nested more than")
	all := &cond.Condition{All: []cond.Condition{{}}}
	all.All[0].Any = []cond.Condition{*all}
	require.False(t, all.HasEvent())
	_ = all.Clone()
}
