package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStory runs the example and checks the lines that carry its story: a
// small discount needs nobody, a large one goes to the department manager
// first with the opportunity locked, the silent manager's step escalates
// to the director, the parallel finance step goes to the delegate of the
// approver who is away, and the outbox holds every change in order.
func TestStory(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	section := func(n string) string {
		start := strings.Index(got, "\n"+n+". ")
		require.GreaterOrEqual(t, start, 0, "section %s is missing", n)
		rest := got[start+1:]
		if end := strings.Index(rest, "\n\n"); end >= 0 {
			rest = rest[:end]
		}
		return rest
	}

	require.Contains(t, section("3"), "   status approved")

	s4 := section("4")
	require.Contains(t, s4, "status pending, definition version 1, locked true")
	require.Regexp(t, `step sales_manager active +Liu Yang: waiting;\n`, s4)
	require.Regexp(t, `step director +waiting`, s4)
	require.Regexp(t, `step finance +waiting`, s4)
	require.Contains(t, s4, "editing the opportunity now is refused: true")

	s5 := section("5")
	require.Contains(t, s5, "status pending")
	require.Regexp(t, `step sales_manager active +Liu Yang: waiting; Chen Jie: waiting \(escalated\);`, s5)

	s6 := section("6")
	require.Contains(t, s6, "status approved, definition version 1, locked false")
	require.Regexp(t, `step sales_manager approved +Liu Yang: no answer needed; Chen Jie: approved \(escalated\);`, s6)
	require.Regexp(t, `step director +approved +Chen Jie: approved;`, s6)
	require.Regexp(t, `step finance +approved +Wu Lan: approved \(for Zhou Min\);`, s6)
	require.NotContains(t, got, "Zhou Min: approved", "Zhou Min is away: her delegate decides")

	// Each submission stores its customer and deal in the same unit of
	// work, so their change events and the pool's precede the request's.
	require.Equal(t, "7. The outbox holds every change, ready for the host's relay.\n"+
		"   1 customer.created\n"+
		"   2 customer.acquired\n"+
		"   3 opportunity.created\n"+
		"   4 approval.submitted\n"+
		"   5 approval.approved\n"+
		"   6 customer.created\n"+
		"   7 customer.acquired\n"+
		"   8 opportunity.created\n"+
		"   9 approval.submitted\n"+
		"   10 approval.escalated\n"+
		"   11 approval.step_approved\n"+
		"   12 approval.step_approved\n"+
		"   13 approval.step_approved\n"+
		"   14 approval.approved\n", section("7"))
}

// TestStoryIsTheSameEveryRun guards the fixed clock and IDs the story's
// output relies on.
func TestStoryIsTheSameEveryRun(t *testing.T) {
	var a, b bytes.Buffer
	require.NoError(t, run(context.Background(), &a))
	require.NoError(t, run(context.Background(), &b))
	require.Equal(t, a.String(), b.String())
}

// TestStoryStopsWhenTheContextEnds checks the example reports a cancelled
// context as an error instead of printing a story it did not store.
func TestStoryStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	require.ErrorIs(t, run(ctx, &out), context.Canceled)
}
