package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/story.golden from the current output")

// The story is deterministic (fixed clock, sequential IDs), so its whole
// output is the test: any change in what a package decides shows up here
// as a diff a person can read. Run with -update after an intended change.
func TestStoryTellsTheSameStory(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	golden := filepath.Join("testdata", "story.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
}
