package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStory runs the example and checks the lines that carry its story:
// round robin alternates between the two people at work and never picks
// the one on leave, the explanation names every candidate with a reason,
// and a lead no rule covers waits in the fallback queue.
func TestStory(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	for _, want := range []string{
		"   Shanghai Trading 1 -> Li Wei\n",
		"   Shanghai Trading 2 -> Wang Fang\n",
		"   Shanghai Trading 3 -> Li Wei\n",
		"   Shanghai Trading 4 -> Wang Fang\n",
		"   rule key_accounts matched: false\n",
		"   rule east_china matched: true\n",
		"   Zhao Lei: skipped, absent\n",
		"   Li Wei: chosen (open 2, today 2)\n",
		"   Wang Fang: skipped, not next in the rotation\n",
		"   queue unassigned (fallback: true)\n",
		"   5 lead.routed events\n",
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "-> Zhao Lei", "nobody on leave gets a lead")
	require.Equal(t, 1, strings.Count(got, ": chosen"), "the explanation chooses exactly one person")
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
