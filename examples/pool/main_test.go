package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStory runs the example and checks the lines that carry its story:
// every step must happen, with the typed error a product person reads.
func TestStory(t *testing.T) {
	out := captureStdout(t, func() error { return run(context.Background()) })
	for _, want := range []string{
		"南京启航软件: now Wang Fang's, falls back on Tue 17 Mar unless followed up",
		"无锡新锐材料: refused: daily claim limit 5 reached (pool: claim 00000000-0000-7000-8000-00000000002c: limit daily_claims exceeded: 5 of 5)",
		"上海明达机械: called, now falls back on Fri 20 Mar",
		"would recycle 杭州云帆贸易 from Wang Fang: no_follow_up (rule neglect-v1, due Tue 17 Mar)",
		"the sweep recycled (回收) 1 customer",
		"ledger: recycle by the system, from Wang Fang to pool East China, reason no_follow_up, rule neglect-v1",
		"refused: previous owner may claim again from Fri 17 Apr (pool: claim 00000000-0000-7000-8000-000000000004: previous_owner cooldown until 2026-04-17T01:00:00Z)",
		"Zhao Lei claims it instead: now Zhao Lei's",
		"blocked (防撞单): the same company name and phone as a customer already owned by a colleague (not named to Li Wei)",
		// The stored match keys of the customer entered on import found it.
		"collides with customer 00000000-0000-7000-8000-000000000004 (owned by a colleague))",
		`for Zhao Lei the customer is "yours", falling back on Thu 2 Apr`,
	} {
		require.Contains(t, out, want)
	}
	require.Equal(t, 1, strings.Count(out, "would recycle"), "only the neglected customer is due")
	require.Equal(t, 1, strings.Count(out, "refused: daily claim limit"), "exactly the sixth claim is refused")
}

// captureStdout returns what fn prints.
func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r)
		done <- b.Bytes()
	}()
	runErr := fn()
	os.Stdout = stdout
	require.NoError(t, w.Close())
	out := <-done
	require.NoError(t, r.Close())
	require.NoError(t, runErr)
	return string(out)
}
